import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { ulid } from "ulid";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DeliveryMessage, StoredEvent } from "../../shared/domain.ts";
import { deliveryIdFor, newSubscriptionId, newUlid } from "../../shared/ids.ts";
import { silentLogger } from "../../shared/log.ts";
import { SqsDeadLetterQueue } from "../../shared/queue/dead-letter-queue.ts";
import {
  type DeliveryQueue,
  decodeMessage,
  encodeMessage,
  SqsDeliveryQueue,
} from "../../shared/queue/delivery-queue.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import {
  deadLetterSummary,
  drainDeadLetterQueue,
  type ResendDeps,
  redriveWorkspace,
  replayWindow,
  resendDelivery,
} from "../../shared/use-cases/resend.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";

let aws: LocalAws;
let deps: ResendDeps;
let deliveries: DynamoDeliveryStore;
let events: DynamoEventStore;
let queue: SqsDeliveryQueue;
let workspace = "";

beforeAll(async () => {
  aws = await startLocalAws();
  deliveries = new DynamoDeliveryStore(aws.table);
  events = new DynamoEventStore(aws.table);
  queue = new SqsDeliveryQueue(aws.sqs, aws.queueUrl, aws.deadLetterQueueUrl);
  deps = { deliveries, events, queue, retentionSeconds: 86_400 };
});
afterAll(() => aws.stop());

let n = 0;
beforeEach(async () => {
  workspace = `ws${++n}`;
  await drain(aws.queueUrl);
  await drain(aws.deadLetterQueueUrl);
});

/** Reads (and deletes nothing from) a queue until it is empty; returns our messages. */
async function drain(url: string): Promise<DeliveryMessage[]> {
  const messages: DeliveryMessage[] = [];
  for (;;) {
    const { Messages = [] } = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 600 }),
    );
    if (Messages.length === 0) return messages;
    for (const m of Messages) {
      const decoded = decodeMessage(m.Body ?? "");
      if (decoded) messages.push(decoded);
    }
  }
}

async function storeEvent(at = Date.now()): Promise<StoredEvent> {
  const event: StoredEvent = {
    workspaceId: workspace,
    id: `evt_${newUlid()}`,
    name: "deal.updated",
    body: '{"event":"deal.updated","data":{"id":"d_1"},"timestamp":"2026-11-26T10:00:00.000Z"}',
    // ulid(at), not the monotonic newUlid: these events are placed in the past on purpose.
    seq: ulid(at),
    receivedAt: new Date(at).toISOString(),
    targets: [],
    requestHash: "h",
  };
  await events.create(event, Math.floor(Date.now() / 1000) + 86_400);
  return event;
}

/** A delivery that ran out of attempts: its record says failed, its message sits in the DLQ. */
async function failedDelivery(event: StoredEvent, status: "failed" | "succeeded" = "failed") {
  const subscriptionId = newSubscriptionId();
  const id = deliveryIdFor(event.seq, subscriptionId);
  await deliveries.recordAttempt({
    workspaceId: workspace,
    deliveryId: id,
    eventId: event.id,
    event: event.name,
    subscriptionId,
    generation: 0,
    status,
    attempt: {
      number: 1,
      generation: 0,
      startedAt: new Date().toISOString(),
      durationMs: 5,
      url: "https://x.example.com/",
      outcome: status === "failed" ? "failed" : "succeeded",
      requestHeaders: {},
      statusCode: status === "failed" ? 500 : 200,
    },
    lastError: status === "failed" ? "HTTP 500" : undefined,
    owner: "m-1",
    now: new Date().toISOString(),
    expiresAt: Math.floor(Date.now() / 1000) + 86_400,
  });
  const message: DeliveryMessage = {
    v: 1,
    w: workspace,
    d: id,
    e: event.id,
    n: event.name,
    s: subscriptionId,
    g: 0,
    a: 0,
  };
  return { id, subscriptionId, message };
}

describe("resendDelivery (dynalite, fauxqs)", () => {
  it("claims the delivery for a new run and queues one fresh message with the same id", async () => {
    const event = await storeEvent();
    const { id, subscriptionId } = await failedDelivery(event);
    expect(await resendDelivery(workspace, id, deps)).toEqual({ outcome: "queued", generation: 1 });
    const record = await deliveries.get(workspace, id);
    expect(record).toMatchObject({ status: "pending", generation: 1, attemptCount: 1 });
    expect(record?.attempts).toHaveLength(1);
    expect(await drain(aws.queueUrl)).toEqual([
      { v: 1, w: workspace, d: id, e: event.id, n: "deal.updated", s: subscriptionId, g: 1, a: 0 },
    ]);
    expect((await deadLetterSummary(workspace, {}, deps)).pending).toBe(1);
  });

  it("refuses a second resend while the first is in flight, and old copies are stale", async () => {
    const { id } = await failedDelivery(await storeEvent());
    await resendDelivery(workspace, id, deps);
    expect((await resendDelivery(workspace, id, deps)).outcome).toBe("in-flight");
    expect(await drain(aws.queueUrl)).toHaveLength(1);
  });

  it("takes over a claim whose resender died (lease passed)", async () => {
    const { id } = await failedDelivery(await storeEvent());
    const failing: DeliveryQueue = {
      ...queue,
      enqueue: async () => {
        throw new Error("SQS down");
      },
    } as unknown as DeliveryQueue;
    await deliveries.claimForResend({
      workspaceId: workspace,
      deliveryId: id,
      eventId: "x",
      event: "deal.updated",
      subscriptionId: "s",
      fromGeneration: 0,
      toGeneration: 1,
      trimAttempts: [],
      now: new Date(Date.now() - 10 * 60_000).toISOString(),
      expiresAt: 2_000_000_000,
    });
    expect(
      (await resendDelivery(workspace, id, { ...deps, queue: failing }).catch((e) => e)).message,
    ).toBe("SQS down");
    expect(await resendDelivery(workspace, id, deps)).toEqual({ outcome: "queued", generation: 3 });
  });

  it("gives the claim back when the message cannot be queued, so a retry works at once", async () => {
    const { id } = await failedDelivery(await storeEvent());
    const failing = {
      enqueue: async () => {
        throw new Error("SQS down");
      },
    } as unknown as DeliveryQueue;
    await expect(resendDelivery(workspace, id, { ...deps, queue: failing })).rejects.toThrow(
      "SQS down",
    );
    expect(await resendDelivery(workspace, id, deps)).toEqual({ outcome: "queued", generation: 2 });
  });

  it("resends a delivery whose event is gone: no — it says expired", async () => {
    const event = await storeEvent();
    const { id } = await failedDelivery({ ...event, id: "evt_gone" });
    expect((await resendDelivery(workspace, id, deps)).outcome).toBe("expired");
    expect(await drain(aws.queueUrl)).toEqual([]);
  });
});

describe("redriveWorkspace", () => {
  it("two redrives of 1,000 dead letters at once queue each exactly once, and the counts add up", async () => {
    const event = await storeEvent();
    const failed = await Promise.all(Array.from({ length: 1000 }, () => failedDelivery(event)));
    await failedDelivery(event, "succeeded");
    expect((await deadLetterSummary(workspace, {}, deps)).depth).toBe(1000);

    const [a, b] = await Promise.all([
      redriveWorkspace(workspace, {}, 1000, deps),
      redriveWorkspace(workspace, {}, 1000, deps),
    ]);
    expect(a.queued + b.queued).toBe(1000);
    expect(a.expired + b.expired).toBe(0);
    const queued = await drain(aws.queueUrl);
    expect(queued).toHaveLength(1000);
    expect(new Set(queued.map((m) => m.d))).toEqual(new Set(failed.map((f) => f.id)));
    expect(queued.every((m) => m.g === 1 && m.a === 0)).toBe(true);
    const after = await deadLetterSummary(workspace, {}, deps);
    expect(after).toMatchObject({ depth: 0, pending: 1000 });
  }, 120_000);

  it("honours its filter and limit, and says how many are left", async () => {
    const event = await storeEvent();
    const first = await failedDelivery(event);
    await Promise.all(Array.from({ length: 4 }, () => failedDelivery(event)));
    expect(
      await redriveWorkspace(workspace, { subscriptionId: first.subscriptionId }, 10, deps),
    ).toMatchObject({ queued: 1, left: 0 });
    expect(await redriveWorkspace(workspace, {}, 2, deps)).toMatchObject({ queued: 2, left: 2 });
    expect((await drain(aws.queueUrl)).length).toBe(3);
  });
});

describe("replayWindow", () => {
  it("resends every delivery of events accepted inside the window, succeeded ones included", async () => {
    const t = Date.parse("2026-11-20T12:00:00Z");
    const before = await failedDelivery(await storeEvent(t - 60_000), "succeeded");
    const inside = await failedDelivery(await storeEvent(t), "succeeded");
    const insideFailed = await failedDelivery(await storeEvent(t + 1000));
    await failedDelivery(await storeEvent(t + 60_000), "succeeded");
    const result = await replayWindow(
      workspace,
      { from: new Date(t).toISOString(), to: new Date(t + 1000).toISOString(), limit: 100 },
      deps,
    );
    expect(result).toEqual({ queued: 2, skipped: 0, expired: 0, next: null });
    expect(new Set((await drain(aws.queueUrl)).map((m) => m.d))).toEqual(
      new Set([inside.id, insideFailed.id]),
    );
    expect((await deliveries.get(workspace, before.id))?.status).toBe("succeeded");

    const onlyFailed = await replayWindow(
      workspace,
      {
        from: new Date(t - 120_000).toISOString(),
        to: new Date(t + 120_000).toISOString(),
        statuses: ["succeeded"],
        limit: 100,
      },
      deps,
    );
    expect(onlyFailed.queued).toBe(2);
  });
});

describe("drainDeadLetterQueue (the operator's SQS drain)", () => {
  const dlq = () => ({
    ...deps,
    deadLetters: new SqsDeadLetterQueue(aws.sqs, aws.deadLetterQueueUrl),
    log: silentLogger,
  });

  it("two drains of 1,000 messages at once move each message once, and the counts add up", async () => {
    const event = await storeEvent();
    const failed = await Promise.all(Array.from({ length: 1000 }, () => failedDelivery(event)));
    await queue.sendToDeadLetter(failed.map((f) => encodeMessage(f.message)));

    const [a, b] = await Promise.all([
      drainDeadLetterQueue({}, 10_000, dlq()),
      drainDeadLetterQueue({}, 10_000, dlq()),
    ]);
    expect(a.moved + b.moved).toBe(1000);
    expect(a.dropped + b.dropped).toBe(0);
    expect(b.left).toBe(0);
    const moved = await drain(aws.queueUrl);
    expect(moved).toHaveLength(1000);
    expect(new Set(moved.map((m) => m.d)).size).toBe(1000);
    expect(await drain(aws.deadLetterQueueUrl)).toEqual([]);
  }, 120_000);

  it("drops copies of deliveries already resent, keeps what it cannot read or was not asked for", async () => {
    const event = await storeEvent();
    const resent = await failedDelivery(event);
    const other = await failedDelivery(event);
    await resendDelivery(workspace, resent.id, deps);
    await drain(aws.queueUrl);
    await queue.sendToDeadLetter([
      encodeMessage(resent.message),
      encodeMessage({ ...other.message, w: "someone-else" }),
      "garbage",
    ]);

    const result = await drainDeadLetterQueue({ workspaceId: workspace }, 100, dlq());
    expect(result).toEqual({ moved: 0, dropped: 1, skipped: 2, left: 2 });
    expect(await drain(aws.queueUrl)).toEqual([]);
  });

  it("resends a message whose delivery has no record yet (it failed before its first attempt was written)", async () => {
    const event = await storeEvent();
    const message: DeliveryMessage = {
      v: 1,
      w: workspace,
      d: deliveryIdFor(event.seq, newSubscriptionId()),
      e: event.id,
      n: event.name,
      s: "sub_x",
      g: 0,
      a: 3,
    };
    await queue.sendToDeadLetter([encodeMessage(message)]);
    expect(await drainDeadLetterQueue({}, 10, dlq())).toMatchObject({ moved: 1 });
    expect(await drain(aws.queueUrl)).toEqual([{ ...message, g: 1, a: 0 }]);
    expect(await deliveries.get(workspace, message.d)).toMatchObject({
      status: "pending",
      generation: 1,
    });
  });
});
