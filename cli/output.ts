import Table from "cli-table3";

/** Where the CLI writes: injectable so tests can capture it. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stderr is a terminal (progress bars only then). */
  interactive: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  interactive: Boolean(process.stderr.isTTY),
};

/** A plain, borderless table: aligned columns a human can read and grep can search. */
export function table(
  head: string[],
  rows: Array<Array<string | number | null | undefined>>,
): string {
  if (rows.length === 0) return "(none)";
  const t = new Table({
    head,
    style: { head: [], border: [], compact: true, "padding-left": 0, "padding-right": 2 },
    chars: {
      top: "",
      "top-mid": "",
      "top-left": "",
      "top-right": "",
      bottom: "",
      "bottom-mid": "",
      "bottom-left": "",
      "bottom-right": "",
      left: "",
      "left-mid": "",
      mid: "",
      "mid-mid": "",
      right: "",
      "right-mid": "",
      middle: "",
    },
  });
  for (const row of rows)
    t.push(row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell))));
  return t.toString().replace(/[ \t]+$/gm, "");
}

/** `key   value` lines. */
export function fields(
  entries: Array<[string, string | number | boolean | null | undefined]>,
): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries
    .map(
      ([key, value]) =>
        `${key.padEnd(width)}  ${value === null || value === undefined ? "-" : String(value)}`,
    )
    .join("\n");
}

/** "3m ago", "in 2h", from an ISO time. */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "-";
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const abs = Math.abs(seconds);
  const text =
    abs < 60
      ? `${abs}s`
      : abs < 3600
        ? `${Math.round(abs / 60)}m`
        : abs < 86_400
          ? `${Math.round(abs / 3600)}h`
          : `${Math.round(abs / 86_400)}d`;
  return seconds < 0 ? `${text} ago` : `in ${text}`;
}

export function truncate(text: string | null | undefined, width: number): string {
  if (!text) return "-";
  const line = text.replace(/\s+/g, " ");
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}
