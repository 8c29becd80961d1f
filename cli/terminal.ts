/**
 * Text from receivers — response bodies and headers, error messages — reaches the operator's
 * terminal as data, never as control: escape sequences (CSI, OSC, DCS…, 7- and 8-bit), C0
 * controls but newline and tab, DEL, C1 controls and the bidirectional overrides that reorder
 * what a line shows are removed. Every human-readable line the CLI prints goes through it;
 * `--json` output is JSON, whose strings escape all of these already.
 */
const ESCAPE_SEQUENCES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[PX^_][^\u001b]*(?:\u001b\\)?|[ -/]*[0-~]?)|\u009b[0-?]*[ -/]*[@-~]|[\u0090\u0098\u009d\u009e\u009f][^\u001b\u009c]*(?:\u009c|\u001b\\)?/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function stripControls(text: string): string {
  return text.replace(ESCAPE_SEQUENCES, "").replace(CONTROLS, "");
}
