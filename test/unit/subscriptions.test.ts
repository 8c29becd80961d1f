import { beforeEach, describe, expect, it } from "vitest";
import { ConflictError, ValidationError } from "../../shared/errors.ts";
import { secretContext } from "../../shared/secrets/keyring.ts";
import {
  createSubscription,
  rotateSecret,
  type SubscriptionDeps,
  updateSubscription,
} from "../../shared/use-cases/subscriptions.ts";
import { FakeWorkspaceStore } from "../helpers/fakes.ts";
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
});

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
});
