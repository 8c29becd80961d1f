import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Delivery, StoredEvent } from "../../shared/domain.ts";
import { deliveryIdFor, newKeyId, newSubscriptionId } from "../../shared/ids.ts";
import { generateApiKey, hashApiKey } from "../../shared/keys.ts";
import { decodeMessage } from "../../shared/queue/delivery-queue.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { deliveryToItem } from "../../shared/store/items.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { DEAD_LETTER_COUNT_BUDGET, REDRIVE_LEFT_BUDGET } from "../../shared/use-cases/resend.ts";
import { type ApiHandler, apiEvent, context, importHandler } from "../helpers/api-event.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";

/**
 * An endpoint down for days: one workspace with DLQ_SCALE dead letters (20,000 in `npm test`,
 * 100,000 with `npm run test:scale`) in dynalite, written straight into the table in the
 * store's own item format. `GET /v1/dlq` and one `POST /v1/dlq/redrive` page must each do a
 * bounded amount of DynamoDB work — the same bound at 20,000 as at 100,000 — say when a count
 * is capped, and the redrive's cursor must reach every dead letter exactly once.
 *
 * The API function is the production handler; its DynamoDB calls are counted as they pass
 * through the document client (`send` is wrapped, never replaced): calls by command, and the
 * items each read evaluated (a Query's ScannedCount, one per GetItem, the keys of a BatchGet),
 * which is what DynamoDB bills reads by.
 */
const COUNT = Number(process.env.DLQ_SCALE ?? 20_000);
/** Positions (oldest event first) of the dead letters of the one subscription still enabled. */
const LIVE_FROM = 4_000;
const LIVE = 200;
const WORKSPACE = "scale";
const T0 = Date.parse("2026-11-01T00:00:00.000Z");
const RETENTION = 30 * 86_400;

/**
 * What a request may cost at most, whatever the number of dead letters. GET /v1/dlq: the key,
 * then one Query per shard reading at most the count's budget. A redrive page: the key, the
 * index read for its hundred (at most three rounds of a Query per shard, within the list's
 * scan budget of 1,000 entries, twice over when filtered), one BatchGetItem for their
 * records, per dead letter at most five calls (its subscription, its event, the claim, the
 * event's expiry, the claim confirmed), then one Query per shard for what is left.
 */
const SHARD_COUNT = 32;
const SUMMARY_CALLS_MAX = 1 + SHARD_COUNT;
const SUMMARY_ITEMS_MAX = 1 + DEAD_LETTER_COUNT_BUDGET + SHARD_COUNT;
const REDRIVE_CALLS_MAX = 1 + 3 * SHARD_COUNT + 1 + 5 * 100 + SHARD_COUNT;
const REDRIVE_ITEMS_MAX = 1 + 2 * 1_000 + 3 * 100 + REDRIVE_LEFT_BUDGET + SHARD_COUNT;

let aws: LocalAws;
let handler: ApiHandler;
const admin = generateApiKey(WORKSPACE);
const paused = newSubscriptionId();
const live = newSubscriptionId();
/** Delivery ids by position, oldest event first. */
const ids: string[] = [];
const failedAt = (position: number) => new Date(T0 + position * 1000 + 3_600_000).toISOString();

interface Reads {
  calls: Record<string, number>;
  items: number;
}
let reads: Reads = { calls: {}, items: 0 };

beforeAll(async () => {
  aws = await startLocalAws();
  const workspaces = new DynamoWorkspaceStore(aws.table);
  const events = new DynamoEventStore(aws.table, { retentionSeconds: RETENTION });
  await workspaces.putKey({
    id: newKeyId(),
    workspaceId: WORKSPACE,
    hash: hashApiKey(admin),
    role: "admin",
    name: "ops",
    hint: "h",
    createdAt: new Date().toISOString(),
  });
  for (const [id, enabled] of [
    [paused, false],
    [live, true],
  ] as const) {
    await workspaces.createSubscription({
      id,
      workspaceId: WORKSPACE,
      url: "https://hooks.example.com/crm",
      events: ["deal.updated"],
      enabled,
      description: enabled ? "live" : "down for days, disabled",
      secret: null,
      previousSecrets: [],
      createdAt: "2026-10-01T00:00:00.000Z",
      updatedAt: "2026-10-01T00:00:00.000Z",
    });
  }

  const items: Record<string, unknown>[] = [];
  for (let position = 0; position < COUNT; position++) {
    const seq = ulid(T0 + position * 1000);
    const isLive = position >= LIVE_FROM && position < LIVE_FROM + LIVE;
    const subscriptionId = isLive ? live : paused;
    const id = deliveryIdFor(seq, subscriptionId);
    ids.push(id);
    const eventId = `evt_${seq}`;
    if (isLive) {
      const event: StoredEvent = {
        workspaceId: WORKSPACE,
        id: eventId,
        name: "deal.updated",
        body: '{"event":"deal.updated","data":{"id":"d_1"},"timestamp":"2026-11-01T00:00:00.000Z"}',
        seq,
        receivedAt: new Date().toISOString(),
        targets: [subscriptionId],
        requestHash: "h",
      };
      await events.create(event);
    }
    const delivery: Delivery = {
      id,
      workspaceId: WORKSPACE,
      eventId,
      event: "deal.updated",
      subscriptionId,
      status: "failed",
      generation: 0,
      rev: 5,
      runAttempts: 5,
      attemptCount: 5,
      attempts: [],
      attemptsOmitted: 5,
      createdAt: new Date(T0 + position * 1000).toISOString(),
      updatedAt: failedAt(position),
      reason: "exhausted",
      lastError: "HTTP 503",
      failedAt: failedAt(position),
    };
    items.push(deliveryToItem(delivery, RETENTION));
  }
  const started = performance.now();
  let next = 0;
  const writer = async () => {
    while (next < items.length) {
      let pending = items.slice(next, next + 25).map((Item) => ({ PutRequest: { Item } }));
      next += 25;
      while (pending.length > 0) {
        const result = await aws.documents.send(
          new BatchWriteCommand({ RequestItems: { [aws.tableName]: pending } }),
        );
        pending = (result.UnprocessedItems?.[aws.tableName] ?? []) as typeof pending;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
  console.log(
    `loaded ${COUNT} dead letters into dynalite in ${Math.round(performance.now() - started)} ms`,
  );

  handler = await importHandler(() => import("../../functions/api/handler.ts"), {
    WEBHOOKS_TABLE_NAME: aws.tableName,
    WEBHOOKS_QUEUE_URL: aws.queueUrl,
    WEBHOOKS_DLQ_URL: aws.deadLetterQueueUrl,
    WEBHOOKS_SLOW_QUEUE_URL: aws.slowQueueUrl,
    WEBHOOKS_STRANDED_QUEUE_URL: aws.strandedQueueUrl,
    AWS_ENDPOINT_URL_DYNAMODB: aws.emulators.dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: aws.emulators.sqsEndpoint,
  });

  // Count every DynamoDB call the API function makes from here on (the call goes through).
  const send = DynamoDBDocumentClient.prototype.send;
  vi.spyOn(DynamoDBDocumentClient.prototype, "send").mockImplementation(async function (
    this: DynamoDBDocumentClient,
    command: unknown,
  ) {
    const output = (await (send as (c: unknown) => Promise<unknown>).call(this, command)) as {
      ScannedCount?: number;
    };
    const name = (command as object).constructor.name.replace(/Command$/, "");
    reads.calls[name] = (reads.calls[name] ?? 0) + 1;
    const input = (command as { input: Record<string, unknown> }).input;
    if (name === "Query") reads.items += output.ScannedCount ?? 0;
    if (name === "Get") reads.items += 1;
    if (name === "BatchGet") {
      const requests = input.RequestItems as Record<string, { Keys: unknown[] }>;
      reads.items += Object.values(requests).reduce((sum, r) => sum + r.Keys.length, 0);
    }
    return output;
  } as typeof send);
}, 600_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await aws?.stop();
});

/** Calls the API function and counts what it read. */
async function measured(method: string, path: string, body?: unknown) {
  reads = { calls: {}, items: 0 };
  const response = await handler(
    apiEvent(method, path, { key: admin, ...(body === undefined ? {} : { body }) }),
    context(),
  );
  const totalCalls = Object.values(reads.calls).reduce((sum, n) => sum + n, 0);
  return {
    status: response.statusCode,
    body: JSON.parse(response.body ?? "null"),
    calls: reads.calls,
    totalCalls,
    items: reads.items,
  };
}

describe(`${COUNT.toLocaleString("en")} dead letters in one workspace (dynalite)`, () => {
  it("GET /v1/dlq counts at most its budget, says the depth is a floor, and finds the oldest", async () => {
    const answer = await measured("GET", "/v1/dlq");
    console.log(
      `GET /v1/dlq: ${answer.totalCalls} calls ${JSON.stringify(answer.calls)}, ${answer.items} items read; ${JSON.stringify(answer.body)}`,
    );
    expect(answer.status).toBe(200);
    expect(answer.body.depthExact).toBe(COUNT <= DEAD_LETTER_COUNT_BUDGET);
    expect(answer.body.depth).toBeGreaterThanOrEqual(Math.min(COUNT, DEAD_LETTER_COUNT_BUDGET));
    expect(answer.body.depth).toBeLessThanOrEqual(Math.min(COUNT, SUMMARY_ITEMS_MAX));
    expect(answer.body.oldestFailedAt).toBe(failedAt(0));
    expect(answer.totalCalls).toBeLessThanOrEqual(SUMMARY_CALLS_MAX);
    expect(answer.items).toBeLessThanOrEqual(SUMMARY_ITEMS_MAX);
  });

  it("filtered by a subscription, the count stays within the budget and the oldest is the filter's", async () => {
    const answer = await measured("GET", `/v1/dlq?subscriptionId=${live}`);
    console.log(
      `GET /v1/dlq?subscriptionId: ${answer.totalCalls} calls, ${answer.items} items read; ${JSON.stringify(answer.body)}`,
    );
    expect(answer.status).toBe(200);
    // Every one of them lies within what the budget reads, but not every dead letter does.
    expect(answer.body).toMatchObject({
      depth: LIVE,
      depthExact: COUNT <= DEAD_LETTER_COUNT_BUDGET,
    });
    expect(answer.body.oldestFailedAt).toBe(failedAt(LIVE_FROM));
    expect(answer.totalCalls).toBeLessThanOrEqual(SUMMARY_CALLS_MAX);
    expect(answer.items).toBeLessThanOrEqual(SUMMARY_ITEMS_MAX);
  });

  it("a redrive filtered by a subscription reads a bounded amount per page, and reaches each of its dead letters once", async () => {
    const walk = await redriveAll({ subscriptionId: live });
    console.log(
      `redrove the subscription's ${LIVE} in ${walk.pages} pages (of at most 100), ${walk.ms} ms; the dearest page: ${walk.worst.calls} calls, ${walk.worst.items} items read`,
    );
    expect(walk.worst.calls).toBeLessThanOrEqual(REDRIVE_CALLS_MAX);
    expect(walk.worst.items).toBeLessThanOrEqual(REDRIVE_ITEMS_MAX);
    expect(walk.errors).toEqual([]);
    expect(walk.moved).toBe(LIVE);
    // Each queued once: a fresh message per delivery, the same delivery id.
    const queued = await drainQueue(aws.queueUrl);
    expect(queued.sort()).toEqual(ids.slice(LIVE_FROM, LIVE_FROM + LIVE).sort());
  }, 1_800_000);

  it("one POST /v1/dlq/redrive page reads a bounded amount, and the cursor reaches every dead letter exactly once", async () => {
    const walk = await redriveAll({}, (page) => {
      console.log(
        `POST /v1/dlq/redrive, first page: ${page.totalCalls} calls ${JSON.stringify(page.calls)}, ${page.items} items read; left ${page.body.left} (exact: ${page.body.leftExact})`,
      );
      // What is left is counted within a smaller budget, and labelled a floor.
      const left = COUNT - LIVE - 100;
      expect(page.body.leftExact).toBe(left <= REDRIVE_LEFT_BUDGET);
      expect(page.body.left).toBeGreaterThanOrEqual(Math.min(left, REDRIVE_LEFT_BUDGET));
    });
    console.log(
      `redrove all ${COUNT - LIVE} that were left in ${walk.pages} pages, ${walk.ms} ms; the dearest page: ${walk.worst.calls} calls, ${walk.worst.items} items read`,
    );
    expect(walk.worst.calls).toBeLessThanOrEqual(REDRIVE_CALLS_MAX);
    expect(walk.worst.items).toBeLessThanOrEqual(REDRIVE_ITEMS_MAX);
    // The disabled subscription's dead letters are each reported once, with why (the live
    // subscription's left the index when the filtered redrive resent them).
    const seen = walk.errors.map((error) => error.id);
    expect(new Set(walk.errors.map((error) => error.reason))).toEqual(
      new Set(["subscription-disabled"]),
    );
    expect(seen).toHaveLength(COUNT - LIVE);
    expect(new Set(seen).size).toBe(COUNT - LIVE);
    expect(walk.moved).toBe(0);
    expect(new Set([...seen, ...ids.slice(LIVE_FROM, LIVE_FROM + LIVE)]).size).toBe(COUNT);
  }, 1_800_000);
});

/** Follows POST /v1/dlq/redrive's cursor to the end, measuring every page. */
async function redriveAll(
  filter: { subscriptionId?: string },
  onFirst?: (page: Awaited<ReturnType<typeof measured>>) => void,
) {
  const errors: Array<{ id: string; reason: string }> = [];
  let moved = 0;
  let pages = 0;
  let cursor: string | undefined;
  const worst = { calls: 0, items: 0 };
  const started = performance.now();
  do {
    const page = await measured("POST", "/v1/dlq/redrive", {
      ...filter,
      limit: 100,
      ...(cursor ? { cursor } : {}),
    });
    expect(page.status).toBe(200);
    if (pages === 0) onFirst?.(page);
    worst.calls = Math.max(worst.calls, page.totalCalls);
    worst.items = Math.max(worst.items, page.items);
    errors.push(...page.body.errors);
    expect(page.body.skipped).toBe(0);
    moved += page.body.moved;
    cursor = page.body.nextCursor ?? undefined;
    pages++;
  } while (cursor);
  return { errors, moved, pages, worst, ms: Math.round(performance.now() - started) };
}

async function drainQueue(url: string): Promise<string[]> {
  const found: string[] = [];
  for (;;) {
    const { Messages = [] } = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }),
    );
    if (Messages.length === 0) return found;
    for (const message of Messages) {
      const decoded = decodeMessage(message.Body ?? "");
      if (decoded) found.push(decoded.d);
    }
  }
}
