/**
 * The size of an item as DynamoDB counts it (its 400 KB limit and its capacity units), in
 * bytes — never taken from an emulator: dynalite counts strings in UTF-16 units, DynamoDB in
 * UTF-8 bytes (a string of invalid bytes decoded to U+FFFD is three times larger on AWS).
 *
 * The rules, from DynamoDB's "Item sizes and formats": an attribute is the UTF-8 length of its
 * name plus its value's size; a string is its UTF-8 length; a number about one byte per two
 * significant digits plus one (at most 21); binary its length; a boolean or null one byte; a
 * list or map three bytes plus its elements (a map's with their names), and we add a byte per
 * element so that the estimate errs on the large side.
 */
export const DYNAMO_ITEM_LIMIT = 400 * 1024;

export function itemSize(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    size += Buffer.byteLength(name, "utf8") + valueSize(value);
  }
  return size;
}

export function valueSize(value: unknown): number {
  switch (typeof value) {
    case "string":
      return Buffer.byteLength(value, "utf8");
    case "number":
    case "bigint":
      return numberSize(String(value));
    case "boolean":
      return 1;
    case "object": {
      if (value === null) return 1;
      if (value instanceof Uint8Array) return value.byteLength;
      if (value instanceof Set) {
        let size = 3;
        for (const member of value) size += valueSize(member) + 1;
        return size;
      }
      if (Array.isArray(value)) {
        let size = 3;
        for (const element of value) size += valueSize(element) + 1;
        return size;
      }
      let size = 3;
      for (const [name, element] of Object.entries(value as Record<string, unknown>)) {
        if (element === undefined) continue;
        size += Buffer.byteLength(name, "utf8") + valueSize(element) + 1;
      }
      return size;
    }
    default:
      throw new TypeError(`DynamoDB cannot store a ${typeof value}`);
  }
}

/** Significant digits, leading and trailing zeros trimmed, a byte per two, plus one. */
function numberSize(text: string): number {
  const digits = text
    .replace(/^-/, "")
    .replace(/e.*$/i, "")
    .replace(".", "")
    .replace(/^0+/, "")
    .replace(/0+$/, "");
  return Math.min(21, Math.ceil(Math.max(1, digits.length) / 2) + 1);
}
