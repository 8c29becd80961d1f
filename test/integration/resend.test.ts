import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { ulid } from "ulid";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Delivery, DeliveryMessage, StoredEvent, Subscription } from "../../shared/domain.ts";
import { deliveryIdFor, newSubscriptionId, newUlid } from "../../shared/ids.ts";
import { claimed, guardOf, type RunContext, withAttempt } from "../../shared/lifecycle.ts";
import { silentLogger } from "../../shared/log.ts";
import type { DeliveryQueue } from "../../shared/ports.ts";
import {
  decodeMessage,
  encodeMessage,
  SqsDeliveryQueue,
} from "../../shared/queue/delivery-queue.ts";
import { SqsHoldingQueue } from "../../shared/queue/holding-queue.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import {
  deadLetterSummary,
  drainDeadLetterQueue,
  type ResendDeps,
  redriveWorkspace,
  replayWindow,
  resendDelivery,
  sweep,
} from "../../shared/use-cases/resend.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";

let aws: LocalAws;
let deps: ResendDeps;
let deliveries: DynamoDeliveryStore;
let events: DynamoEventStore;
let workspaces: DynamoWorkspaceStore;
let queue: SqsDeliveryQueue;
let workspace = "";
const RETENTION = 30 * 86_400;

beforeAll(async () => {
  aws = await startLocalAws();
  deliveries = new DynamoDeliveryStore(aws.table, { retentionSeconds: RETENTION });
  events = new DynamoEventStore(aws.table, { retentionSeconds: RETENTION });
  workspaces = new DynamoWorkspaceStore(aws.table);
  queue = new SqsDeliveryQueue(aws.sqs, aws);
  deps = { deliveries, events, subscriptions: workspaces, queue };
});
afterAll(() => aws.stop());

let n = 0;
beforeEach(async () => {
  workspace = `ws${++n}`;
  await drain(aws.queueUrl);
  await drain(aws.deadLetterQueueUrl);
  await drain(aws.strandedQueueUrl);
});

const jobDeps = () => ({
  ...deps,
  deadLetters: new SqsHoldingQueue(aws.sqs, aws.deadLetterQueueUrl),
  stranded: new SqsHoldingQueue(aws.sqs, aws.strandedQueueUrl),
  maxReceiveCount: 9,
  log: silentLogger,
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
    receivedAt: new Date().toISOString(),
    targets: [],
    requestHash: "h",
  };
  await events.create(event);
  return event;
}

async function subscription(patch: Partial<Subscription> = {}): Promise<Subscription> {
  const sub: Subscription = {
    id: newSubscriptionId(),
    workspaceId: workspace,
    url: "https://x.example.com/",
    events: ["deal.updated"],
    enabled: true,
    description: "",
    secret: null,
    previousSecrets: [],
    createdAt: "2026-11-26T09:00:00.000Z",
    updatedAt: "2026-11-26T09:00:00.000Z",
    ...patch,
  };
  await workspaces.createSubscription(sub);
  return sub;
}

const runOf = (
  d: { workspaceId: string; id: string; eventId: string; subscriptionId: string },
  generation: number,
  now = Date.now(),
): RunContext => ({
  workspaceId: d.workspaceId,
  deliveryId: d.id,
  eventId: d.eventId,
  event: "deal.updated",
  subscriptionId: d.subscriptionId,
  generation,
  owner: `m-${generation}`,
  now,
});

const draft = (ok: boolean) => ({
  startedAt: new Date().toISOString(),
  durationMs: 5,
  url: "https://x.example.com/",
  outcome: ok ? ("succeeded" as const) : ("failed" as const),
  requestHeaders: {},
  statusCode: ok ? 200 : 500,
});

/** A delivery that ran out of attempts: its record says failed; its message, for the DLQ. */
async function failedDelivery(
  event: StoredEvent,
  status: "failed" | "succeeded" = "failed",
  sub?: Subscription,
) {
  const subscriptionId = (sub ?? (await subscription())).id;
  const id = deliveryIdFor(event.seq, subscriptionId);
  const record = withAttempt(
    undefined,
    runOf({ workspaceId: workspace, id, eventId: event.id, subscriptionId }, 0),
    draft(status === "succeeded"),
    status === "failed" ? { status, reason: "exhausted" } : { status },
    status === "failed" ? "HTTP 500" : undefined,
  );
  expect(await deliveries.put(record, guardOf(undefined))).toBe(true);
  const message: DeliveryMessage = {
    v: 1,
    w: workspace,
    d: id,
    e: event.id,
    n: event.name,
    s: subscriptionId,
    g: 0,
  };
  return { id, subscriptionId, message };
}

describe("resendDelivery (dynalite, fauxqs)", () => {
  it("claims the delivery for a new run, queues one fresh message with the same id, and marks the claim queued", async () => {
    const event = await storeEvent();
    const { id, subscriptionId } = await failedDelivery(event);
    expect(await resendDelivery(workspace, id, deps)).toEqual({ outcome: "queued", generation: 1 });
    const record = await deliveries.get(workspace, id);
    expect(record).toMatchObject({
      status: "pending",
      generation: 1,
      runAttempts: 0,
      attemptCount: 1,
      queued: true,
    });
    expect(record?.attempts).toHaveLength(1);
    expect(await drain(aws.queueUrl)).toEqual([
      { v: 1, w: workspace, d: id, e: event.id, n: "deal.updated", s: subscriptionId, g: 1 },
    ]);
    // Off the dead letters, and off the sweep's watch list.
    expect((await deadLetterSummary(workspace, {}, deps)).depth).toBe(0);
    expect(
      await deliveries.listUnqueuedClaims(new Date(Date.now() + 3_600_000).toISOString(), 1000),
    ).not.toContainEqual({
      workspaceId: workspace,
      deliveryId: id,
    });
  });

  it("refuses a second resend while the first is in flight, and old copies are stale", async () => {
    const { id } = await failedDelivery(await storeEvent());
    await resendDelivery(workspace, id, deps);
    expect((await resendDelivery(workspace, id, deps)).outcome).toBe("in-flight");
    expect(await drain(aws.queueUrl)).toHaveLength(1);
  });

  it("takes over a claim whose resender died before queuing (lease passed)", async () => {
    const { id } = await failedDelivery(await storeEvent());
    const stored = (await deliveries.get(workspace, id)) as Delivery;
    const abandoned = claimed(stored, { ...runOf(stored, 1), now: Date.now() - 10 * 60_000 });
    await deliveries.put(abandoned, guardOf(stored));
    expect(await resendDelivery(workspace, id, deps)).toEqual({ outcome: "queued", generation: 2 });
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

  it("says expired for a delivery whose event is gone, and queues nothing", async () => {
    const event = await storeEvent();
    const { id } = await failedDelivery({ ...event, id: "evt_gone" });
    expect((await resendDelivery(workspace, id, deps)).outcome).toBe("expired");
    expect(await drain(aws.queueUrl)).toEqual([]);
  });

  it("refuses while the subscription is disabled (the delivery stays a dead letter), and when it is gone", async () => {
    const event = await storeEvent();
    const disabled = await subscription({ enabled: false });
    const { id } = await failedDelivery(event, "failed", disabled);
    expect((await resendDelivery(workspace, id, deps)).outcome).toBe("subscription-disabled");
    expect((await deliveries.get(workspace, id))?.status).toBe("failed");
    await workspaces.deleteSubscription(workspace, disabled.id);
    expect((await resendDelivery(workspace, id, deps)).outcome).toBe("subscription-deleted");
    expect((await deadLetterSummary(workspace, {}, deps)).depth).toBe(1);
  });

  it("can be resent again and again, however long its history (it was stuck at the 41st)", async () => {
    const event = await storeEvent();
    const { id } = await failedDelivery(event);
    for (let i = 1; i <= 45; i++) {
      expect(await resendDelivery(workspace, id, deps)).toEqual({
        outcome: "queued",
        generation: i,
      });
      // The new run's one attempt fails again (the receiver is still down).
      const claim = (await deliveries.get(workspace, id)) as Delivery;
      const failed = withAttempt(
        claim,
        runOf(claim, i),
        draft(false),
        { status: "failed", reason: "exhausted" },
        "HTTP 500",
      );
      expect(await deliveries.put(failed, guardOf(claim))).toBe(true);
    }
    const record = await deliveries.get(workspace, id);
    expect(record).toMatchObject({ status: "failed", generation: 45, attemptCount: 46 });
    expect((await drain(aws.queueUrl)).map((m) => m.g)).toEqual(
      Array.from({ length: 45 }, (_, i) => i + 1),
    );
  });
});

describe("redriveWorkspace", () => {
  it("two redrives of 1,000 dead letters at once queue each exactly once, and the counts add up", async () => {
    const event = await storeEvent();
    const sub = await subscription();
    const failed = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        failedDelivery({ ...event, seq: ulid(Date.now() - i) }, "failed", sub),
      ),
    );
    await failedDelivery(event, "succeeded");
    expect((await deadLetterSummary(workspace, {}, deps)).depth).toBe(1000);

    const redriveAll = async () => {
      const total = { queued: 0, skipped: 0, errors: 0 };
      let after: string | undefined;
      do {
        const page = await redriveWorkspace(workspace, {}, { limit: 100, after }, deps);
        total.queued += page.queued;
        total.skipped += page.skipped;
        total.errors += page.errors.length;
        after = page.next ?? undefined;
      } while (after);
      return total;
    };
    const [a, b] = await Promise.all([redriveAll(), redriveAll()]);
    expect(a.queued + b.queued).toBe(1000);
    expect(a.errors + b.errors).toBe(0);
    const queued = await drain(aws.queueUrl);
    expect(queued).toHaveLength(1000);
    expect(new Set(queued.map((m) => m.d))).toEqual(new Set(failed.map((f) => f.id)));
    expect(queued.every((m) => m.g === 1)).toBe(true);
    expect((await deadLetterSummary(workspace, {}, deps)).depth).toBe(0);
  }, 180_000);

  it("honours its filter and limit, pages with a cursor, and reports the items it could not resend while carrying on", async () => {
    const event = await storeEvent();
    const first = await failedDelivery(event);
    const gone = await subscription();
    const orphan = await failedDelivery({ ...event, seq: ulid(Date.now() - 5000) }, "failed", gone);
    await workspaces.deleteSubscription(workspace, gone.id);
    const expired = await failedDelivery({
      ...event,
      id: "evt_gone",
      seq: ulid(Date.now() - 4000),
    });
    await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        failedDelivery({ ...event, seq: ulid(Date.now() - 3000 + i) }),
      ),
    );

    expect(
      await redriveWorkspace(
        workspace,
        { subscriptionId: first.subscriptionId },
        { limit: 10 },
        deps,
      ),
    ).toMatchObject({ queued: 1, errors: [], next: null });

    const page = await redriveWorkspace(workspace, {}, { limit: 3 }, deps);
    // Oldest event first: the orphan, the expired one, then a good one.
    expect(page.queued).toBe(1);
    expect(page.errors).toEqual([
      { id: orphan.id, reason: "subscription-deleted" },
      { id: expired.id, reason: "expired" },
    ]);
    expect(page.next).not.toBeNull();
    const rest = await redriveWorkspace(
      workspace,
      {},
      { limit: 10, after: page.next ?? undefined },
      deps,
    );
    expect(rest).toMatchObject({ queued: 2, errors: [], next: null });
    expect((await drain(aws.queueUrl)).length).toBe(4);
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
    expect(result).toEqual({ queued: 2, skipped: 0, errors: [], next: null });
    expect(new Set((await drain(aws.queueUrl)).map((m) => m.d))).toEqual(
      new Set([inside.id, insideFailed.id]),
    );
    expect((await deliveries.get(workspace, before.id))?.status).toBe("succeeded");

    const onlySucceeded = await replayWindow(
      workspace,
      {
        from: new Date(t - 120_000).toISOString(),
        to: new Date(t + 120_000).toISOString(),
        statuses: ["succeeded"],
        limit: 100,
      },
      deps,
    );
    expect(onlySucceeded.queued).toBe(2);
  });
});

describe("drainDeadLetterQueue (the operator's SQS drain)", () => {
  it("two drains of 1,000 messages at once move each message once, and the counts add up", async () => {
    const event = await storeEvent();
    const sub = await subscription();
    const failed = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        failedDelivery({ ...event, seq: ulid(Date.now() - i) }, "failed", sub),
      ),
    );
    await queue.sendToDeadLetter(failed.map((f) => encodeMessage(f.message)));

    const [a, b] = await Promise.all([
      drainDeadLetterQueue({}, 10_000, jobDeps()),
      drainDeadLetterQueue({}, 10_000, jobDeps()),
    ]);
    expect(a.moved + b.moved).toBe(1000);
    expect(a.dropped + b.dropped).toBe(0);
    expect(b.left).toBe(0);
    const moved = await drain(aws.queueUrl);
    expect(moved).toHaveLength(1000);
    expect(new Set(moved.map((m) => m.d)).size).toBe(1000);
    expect(await drain(aws.deadLetterQueueUrl)).toEqual([]);
  }, 180_000);

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

    const result = await drainDeadLetterQueue({ workspaceId: workspace }, 100, jobDeps());
    expect(result).toEqual({ moved: 0, dropped: 1, skipped: 2, errors: [], left: 2 });
    expect(await drain(aws.queueUrl)).toEqual([]);
  });

  it("resends a message whose delivery has no record yet (it failed before its first attempt was written)", async () => {
    const event = await storeEvent();
    const sub = await subscription();
    const message: DeliveryMessage = {
      v: 1,
      w: workspace,
      d: deliveryIdFor(event.seq, sub.id),
      e: event.id,
      n: event.name,
      s: sub.id,
      g: 0,
    };
    await queue.sendToDeadLetter([encodeMessage(message)]);
    expect(await drainDeadLetterQueue({}, 10, jobDeps())).toMatchObject({ moved: 1 });
    expect(await drain(aws.queueUrl)).toEqual([{ ...message, g: 1 }]);
    expect(await deliveries.get(workspace, message.d)).toMatchObject({
      status: "pending",
      generation: 1,
    });
  });
});

describe("sweep", () => {
  it("fails, visibly, the run of a message SQS gave up on, and passes the message on to the dead-letter queue", async () => {
    const event = await storeEvent();
    const sub = await subscription();
    const id = deliveryIdFor(event.seq, sub.id);
    // The run is under way (retrying), driven by a message SQS then moved aside.
    const retrying = withAttempt(
      undefined,
      {
        ...runOf({ workspaceId: workspace, id, eventId: event.id, subscriptionId: sub.id }, 0),
        owner: undefined,
      },
      draft(false),
      { status: "retrying", delaySeconds: 5 },
      "HTTP 500",
    );
    await deliveries.put(retrying, guardOf(undefined));
    const message: DeliveryMessage = {
      v: 1,
      w: workspace,
      d: id,
      e: event.id,
      n: event.name,
      s: sub.id,
      g: 0,
    };
    await aws.sqs.send(
      new SendMessageCommand({
        QueueUrl: aws.strandedQueueUrl,
        MessageBody: encodeMessage(message),
      }),
    );

    const result = await sweep(jobDeps());
    expect(result).toMatchObject({ strandedFailed: 1, claimsLeft: 0 });
    expect(await deliveries.get(workspace, id)).toMatchObject({
      status: "failed",
      reason: "stranded",
      lastError: expect.stringContaining("9 receives"),
    });
    expect((await deadLetterSummary(workspace, {}, deps)).depth).toBe(1);
    expect(await drain(aws.deadLetterQueueUrl)).toEqual([message]);
    expect(await drain(aws.strandedQueueUrl)).toEqual([]);
  });

  it("leaves a run that moved on without the stranded message, and drops the message", async () => {
    const event = await storeEvent();
    const { message, id } = await failedDelivery(event, "succeeded");
    await aws.sqs.send(
      new SendMessageCommand({
        QueueUrl: aws.strandedQueueUrl,
        MessageBody: encodeMessage(message),
      }),
    );
    expect(await sweep(jobDeps())).toMatchObject({ strandedFailed: 0, strandedLeft: 1 });
    expect((await deliveries.get(workspace, id))?.status).toBe("succeeded");
    expect(await drain(aws.deadLetterQueueUrl)).toEqual([]);
  });

  it("queues again a resend claim abandoned before its message was sent", async () => {
    const { id } = await failedDelivery(await storeEvent());
    const stored = (await deliveries.get(workspace, id)) as Delivery;
    const abandoned = claimed(stored, { ...runOf(stored, 1), now: Date.now() - 10 * 60_000 });
    await deliveries.put(abandoned, guardOf(stored));
    const result = await sweep(jobDeps());
    expect(result.claimsRequeued).toBeGreaterThanOrEqual(1);
    expect(result.claimsLeft).toBe(0);
    expect(await deliveries.get(workspace, id)).toMatchObject({
      status: "pending",
      generation: 2,
      queued: true,
    });
    expect((await drain(aws.queueUrl)).filter((m) => m.d === id).map((m) => m.g)).toEqual([2]);
  });
});
