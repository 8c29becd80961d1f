import { PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newKeyId } from "../../shared/ids.ts";
import { generateApiKey, hashApiKey, type Role } from "../../shared/keys.ts";
import { RESERVATION_LEASE_MS } from "../../shared/store/limits.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { MAX_KEYS } from "../../shared/use-cases/keys.ts";
import { type ApiHandler, apiEvent, context, importHandler } from "../helpers/api-event.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";

/**
 * The workspace limits under concurrency, through the production API handler on dynalite:
 * concurrent requests at the boundary of the 50-key and the subscription limits, and
 * concurrent revokes of a workspace's last two admin keys. A check-then-act (list, count,
 * write) lets them all through; the limits must hold whatever the interleaving.
 */
const MAX_SUBSCRIPTIONS = 10;
let aws: LocalAws;
let store: DynamoWorkspaceStore;
let handler: ApiHandler;

beforeAll(async () => {
  aws = await startLocalAws();
  store = new DynamoWorkspaceStore(aws.table);
  handler = await importHandler(() => import("../../functions/api/handler.ts"), {
    WEBHOOKS_TABLE_NAME: aws.tableName,
    WEBHOOKS_QUEUE_URL: aws.queueUrl,
    WEBHOOKS_DLQ_URL: aws.deadLetterQueueUrl,
    WEBHOOKS_SLOW_QUEUE_URL: aws.slowQueueUrl,
    WEBHOOKS_STRANDED_QUEUE_URL: aws.strandedQueueUrl,
    WEBHOOKS_MAX_SUBSCRIPTIONS: String(MAX_SUBSCRIPTIONS),
    AWS_ENDPOINT_URL_DYNAMODB: aws.emulators.dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: aws.emulators.sqsEndpoint,
  });
});
afterAll(() => aws?.stop());

/** A key written as `webhooks keys create --table` writes one (through the store). */
async function addKey(workspaceId: string, role: Role) {
  const plaintext = generateApiKey(workspaceId);
  const id = newKeyId();
  const created = await store.putKey({
    id,
    workspaceId,
    hash: hashApiKey(plaintext),
    role,
    name: role,
    hint: "h",
    createdAt: new Date().toISOString(),
  });
  expect(created).toBe("created");
  return { id, plaintext };
}

const call = async (method: string, path: string, key: string, body?: unknown) => {
  const answer = await handler(
    apiEvent(method, path, { key, ...(body === undefined ? {} : { body }) }),
    context(),
  );
  return { status: answer.statusCode ?? 0, body: JSON.parse(answer.body ?? "null") };
};

const tally = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((counts, status) => {
    counts[status] = (counts[status] ?? 0) + 1;
    return counts;
  }, {});

describe("workspace limits under concurrent requests (dynalite)", () => {
  it("20 concurrent key creates at 45 active keys: exactly 5 get a key, 15 a 409", async () => {
    const admin = await addKey("keys-race", "admin");
    for (let i = 1; i < MAX_KEYS - 5; i++) await addKey("keys-race", i % 2 ? "ingest" : "admin");
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        call("POST", "/v1/keys", admin.plaintext, { role: "ingest" }),
      ),
    );
    expect(tally(answers.map((a) => a.status))).toEqual({ 201: 5, 409: 15 });
    const listed = await call("GET", "/v1/keys", admin.plaintext);
    const active = listed.body.data.filter((k: { revokedAt: string | null }) => !k.revokedAt);
    expect(active).toHaveLength(MAX_KEYS);
    // A revoke frees a place, at once.
    const someIngest = active.find((k: { role: string }) => k.role === "ingest");
    expect((await call("DELETE", `/v1/keys/${someIngest.id}`, admin.plaintext)).status).toBe(204);
    expect((await call("POST", "/v1/keys", admin.plaintext, { role: "ingest" })).status).toBe(201);
    expect((await call("POST", "/v1/keys", admin.plaintext, { role: "ingest" })).status).toBe(409);
  });

  it("two concurrent revokes of the last two admin keys: one is revoked, an admin key remains", async () => {
    for (let round = 0; round < 5; round++) {
      const workspace = `admins-race-${round}`;
      const [a, b] = [await addKey(workspace, "admin"), await addKey(workspace, "admin")];
      await addKey(workspace, "ingest");
      const answers = await Promise.all([
        call("DELETE", `/v1/keys/${a.id}`, b.plaintext),
        call("DELETE", `/v1/keys/${b.id}`, a.plaintext),
      ]);
      const statuses = answers.map((answer) => answer.status).sort();
      // One revoke wins; the other is refused (409), or finds its own key already revoked (401).
      expect(statuses.filter((s) => s === 204)).toHaveLength(1);
      expect([409, 401]).toContain(statuses.find((s) => s !== 204));
      const admins = (await store.listKeys(workspace)).filter(
        (k) => k.role === "admin" && !k.revokedAt,
      );
      expect(admins).toHaveLength(1);
      // And that last one stays.
      const last = admins[0] as { id: string };
      const survivor = last.id === a.id ? a : b;
      const refused = await call("DELETE", `/v1/keys/${last.id}`, survivor.plaintext);
      expect(refused.status).toBe(409);
    }
  });

  it(`20 concurrent subscription creates at ${MAX_SUBSCRIPTIONS - 2} subscriptions: exactly 2 are created`, async () => {
    const admin = await addKey("subs-race", "admin");
    const subscription = (n: number) => ({
      // An address, not a name: nothing to resolve (it is never called).
      url: `https://93.184.215.14/crm-${n}`,
      events: ["contact.created"],
    });
    for (let n = 0; n < MAX_SUBSCRIPTIONS - 2; n++) {
      expect(
        (await call("POST", "/v1/subscriptions", admin.plaintext, subscription(n))).status,
      ).toBe(201);
    }
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        call("POST", "/v1/subscriptions", admin.plaintext, subscription(100 + n)),
      ),
    );
    expect(tally(answers.map((a) => a.status))).toEqual({ 201: 2, 409: 18 });
    expect(await store.listSubscriptions("subs-race")).toHaveLength(MAX_SUBSCRIPTIONS);
    // Deleting one frees a place.
    const [first] = await store.listSubscriptions("subs-race");
    expect((await call("DELETE", `/v1/subscriptions/${first?.id}`, admin.plaintext)).status).toBe(
      204,
    );
    const again = await Promise.all(
      Array.from({ length: 5 }, (_, n) =>
        call("POST", "/v1/subscriptions", admin.plaintext, subscription(200 + n)),
      ),
    );
    expect(tally(again.map((a) => a.status))).toEqual({ 201: 1, 409: 4 });
  });

  it("a workspace from before the limits were kept is counted from its keys when first needed", async () => {
    const workspace = "legacy";
    // Written as older versions wrote them: the key items alone, no count anywhere.
    const plaintexts: string[] = [];
    for (let i = 0; i < MAX_KEYS; i++) {
      const plaintext = generateApiKey(workspace);
      plaintexts.push(plaintext);
      await aws.documents.send(
        new PutCommand({
          TableName: aws.tableName,
          Item: {
            pk: `WS#${workspace}`,
            sk: `KEY#${hashApiKey(plaintext)}`,
            type: "key",
            id: newKeyId(),
            role: i < 2 ? "admin" : "ingest",
            name: "old",
            hint: "h",
            createdAt: new Date().toISOString(),
          },
        }),
      );
    }
    const admin = plaintexts[0] as string;
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => call("POST", "/v1/keys", admin, { role: "ingest" })),
    );
    expect(tally(answers.map((a) => a.status))).toEqual({ 409: 5 });
    // Its two admin keys are known too: one may go, not both.
    const admins = (await store.listKeys(workspace)).filter((k) => k.role === "admin");
    const revokes = await Promise.all(admins.map((k) => call("DELETE", `/v1/keys/${k.id}`, admin)));
    expect(revokes.map((r) => r.status).filter((s) => s === 204)).toHaveLength(1);
  });
});

describe("the limits item, repaired (dynalite)", () => {
  const leak = async (workspace: string, id: string) =>
    aws.documents.send(
      new UpdateCommand({
        TableName: aws.tableName,
        Key: { pk: `WS#${workspace}#LIMITS`, sk: "LIMITS" },
        UpdateExpression: "ADD #keys :ids, rev :one",
        ExpressionAttributeNames: { "#keys": "keys" },
        ExpressionAttributeValues: { ":ids": new Set([id]), ":one": 1 },
      }),
    );

  it("a place held by a create that died is freed once its lease is over; one in flight is not", async () => {
    const workspace = "leaky";
    await addKey(workspace, "admin");
    for (let i = 1; i < MAX_KEYS - 1; i++) await addKey(workspace, "ingest");
    // A create that counted its key, then died before writing it (compensation lost too).
    const inFlight = `key_${ulid()}`;
    await leak(workspace, inFlight);
    const minted = (at: number) => ({
      id: newKeyId(),
      workspaceId: workspace,
      hash: hashApiKey(generateApiKey(workspace)),
      role: "ingest" as const,
      name: "n",
      hint: "h",
      createdAt: new Date(at).toISOString(),
    });
    // Within its lease it may still be written: the place stays taken.
    expect(await store.putKey(minted(Date.now()), MAX_KEYS)).toBe("limit");
    expect((await store.limits(workspace))?.keys.has(inFlight)).toBe(true);
    // Past the lease it is a leak: the recount a refusal runs drops it, and the create passes.
    const dead = `key_${ulid(Date.now() - RESERVATION_LEASE_MS - 1000)}`;
    await aws.documents.send(
      new UpdateCommand({
        TableName: aws.tableName,
        Key: { pk: `WS#${workspace}#LIMITS`, sk: "LIMITS" },
        UpdateExpression: "DELETE #keys :gone ADD rev :one",
        ExpressionAttributeNames: { "#keys": "keys" },
        ExpressionAttributeValues: { ":gone": new Set([inFlight]), ":one": 1 },
      }),
    );
    await leak(workspace, dead);
    expect(await store.putKey(minted(Date.now()), MAX_KEYS)).toBe("created");
    const limits = await store.limits(workspace);
    expect(limits?.keys.has(dead)).toBe(false);
    expect(limits?.keys.size).toBe(MAX_KEYS);
    // Recounting again changes nothing: it is idempotent.
    expect(await store.repairLimits(workspace)).toBe(false);
  });

  it("a recount never counts an admin key it does not know (a revoke in flight looks the same)", async () => {
    const workspace = "unknown-admin";
    const [a, b] = [await addKey(workspace, "admin"), await addKey(workspace, "admin")];
    // As after a revoke of `a` took it out of the count, with its key write still to come.
    await aws.documents.send(
      new UpdateCommand({
        TableName: aws.tableName,
        Key: { pk: `WS#${workspace}#LIMITS`, sk: "LIMITS" },
        UpdateExpression: "DELETE #admins :a ADD rev :one",
        ExpressionAttributeNames: { "#admins": "admins" },
        ExpressionAttributeValues: { ":a": new Set([a.id]), ":one": 1 },
      }),
    );
    await store.repairLimits(workspace);
    expect([...((await store.limits(workspace))?.admins ?? [])]).toEqual([b.id]);
    // So `b` stays: revoking it is refused, while `a` (not counted) may still go.
    expect((await store.revokeKey(workspace, b.id, new Date().toISOString()))?.outcome).toBe(
      "last-admin",
    );
    expect((await store.revokeKey(workspace, a.id, new Date().toISOString()))?.outcome).toBe(
      "revoked",
    );
    expect((await store.revokeKey(workspace, b.id, new Date().toISOString()))?.outcome).toBe(
      "last-admin",
    );
  });
});
