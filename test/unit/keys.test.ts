import { describe, expect, it } from "vitest";
import { UnauthorizedError } from "../../shared/errors.ts";
import { generateApiKey, hashApiKey, keyHint, parseBearer } from "../../shared/keys.ts";

describe("API keys", () => {
  it("are whk_<workspace>_<64 hex> with 256 bits of randomness, and never collide", () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateApiKey("acme-inc")));
    expect(keys.size).toBe(100);
    for (const key of keys) expect(key).toMatch(/^whk_acme-inc_[0-9a-f]{64}$/);
  });

  it("parse into the workspace and the SHA-256 of the whole key", () => {
    const key = generateApiKey("demo");
    expect(parseBearer(`Bearer ${key}`)).toEqual({ workspaceId: "demo", hash: hashApiKey(key) });
    expect(parseBearer(`bearer   ${key}`).workspaceId).toBe("demo");
  });

  it.each([
    [undefined, "Send an API key"],
    ["Basic dXNlcjpwYXNz", "must be 'Bearer <key>'"],
    ["Bearer", "must be 'Bearer <key>'"],
    ["Bearer not-a-key", "not valid"],
    ["Bearer whk_demo_short", "not valid"],
    ["Bearer whk_Demo_0123456789abcdef0123456789abcdef", "not valid"],
  ])("refuses %j with a 401", (header, why) => {
    expect(() => parseBearer(header)).toThrow(UnauthorizedError);
    expect(() => parseBearer(header)).toThrow(why);
  });

  it("hints show the workspace and 4 characters, nothing more", () => {
    expect(keyHint("whk_demo_abcdef0123456789abcdef0123456789")).toBe("whk_demo_abcd…");
  });

  it("accept one-character workspaces and surrounding blanks, and nothing around the key", () => {
    const secret = "a".repeat(32);
    const short = `whk_a_${secret}`;
    expect(parseBearer(`Bearer ${short}`)).toEqual({ workspaceId: "a", hash: hashApiKey(short) });
    expect(parseBearer(`  Bearer ${short}  `).workspaceId).toBe("a");
    for (const header of [
      `Bearer x${short}`,
      `Bearer ${short}!`,
      `Bearer ${short}_extra`,
      `Bearer whk_a-_${secret}`,
      `Bearer ${short} more`,
      `Token Bearer ${short}`,
    ]) {
      expect(() => parseBearer(header), header).toThrow(UnauthorizedError);
    }
  });

  it("a hint of something that is not a key gives nothing away", () => {
    expect(keyHint("not a key at all")).toBe("whk_…");
    expect(keyHint(`whk_demo_${"b".repeat(31)}`)).toBe("whk_…");
  });
});
