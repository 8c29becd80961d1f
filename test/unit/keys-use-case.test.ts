import { describe, expect, it } from "vitest";
import { ConflictError, NotFoundError } from "../../shared/errors.ts";
import { hashApiKey, keyHint, parseBearer } from "../../shared/keys.ts";
import { authorize } from "../../shared/use-cases/authenticate.ts";
import { createKey, MAX_KEYS, revokeKey } from "../../shared/use-cases/keys.ts";
import { FakeWorkspaceStore } from "../helpers/fakes.ts";

const T0 = Date.parse("2026-11-26T10:00:00.000Z");

describe("keys: create, authenticate, revoke", () => {
  it("mints a key whose hash alone is stored, and which then authenticates with its role", async () => {
    const store = new FakeWorkspaceStore();
    const { apiKey, plaintext } = await createKey("acme", { role: "ingest" }, store, T0);
    expect(apiKey).toEqual({
      id: expect.stringMatching(/^key_/),
      workspaceId: "acme",
      hash: hashApiKey(plaintext),
      role: "ingest",
      name: "ingest",
      hint: keyHint(plaintext),
      createdAt: "2026-11-26T10:00:00.000Z",
    });
    expect(JSON.stringify(await store.listKeys("acme"))).not.toContain(plaintext);
    const parsed = parseBearer(`Bearer ${plaintext}`);
    const found = await store.getKey(parsed.workspaceId, parsed.hash);
    expect(authorize(found, ["ingest", "admin"])).toEqual(apiKey);
    expect(await store.getKey("other", parsed.hash)).toBeUndefined();
  });

  it("names a key when asked, and keeps keys apart by workspace", async () => {
    const store = new FakeWorkspaceStore();
    await createKey("acme", { role: "admin", name: "deploy bot" }, store, T0);
    await createKey("other", { role: "admin" }, store, T0);
    expect((await store.listKeys("acme")).map((k) => k.name)).toEqual(["deploy bot"]);
  });

  it(`refuses a key beyond ${MAX_KEYS} active ones; a revoked key makes room`, async () => {
    const store = new FakeWorkspaceStore();
    const made = [];
    for (let i = 0; i < MAX_KEYS; i++) made.push(await createKey("acme", { role: "admin" }, store));
    await expect(createKey("acme", { role: "admin" }, store)).rejects.toThrow(ConflictError);
    await expect(createKey("acme", { role: "admin" }, store)).rejects.toThrow(
      `This workspace already has ${MAX_KEYS} active keys; revoke one first.`,
    );
    await revokeKey("acme", made[0]?.apiKey.id ?? "", store, T0);
    await expect(createKey("acme", { role: "admin" }, store)).resolves.toMatchObject({
      apiKey: { workspaceId: "acme" },
    });
  });

  it("revokes at once: the key no longer authenticates, and revoking again changes nothing", async () => {
    const store = new FakeWorkspaceStore();
    await createKey("acme", { role: "admin" }, store, T0);
    const { apiKey, plaintext } = await createKey("acme", { role: "admin" }, store, T0);
    const revoked = await revokeKey("acme", apiKey.id, store, T0 + 1000);
    expect(revoked).toMatchObject({ id: apiKey.id, revokedAt: "2026-11-26T10:00:01.000Z" });
    const parsed = parseBearer(`Bearer ${plaintext}`);
    expect(() =>
      authorize(
        store.keys.find((k) => k.hash === parsed.hash),
        ["admin"],
      ),
    ).toThrow("The API key is not valid.");
    const again = await revokeKey("acme", apiKey.id, store, T0 + 5000);
    expect(again.revokedAt).toBe("2026-11-26T10:00:01.000Z");
  });

  it("never revokes the last active admin key, and says why", async () => {
    const store = new FakeWorkspaceStore();
    const admin = await createKey("acme", { role: "admin" }, store, T0);
    const ingest = await createKey("acme", { role: "ingest" }, store, T0);
    await expect(revokeKey("acme", admin.apiKey.id, store)).rejects.toThrow(
      "This is the workspace's last admin key; create another admin key before revoking it.",
    );
    await expect(revokeKey("acme", ingest.apiKey.id, store)).resolves.toMatchObject({
      revokedAt: expect.any(String),
    });
  });

  it("answers 404 for a key of another workspace or none at all", async () => {
    const store = new FakeWorkspaceStore();
    const theirs = await createKey("other", { role: "admin" }, store, T0);
    for (const id of [theirs.apiKey.id, "key_nope"]) {
      await expect(revokeKey("acme", id, store)).rejects.toThrow(NotFoundError);
      await expect(revokeKey("acme", id, store)).rejects.toThrow(
        `No key '${id}' in this workspace.`,
      );
    }
  });

  it("never hands out a key whose hash the store already holds", async () => {
    const store = new FakeWorkspaceStore();
    store.putKey = async () => "exists";
    await expect(createKey("acme", { role: "admin" }, store, T0)).rejects.toThrow(
      "a freshly generated key collided",
    );
  });
});
