import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiKey, Attempt, Delivery } from "../../shared/domain.ts";
import { deliveryIdFor, newKeyId, newSubscriptionId, newUlid } from "../../shared/ids.ts";
import { guardOf, withAttempt, withCancel } from "../../shared/lifecycle.ts";
import type { DeliveryStore, WorkspaceStore } from "../../shared/ports.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";
import { FakeDeliveryStore, FakeWorkspaceStore } from "../helpers/fakes.ts";

/**
 * The unit suites' fakes (test/helpers/fakes.ts) must answer as the DynamoDB stores do, or a
 * unit test could pass on a rule only the fake has. The lifecycle model test compares them on
 * the delivery lifecycle; this compares the rest: keys, batch reads and the dead-letter index.
 * The same writes go to both, then every read is asked of both and must agree.
 */
let aws: LocalAws;
let real: { deliveries: DeliveryStore; workspaces: WorkspaceStore };
let fake: { deliveries: FakeDeliveryStore; workspaces: FakeWorkspaceStore };
const RETENTION = 30 * 86_400;
const T0 = Date.parse("2026-11-26T10:00:00.000Z");

beforeAll(async () => {
  aws = await startLocalAws();
  real = {
    deliveries: new DynamoDeliveryStore(aws.table, { retentionSeconds: RETENTION }),
    workspaces: new DynamoWorkspaceStore(aws.table),
  };
  const workspaces = new FakeWorkspaceStore();
  fake = { deliveries: new FakeDeliveryStore(workspaces), workspaces };
});
afterAll(() => aws.stop());

const both = () => [real, fake] as const;

const draft = (outcome: Attempt["outcome"]) => ({
  startedAt: "2026-11-26T10:00:00.000Z",
  durationMs: 12,
  url: "https://hooks.example.com/",
  outcome,
  requestHeaders: { "webhook-id": "x" },
  statusCode: outcome === "succeeded" ? 200 : 500,
  responseHeaders: {},
  responseBody: "",
  responseBodyTruncated: false,
  ...(outcome === "succeeded" ? {} : { errorClass: "http_status" as const }),
});

/** A delivery that ends as `status` after one attempt (or canceled before any). */
function delivery(
  workspaceId: string,
  status: "succeeded" | "failed" | "canceled" | "test-failed",
  at: number,
  subscriptionId = "sub_1",
): Delivery {
  const id = deliveryIdFor(newUlid(at), newSubscriptionId());
  const ctx = {
    workspaceId,
    deliveryId: id,
    eventId: `evt_${at}`,
    event: "contact.updated" as const,
    subscriptionId,
    generation: 0,
    owner: "m-1",
    now: at,
  };
  if (status === "canceled") return withCancel(undefined, ctx, "subscription_disabled");
  const record = withAttempt(
    undefined,
    ctx,
    draft(status === "succeeded" ? "succeeded" : "failed"),
    status === "succeeded" ? { status } : { status: "failed", reason: "exhausted" },
    status === "succeeded" ? undefined : "HTTP 500",
  );
  return status === "test-failed" ? { ...record, test: true } : record;
}

describe("the fakes answer as the DynamoDB stores do", () => {
  it("keys: a hash is stored once, found by workspace and hash, revoked once", async () => {
    const key = (workspaceId: string, hash: string): ApiKey => ({
      id: newKeyId(),
      workspaceId,
      hash,
      role: "admin",
      name: "n",
      hint: "whk_x_abcd…",
      createdAt: "2026-11-26T10:00:00.000Z",
    });
    const first = key("keys-ws", "a".repeat(64));
    const second = key("keys-ws", "b".repeat(64));
    const answers = [];
    for (const store of both()) {
      const w = store.workspaces;
      answers.push({
        put: [await w.putKey(first), await w.putKey(second), await w.putKey({ ...first, id: "x" })],
        found: await w.getKey("keys-ws", first.hash),
        elsewhere: await w.getKey("other-ws", first.hash),
        revoked: await w.revokeKey("keys-ws", second.id, "2026-11-27T00:00:00.000Z"),
        again: await w.revokeKey("keys-ws", second.id, "2026-11-28T00:00:00.000Z"),
        missing: await w.revokeKey("keys-ws", "key_missing", "2026-11-27T00:00:00.000Z"),
        listed: (await w.listKeys("keys-ws")).sort((a, b) => a.hash.localeCompare(b.hash)),
      });
    }
    expect(answers[0]?.put).toEqual(["created", "created", "exists"]);
    expect(answers[0]?.revoked).toMatchObject({
      outcome: "revoked",
      key: { revokedAt: "2026-11-27T00:00:00.000Z" },
    });
    expect(answers[0]?.again).toMatchObject({
      outcome: "already-revoked",
      key: { revokedAt: "2026-11-27T00:00:00.000Z" },
    });
    expect(answers[0]?.listed).toHaveLength(2);
    expect(answers[1]).toEqual(answers[0]);
  });

  it("dead letters and batch reads: the same deliveries, counted, listed and read the same", async () => {
    const ws = "dead-ws";
    const records = [
      delivery(ws, "failed", T0 + 1000),
      delivery(ws, "succeeded", T0 + 2000),
      delivery(ws, "canceled", T0 + 3000),
      delivery(ws, "test-failed", T0 + 4000),
      delivery(ws, "failed", T0 + 5000, "sub_2"),
      delivery(ws, "failed", T0 + 6000),
      delivery("other-dead-ws", "failed", T0 + 7000),
    ];
    for (const store of both()) {
      for (const record of records) {
        expect(await store.deliveries.put(record, guardOf(undefined))).toBe(true);
      }
    }
    const refs = [...records, delivery(ws, "failed", T0 + 8000)].map((r) => ({
      workspaceId: r.workspaceId,
      deliveryId: r.id,
    }));
    const answers = [];
    for (const store of both()) {
      const d = store.deliveries;
      const pages = [];
      let after: string | undefined;
      do {
        const page = await d.listDeadLetters(ws, {}, 2, after);
        pages.push(page.items.map((item) => item.id));
        after = page.next;
      } while (after !== undefined);
      answers.push({
        many: [...(await d.getMany(refs)).entries()].sort(([a], [b]) => a.localeCompare(b)),
        summary: await d.summarizeDeadLetters(ws, {}, 10_000),
        // One read per shard: shards holding a dead letter may hold more, so not exact.
        tight: await d.summarizeDeadLetters(ws, {}, 2),
        bySubscription: await d.summarizeDeadLetters(ws, { subscriptionId: "sub_2" }, 10_000),
        none: await d.summarizeDeadLetters("empty-ws", {}, 10_000),
        pages,
      });
    }
    const [dynamo, fakes] = answers;
    // What DynamoDB says, spelled out: three failed deliveries of the workspace are dead
    // letters (not the canceled one, not the test send, not another workspace's).
    expect(dynamo?.many).toHaveLength(records.length);
    expect(dynamo?.summary).toMatchObject({ count: 3, exact: true });
    expect(dynamo?.summary.oldest?.id).toBe(records[0]?.id);
    expect(dynamo?.tight.exact).toBe(false);
    expect(dynamo?.bySubscription).toMatchObject({ count: 1, exact: true });
    expect(dynamo?.none).toEqual({ count: 0, exact: true, oldest: undefined });
    expect(dynamo?.pages.flat()).toEqual([records[0]?.id, records[4]?.id, records[5]?.id]);
    // And the fakes say the same.
    expect(fakes).toEqual(dynamo);
  });
});
