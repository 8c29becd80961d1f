import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiKey, Subscription } from "../../shared/domain.ts";
import { newKeyId, newSubscriptionId } from "../../shared/ids.ts";
import { generateApiKey, hashApiKey } from "../../shared/keys.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";

let aws: LocalAws;
let store: DynamoWorkspaceStore;
beforeAll(async () => {
  aws = await startLocalAws();
  store = new DynamoWorkspaceStore(aws.table);
});
afterAll(() => aws.stop());

const key = (workspaceId: string, role: ApiKey["role"] = "admin"): ApiKey => {
  const plain = generateApiKey(workspaceId);
  return {
    id: newKeyId(),
    workspaceId,
    hash: hashApiKey(plain),
    role,
    name: role,
    hint: "h",
    createdAt: new Date().toISOString(),
  };
};
const subscription = (workspaceId: string, patch: Partial<Subscription> = {}): Subscription => ({
  id: newSubscriptionId(),
  workspaceId,
  url: "https://hooks.example.com/",
  events: ["contact.created", "deal.deleted"],
  enabled: true,
  description: "test",
  secret: { sealed: "v1.file~d2s.aXY.Y3Q", kind: "whsec" },
  previousSecrets: [
    { sealed: "v1.file~b2xk.aXY.Y3Q", kind: "custom", expiresAt: "2026-11-27T10:00:00.000Z" },
  ],
  createdAt: "2026-11-26T10:00:00.000Z",
  updatedAt: "2026-11-26T10:00:00.000Z",
  ...patch,
});

describe("DynamoWorkspaceStore (dynalite)", () => {
  it("lists a workspace's subscriptions, and nothing of other workspaces", async () => {
    const sub = subscription("alpha");
    await store.putKey(key("alpha"));
    await store.createSubscription(sub);
    await store.putKey(key("beta"));
    await store.createSubscription(subscription("beta"));
    expect(await store.listSubscriptions("alpha")).toEqual([sub]);
    expect(await store.listSubscriptions("nobody")).toEqual([]);
  });

  it("finds a key by hash, refuses a second key with the same hash, and revokes by id", async () => {
    const admin = key("gamma");
    expect(await store.putKey(admin)).toBe("created");
    expect(await store.putKey(admin)).toBe("exists");
    expect(await store.getKey("gamma", admin.hash)).toEqual(admin);
    expect(await store.getKey("delta", admin.hash)).toBeUndefined();
    // Never the last admin key …
    expect((await store.revokeKey("gamma", admin.id, "2026-11-26T11:00:00.000Z"))?.outcome).toBe(
      "last-admin",
    );
    // … but any other.
    await store.putKey(key("gamma"));
    const revoked = await store.revokeKey("gamma", admin.id, "2026-11-26T11:00:00.000Z");
    expect(revoked?.outcome).toBe("revoked");
    expect(revoked?.key.revokedAt).toBe("2026-11-26T11:00:00.000Z");
    expect((await store.getKey("gamma", admin.hash))?.revokedAt).toBe("2026-11-26T11:00:00.000Z");
    expect(await store.revokeKey("gamma", "key_nope", "x")).toBeUndefined();
  });

  it("changes a subscription only if nobody changed it meanwhile", async () => {
    const sub = subscription("epsilon");
    await store.createSubscription(sub);
    const change = (url: string, at: string) =>
      store.updateSubscription("epsilon", sub.id, { url }, at, sub.updatedAt);
    expect(await change("https://a.example.com/", "2026-11-26T10:00:01.000Z")).toBe(true);
    expect(await change("https://b.example.com/", "2026-11-26T10:00:02.000Z")).toBe(false);
    expect((await store.getSubscription("epsilon", sub.id))?.url).toBe("https://a.example.com/");
  });

  it("writes an admin's change field by field: the endpoint's health recorded meanwhile stays", async () => {
    const sub = subscription("eta");
    await store.createSubscription(sub);
    // The deliver function records a failure after the admin read the subscription…
    await store.markFailing("eta", sub.id, "2026-11-26T10:00:05.000Z");
    // …and the admin's change (description, a new secret) does not write back what it read.
    expect(
      await store.updateSubscription(
        "eta",
        sub.id,
        { description: "renamed", secret: null },
        "2026-11-26T10:00:06.000Z",
        sub.updatedAt,
      ),
    ).toBe(true);
    const stored = await store.getSubscription("eta", sub.id);
    expect(stored).toMatchObject({
      description: "renamed",
      secret: null,
      failingSince: "2026-11-26T10:00:05.000Z",
      recentFailures: 1,
    });
    // Enabling again forgets the outage, in the same write.
    await store.updateSubscription(
      "eta",
      sub.id,
      { enabled: true, disabledReason: undefined, resetHealth: true },
      "2026-11-26T10:00:07.000Z",
      "2026-11-26T10:00:06.000Z",
    );
    const enabled = await store.getSubscription("eta", sub.id);
    expect(enabled?.failingSince).toBeUndefined();
    expect(enabled?.recentFailures).toBeUndefined();
    expect(enabled?.enabled).toBe(true);
  });

  it("deletes a subscription once", async () => {
    const sub = subscription("zeta", { secret: null });
    await store.createSubscription(sub);
    expect(await store.getSubscription("zeta", sub.id)).toEqual(sub);
    expect(await store.deleteSubscription("zeta", sub.id)).toBe(true);
    expect(await store.deleteSubscription("zeta", sub.id)).toBe(false);
    expect(await store.listSubscriptions("zeta")).toEqual([]);
  });
});

describe("subscription health (dynalite)", () => {
  it("writes only on transitions, and disables only what is still failing since the same time", async () => {
    const sub = subscription("health");
    await store.createSubscription(sub);
    await store.markFailing("health", sub.id, "2026-11-20T10:00:00.000Z");
    await store.markFailing("health", sub.id, "2026-11-21T10:00:00.000Z");
    expect((await store.getSubscription("health", sub.id))?.failingSince).toBe(
      "2026-11-20T10:00:00.000Z",
    );

    expect(await store.disableFailing("health", sub.id, "2026-11-19T00:00:00.000Z", "r", "x")).toBe(
      false,
    );
    expect(
      await store.disableFailing(
        "health",
        sub.id,
        "2026-11-20T10:00:00.000Z",
        "Failing for days.",
        "2026-11-25T10:00:00.000Z",
      ),
    ).toBe(true);
    expect(await store.getSubscription("health", sub.id)).toMatchObject({
      enabled: false,
      disabledReason: "Failing for days.",
      disabledAt: "2026-11-25T10:00:00.000Z",
    });

    await store.markHealthy("health", sub.id);
    expect((await store.getSubscription("health", sub.id))?.failingSince).toBeUndefined();
    await store.markHealthy("health", sub.id);
    await store.markFailing("health", "sub_missing", "x");
    expect(await store.getSubscription("health", "sub_missing")).toBeUndefined();
  });
});
