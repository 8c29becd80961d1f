import { describe, expect, it, vi } from "vitest";
import { generateApiKey, hashApiKey, keyHint, parseBearer } from "../../shared/keys.ts";

/**
 * shared/keys.ts (and the error it throws) loaded anew inside the running test. The key format
 * is a module-level constant, built when the module loads; a mutation run of the `shared` scope
 * judges such a constant only by the tests that load the module while they run (README
 * "Mutation testing"), so the tests of the format load it themselves.
 */
async function loadedKeys() {
  vi.resetModules();
  const { UnauthorizedError } = await import("../../shared/errors.ts");
  return { ...(await import("../../shared/keys.ts")), UnauthorizedError };
}

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
  ])("refuses %j with a 401", async (header, why) => {
    const { parseBearer, UnauthorizedError } = await loadedKeys();
    expect(() => parseBearer(header)).toThrow(UnauthorizedError);
    expect(() => parseBearer(header)).toThrow(why);
  });

  it("hints show the workspace and 4 characters, nothing more", () => {
    expect(keyHint("whk_demo_abcdef0123456789abcdef0123456789")).toBe("whk_demo_abcd…");
  });

  it("accept one-character workspaces and surrounding blanks, and nothing around the key", async () => {
    const { hashApiKey, parseBearer, UnauthorizedError } = await loadedKeys();
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
