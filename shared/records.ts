/**
 * What an attempt keeps of a receiver's answer, capped in bytes whatever the receiver sends:
 * response headers up to ~2 KB (the useful ones first, each value at most 256 characters),
 * the body up to a byte limit — as text when it is UTF-8, otherwise as a base64 excerpt that
 * is never longer than the limit. The record's history is trimmed to its size budget by the
 * store (shared/store/items.ts, `fitToBudget`), which counts bytes as DynamoDB does.
 */
export const RESPONSE_HEADERS_BUDGET = 2048;
export const HEADER_VALUE_LIMIT = 256;
export const ERROR_MESSAGE_LIMIT = 500;

/** Kept first, when a receiver sends more headers than the budget holds. */
const USEFUL_HEADERS = [
  "content-type",
  "content-length",
  "retry-after",
  "location",
  "date",
  "server",
  "x-request-id",
  "x-amzn-requestid",
  "cf-ray",
  "www-authenticate",
];
const USEFUL: ReadonlySet<string> = new Set(USEFUL_HEADERS);

export interface KeptHeaders {
  headers: Record<string, string>;
  /** Headers left out to stay within the budget. */
  omitted: number;
}

export function capResponseHeaders(headers: Record<string, string>): KeptHeaders {
  const names = Object.keys(headers);
  const ordered = [
    ...USEFUL_HEADERS.filter((name) => name in headers),
    ...names.filter((name) => !USEFUL.has(name)),
  ];
  const kept: Record<string, string> = {};
  let used = 0;
  let omitted = 0;
  for (const name of ordered) {
    const value = clip(headers[name] ?? "", HEADER_VALUE_LIMIT);
    const cost = Buffer.byteLength(name, "utf8") + Buffer.byteLength(value, "utf8");
    if (used + cost > RESPONSE_HEADERS_BUDGET) {
      omitted++;
      continue;
    }
    kept[name] = value;
    used += cost;
  }
  return { headers: kept, omitted };
}

export interface KeptBody {
  body: string;
  encoding?: "base64" | undefined;
  truncated: boolean;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The first `limit` bytes of a body: as text if they are UTF-8 (a character cut in half at
 * the limit is dropped), otherwise base64 of as many bytes as fit in `limit` characters.
 * Binary is never expanded: a 16 KiB body of invalid bytes would be 48 KiB of U+FFFD.
 */
export function keepBody(bytes: Uint8Array, limit: number, truncatedBefore: boolean): KeptBody {
  const slice = bytes.subarray(0, limit);
  const truncated = truncatedBefore || bytes.byteLength > limit;
  for (let cut = 0; cut <= 3 && cut <= slice.byteLength; cut++) {
    // Only a cut at the limit may split a character: a complete body must decode whole.
    if (cut > 0 && !truncated) break;
    try {
      return { body: strictUtf8.decode(slice.subarray(0, slice.byteLength - cut)), truncated };
    } catch {
      // not UTF-8 (yet): try one byte shorter, then give up
    }
  }
  const raw = bytes.subarray(0, Math.floor((limit * 3) / 4));
  return {
    body: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64"),
    encoding: "base64",
    truncated: truncated || raw.byteLength < bytes.byteLength,
  };
}

/** At most `limit` UTF-16 units, never ending in half a surrogate pair. */
export function clip(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const cut = text.slice(0, limit);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}
