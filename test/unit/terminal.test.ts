import { describe, expect, it } from "vitest";
import { stripControls } from "../../cli/terminal.ts";

describe("what the CLI prints of receivers' text", () => {
  it.each([
    ["colours", "\u001b[31mred\u001b[0m", "red"],
    ["a window title (OSC, BEL)", "\u001b]0;owned\u0007text", "text"],
    [
      "a hyperlink (OSC 8, ST)",
      "\u001b]8;;https://evil.example\u001b\\link\u001b]8;;\u001b\\",
      "link",
    ],
    ["cursor movement and screen clearing", "a\u001b[2J\u001b[Hb\u001b[1A", "ab"],
    ["8-bit CSI and C1 controls", "a\u009b31mb\u0085c", "abc"],
    ["a carriage return that overwrites the line", "safe\rEVIL", "safeEVIL"],
    ["backspaces, NUL and DEL", "a\b\u0000\u007fb", "ab"],
    ["bidirectional overrides", "a\u202eb\u2066c", "abc"],
    ["a lone ESC and charset switches", "a\u001b(0b\u001b", "ab"],
  ])("removes %s", (_what, input, output) => {
    expect(stripControls(input)).toBe(output);
  });

  it("keeps newlines, tabs and any printable text", () => {
    const text = 'line 1\n\tline 2: ünïcödé ✓ 日本 {"json": [1, 2]}';
    expect(stripControls(text)).toBe(text);
  });
});
