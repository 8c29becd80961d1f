import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { ulid } from "ulid";
import { beforeEach, describe, expect, it } from "vitest";
import { createDocumentClient } from "../../shared/aws.ts";
import type { ApiKey, Subscription } from "../../shared/domain.ts";
import { newKeyId, newSubscriptionId } from "../../shared/ids.ts";
import { RESERVATION_LEASE_MS, recount } from "../../shared/store/limits.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";

/**
 * The failure paths of the limits (shared/store/limits.ts): the write a limit guards fails
 * after the limit counted it, and the compensation gives the place back — or fails too, and
 * the first error is what the caller sees (a recount finds the leak later).
 */
const dynamo = mockClient(DynamoDBDocumentClient);
const store = new DynamoWorkspaceStore({ client: createDocumentClient(), name: "t" });
const throttled = Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });

const key = (role: ApiKey["role"], patch: Partial<ApiKey> = {}): ApiKey => ({
  id: newKeyId(),
  workspaceId: "acme",
  hash: `h${Math.random()}`,
  role,
  name: role,
  hint: "h",
  createdAt: "2026-11-26T10:00:00.000Z",
  ...patch,
});

/** The UpdateItem calls on the limits item, as `ADD …`/`DELETE …` expressions. */
const limitUpdates = () =>
  dynamo
    .commandCalls(UpdateCommand)
    .map((call) => call.args[0].input)
    .filter((input) => (input.Key as { pk: string }).pk.endsWith("#LIMITS"))
    .map((input) => {
      const values = input.ExpressionAttributeValues ?? {};
      const ids = [values[":ids"], values[":id"]].find((value) => value instanceof Set);
      return { expression: input.UpdateExpression, ids: [...(ids as Set<string>)] };
    });

beforeEach(() => {
  dynamo.reset();
});

describe("creating under a limit", () => {
  it("gives the place back when the key cannot be written, and answers the write's error", async () => {
    const apiKey = key("admin");
    dynamo.on(UpdateCommand).resolves({});
    dynamo.on(PutCommand).rejects(throttled);
    await expect(store.putKey(apiKey, 50)).rejects.toThrow("Rate exceeded");
    expect(limitUpdates()).toEqual([
      { expression: "ADD #keys :id, #admins :id, rev :one", ids: [apiKey.id] },
      { expression: "DELETE #keys :id, #admins :id ADD rev :one", ids: [apiKey.id] },
    ]);
  });

  it("answers the write's error, not the compensation's, when both fail", async () => {
    const apiKey = key("ingest");
    dynamo
      .on(UpdateCommand)
      .resolvesOnce({})
      .rejects(Object.assign(new Error("compensation lost"), { name: "TimeoutError" }));
    dynamo.on(PutCommand).rejects(throttled);
    await expect(store.putKey(apiKey, 50)).rejects.toThrow("Rate exceeded");
    expect(limitUpdates().map((u) => u.expression)).toEqual([
      "ADD #keys :id, rev :one",
      "DELETE #keys :id ADD rev :one",
    ]);
  });

  it("gives a subscription's place back when it cannot be written", async () => {
    const id = newSubscriptionId();
    dynamo.on(UpdateCommand).resolves({});
    dynamo.on(PutCommand).rejects(throttled);
    const subscription: Subscription = {
      id,
      workspaceId: "acme",
      url: "https://hooks.example.com/",
      events: ["contact.created"],
      enabled: true,
      description: "",
      secret: null,
      previousSecrets: [],
      createdAt: "2026-11-26T10:00:00.000Z",
      updatedAt: "2026-11-26T10:00:00.000Z",
    };
    await expect(store.createSubscription(subscription, 100)).rejects.toThrow("Rate exceeded");
    expect(limitUpdates()).toEqual([
      { expression: "ADD #subscriptions :id, rev :one", ids: [id] },
      { expression: "DELETE #subscriptions :id ADD rev :one", ids: [id] },
    ]);
  });

  it("refuses at the limit after one recount that finds nothing to correct, and writes nothing", async () => {
    const existing = Array.from({ length: 3 }, () => key("ingest"));
    dynamo
      .on(UpdateCommand)
      .rejects(Object.assign(new Error("no"), { name: "ConditionalCheckFailedException" }));
    dynamo.on(GetCommand).resolves({
      Item: { rev: 7, keys: new Set(existing.map((k) => k.id)) },
    });
    dynamo
      .on(QueryCommand)
      .callsFake((input) =>
        input.ExpressionAttributeValues[":prefix"] === "KEY#"
          ? { Items: existing.map((k) => ({ pk: "WS#acme", sk: `KEY#${k.hash}`, ...k })) }
          : { Items: [] },
      );
    expect(await store.putKey(key("ingest"), 3)).toBe("limit");
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(0);
    expect(limitUpdates()).toHaveLength(1);
  });
});

describe("revoking an admin key", () => {
  it("counts it again when its key cannot be written, and answers the write's error", async () => {
    const [a, b] = [key("admin"), key("admin")];
    dynamo.on(QueryCommand).resolves({
      Items: [a, b].map((k) => ({ pk: "WS#acme", sk: `KEY#${k.hash}`, ...k })),
    });
    dynamo.on(UpdateCommand).callsFake((input: { Key: { pk: string } }) => {
      if (input.Key.pk.endsWith("#LIMITS")) return {};
      throw throttled;
    });
    await expect(store.revokeKey("acme", a.id, "2026-11-26T11:00:00.000Z")).rejects.toThrow(
      "Rate exceeded",
    );
    expect(limitUpdates()).toEqual([
      { expression: "DELETE #admins :ids, #keys :ids ADD rev :one", ids: [a.id] },
      { expression: "ADD #admins :ids, #keys :ids, rev :one", ids: [a.id] },
    ]);
  });
});

describe("recount", () => {
  const now = Date.parse("2026-11-26T12:00:00.000Z");
  const idAt = (prefix: string, at: number) => `${prefix}_${ulid(at)}`;

  it("keeps creates within their lease, drops older ones and revoked keys, adds what exists", () => {
    const active = key("ingest");
    const revoked = key("ingest", { revokedAt: "2026-11-26T11:00:00.000Z" });
    const young = idAt("key", now - 1000);
    const old = idAt("key", now - RESERVATION_LEASE_MS - 1);
    const subscription = { id: idAt("sub", now - 86_400_000) } as Subscription;
    const deleted = idAt("sub", now - 86_400_000);
    const next = recount(
      {
        rev: 3,
        keys: new Set([revoked.id, young, old]),
        admins: new Set(),
        subscriptions: new Set([deleted]),
      },
      { keys: [active, revoked], subscriptions: [subscription] },
      now,
    );
    expect([...next.keys].sort()).toEqual([active.id, young].sort());
    expect([...next.subscriptions]).toEqual([subscription.id]);
  });

  it("never adds an admin key the item does not count, only drops those no longer active", () => {
    const [a, b, c] = [key("admin"), key("admin"), key("admin", { revokedAt: "x" })];
    const next = recount(
      { rev: 1, keys: new Set(), admins: new Set([b.id, c.id]), subscriptions: new Set() },
      { keys: [a, b, c], subscriptions: [] },
      now,
    );
    expect([...next.admins]).toEqual([b.id]);
  });

  it("counts a workspace from before the limits item from what it holds", () => {
    const [a, i, r] = [key("admin"), key("ingest"), key("admin", { revokedAt: "x" })];
    const next = recount(undefined, { keys: [a, i, r], subscriptions: [] }, now);
    expect([...next.keys].sort()).toEqual([a.id, i.id].sort());
    expect([...next.admins]).toEqual([a.id]);
  });
});
