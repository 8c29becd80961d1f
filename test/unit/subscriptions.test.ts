import { beforeEach, describe, expect, it } from "vitest";
import type { Subscription } from "../../shared/domain.ts";
import { ConflictError, ValidationError } from "../../shared/errors.ts";
import { secretContext } from "../../shared/secrets/keyring.ts";
import {
  createSubscription,
  deleteSubscription,
  rotateSecret,
  type SubscriptionDeps,
  updateSubscription,
} from "../../shared/use-cases/subscriptions.ts";
import { FakeWorkspaceStore } from "../helpers/fakes.ts";
import { problemOf } from "../helpers/problems.ts";
import { testSecrets } from "../helpers/secrets.ts";

let store: FakeWorkspaceStore;
let now = Date.parse("2026-11-26T10:00:00Z");
let dns: Record<string, string[]> = {};
const deps = (patch: Partial<SubscriptionDeps> = {}): SubscriptionDeps => ({
  store,
  secrets: testSecrets,
  policy: { allowLoopbackHttp: false },
  maxSubscriptions: 3,
  resolveHost: async (host) => dns[host] ?? [],
  now: () => now,
  ...patch,
});
const open = (workspaceId: string, id: string, sealed: string) =>
  testSecrets.open(sealed, secretContext(workspaceId, id));

beforeEach(() => {
  store = new FakeWorkspaceStore();
  dns = {};
  now = Date.parse("2026-11-26T10:00:00Z");
});

const notFound = (id: string) => ({
  type: "/problems/not-found",
  title: "Not found",
  status: 404,
  detail: `No subscription '${id}' in this workspace.`,
});

async function created(patch: Partial<Parameters<typeof createSubscription>[1]> = {}) {
  const { subscription } = await createSubscription(
    "acme",
    { url: "https://a.example.com/h", events: ["task.created"], generateSecret: true, ...patch },
    deps(),
  );
  now += 1000;
  return subscription;
}

/** Sets what the deliver function writes (health, automatic disabling) on the stored record. */
function stored(id: string, health: Partial<Subscription>): void {
  const record = store.subscriptions.get(id);
  if (record) Object.assign(record, health);
}

describe("subscriptions", () => {
  it("refuses a host name that resolves to a private address, without echoing the address", async () => {
    dns["internal.example.com"] = ["93.184.215.14", "10.0.0.1"];
    const attempt = createSubscription(
      "acme",
      { url: "https://internal.example.com/h", events: ["task.created"] },
      deps(),
    );
    await expect(attempt).rejects.toThrow(ValidationError);
    const error = (await attempt.catch((e) => e)) as ValidationError;
    expect(error.errors).toEqual([
      {
        field: "url",
        detail: "The URL's host internal.example.com resolves to a non-public address.",
      },
    ]);
    expect(JSON.stringify(error)).not.toContain("10.0.0.1");
    expect(error.message).not.toContain("10.0.0.1");
    expect(store.subscriptions.size).toBe(0);
  });

  it("refuses localhost names with a trailing dot before resolving them", async () => {
    const asked: string[] = [];
    for (const url of ["https://localhost./", "https://foo.LocalHost./h"]) {
      await expect(
        createSubscription(
          "acme",
          { url, events: ["task.created"] },
          deps({
            resolveHost: async (host) => {
              asked.push(host);
              return [];
            },
          }),
        ),
      ).rejects.toThrow("is a loopback address");
    }
    expect(asked).toEqual([]);
  });

  it("refuses a port other than 443 and the allowed ones, at create and at update", async () => {
    const attempt = createSubscription(
      "acme",
      { url: "https://hooks.example.com:22/h", events: ["task.created"] },
      deps(),
    );
    await expect(attempt).rejects.toThrow(ValidationError);
    await expect(attempt).rejects.toThrow(
      "The URL's port 22 is not allowed (only 443 and the ports in WEBHOOKS_ALLOWED_PORTS are).",
    );
    const policy = { allowLoopbackHttp: false, allowedPorts: [8443] };
    const { subscription } = await createSubscription(
      "acme",
      { url: "https://hooks.example.com:8443/h", events: ["task.created"] },
      deps({ policy }),
    );
    await expect(
      updateSubscription(
        "acme",
        subscription.id,
        { url: "https://hooks.example.com:6379/h" },
        deps({ policy }),
      ),
    ).rejects.toThrow("The URL's port 6379 is not allowed");
    expect(store.subscriptions.get(subscription.id)?.url).toBe("https://hooks.example.com:8443/h");
  });

  it("accepts a name that does not resolve yet (every connection is checked again)", async () => {
    const { subscription } = await createSubscription(
      "acme",
      { url: "https://not-yet.example.com/h", events: ["task.created"] },
      deps(),
    );
    expect(subscription.url).toBe("https://not-yet.example.com/h");
  });

  it("stores the secret sealed, and hands the plaintext back this once", async () => {
    const { subscription, secret } = await createSubscription(
      "acme",
      {
        url: "https://a.example.com/",
        events: ["deal.updated", "contact.created", "deal.updated"],
        generateSecret: true,
      },
      deps(),
    );
    expect(secret).toMatch(/^whsec_/);
    const stored = store.subscriptions.get(subscription.id);
    expect(stored?.events).toEqual(["contact.created", "deal.updated"]);
    expect(stored?.secret?.kind).toBe("whsec");
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(await open("acme", subscription.id, stored?.secret?.sealed ?? "")).toBe(secret);
  });

  it("keeps to the workspace's subscription limit", async () => {
    for (let i = 0; i < 3; i++)
      await createSubscription(
        "acme",
        { url: `https://${i}.example.com/`, events: ["task.created"] },
        deps(),
      );
    await expect(
      createSubscription(
        "acme",
        { url: "https://x.example.com/", events: ["task.created"] },
        deps(),
      ),
    ).rejects.toThrow(ConflictError);
  });

  it("rotates with a grace period: the old secret keeps signing until it ends", async () => {
    const { subscription, secret: first } = await createSubscription(
      "acme",
      { url: "https://a.example.com/", events: ["task.created"], generateSecret: true },
      deps(),
    );
    now += 1000;
    const { subscription: rotated, secret: second } = await rotateSecret(
      "acme",
      subscription.id,
      { gracePeriodSeconds: 3600 },
      deps(),
    );
    expect(second).not.toBe(first);
    expect(await open("acme", subscription.id, rotated.secret?.sealed ?? "")).toBe(second);
    expect(rotated.previousSecrets).toHaveLength(1);
    expect(rotated.previousSecrets[0]?.expiresAt).toBe(new Date(now + 3600_000).toISOString());
    expect(await open("acme", subscription.id, rotated.previousSecrets[0]?.sealed ?? "")).toBe(
      first,
    );

    now += 2 * 3600_000;
    const { subscription: again } = await rotateSecret(
      "acme",
      subscription.id,
      { gracePeriodSeconds: 0, secret: "my very own replacement secret" },
      deps(),
    );
    expect(again.previousSecrets).toEqual([]);
    expect(again.secret?.kind).toBe("custom");
  });

  it("keeps at most three rotating secrets", async () => {
    const { subscription } = await createSubscription(
      "acme",
      { url: "https://a.example.com/", events: ["task.created"], generateSecret: true },
      deps(),
    );
    for (let i = 0; i < 5; i++) {
      now += 1000;
      await rotateSecret("acme", subscription.id, {}, deps());
    }
    expect(store.subscriptions.get(subscription.id)?.previousSecrets).toHaveLength(3);
  });

  it("keeps a replaced secret signing for 24 hours by default", async () => {
    const subscription = await created();
    const { subscription: rotated } = await rotateSecret("acme", subscription.id, {}, deps());
    expect(rotated.previousSecrets.map((p) => p.expiresAt)).toEqual(["2026-11-27T10:00:01.000Z"]);
  });

  it("re-enabling says since when the endpoint missed deliveries, and clears its health record", async () => {
    const { subscription } = await createSubscription(
      "acme",
      { url: "https://a.example.com/", events: ["task.created"] },
      deps(),
    );
    const stored = store.subscriptions.get(subscription.id);
    if (stored)
      Object.assign(stored, {
        enabled: false,
        failingSince: "2026-11-20T10:00:00.000Z",
        disabledReason: "Disabled automatically.",
        disabledAt: "2026-11-25T10:00:00.000Z",
      });
    now = Date.parse("2026-11-26T12:00:00Z");
    const { subscription: enabled, missed } = await updateSubscription(
      "acme",
      subscription.id,
      { enabled: true },
      deps(),
    );
    expect(missed).toEqual({ from: "2026-11-20T10:00:00.000Z", to: "2026-11-26T12:00:00.000Z" });
    expect(enabled).toMatchObject({
      enabled: true,
      failingSince: undefined,
      disabledReason: undefined,
      disabledAt: undefined,
    });

    now += 1000;
    const { subscription: disabled, missed: none } = await updateSubscription(
      "acme",
      subscription.id,
      { enabled: false },
      deps(),
    );
    expect(none).toBeUndefined();
    expect(disabled.disabledReason).toBe("Disabled by an admin.");
  });

  it("a secret set by PATCH replaces the old one at once (no grace), and null stops signing", async () => {
    const { subscription } = await createSubscription(
      "acme",
      { url: "https://a.example.com/", events: ["task.created"], generateSecret: true },
      deps(),
    );
    now += 1000;
    await rotateSecret("acme", subscription.id, {}, deps());
    now += 1000;
    const { subscription: patched, secret } = await updateSubscription(
      "acme",
      subscription.id,
      { secret: "a brand new secret value" },
      deps(),
    );
    expect(secret).toBe("a brand new secret value");
    expect(patched.previousSecrets).toEqual([]);
    now += 1000;
    const { subscription: unsigned, secret: none } = await updateSubscription(
      "acme",
      subscription.id,
      { secret: null },
      deps(),
    );
    expect(unsigned.secret).toBeNull();
    expect(none).toBeNull();
  });

  it("creates enabled, without a description or a secret unless asked", async () => {
    const { subscription, secret } = await createSubscription(
      "acme",
      { url: "https://a.example.com/h", events: ["task.created"] },
      deps(),
    );
    expect(secret).toBeNull();
    expect(subscription).toEqual({
      id: expect.stringMatching(/^sub_/),
      workspaceId: "acme",
      url: "https://a.example.com/h",
      events: ["task.created"],
      enabled: true,
      description: "",
      secret: null,
      previousSecrets: [],
      createdAt: "2026-11-26T10:00:00.000Z",
      updatedAt: "2026-11-26T10:00:00.000Z",
    });
    expect(store.subscriptions.get(subscription.id)).toEqual(subscription);
    const { subscription: paused } = await createSubscription(
      "acme",
      {
        url: "https://a.example.com/h",
        events: ["task.created"],
        enabled: false,
        description: "CRM sync",
        secret: "my own secret of some length",
      },
      deps(),
    );
    expect(paused).toMatchObject({ enabled: false, description: "CRM sync" });
    expect(paused.secret?.kind).toBe("custom");
  });

  it("answers 409 beyond the subscription limit, saying what the limit is", async () => {
    for (let i = 0; i < 3; i++) await created();
    expect(
      await problemOf(
        createSubscription(
          "acme",
          { url: "https://x.example.com/", events: ["task.created"] },
          deps(),
        ),
      ),
    ).toEqual({
      type: "/problems/conflict",
      title: "Conflict",
      status: 409,
      detail: "This workspace already has 3 subscriptions, the most it may have; delete one first.",
    });
  });

  it("accepts a name that resolves to public addresses only", async () => {
    dns["hooks.example.com"] = ["93.184.215.14", "2606:4700::6810:84e5"];
    const subscription = await created({ url: "https://hooks.example.com/h" });
    expect(store.subscriptions.get(subscription.id)?.url).toBe("https://hooks.example.com/h");
  });

  it("checks an IP literal as an address and never asks DNS about it", async () => {
    const asked: string[] = [];
    const resolveHost = async (host: string) => {
      asked.push(host);
      return ["10.0.0.1"];
    };
    for (const url of ["https://93.184.215.14/h", "https://[2606:4700::6810:84e5]/h"]) {
      const { subscription } = await createSubscription(
        "acme",
        { url, events: ["task.created"] },
        deps({ resolveHost, maxSubscriptions: 10 }),
      );
      expect(subscription.url).toBe(url);
    }
    expect(
      await problemOf(
        createSubscription(
          "acme",
          { url: "https://[fd00::1]/h", events: ["task.created"] },
          deps({ resolveHost }),
        ),
      ),
    ).toMatchObject({
      status: 422,
      errors: [{ field: "url", detail: expect.stringMatching(/^The URL's host .*fd00::1/) }],
    });
    expect(asked).toEqual([]);
  });

  it("answers 404 for another workspace's subscription or an unknown one, changing nothing", async () => {
    const theirs = await createSubscription(
      "other",
      { url: "https://a.example.com/h", events: ["task.created"] },
      deps(),
    );
    const before = structuredClone(store.subscriptions.get(theirs.subscription.id));
    for (const id of [theirs.subscription.id, "sub_01JTESTSUB0000000000000009"]) {
      expect(await problemOf(updateSubscription("acme", id, { description: "x" }, deps()))).toEqual(
        notFound(id),
      );
      expect(await problemOf(rotateSecret("acme", id, {}, deps()))).toEqual(notFound(id));
      expect(await problemOf(deleteSubscription("acme", id, store))).toEqual(notFound(id));
    }
    expect(store.subscriptions.get(theirs.subscription.id)).toEqual(before);
  });

  it("deletes a subscription", async () => {
    const subscription = await created();
    await deleteSubscription("acme", subscription.id, store);
    expect(store.subscriptions.has(subscription.id)).toBe(false);
    expect(await problemOf(deleteSubscription("acme", subscription.id, store))).toEqual(
      notFound(subscription.id),
    );
  });

  it("changes only the fields a patch names, and keeps the secret unless one is sent", async () => {
    const subscription = await created({ description: "first" });
    const { subscription: renamed, secret } = await updateSubscription(
      "acme",
      subscription.id,
      { description: "second" },
      deps(),
    );
    const expected = {
      ...subscription,
      description: "second",
      updatedAt: "2026-11-26T10:00:01.000Z",
    };
    expect(secret).toBeNull();
    expect(renamed).toEqual(expected);
    expect(store.subscriptions.get(subscription.id)).toEqual(expected);

    now += 1000;
    const { subscription: moved } = await updateSubscription(
      "acme",
      subscription.id,
      { url: "https://b.example.com/h", events: ["task.deleted", "contact.created"] },
      deps(),
    );
    expect(moved).toEqual({
      ...expected,
      url: "https://b.example.com/h",
      events: ["contact.created", "task.deleted"],
      updatedAt: "2026-11-26T10:00:02.000Z",
    });
    expect(store.subscriptions.get(subscription.id)).toEqual(moved);
  });

  it("does not check the destination again when a patch repeats the current URL", async () => {
    const subscription = await created({ url: "https://moved.example.com/h" });
    // Its name has since come to resolve to a private address: only a new URL is refused.
    dns["moved.example.com"] = ["10.0.0.1"];
    const { subscription: patched } = await updateSubscription(
      "acme",
      subscription.id,
      { url: "https://moved.example.com/h", description: "still here" },
      deps(),
    );
    expect(patched.description).toBe("still here");
    await expect(
      updateSubscription(
        "acme",
        subscription.id,
        { url: "https://moved.example.com/other" },
        deps(),
      ),
    ).rejects.toThrow("The URL's host moved.example.com resolves to a non-public address.");
  });

  it("generates a new secret by PATCH when asked, replacing the old one at once", async () => {
    const subscription = await created();
    await rotateSecret("acme", subscription.id, {}, deps());
    now += 1000;
    const { subscription: patched, secret } = await updateSubscription(
      "acme",
      subscription.id,
      { generateSecret: true },
      deps(),
    );
    expect(secret).toMatch(/^whsec_/);
    expect(patched.previousSecrets).toEqual([]);
    const record = store.subscriptions.get(subscription.id);
    expect(record?.previousSecrets).toEqual([]);
    expect(await open("acme", subscription.id, record?.secret?.sealed ?? "")).toBe(secret);
  });

  it("leaves the health record and an automatic disabling alone unless the patch enables", async () => {
    const subscription = await created();
    const health = {
      enabled: false,
      failingSince: "2026-11-20T10:00:00.000Z",
      lastFailureAt: "2026-11-25T09:00:00.000Z",
      disabledReason: "Disabled automatically.",
      disabledAt: "2026-11-25T10:00:00.000Z",
    };
    stored(subscription.id, health);
    for (const patch of [{ description: "x" }, { enabled: false }]) {
      const result = await updateSubscription("acme", subscription.id, patch, deps());
      now += 1000;
      expect(result.missed).toBeUndefined();
      expect(result.subscription).toMatchObject(health);
      expect(store.subscriptions.get(subscription.id)).toMatchObject(health);
    }
  });

  it("enabling an enabled subscription keeps its failing record; a patch never disables it", async () => {
    const subscription = await created();
    const failing = {
      failingSince: "2026-11-20T10:00:00.000Z",
      lastFailureAt: "2026-11-25T09:00:00.000Z",
      recentFailures: 4,
      recentSince: "2026-11-25T08:00:00.000Z",
    };
    stored(subscription.id, failing);
    for (const patch of [{ enabled: true }, { description: "x" }]) {
      const result = await updateSubscription("acme", subscription.id, patch, deps());
      now += 1000;
      expect(result.missed).toBeUndefined();
      expect(result.subscription).toMatchObject({ enabled: true, ...failing });
      expect(result.subscription.disabledReason).toBeUndefined();
      const record = store.subscriptions.get(subscription.id);
      expect(record).toMatchObject({ enabled: true, ...failing });
      expect(record?.disabledReason).toBeUndefined();
      expect(record?.disabledAt).toBeUndefined();
    }
  });

  it("re-enabling a subscription disabled by an admin (never failing) replays from its disabling", async () => {
    const subscription = await created();
    const { subscription: disabled } = await updateSubscription(
      "acme",
      subscription.id,
      { enabled: false },
      deps(),
    );
    expect(disabled).toMatchObject({
      enabled: false,
      disabledReason: "Disabled by an admin.",
      disabledAt: "2026-11-26T10:00:01.000Z",
    });
    now = Date.parse("2026-11-27T10:00:00Z");
    const { missed } = await updateSubscription("acme", subscription.id, { enabled: true }, deps());
    expect(missed).toEqual({ from: "2026-11-26T10:00:01.000Z", to: "2026-11-27T10:00:00.000Z" });
    const record = store.subscriptions.get(subscription.id);
    expect(record?.enabled).toBe(true);
    expect(record?.disabledReason).toBeUndefined();
    expect(record?.disabledAt).toBeUndefined();
  });

  it("answers 409 when the subscription changed between its read and its write", async () => {
    const subscription = await created();
    // Another writer's change lands between this update's read and its conditional write.
    let races = 0;
    const racing = new (class extends FakeWorkspaceStore {
      override async getSubscription(workspaceId: string, id: string) {
        const read = await store.getSubscription(workspaceId, id);
        races++;
        const updatedAt = new Date(Date.parse("2026-11-26T11:00:00.000Z") + races * 1000);
        stored(id, { updatedAt: updatedAt.toISOString(), description: "theirs" });
        return read;
      }
      override updateSubscription(...args: Parameters<FakeWorkspaceStore["updateSubscription"]>) {
        return store.updateSubscription(...args);
      }
    })();
    // One after the other: each read is raced by the other writer before its own write.
    for (const attempt of [
      () =>
        updateSubscription(
          "acme",
          subscription.id,
          { description: "mine" },
          deps({ store: racing }),
        ),
      () => rotateSecret("acme", subscription.id, {}, deps({ store: racing })),
    ]) {
      expect(await problemOf(attempt())).toEqual({
        type: "/problems/conflict",
        title: "Conflict",
        status: 409,
        detail: "The subscription changed while this update ran; read it and retry.",
      });
    }
    expect(races).toBe(2);
    expect(store.subscriptions.get(subscription.id)?.description).toBe("theirs");
  });

  it("writes a strictly later updatedAt even when the clock is behind the record", async () => {
    const subscription = await created();
    stored(subscription.id, { updatedAt: "2026-11-26T12:00:00.000Z" });
    const { subscription: first } = await updateSubscription(
      "acme",
      subscription.id,
      { description: "a" },
      deps(),
    );
    expect(first.updatedAt).toBe("2026-11-26T12:00:00.001Z");
    now = Date.parse("2026-11-26T12:00:00.001Z");
    const { subscription: second } = await updateSubscription(
      "acme",
      subscription.id,
      { description: "b" },
      deps(),
    );
    expect(second.updatedAt).toBe("2026-11-26T12:00:00.002Z");
    expect(store.subscriptions.get(subscription.id)?.updatedAt).toBe("2026-11-26T12:00:00.002Z");
  });

  it("drops a replaced secret the moment its grace period ends", async () => {
    const subscription = await created();
    await rotateSecret("acme", subscription.id, { gracePeriodSeconds: 60 }, deps());
    const rotatedAt = now;
    now = rotatedAt + 60_000 - 1;
    const { subscription: before } = await rotateSecret(
      "acme",
      subscription.id,
      { gracePeriodSeconds: 0 },
      deps(),
    );
    expect(before.previousSecrets.map((p) => p.expiresAt)).toEqual([
      new Date(rotatedAt + 60_000).toISOString(),
    ]);
    now = rotatedAt + 60_000;
    const { subscription: after } = await rotateSecret(
      "acme",
      subscription.id,
      { gracePeriodSeconds: 0 },
      deps(),
    );
    expect(after.previousSecrets).toEqual([]);
  });
});
