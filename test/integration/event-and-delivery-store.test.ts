import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Attempt, Delivery, StoredEvent, Subscription } from "../../shared/domain.ts";
import { deliveryIdFor, newSubscriptionId, newUlid } from "../../shared/ids.ts";
import { claimed, confirmedQueued, guardOf, withAttempt } from "../../shared/lifecycle.ts";
import { contextKey } from "../../shared/ports.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DYNAMO_ITEM_LIMIT, itemSize } from "../../shared/store/item-size.ts";
import { deliveryToItem, RECORD_BUDGET } from "../../shared/store/items.ts";
import { shardOf, type Table } from "../../shared/store/table.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";

let aws: LocalAws;
let events: DynamoEventStore;
let deliveries: DynamoDeliveryStore;
let workspaces: DynamoWorkspaceStore;
const RETENTION = 30 * 86_400;
beforeAll(async () => {
  aws = await startLocalAws();
  events = new DynamoEventStore(aws.table, { retentionSeconds: RETENTION });
  deliveries = new DynamoDeliveryStore(aws.table, { retentionSeconds: RETENTION });
  workspaces = new DynamoWorkspaceStore(aws.table);
});
afterAll(() => aws.stop());

const T0 = Date.parse("2026-11-26T10:00:00.000Z");

const storedEvent = (workspaceId: string, id: string): StoredEvent => ({
  workspaceId,
  id,
  name: "contact.updated",
  body: JSON.stringify({
    event: "contact.updated",
    data: { id },
    timestamp: "2026-11-26T10:00:00.000Z",
  }),
  seq: newUlid(),
  receivedAt: "2026-11-26T10:00:00.000Z",
  targets: [newSubscriptionId()],
  requestHash: "hash-1",
});

const draft = (patch: Partial<Attempt> = {}) => ({
  startedAt: "2026-11-26T10:00:00.000Z",
  durationMs: 12,
  url: "https://hooks.example.com/",
  outcome: "failed" as const,
  requestHeaders: { "webhook-id": "x" },
  statusCode: 500,
  responseHeaders: { "content-type": "text/plain" },
  responseBody: "boom",
  responseBodyTruncated: false,
  errorClass: "http_status" as const,
  errorMessage: "HTTP 500 from the receiver.",
  ...patch,
});

const run = (workspaceId: string, deliveryId: string, now = T0, generation = 0) => ({
  workspaceId,
  deliveryId,
  eventId: "evt_1",
  event: "contact.updated" as const,
  subscriptionId: "sub_1",
  generation,
  owner: "m-1",
  now,
});

/** Writes a delivery that ends as `status` after one attempt, as the deliver path would. */
async function deliveryThat(
  workspaceId: string,
  status: "succeeded" | "retrying" | "failed",
  patch: { id?: string; subscriptionId?: string; at?: number } = {},
): Promise<Delivery> {
  const id = patch.id ?? deliveryIdFor(newUlid(patch.at ?? T0), newSubscriptionId());
  const end =
    status === "succeeded"
      ? ({ status } as const)
      : status === "retrying"
        ? ({ status, delaySeconds: 10 } as const)
        : ({ status, reason: "exhausted" } as const);
  const next = withAttempt(
    undefined,
    { ...run(workspaceId, id, patch.at ?? T0), subscriptionId: patch.subscriptionId ?? "sub_1" },
    draft(status === "succeeded" ? { outcome: "succeeded", statusCode: 200 } : {}),
    end,
    status === "succeeded" ? undefined : "HTTP 500",
  );
  expect(await deliveries.put(next, guardOf(undefined))).toBe(true);
  return next;
}

describe("DynamoEventStore (dynalite)", () => {
  it("stores an event once; a second create returns the first", async () => {
    const event = storedEvent("ws1", "crm-1");
    expect(await events.create(event)).toEqual({ created: true });
    const again = await events.create({ ...event, seq: newUlid(), requestHash: "other" });
    expect(again).toEqual({ created: false, existing: event });
    expect(await events.get("ws1", "crm-1")).toEqual(event);
    expect(await events.get("ws2", "crm-1")).toBeUndefined();
  });

  it("keeps an event the retention period from its receipt, and a resend pushes that out", async () => {
    const event = storedEvent("ws1", "crm-ttl");
    await events.create(event);
    const ttl = async () =>
      (await aws.documents.send(new ScanCommand({ TableName: aws.tableName }))).Items?.find(
        (item) => item.id === "crm-ttl",
      )?.expiresAt;
    expect(await ttl()).toBe(Math.floor(T0 / 1000) + RETENTION);
    await events.extend("ws1", "crm-ttl", T0 + 86_400_000);
    expect(await ttl()).toBe(Math.floor(T0 / 1000) + 86_400 + RETENTION);
  });
});

describe("DynamoEventStore's conditions (dynalite)", () => {
  /** The table, with the commands `fail` picks failing as DynamoDB would fail them. */
  const failing = (fail: (command: unknown) => Error | undefined, sent: unknown[] = []): Table => ({
    name: aws.table.name,
    client: {
      send: (command: unknown) => {
        sent.push(command);
        const error = fail(command);
        return error ? Promise.reject(error) : aws.table.client.send(command as GetCommand);
      },
    } as unknown as DynamoDBDocumentClient,
  });
  const named = (name: string) => Object.assign(new Error(`${name} (injected)`), { name });
  const expiry = async (id: string) =>
    (await aws.documents.send(new ScanCommand({ TableName: aws.tableName }))).Items?.find(
      (item) => item.id === id,
    )?.expiresAt;

  it("never shortens an event's retention, and extends no event that is not there", async () => {
    const event = storedEvent("ws-ext", "crm-ext");
    await events.create(event);
    await events.extend("ws-ext", "crm-ext", T0 + 86_400_000);
    await events.extend("ws-ext", "crm-ext", T0 + 3_600_000);
    expect(await expiry("crm-ext")).toBe(Math.floor(T0 / 1000) + 86_400 + RETENTION);

    await events.extend("ws-ext", "crm-gone", T0);
    const all = await aws.documents.send(new ScanCommand({ TableName: aws.tableName }));
    expect(all.Items?.filter((item) => String(item.pk).includes("crm-gone"))).toEqual([]);
    expect(await events.get("ws-ext", "crm-gone")).toBeUndefined();
  });

  it("passes on a failure that is not a lost condition, on create and on extend", async () => {
    const throttled = new DynamoEventStore(
      failing((command) =>
        command instanceof PutCommand || command instanceof UpdateCommand
          ? named("ProvisionedThroughputExceededException")
          : undefined,
      ),
      { retentionSeconds: RETENTION },
    );
    await expect(throttled.create(storedEvent("ws-fail", "crm-throttled"))).rejects.toThrow(
      "ProvisionedThroughputExceededException (injected)",
    );
    await events.create(storedEvent("ws-fail", "crm-kept"));
    await expect(throttled.extend("ws-fail", "crm-kept", T0 + 86_400_000)).rejects.toThrow(
      "ProvisionedThroughputExceededException (injected)",
    );
  });

  it("says so when an id is taken but its event cannot be read back", async () => {
    const racing = new DynamoEventStore(
      failing((command) =>
        command instanceof PutCommand ? named("ConditionalCheckFailedException") : undefined,
      ),
      { retentionSeconds: RETENTION },
    );
    await expect(racing.create(storedEvent("ws-fail", "crm-vanished"))).rejects.toThrow(
      "event crm-vanished vanished while being read",
    );
  });

  it("reads an event strongly consistent: a repeat right after the create must see it", async () => {
    const sent: unknown[] = [];
    const recorded = new DynamoEventStore(
      failing(() => undefined, sent),
      { retentionSeconds: RETENTION },
    );
    const event = storedEvent("ws-read", "crm-read");
    await recorded.create(event);
    expect(await recorded.create(event)).toEqual({ created: false, existing: event });
    const reads = sent.filter((command) => command instanceof GetCommand);
    expect(reads.map((command) => (command as GetCommand).input.ConsistentRead)).toEqual([true]);
  });
});

describe("DynamoDeliveryStore (dynalite)", () => {
  it("loads subscriptions, deliveries and events of a batch in one go", async () => {
    const event = storedEvent("ws2", "e-ctx");
    await events.create(event);
    const sub: Subscription = {
      id: newSubscriptionId(),
      workspaceId: "ws2",
      url: "https://x.example.com/",
      events: ["contact.updated"],
      enabled: true,
      description: "",
      secret: null,
      previousSecrets: [],
      createdAt: "a",
      updatedAt: "a",
    };
    await workspaces.createSubscription(sub);
    const deliveryId = deliveryIdFor(event.seq, sub.id);
    await deliveryThat("ws2", "retrying", { id: deliveryId });

    const ref = { workspaceId: "ws2", deliveryId, eventId: event.id, subscriptionId: sub.id };
    const context = await deliveries.loadContext([
      { ...ref, withRecord: true },
      {
        workspaceId: "ws2",
        deliveryId: "dlv_missing",
        eventId: "missing",
        subscriptionId: "sub_missing",
        withRecord: true,
      },
    ]);
    expect(context.subscriptions.get(contextKey("ws2", sub.id))).toEqual(sub);
    expect(context.events.get(contextKey("ws2", event.id))).toEqual(event);
    expect(context.deliveries.get(contextKey("ws2", deliveryId))?.attemptCount).toBe(1);
    expect(context.subscriptions.size + context.events.size + context.deliveries.size).toBe(3);

    // Without the record: the subscription and the event only.
    const lean = await deliveries.loadContext([{ ...ref, withRecord: false }]);
    expect(lean.subscriptions.size + lean.events.size).toBe(2);
    expect(lean.deliveries.size).toBe(0);
  });

  it("writes under the lifecycle's guards: none expected, or exactly the revision read", async () => {
    const first = await deliveryThat("ws3", "retrying");
    // A second writer that expected no record loses, and so does one with an old revision.
    expect(await deliveries.put({ ...first, status: "succeeded" }, guardOf(undefined))).toBe(false);
    const next = withAttempt(first, run("ws3", first.id, T0 + 10_000), draft(), {
      status: "succeeded",
    });
    expect(await deliveries.put(next, guardOf(first))).toBe(true);
    expect(await deliveries.put({ ...next, status: "failed" }, guardOf(first))).toBe(false);
    const stored = await deliveries.get("ws3", first.id);
    expect(stored).toEqual(next);
    expect(stored).toMatchObject({ status: "succeeded", rev: 2, attemptCount: 2, runAttempts: 2 });
    expect(await deliveries.get("other", first.id)).toBeUndefined();
  });

  it("puts failed deliveries in the dead-letter index, and claims awaiting their message on the sweep's list", async () => {
    const failed = await deliveryThat("ws-index", "failed");
    await deliveryThat("ws-index", "succeeded");
    const retrying = await deliveryThat("ws-index", "retrying");
    expect((await deliveries.listDeadLetters("ws-index", {}, 10)).items.map((d) => d.id)).toEqual([
      failed.id,
    ]);
    expect((await deliveries.listDeadLetters("ws-index", {}, 10)).items[0]).toMatchObject({
      reason: "exhausted",
      lastError: "HTTP 500",
      generation: 0,
    });

    // A resend's claim leaves the dead letters and waits on the sweep's list until queued.
    const claim = claimed(failed, { ...run("ws-index", failed.id, T0 + 1000), generation: 1 });
    expect(await deliveries.put(claim, guardOf(failed))).toBe(true);
    expect((await deliveries.listDeadLetters("ws-index", {}, 10)).items).toEqual([]);
    const watch = await deliveries.listUnqueuedClaims(new Date(T0 + 2000).toISOString(), 100);
    expect(watch).toContainEqual({ workspaceId: "ws-index", deliveryId: failed.id });
    expect(await deliveries.listUnqueuedClaims(new Date(T0).toISOString(), 100)).not.toContainEqual(
      { workspaceId: "ws-index", deliveryId: failed.id },
    );
    expect(await deliveries.put(confirmedQueued(claim, T0 + 1500), guardOf(claim))).toBe(true);
    expect(
      await deliveries.listUnqueuedClaims(new Date(T0 + 2000).toISOString(), 100),
    ).not.toContainEqual({ workspaceId: "ws-index", deliveryId: failed.id });
    expect(retrying.status).toBe("retrying");
  });

  it("lists newest first across its shards, filters, and pages through everything with the cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const delivery = await deliveryThat("ws4", i % 5 === 0 ? "failed" : "succeeded", {
        at: T0 + i * 1000,
        subscriptionId: i % 2 ? "sub_odd" : "sub_even",
      });
      ids.push(delivery.id);
    }
    const newestFirst = [...ids].reverse();
    for (const size of [1, 7, 40, 100]) {
      const seen: string[] = [];
      let after: string | undefined;
      do {
        const page = await deliveries.list("ws4", {}, size, after);
        expect(page.items.length).toBeLessThanOrEqual(size);
        seen.push(...page.items.map((d) => d.id));
        after = page.next;
      } while (after);
      expect(seen).toEqual(newestFirst);
    }

    const failed = await deliveries.list("ws4", { status: "failed" }, 100);
    expect(failed.items.map((d) => d.id)).toEqual(
      newestFirst.filter((_id, i) => (39 - i) % 5 === 0),
    );
    const failedPaged: string[] = [];
    let after: string | undefined;
    do {
      const page = await deliveries.list("ws4", { status: "failed" }, 2, after);
      failedPaged.push(...page.items.map((d) => d.id));
      after = page.next;
    } while (after);
    expect(failedPaged).toEqual(failed.items.map((d) => d.id));

    const odd = await deliveries.list(
      "ws4",
      { subscriptionId: "sub_odd", status: "succeeded" },
      100,
    );
    expect(odd.items.every((d) => d.subscriptionId === "sub_odd" && d.status === "succeeded")).toBe(
      true,
    );
    expect(odd.items).toHaveLength(16);
    expect((await deliveries.list("ws5", {}, 10)).items).toEqual([]);

    // A window of event times, newest first, paged.
    const window = { from: ids[10] as string, to: ids[19] as string };
    const windowed: string[] = [];
    after = undefined;
    do {
      const page = await deliveries.list("ws4", { idRange: window }, 3, after);
      windowed.push(...page.items.map((d) => d.id));
      after = page.next;
    } while (after);
    expect(windowed).toEqual(ids.slice(10, 20).reverse());
  });

  it("hands back a cursor when a filtered list reads its budget, and the pages still add up", async () => {
    // 1,100 deliveries of which three match: no single request may read them all.
    const matching: string[] = [];
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1100; i++) {
      const status = i === 5 || i === 600 || i === 1090 ? "failed" : "succeeded";
      writes.push(
        deliveryThat("ws-budget", status, { at: T0 + i * 10 }).then((d) => {
          if (status === "failed") matching.push(d.id);
        }),
      );
      if (writes.length === 50) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await deliveries.list("ws-budget", { status: "failed" }, 10, after);
      seen.push(...page.items.map((d) => d.id));
      after = page.next;
      pages++;
    } while (after);
    expect(pages).toBeGreaterThan(1);
    expect(seen).toEqual([...matching].sort().reverse());
  });

  it("a filtered dead-letter list that runs out of its budget skips nothing: every shard resumes where it was read to", async () => {
    // 80 dead letters in each of the 32 shards, oldest first; in shard 0 the 31st and the 36th
    // are the filter's. The first page reads 31 entries of every shard — shard 0's 31st
    // matches —, then more of the others, and runs out of its budget: shard 0 has been read
    // only to its 31st, so the page must not go past it, or its 36th is never seen.
    const live = newSubscriptionId();
    const paused = newSubscriptionId();
    const perShard = new Map<number, number>();
    const items: Record<string, unknown>[] = [];
    const wanted: string[] = [];
    for (let i = 0; items.length < 80 * 32; i++) {
      const id = deliveryIdFor(ulid(T0 + i * 1000), paused);
      const shard = shardOf(id);
      const index = perShard.get(shard) ?? 0;
      if (index === 80) continue;
      perShard.set(shard, index + 1);
      // The filter is on the subscription attribute; the id alone decides the shard.
      const match = shard === 0 && (index === 30 || index === 35);
      if (match) wanted.push(id);
      const at = new Date(T0 + i * 1000).toISOString();
      const delivery: Delivery = {
        id,
        workspaceId: "ws-frontier",
        eventId: `evt_${i}`,
        event: "contact.updated",
        subscriptionId: match ? live : paused,
        status: "failed",
        generation: 0,
        rev: 1,
        runAttempts: 1,
        attemptCount: 1,
        attempts: [],
        attemptsOmitted: 1,
        createdAt: at,
        updatedAt: at,
        reason: "exhausted",
        failedAt: at,
      };
      items.push(deliveryToItem(delivery, RETENTION));
    }
    for (let offset = 0; offset < items.length; offset += 25) {
      await aws.documents.send(
        new BatchWriteCommand({
          RequestItems: {
            [aws.tableName]: items
              .slice(offset, offset + 25)
              .map((Item) => ({ PutRequest: { Item } })),
          },
        }),
      );
    }
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await deliveries.listDeadLetters(
        "ws-frontier",
        { subscriptionId: live },
        100,
        after,
      );
      seen.push(...page.items.map((d) => d.id));
      after = page.next;
    } while (after);
    expect(seen).toEqual(wanted);
  });

  it("summarizes dead letters with bounded work, saying when the count is not exact", async () => {
    for (let i = 0; i < 70; i++) await deliveryThat("ws-dead", "failed", { at: T0 + i });
    const exact = await deliveries.summarizeDeadLetters("ws-dead", {}, 10_000);
    expect(exact).toMatchObject({ count: 70, exact: true });
    const oldest = (await deliveries.listDeadLetters("ws-dead", {}, 1)).items[0];
    expect(exact.oldest?.id).toBe(oldest?.id);
    const bounded = await deliveries.summarizeDeadLetters("ws-dead", {}, 32);
    expect(bounded.exact).toBe(false);
    expect(bounded.count).toBeLessThan(70);
    expect(bounded.count).toBeGreaterThan(0);
  });

  it("keeps every record within its byte budget as DynamoDB counts it, however much history and multi-byte text it gathers", async () => {
    // Three-byte characters: dynalite counts a UTF-16 unit per character, DynamoDB 3 bytes.
    const heavy = draft({
      responseBody: "€".repeat(4000),
      responseHeaders: Object.fromEntries(
        Array.from({ length: 8 }, (_, i) => [`x-h${i}`, "€".repeat(80)]),
      ),
    });
    let current = await deliveryThat("ws-size", "retrying");
    for (let i = 1; i <= 60; i++) {
      const next = withAttempt(current, run("ws-size", current.id, T0 + i * 1000), heavy, {
        status: "retrying",
        delaySeconds: 1,
      });
      expect(await deliveries.put(next, guardOf(current))).toBe(true);
      current = (await deliveries.get("ws-size", current.id)) as Delivery;
    }
    expect(current.attemptCount).toBe(61);
    // The first attempt and the latest ones are kept; the count of those left out adds up.
    expect(current.attempts[0]?.number).toBe(1);
    expect(current.attempts.at(-1)?.number).toBe(61);
    expect(current.attempts.length + current.attemptsOmitted).toBe(61);
    const items =
      (await aws.documents.send(new ScanCommand({ TableName: aws.tableName }))).Items ?? [];
    const item = items.find((candidate) => candidate.sk === current.id) ?? {};
    expect(itemSize(item)).toBeLessThanOrEqual(RECORD_BUDGET);
    expect(RECORD_BUDGET).toBeLessThan(DYNAMO_ITEM_LIMIT);
  });
});
