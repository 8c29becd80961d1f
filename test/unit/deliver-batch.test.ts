import { createHmac } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { DeliveryMessage, StoredEvent, Subscription } from "../../shared/domain.ts";
import { EndpointGate } from "../../shared/endpoint-gate.ts";
import { deliveryIdFor } from "../../shared/ids.ts";
import { claimed, confirmedQueued, guardOf } from "../../shared/lifecycle.ts";
import { jsonLogger, silentLogger } from "../../shared/log.ts";
import type { DeliveryRef, SendResult } from "../../shared/ports.ts";
import { decodeMessage, encodeMessage } from "../../shared/queue/delivery-queue.ts";
import { RecentSubscriptions } from "../../shared/recent-subscriptions.ts";
import { generateSecret } from "../../shared/signing.ts";
import { type StatsBucket, StatsRecorder, type StatsStore } from "../../shared/stats.ts";
import {
  type DeliverDeps,
  deliverBatch,
  type QueueRecord,
  slowLaneGate,
} from "../../shared/use-cases/deliver-batch.ts";
import { OperationalEvents } from "../../shared/use-cases/operational-events.ts";
import {
  FakeDeliveryStore,
  FakeQueue,
  ok,
  RecordingLogger,
  ScriptedSender,
} from "../helpers/fakes.ts";
import { sealedSecret, testSecrets } from "../helpers/secrets.ts";

const WS = "acme";
const SEQ = "01JTESTSEQ0000000000000000";
const T0 = Date.parse("2026-11-26T10:00:00.000Z");
const event: StoredEvent = {
  workspaceId: WS,
  id: "evt_1",
  name: "contact.created",
  body: '{"event":"contact.created","data":{"id":"c_1"},"timestamp":"2026-11-26T10:00:00.000Z"}',
  seq: SEQ,
  receivedAt: "2026-11-26T10:00:00.000Z",
  targets: [],
  requestHash: "h",
};

const subId = (n: number) => `sub_01JTESTSUB00000000000000${String(n).padStart(2, "0")}`;
const dlv = (sub: string) => deliveryIdFor(SEQ, sub);

function message(sub: string, patch: Partial<DeliveryMessage> = {}): DeliveryMessage {
  return { v: 1, w: WS, d: dlv(sub), e: event.id, n: event.name, s: sub, g: 0, ...patch };
}

let counter = 0;
/**
 * A received queue message. Like SQS, a message keeps its id when it comes back for another
 * attempt (`receiveCount` 2, 3 …); only its receipt handle changes. `copy` makes a distinct
 * message carrying the same delivery (what a retried ingest would send).
 */
function record(
  body: DeliveryMessage | string,
  receiveCount = 1,
  copy = 0,
  receivedAt = clock,
): QueueRecord {
  counter++;
  const messageId = typeof body === "string" ? `raw${counter}` : `m-${body.d}-${body.g}-${copy}`;
  return {
    messageId,
    receiptHandle: `r${counter}`,
    body: typeof body === "string" ? body : encodeMessage(body),
    receiveCount,
    receivedAt,
  };
}

let store: FakeDeliveryStore;
let gate: EndpointGate;
let queue: FakeQueue;
let clock: number;
const plenty = { remainingMs: () => 60_000 };

function deps(sender: ScriptedSender, patch: Partial<DeliverDeps> = {}): DeliverDeps {
  return {
    gate,
    store,
    queue,
    sender,
    schedule: [0, 10, 100],
    requestTimeoutMs: 15_000,
    responseBodyLimit: 4096,
    secrets: testSecrets,
    health: store.workspaces,
    autoDisableAfterMs: 5 * 86_400_000,
    log: silentLogger,
    random: () => 0.5,
    now: () => clock,
    ...patch,
  };
}

/** Stores a subscription whose secret is sealed, as the API stores it; returns the plaintext too. */
async function addSubscription(
  id: string,
  patch: Partial<Subscription> = {},
  secret: string | null = generateSecret(),
) {
  const sub: Subscription = {
    id,
    workspaceId: WS,
    url: `https://${id}.example.com/hook`,
    events: ["contact.created"],
    enabled: true,
    description: "",
    secret: secret === null ? null : await sealedSecret(WS, id, secret),
    previousSecrets: [],
    createdAt: "2026-11-26T09:00:00.000Z",
    updatedAt: "2026-11-26T09:00:00.000Z",
    ...patch,
  };
  store.workspaces.subscriptions.set(id, sub);
  return { ...sub, plaintext: secret ?? "" };
}

const stored = (sub: string) => store.get(WS, dlv(sub));

beforeEach(() => {
  store = new FakeDeliveryStore();
  gate = slowLaneGate(store.workspaces, { slowAfterMs: 2000, log: silentLogger });
  queue = new FakeQueue();
  clock = T0;
  store.eventStore.events.set(`${WS}/${event.id}`, event);
});

describe("deliverBatch", () => {
  it("POSTs the stored body byte for byte, signed both ways, and records a success", async () => {
    clock = Date.now(); // the standardwebhooks library refuses stale timestamps
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(204));
    const result = await deliverBatch([record(message(sub.id))], deps(sender), plenty);

    expect(result.failures).toEqual([]);
    const [sent] = sender.requests;
    expect(sent?.url).toBe(sub.url);
    expect(sent?.body).toBe(event.body);
    // Verified with independent code: a plain HMAC, and the standardwebhooks library.
    const hex = createHmac("sha256", Buffer.from(sub.plaintext, "utf8"))
      .update(event.body)
      .digest("hex");
    expect(sent?.headers["X-Webhook-Signature"]).toBe(hex);
    expect(new Webhook(sub.plaintext).verify(event.body, sent?.headers ?? {})).toMatchObject({
      event: "contact.created",
    });
    expect(sent?.headers["webhook-id"]).toBe(dlv(sub.id));

    const record_ = await stored(sub.id);
    expect(record_).toMatchObject({
      status: "succeeded",
      generation: 0,
      runAttempts: 1,
      attemptCount: 1,
    });
    expect(record_?.attempts[0]).toMatchObject({
      number: 1,
      generation: 0,
      outcome: "succeeded",
      statusCode: 204,
    });
    expect(record_?.attempts[0]?.requestHeaders).toEqual(sent?.headers);
  });

  it("backs off a failure with ChangeMessageVisibility, records when the next attempt is due, and reports the item failed", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    const item = record(message(sub.id));
    const result = await deliverBatch([item], deps(sender), plenty);

    expect(result.failures).toEqual([item.messageId]);
    expect(queue.visibility).toEqual([
      { receiptHandle: item.receiptHandle, seconds: 10, lane: "main" },
    ]);
    const record_ = await stored(sub.id);
    expect(record_).toMatchObject({
      status: "retrying",
      lastError: "HTTP 500",
      runAttempts: 1,
      owner: item.messageId,
      // Milliseconds, 10 s from now: the step of the schedule, with its jitter at the middle.
      nextAttemptAt: new Date(T0 + 10_000).toISOString(),
    });
    expect(record_?.attempts[0]?.nextAttemptAt).toBe("2026-11-26T10:00:10.000Z");
    expect(queue.deadLetters).toEqual([]);
  });

  it("honours Retry-After on a 429", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(429, { "retry-after": "42" }));
    const item = record(message(sub.id));
    await deliverBatch([item], deps(sender), plenty);
    expect(queue.visibility).toEqual([
      { receiptHandle: item.receiptHandle, seconds: 42, lane: "main" },
    ]);
  });

  it("after the last attempt marks the delivery failed and moves its message to the dead-letter queue", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(503));
    const item = record(message(sub.id));
    await deliverBatch([item], deps(sender), plenty);
    clock += 10_000;
    await deliverBatch([{ ...item, receiveCount: 2 }], deps(sender), plenty);
    clock += 100_000;
    const result = await deliverBatch([{ ...item, receiveCount: 3 }], deps(sender), plenty);

    expect(result.failures).toEqual([]);
    expect(await stored(sub.id)).toMatchObject({
      status: "failed",
      reason: "exhausted",
      runAttempts: 3,
    });
    expect(queue.deadLetters.map((body) => JSON.parse(body))).toEqual([message(sub.id)]);
  });

  it("never retries a refused destination: failed at once, into the DLQ", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ({
      kind: "error",
      errorClass: "destination_refused",
      message: "Destination refused: 10.0.0.1 is a private address.",
      durationMs: 0,
    }));
    const result = await deliverBatch([record(message(sub.id))], deps(sender), plenty);
    expect(result.failures).toEqual([]);
    expect(await stored(sub.id)).toMatchObject({ status: "failed", reason: "refused" });
    expect((await stored(sub.id))?.attempts[0]?.errorClass).toBe("destination_refused");
    expect(queue.deadLetters).toHaveLength(1);
  });

  it("sends nothing to a disabled or deleted subscription and records why, as canceled", async () => {
    const disabled = await addSubscription(subId(1), { enabled: false });
    const sender = new ScriptedSender(() => ok());
    const result = await deliverBatch(
      [record(message(disabled.id)), record(message(subId(2)))],
      deps(sender),
      plenty,
    );
    expect(sender.requests).toEqual([]);
    expect(result.failures).toEqual([]);
    expect(await stored(subId(1))).toMatchObject({
      status: "canceled",
      reason: "subscription_disabled",
      attempts: [],
    });
    expect(await stored(subId(2))).toMatchObject({
      status: "canceled",
      reason: "subscription_deleted",
    });
  });

  it("uses the subscription as it is now: a changed URL and secret apply to the next attempt", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    const item = record(message(sub.id));
    await deliverBatch([item], deps(sender), plenty);
    const changed = await addSubscription(sub.id, { url: "https://new.example.com/in" });
    clock += 10_000;
    await deliverBatch([{ ...item, receiveCount: 2 }], deps(sender), plenty);

    expect(sender.requests[1]?.url).toBe("https://new.example.com/in");
    expect(sender.requests[1]?.headers["X-Webhook-Signature"]).toBe(
      createHmac("sha256", changed.plaintext).update(event.body).digest("hex"),
    );
  });

  it("during a rotation signs with every live secret, the newest alone in X-Webhook-Signature", async () => {
    clock = Date.now();
    const [previous, expired] = [generateSecret(), generateSecret()];
    const sub = await addSubscription(subId(1), {
      previousSecrets: [
        { ...(await sealedSecret(WS, subId(1), previous)), expiresAt: "2999-01-01T00:00:00.000Z" },
        { ...(await sealedSecret(WS, subId(1), expired)), expiresAt: "2000-01-01T00:00:00.000Z" },
      ],
    });
    const sender = new ScriptedSender(() => ok());
    await deliverBatch([record(message(sub.id))], deps(sender), plenty);
    const headers = sender.requests[0]?.headers ?? {};
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(headers["X-Webhook-Signature"]).toBe(
      createHmac("sha256", sub.plaintext).update(event.body).digest("hex"),
    );
    expect(new Webhook(sub.plaintext).verify(event.body, headers)).toMatchObject({});
    expect(new Webhook(previous).verify(event.body, headers)).toMatchObject({});
    expect(() => new Webhook(expired).verify(event.body, headers)).toThrow();
  });

  it("a secret sealed for another subscription does not open (nothing is sent)", async () => {
    const thief = await addSubscription(subId(2), {
      secret: await sealedSecret(WS, subId(1), generateSecret()),
    });
    const sender = new ScriptedSender(() => ok());
    const item = record(message(thief.id));
    const result = await deliverBatch([item], deps(sender), plenty);
    expect(sender.requests).toEqual([]);
    expect(result.failures).toEqual([item.messageId]);
  });

  it("a second copy of a run under way is dropped; its owner carries on", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    const first = record(message(sub.id));
    await deliverBatch([first], deps(sender), plenty);
    clock += 10_000;
    // The copy a retried ingest re-sent (marked `r`) is checked on its first receive, and so is
    // any message on a later receive: the run is not its own.
    const copy = await deliverBatch(
      [record(message(sub.id, { r: 1 }), 1, 1)],
      deps(sender),
      plenty,
    );
    expect([...copy.dispositions.values()]).toEqual([{ kind: "done", reason: "copy" }]);
    const later = await deliverBatch([record(message(sub.id), 2, 2)], deps(sender), plenty);
    expect([...later.dispositions.values()]).toEqual([{ kind: "done", reason: "copy" }]);
    const again = await deliverBatch([{ ...first, receiveCount: 2 }], deps(sender), plenty);
    expect([...again.dispositions.values()]).toEqual([
      { kind: "later", seconds: 100, reason: "retry" },
    ]);
    expect(sender.requests).toHaveLength(2);
  });

  it("with the run's owner and a copy in one batch, the owner carries on whichever comes first", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    const owner = record(message(sub.id));
    await deliverBatch([owner], deps(sender), plenty);
    clock += 10_000;
    const copy = record(message(sub.id, { r: 1 }), 1, 1);
    const result = await deliverBatch([copy, { ...owner, receiveCount: 2 }], deps(sender), plenty);
    expect(result.dispositions.get(copy.messageId)).toMatchObject({ kind: "later" });
    expect(result.dispositions.get(owner.messageId)).toMatchObject({ kind: "later", seconds: 100 });
    expect(sender.requests).toHaveLength(2);
  });

  it("reads no record for a first-generation message on its first receive", async () => {
    // The read-unit trade (BENCHMARKS.md, cost): such a message normally has no record yet, so
    // the batch read skips it. An unmarked duplicate of it (SQS delivering a message twice)
    // then goes out once more — at-least-once — and its POST joins the history.
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    await deliverBatch([record(message(sub.id))], deps(sender), plenty);
    const duplicate = await deliverBatch([record(message(sub.id), 1, 1)], deps(sender), plenty);
    expect([...duplicate.dispositions.values()]).toEqual([{ kind: "done", reason: "finished" }]);
    expect(sender.requests).toHaveLength(2);
    expect(await stored(sub.id)).toMatchObject({
      status: "succeeded",
      generation: 0,
      runAttempts: 1,
      attemptCount: 2,
    });
  });

  it("drops stale and finished messages without a POST", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    await deliverBatch([record(message(sub.id))], deps(sender), plenty);
    // A resend moved the delivery to generation 1; a message of run 0 is now stale.
    const current = await stored(sub.id);
    await store.put(
      { ...(current as NonNullable<typeof current>), generation: 1, rev: 2 },
      {
        kind: "revision",
        rev: 1,
      },
    );
    const stale = await deliverBatch([record(message(sub.id), 2)], deps(sender), plenty);
    expect([...stale.dispositions.values()]).toEqual([{ kind: "done", reason: "stale" }]);
    const finished = await deliverBatch(
      [record(message(sub.id, { g: 1 }), 2)],
      deps(sender),
      plenty,
    );
    expect([...finished.dispositions.values()]).toEqual([{ kind: "done", reason: "finished" }]);
    expect(sender.requests).toHaveLength(1);
  });

  it("delivers two copies of one message in a batch only once", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    const copy = record(message(sub.id), 1, 1);
    const result = await deliverBatch([record(message(sub.id)), copy], deps(sender), plenty);
    expect(sender.requests).toHaveLength(1);
    // The copy comes back shortly, finds the run finished, and is dropped then.
    expect(result.failures).toEqual([copy.messageId]);
  });

  it("runs the POSTs of a batch concurrently", async () => {
    const subs = await Promise.all([1, 2, 3, 4, 5].map((n) => addSubscription(subId(n))));
    const sender = new ScriptedSender(async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return ok();
    });
    await deliverBatch(
      subs.map((s) => record(message(s.id))),
      deps(sender),
      plenty,
    );
    const lastStart = Math.max(...sender.requests.map((r) => r.startedAt));
    const firstEnd = Math.min(...sender.requests.map((r) => r.endedAt ?? Infinity));
    expect(sender.requests).toHaveLength(5);
    expect(lastStart).toBeLessThan(firstEnd);
  });

  it("a failing endpoint does not hold up healthy ones in the same batch", async () => {
    const healthy = await addSubscription(subId(1));
    const broken = await addSubscription(subId(2));
    const sender = new ScriptedSender((request) =>
      request.url === broken.url ? ok(500) : ok(200),
    );
    const good = record(message(healthy.id));
    const bad = record(message(broken.id));
    const result = await deliverBatch([bad, good], deps(sender), plenty);
    expect(result.failures).toEqual([bad.messageId]);
    expect(result.dispositions.get(good.messageId)).toEqual({ kind: "done", reason: "succeeded" });
  });

  it("starts no POST it cannot finish before the deadline, and hands the message straight back", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    const item = record(message(sub.id));
    const result = await deliverBatch([item], deps(sender), { remainingMs: () => 5000 });
    expect(sender.requests).toEqual([]);
    expect(result.failures).toEqual([item.messageId]);
    expect(queue.visibility).toEqual([
      { receiptHandle: item.receiptHandle, seconds: 0, lane: "main" },
    ]);
    expect(await stored(sub.id)).toBeUndefined();
  });

  it("moves an unreadable message to the DLQ instead of losing or looping on it", async () => {
    const sender = new ScriptedSender(() => ok());
    const result = await deliverBatch([record("{not json")], deps(sender), plenty);
    expect(result.failures).toEqual([]);
    expect(queue.deadLetters).toEqual(["{not json"]);
  });

  it("fails the whole batch, without POSTing, when the table cannot be read", async () => {
    await addSubscription(subId(1));
    store.failLoad = true;
    const sender = new ScriptedSender(() => ok());
    const items = [record(message(subId(1)))];
    const result = await deliverBatch(items, deps(sender), plenty);
    expect(result.failures).toEqual([items[0]?.messageId]);
    expect(sender.requests).toEqual([]);
  });
});

/**
 * The findings of the delivery-lifecycle review, each pinned: these fail on the code before
 * the lifecycle module (shared/lifecycle.ts).
 */
describe("the delivery lifecycle, finding by finding", () => {
  it("counts attempts from the record: receives that made no attempt consume no step", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    const item = record(message(sub.id));
    await deliverBatch([item], deps(sender), plenty);
    // The message came back six times without an attempt (throttled, crashed, handed back):
    // its receive count is 7, but this is only the run's second attempt — not its last.
    clock += 10_000;
    const result = await deliverBatch([{ ...item, receiveCount: 7 }], deps(sender), plenty);
    expect(result.dispositions.get(item.messageId)).toEqual({
      kind: "later",
      seconds: 100,
      reason: "retry",
    });
    expect(await stored(sub.id)).toMatchObject({ status: "retrying", runAttempts: 2 });
    expect(queue.deadLetters).toEqual([]);
  });

  it("a message back before its step is due waits out the rest, without an attempt", async () => {
    // A crash before the visibility change, or a change that failed inside a 200: the message
    // returns after the queue's own visibility timeout, earlier than its schedule says.
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    const item = record(message(sub.id));
    const slow = { schedule: [0, 300, 600] };
    await deliverBatch([item], deps(sender, slow), plenty);
    clock += 30_000;
    const back = { ...item, receiptHandle: "r-back", receiveCount: 2 };
    const result = await deliverBatch([back], deps(sender, slow), plenty);
    expect(result.dispositions.get(item.messageId)).toEqual({
      kind: "later",
      seconds: 270,
      reason: "not-due",
    });
    expect(sender.requests).toHaveLength(1);
  });

  it("succeeded is terminal: a duplicate that goes out again and fails does not reopen the run", async () => {
    const sub = await addSubscription(subId(1));
    await deliverBatch([record(message(sub.id))], deps(new ScriptedSender(() => ok())), plenty);
    // An unmarked duplicate on its first receive (no record read) goes out and gets a 500.
    const failing = new ScriptedSender(() => ok(500));
    const duplicate = record(message(sub.id), 1, 1);
    const result = await deliverBatch([duplicate], deps(failing), plenty);
    expect(failing.requests).toHaveLength(1);
    expect(result.dispositions.get(duplicate.messageId)).toEqual({
      kind: "done",
      reason: "finished",
    });
    const record_ = await stored(sub.id);
    expect(record_).toMatchObject({ status: "succeeded", runAttempts: 1, attemptCount: 2 });
    // The duplicate's POST is in the history (attempts recorded = POSTs made), as a failure.
    expect(record_?.attempts.map((a) => a.outcome)).toEqual(["succeeded", "failed"]);
    expect(queue.deadLetters).toEqual([]);
    expect(queue.visibility).toEqual([]);
  });

  it("a failed run whose dead-letter send failed goes to the dead-letter queue when it comes back, not dropped", async () => {
    const sub = await addSubscription(subId(1));
    const refused = new ScriptedSender(() => ({
      kind: "error",
      errorClass: "destination_refused",
      message: "refused",
      durationMs: 0,
    }));
    queue.failDeadLetter = true;
    const item = record(message(sub.id));
    const first = await deliverBatch([item], deps(refused), plenty);
    expect(first.failures).toEqual([item.messageId]);
    expect(await stored(sub.id)).toMatchObject({ status: "failed" });

    queue.failDeadLetter = false;
    const again = await deliverBatch([{ ...item, receiveCount: 2 }], deps(refused), plenty);
    expect(again.dispositions.get(item.messageId)).toEqual({
      kind: "done",
      reason: "dead-lettered",
    });
    expect(queue.deadLetters.map((body) => JSON.parse(body))).toEqual([message(sub.id)]);
    expect(refused.requests).toHaveLength(1);
  });

  it("a visibility change that fails inside a 200 costs nothing but an early return", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    const item = record(message(sub.id));
    queue.refuseVisibility.add(item.receiptHandle);
    const result = await deliverBatch([item], deps(sender), plenty);
    expect(result.failures).toEqual([item.messageId]);
    // It comes back after the queue's visibility timeout, before its step: the lifecycle waits.
    clock += 5_000;
    const back = await deliverBatch(
      [{ ...item, receiptHandle: "r-back", receiveCount: 2 }],
      deps(sender),
      plenty,
    );
    expect(back.dispositions.get(item.messageId)).toEqual({
      kind: "later",
      seconds: 5,
      reason: "not-due",
    });
    expect(sender.requests).toHaveLength(1);
  });

  it("counts SQS's 12 hours from the message's receipt, not the function's start", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(503, { "retry-after": String(12 * 3600) }));
    // Received 11 hours before this invocation (a long backlog behind a batching window).
    const item = record(message(sub.id), 1, 0, T0 - 11 * 3_600_000);
    await deliverBatch([item], deps(sender), plenty);
    expect(queue.visibility).toEqual([
      { receiptHandle: item.receiptHandle, seconds: 3540, lane: "main" },
    ]);
    // The record keeps the real due time; the early return waits out the rest.
    expect((await stored(sub.id))?.nextAttemptAt).toBe(new Date(T0 + 12 * 3_600_000).toISOString());
  });

  it("a hostile receiver's answer is kept within bounds: ~2 KB of headers, the body as a base64 excerpt", async () => {
    const sub = await addSubscription(subId(1));
    const headers = Object.fromEntries(
      Array.from({ length: 190 }, (_, i) => [`x-junk-${i}`, "v".repeat(300)]),
    );
    const binary = Buffer.from(Array.from({ length: 16 * 1024 }, (_, i) => (i * 37 + 0x80) % 256));
    const sender = new ScriptedSender(() => ({
      kind: "response",
      status: 500,
      headers: { "content-type": "application/octet-stream", ...headers },
      body: binary.subarray(0, 4096),
      bodyTruncated: true,
      durationMs: 5,
    }));
    await deliverBatch([record(message(sub.id))], deps(sender), plenty);
    const [attempt] = (await stored(sub.id))?.attempts ?? [];
    const headerBytes = Object.entries(attempt?.responseHeaders ?? {}).reduce(
      (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value),
      0,
    );
    expect(headerBytes).toBeLessThanOrEqual(2048);
    expect(attempt?.responseHeaders?.["content-type"]).toBe("application/octet-stream");
    expect(attempt?.responseBodyEncoding).toBe("base64");
    expect(attempt?.responseBody?.length).toBeLessThanOrEqual(4096);
    expect(Buffer.from(attempt?.responseBody ?? "", "base64")).toEqual(binary.subarray(0, 3072));
    expect(attempt?.responseBodyTruncated).toBe(true);
  });
});

describe("endpoint health", () => {
  const at = (iso: string) => {
    clock = Date.parse(iso);
  };
  const fails = () => new ScriptedSender(() => ok(503));
  /** A delivery of another event to the same subscription: health is per endpoint. */
  let n = 0;
  const another = () =>
    record(message(subId(1), { d: deliveryIdFor(`01JTESTSEQ00000000000000${n++}X`, subId(1)) }));
  const health = async () => {
    const sub = await store.workspaces.getSubscription(WS, subId(1));
    return {
      enabled: sub?.enabled,
      failingSince: sub?.failingSince,
      recentFailures: sub?.recentFailures,
    };
  };

  it("records the first failure, counts failures at most once a minute, and clears it on success", async () => {
    await addSubscription(subId(1));
    at("2026-11-20T10:00:00Z");
    await deliverBatch([record(message(subId(1)))], deps(fails()), plenty);
    expect(await health()).toMatchObject({
      failingSince: "2026-11-20T10:00:00.000Z",
      recentFailures: 1,
    });
    at("2026-11-20T10:00:30Z");
    await deliverBatch([another()], deps(fails()), plenty);
    expect((await health()).recentFailures).toBe(1);
    at("2026-11-20T10:02:00Z");
    await deliverBatch([another()], deps(fails()), plenty);
    expect((await health()).recentFailures).toBe(2);

    at("2026-11-20T11:00:00Z");
    await deliverBatch([another()], deps(new ScriptedSender(() => ok())), plenty);
    expect(await health()).toMatchObject({ failingSince: undefined, recentFailures: undefined });
  });

  it("disables an endpoint only when it has failed for the whole window and repeatedly of late", async () => {
    await addSubscription(subId(1), {
      failingSince: "2026-11-20T10:00:00.000Z",
      lastFailureAt: "2026-11-20T10:00:00.000Z",
      recentFailures: 1,
      recentSince: "2026-11-20T10:00:00.000Z",
    });
    // Six days later, one transient failure: the old outage alone does not disable it.
    at("2026-11-26T10:00:00Z");
    await deliverBatch([record(message(subId(1)))], deps(fails()), plenty);
    expect(await health()).toMatchObject({ enabled: true, recentFailures: 1 });
    // Failing again and again within the day: now it is disabled, with the reason.
    at("2026-11-26T10:05:00Z");
    await deliverBatch([another()], deps(fails()), plenty);
    expect((await health()).enabled).toBe(true);
    at("2026-11-26T10:10:00Z");
    await deliverBatch([another()], deps(fails()), plenty);
    const sub = await store.workspaces.getSubscription(WS, subId(1));
    expect(sub).toMatchObject({ enabled: false, recentFailures: 3 });
    expect(sub?.disabledReason).toMatch(/failed since 2026-11-20T10:00:00.000Z, 3 times/);
  });

  it("never disables when auto-disable is off", async () => {
    await addSubscription(subId(1), {
      failingSince: "2026-01-01T00:00:00.000Z",
      recentFailures: 50,
      recentSince: "2026-11-26T09:00:00.000Z",
    });
    await deliverBatch(
      [record(message(subId(1)))],
      deps(fails(), { autoDisableAfterMs: 0 }),
      plenty,
    );
    expect((await health()).enabled).toBe(true);
  });

  it("a healthy endpoint costs no health write at all", async () => {
    await addSubscription(subId(1));
    const before = structuredClone(await store.workspaces.getSubscription(WS, subId(1)));
    await deliverBatch([record(message(subId(1)))], deps(new ScriptedSender(() => ok())), plenty);
    expect(await store.workspaces.getSubscription(WS, subId(1))).toEqual(before);
  });
});

describe("subscriptions read recently (RecentSubscriptions)", () => {
  let n = 0;
  const another = () =>
    record(message(subId(1), { d: deliveryIdFor(`01JTESTSEQ0000000000000${n++}YZ`, subId(1)) }));
  /** Counts the store's subscription reads. */
  function countReads() {
    const reads = { n: 0 };
    const get = store.workspaces.getSubscription.bind(store.workspaces);
    store.workspaces.getSubscription = async (ws: string, id: string) => {
      reads.n++;
      return get(ws, id);
    };
    return reads;
  }

  it("reads an endpoint's subscription once per ttl however many batches; a change applies after it", async () => {
    await addSubscription(subId(1));
    const reads = countReads();
    const sender = new ScriptedSender(() => ok());
    const d = deps(sender, { recent: new RecentSubscriptions({ ttlMs: 1000 }) });
    await deliverBatch([another()], d, plenty);
    clock += 500;
    await deliverBatch([another(), another()], d, plenty);
    expect(reads.n).toBe(1);
    expect(sender.requests).toHaveLength(3);

    await addSubscription(subId(1), { enabled: false });
    clock += 499;
    await deliverBatch([another()], d, plenty);
    expect(sender.requests).toHaveLength(4); // the copy is still fresh
    clock += 1;
    const late = another();
    await deliverBatch([late], d, plenty);
    expect(reads.n).toBe(2);
    expect(sender.requests).toHaveLength(4);
    const body = JSON.parse(late.body) as DeliveryMessage;
    expect((await store.get(WS, body.d))?.status).toBe("canceled");
  });

  it("never cancels on a copy: a subscription enabled a moment ago is sent to at once", async () => {
    await addSubscription(subId(1), { enabled: false });
    const reads = countReads();
    const sender = new ScriptedSender(() => ok());
    const d = deps(sender, { recent: new RecentSubscriptions({ ttlMs: 60_000 }) });
    const first = another();
    await deliverBatch([first], d, plenty);
    expect((await store.get(WS, (JSON.parse(first.body) as DeliveryMessage).d))?.status).toBe(
      "canceled",
    );
    // Enabled again (and, say, its missed deliveries replayed): the copy still says disabled.
    await addSubscription(subId(1), { enabled: true });
    await deliverBatch([another()], d, plenty);
    expect(sender.requests).toHaveLength(1);
    expect(reads.n).toBe(2);
    // The copy was brought up to date: the next batch reads nothing.
    await deliverBatch([another()], d, plenty);
    expect(sender.requests).toHaveLength(2);
    expect(reads.n).toBe(2);
  });

  it("reads again at once after it wrote the endpoint's health", async () => {
    await addSubscription(subId(1));
    const reads = countReads();
    const d = deps(new ScriptedSender(() => ok(500)), {
      recent: new RecentSubscriptions({ ttlMs: 60_000 }),
    });
    await deliverBatch([another()], d, plenty); // first failure: failingSince is written
    await deliverBatch([another()], d, plenty);
    expect(reads.n).toBe(2);
    expect((await store.workspaces.getSubscription(WS, subId(1)))?.failingSince).toBeDefined();
    await deliverBatch([another()], d, plenty); // still failing within the minute: no write
    expect(reads.n).toBe(3);
    await deliverBatch([another()], d, plenty);
    expect(reads.n).toBe(3);
  });

  it("checks a copy saying deleted against the table before canceling, and never keeps one with ttl 0", async () => {
    const reads = countReads();
    const sender = new ScriptedSender(() => ok());
    const d = deps(sender, { recent: new RecentSubscriptions({ ttlMs: 1000 }) });
    await deliverBatch([another()], d, plenty);
    await deliverBatch([another()], d, plenty);
    expect(reads.n).toBe(2);
    expect(sender.requests).toHaveLength(0);

    await addSubscription(subId(1));
    const none = deps(sender, { recent: new RecentSubscriptions({ ttlMs: 0 }) });
    await deliverBatch([another()], none, plenty);
    await deliverBatch([another()], none, plenty);
    expect(reads.n).toBe(4);
    expect(sender.requests).toHaveLength(2);
  });
});

describe("operational events and 410 Gone", () => {
  /** A subscriber to every operational event, and the deps that raise them. */
  async function watching() {
    const watcher = await addSubscription(subId(9), {
      events: [
        "webhook.delivery.exhausted",
        "webhook.subscription.failing",
        "webhook.subscription.disabled",
        "webhook.subscription.recovered",
      ],
    });
    const operational = new OperationalEvents({
      subscriptions: store.workspaces,
      events: store.eventStore,
      queue,
      log: silentLogger,
    });
    return { watcher, operational };
  }
  /** What the watcher was sent: each operational event, with its data. */
  const raised = () =>
    queue.sent
      .filter((m) => m.n.startsWith("webhook."))
      .map((m) => {
        const stored = store.eventStore.events.get(`${WS}/${m.e}`);
        return { to: m.s, event: m.n, data: JSON.parse(stored?.body ?? "{}").data };
      });

  it("a 410 disables the subscription at once, fails the run as gone, and raises webhook.subscription.disabled", async () => {
    const { watcher, operational } = await watching();
    const sub = await addSubscription(subId(1));
    const result = await deliverBatch(
      [record(message(sub.id))],
      deps(new ScriptedSender(() => ok(410)), { operational }),
      plenty,
    );
    expect(result.failures).toEqual([]);
    expect(await stored(sub.id)).toMatchObject({
      status: "failed",
      reason: "gone",
      runAttempts: 1,
    });
    expect(queue.deadLetters).toHaveLength(1);
    const after = await store.workspaces.getSubscription(WS, sub.id);
    expect(after?.enabled).toBe(false);
    expect(after?.disabledReason).toMatch(/410 Gone/);
    expect(raised()).toEqual([
      expect.objectContaining({
        to: watcher.id,
        event: "webhook.subscription.disabled",
        data: expect.objectContaining({ subscriptionId: sub.id, url: sub.url }),
      }),
      expect.objectContaining({
        to: watcher.id,
        event: "webhook.delivery.exhausted",
        data: expect.objectContaining({ deliveryId: dlv(sub.id), reason: "gone" }),
      }),
    ]);
  });

  it("raises failing on the first failure, recovered on the next success, exhausted when a run fails for good — never to the subscription itself", async () => {
    const { watcher, operational } = await watching();
    const sub = await addSubscription(subId(1));
    const failing = new ScriptedSender(() => ok(503));
    const item = record(message(sub.id));
    await deliverBatch([item], deps(failing, { operational }), plenty);
    expect(raised().map((r) => r.event)).toEqual(["webhook.subscription.failing"]);
    clock += 10_000;
    await deliverBatch([{ ...item, receiveCount: 2 }], deps(failing, { operational }), plenty);
    clock += 100_000;
    await deliverBatch([{ ...item, receiveCount: 3 }], deps(failing, { operational }), plenty);
    expect(raised().map((r) => r.event)).toEqual([
      "webhook.subscription.failing",
      "webhook.delivery.exhausted",
    ]);
    expect(raised()[1]?.data).toMatchObject({
      deliveryId: dlv(sub.id),
      eventId: event.id,
      event: event.name,
      attempts: 3,
      reason: "exhausted",
      lastError: "HTTP 503",
    });
    // Another event to the same endpoint succeeds: it has recovered.
    const next = record(
      message(sub.id, { d: deliveryIdFor("01JTESTSEQ00000000000000ZZ", sub.id) }),
    );
    clock += 100_000;
    await deliverBatch([next], deps(new ScriptedSender(() => ok()), { operational }), plenty);
    expect(raised().map((r) => r.event)).toEqual([
      "webhook.subscription.failing",
      "webhook.delivery.exhausted",
      "webhook.subscription.recovered",
    ]);
    expect(raised().every((r) => r.to === watcher.id)).toBe(true);
  });

  it("writes nothing when nobody subscribes, and raises nothing about a delivery of an operational event", async () => {
    const operational = new OperationalEvents({
      subscriptions: store.workspaces,
      events: store.eventStore,
      queue,
      log: silentLogger,
    });
    const sub = await addSubscription(subId(1));
    const before = store.eventStore.events.size;
    await deliverBatch(
      [record(message(sub.id))],
      deps(new ScriptedSender(() => ok(410)), { operational }),
      plenty,
    );
    expect(store.eventStore.events.size).toBe(before);
    expect(queue.sent).toEqual([]);

    // An operational event's delivery that fails for good raises no exhausted event (no loops).
    const { watcher } = await watching();
    const other = await addSubscription(subId(2), { events: ["webhook.subscription.failing"] });
    const opEvent = { ...event, id: "op-1", name: "webhook.subscription.failing" as const };
    store.eventStore.events.set(`${WS}/op-1`, opEvent);
    await deliverBatch(
      [record(message(other.id, { e: "op-1", n: "webhook.subscription.failing" }))],
      deps(new ScriptedSender(() => ok(410)), { operational }),
      plenty,
    );
    expect(raised().filter((r) => r.event === "webhook.delivery.exhausted")).toEqual([]);
    expect(raised().map((r) => r.to)).toEqual([watcher.id]);
  });
});

describe("a resend's claim confirmed while its first attempt is under way", () => {
  it("records the POST as the run's first attempt, not as a copy to be sent again", async () => {
    const sub = await addSubscription(subId(1));
    const run = { workspaceId: WS, deliveryId: dlv(sub.id), eventId: event.id, event: event.name };
    const claim = claimed(undefined, { ...run, subscriptionId: sub.id, generation: 1, now: clock });
    expect(await store.put(claim, { kind: "absent" })).toBe(true);
    // The resend marks its claim queued while the receiver is answering the first POST.
    const sender = new ScriptedSender(async () => {
      expect(await store.put(confirmedQueued(claim, clock), guardOf(claim))).toBe(true);
      return ok(200);
    });
    const result = await deliverBatch([record(message(sub.id, { g: 1 }))], deps(sender), plenty);

    expect(result.failures).toEqual([]);
    expect(sender.requests).toHaveLength(1);
    const after = await stored(sub.id);
    expect(after).toMatchObject({ status: "succeeded", generation: 1, runAttempts: 1 });
    expect(after?.attempts.map((a) => [a.generation, a.outcome])).toEqual([[1, "succeeded"]]);
  });
});

describe("the slow lane", () => {
  it("moves a main-lane message of a slow endpoint to the slow lane, unsent, its owner kept", async () => {
    const sub = await addSubscription(subId(1), {
      slowUntil: new Date(clock + 60_000).toISOString(),
    });
    const sender = new ScriptedSender(() => ok(200));
    const item = record(message(sub.id));
    const result = await deliverBatch([item], deps(sender), plenty);

    expect(result.failures).toEqual([]);
    expect(sender.requests).toHaveLength(0);
    expect(queue.slowLane.map((body) => decodeMessage(body))).toEqual([
      { ...message(sub.id), o: item.messageId },
    ]);
    expect(queue.sent).toEqual([]);
  });

  it("leaves the message in the main lane, to move when it comes back, when the slow lane is down", async () => {
    const sub = await addSubscription(subId(1), {
      slowUntil: new Date(clock + 60_000).toISOString(),
    });
    queue.failSlowLane = true;
    const item = record(message(sub.id));
    const result = await deliverBatch([item], deps(new ScriptedSender(() => ok(200))), plenty);

    expect(result.failures).toEqual([item.messageId]);
    expect(queue.slowLane).toEqual([]);
  });

  it("a moved message reads its record on its first receive in the slow lane: every POST is recorded", async () => {
    // Found by the model suite: the receive count starts again in the slow lane, while the
    // record already holds the main lane's attempts (or a deferral). Read as a first receive,
    // the message would POST, then fail to write an attempt the record did not expect.
    const sub = await addSubscription(subId(1));
    const first = record(message(sub.id));
    await deliverBatch([first], deps(new ScriptedSender(() => ok(500))), plenty);
    expect(await stored(sub.id)).toMatchObject({ status: "retrying", runAttempts: 1 });
    clock += 10_000;
    const sender = new ScriptedSender(() => ok(200));
    const moved = {
      ...record(message(sub.id, { o: first.messageId }), 1, 1),
      lane: "slow" as const,
    };
    const result = await deliverBatch([moved], deps(sender), plenty);

    expect(sender.requests).toHaveLength(1);
    expect(result.failures).toEqual([]);
    const after = await stored(sub.id);
    expect(after).toMatchObject({ status: "succeeded", runAttempts: 2 });
    expect(after?.attempts.map((a) => a.outcome)).toEqual(["failed", "succeeded"]);
  });

  it("delivers as usual once the endpoint is no longer slow", async () => {
    const sub = await addSubscription(subId(1), {
      slowUntil: new Date(clock - 1).toISOString(),
    });
    const sender = new ScriptedSender(() => ok(200));
    const result = await deliverBatch([record(message(sub.id))], deps(sender), plenty);

    expect(result.failures).toEqual([]);
    expect(sender.requests).toHaveLength(1);
    expect(queue.slowLane).toEqual([]);
  });
});

/** A logger that keeps what it is told: what an operator reads in the logs. */
function capture() {
  const log = new RecordingLogger();
  return { lines: log.lines, log };
}

/** A gate on a clock the test moves: how old the requests in flight are is up to the test. */
function clockedGate() {
  const time = { now: 0 };
  const slow: string[] = [];
  const gate = new EndpointGate({
    slowAfterMs: 2000,
    onSlow: (key) => slow.push(key),
    now: () => time.now,
  });
  return { gate, time, slow };
}

const endpointOf = (sub: string) => `${WS}/${sub}`;

describe("a place at the endpoint (the gate on the deliver path)", () => {
  it("a message over the endpoint's allowance waits while its requests are young, and is sent", async () => {
    await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    const [a, b] = [
      record(message(subId(1))),
      record(message(subId(1), { d: deliveryIdFor("01JTESTSEQ0000000000000001", subId(1)) })),
    ];
    // The gate's clock stands still: the request in flight stays young however long it takes.
    const { gate: clocked } = clockedGate();
    const result = await deliverBatch([a, b], deps(sender, { gate: clocked }), plenty);

    expect(sender.requests).toHaveLength(2);
    expect([...result.dispositions.values()]).toEqual([
      { kind: "done", reason: "succeeded" },
      { kind: "done", reason: "succeeded" },
    ]);
  });

  it("an endpoint busy with a request past its patience: put off 2 s, recorded, nothing sent", async () => {
    await addSubscription(subId(1));
    const { gate: busy, time } = clockedGate();
    busy.tryStart(endpointOf(subId(1))); // another batch's request, still in flight…
    time.now = 150; // …for longer than a waiting message's patience
    const sender = new ScriptedSender(() => ok());
    const item = record(message(subId(1)));
    const result = await deliverBatch([item], deps(sender, { gate: busy }), plenty);

    expect(sender.requests).toEqual([]);
    expect(result.dispositions.get(item.messageId)).toEqual({
      kind: "later",
      seconds: 2,
      reason: "deferred",
    });
    expect(queue.visibility).toEqual([
      { receiptHandle: item.receiptHandle, seconds: 2, lane: "main" },
    ]);
    expect(await stored(subId(1))).toMatchObject({
      status: "pending",
      runAttempts: 0,
      deferrals: 1,
      deferReason: "endpoint-busy",
      deferredUntil: new Date(T0 + 2000).toISOString(),
      owner: item.messageId,
    });
  });

  it("a message waiting for a place gives up when the invocation has no time left for a request", async () => {
    await addSubscription(subId(1));
    const { gate: busy } = clockedGate();
    busy.tryStart(endpointOf(subId(1))); // young, so worth waiting for
    let calls = 0;
    const item = record(message(subId(1)));
    const sender = new ScriptedSender(() => ok());
    // Time for a request when the message arrives; 1 ms short of one (15 s + 3 s) after.
    const result = await deliverBatch([item], deps(sender, { gate: busy }), {
      remainingMs: () => (++calls === 1 ? 60_000 : 17_999),
    });

    expect(sender.requests).toEqual([]);
    expect(result.dispositions.get(item.messageId)).toEqual({
      kind: "later",
      seconds: 2,
      reason: "deferred",
    });
  });

  it("with exactly a request's time left, a waiting message keeps waiting, and goes out when there is room", async () => {
    await addSubscription(subId(1));
    let calls = 0;
    const second = deliveryIdFor("01JTESTSEQ0000000000000001", subId(1));
    const sender = new ScriptedSender(async (request) => {
      // The first POST answers once the second message is waiting with 18 s left.
      if (request.headers["webhook-id"] === dlv(subId(1))) {
        await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(3));
      }
      return ok();
    });
    const result = await deliverBatch(
      [record(message(subId(1))), record(message(subId(1), { d: second }))],
      deps(sender, { gate: clockedGate().gate }),
      { remainingMs: () => (++calls <= 2 ? 60_000 : 18_000) },
    );

    expect(sender.requests.map((r) => r.headers["webhook-id"])).toEqual([dlv(subId(1)), second]);
    expect(result.failures).toEqual([]);
  });

  it("a run its schedule cannot wait for any longer fails as unavailable, into the dead-letter queue", async () => {
    const watcher = await addSubscription(subId(9), { events: ["webhook.delivery.exhausted"] });
    const operational = new OperationalEvents({
      subscriptions: store.workspaces,
      events: store.eventStore,
      queue,
      log: silentLogger,
    });
    await addSubscription(subId(1));
    const item = record(message(subId(1)));
    await deliverBatch([item], deps(new ScriptedSender(() => ok(500))), plenty);
    // Back a month later, its endpoint still busy: past anything its schedule allows.
    clock += 30 * 86_400_000;
    const { gate: busy, time } = clockedGate();
    busy.tryStart(endpointOf(subId(1)));
    time.now = 150;
    const sender = new ScriptedSender(() => ok());
    const result = await deliverBatch(
      [{ ...item, receiveCount: 2 }],
      deps(sender, { gate: busy, operational }),
      plenty,
    );

    expect(sender.requests).toEqual([]);
    expect(result.dispositions.get(item.messageId)).toEqual({
      kind: "done",
      reason: "dead-lettered",
    });
    expect(queue.deadLetters.map((body) => JSON.parse(body))).toEqual([message(subId(1))]);
    expect(await stored(subId(1))).toMatchObject({
      status: "failed",
      reason: "unavailable",
      runAttempts: 1,
    });
    const exhausted = queue.sent.filter((m) => m.n === "webhook.delivery.exhausted");
    expect(exhausted.map((m) => m.s)).toEqual([watcher.id]);
    const raised = store.eventStore.events.get(`${WS}/${exhausted[0]?.e}`);
    expect(JSON.parse(raised?.body ?? "{}").data).toMatchObject({
      deliveryId: dlv(subId(1)),
      reason: "unavailable",
    });
  });

  it("a deferral that loses its write to another message goes the way the record now says", async () => {
    await addSubscription(subId(1));
    const item = record(message(subId(1)));
    await deliverBatch([item], deps(new ScriptedSender(() => ok(500))), plenty);
    clock += 10_000;
    const { gate: busy, time } = clockedGate();
    busy.tryStart(endpointOf(subId(1)));
    time.now = 150;
    // Just before the deferral is written, another message of the run succeeds.
    const put = store.put.bind(store);
    store.put = async (next, guard) => {
      store.put = put;
      const current = await store.get(WS, dlv(subId(1)));
      if (!current) throw new Error("no record");
      await put({ ...current, status: "succeeded", rev: current.rev + 1 }, guardOf(current));
      return put(next, guard);
    };
    const result = await deliverBatch(
      [{ ...item, receiveCount: 2 }],
      deps(new ScriptedSender(() => ok()), { gate: busy }),
      plenty,
    );

    expect(result.dispositions.get(item.messageId)).toEqual({ kind: "done", reason: "finished" });
    expect(await stored(subId(1))).toMatchObject({ status: "succeeded" });
    expect((await stored(subId(1)))?.deferrals).toBeUndefined();
  });

  it("an answer in time widens the endpoint's allowance; a timeout or a slow answer narrows it", async () => {
    const endpoint = endpointOf(subId(1));
    await addSubscription(subId(1));
    const allowedAfter = async (answer: () => ReturnType<typeof ok>, n: number) => {
      const { gate: clocked, time } = clockedGate();
      const sender = new ScriptedSender(() => {
        const result = answer();
        time.now += result.durationMs;
        return result;
      });
      const d = deliveryIdFor(`01JTESTSEQ000000000000000${n}`, subId(1));
      await deliverBatch(
        [record(message(subId(1), { d }))],
        deps(sender, { gate: clocked }),
        plenty,
      );
      expect(clocked.inFlight(endpoint)).toBe(0);
      return clocked.allowed(endpoint);
    };
    const failure = (errorClass: "timeout" | "connection_error", durationMs: number) => () =>
      ({ kind: "error", errorClass, message: "no", durationMs }) as const;

    expect(await allowedAfter(() => ok(200), 1)).toBe(2);
    // Any answer in time counts, a failed one too — but not a timeout, however quick.
    expect(await allowedAfter(failure("connection_error", 5), 2)).toBe(2);
    expect(await allowedAfter(failure("timeout", 5), 3)).toBe(1);
    expect(await allowedAfter(() => ({ ...ok(200), durationMs: 2500 }), 4)).toBe(1);
  });

  it("a step that throws before the POST gives its place back", async () => {
    const thief = await addSubscription(subId(2), {
      secret: await sealedSecret(WS, subId(1), generateSecret()),
    });
    const { gate: clocked } = clockedGate();
    const item = record(message(thief.id));
    const { lines, log } = capture();
    const result = await deliverBatch(
      [item],
      deps(new ScriptedSender(() => ok()), { gate: clocked, log }),
      plenty,
    );

    expect(result.dispositions.get(item.messageId)).toEqual({ kind: "error", reason: "internal" });
    expect(clocked.inFlight(endpointOf(thief.id))).toBe(0);
    expect(clocked.allowed(endpointOf(thief.id))).toBe(1);
    expect(lines).toEqual([
      {
        level: "error",
        message: "delivery step failed; the message will be retried",
        fields: expect.objectContaining({ deliveryId: dlv(thief.id) }),
      },
    ]);
  });
});

describe("writes whose answer was lost, and writes that keep losing", () => {
  it("a write that applied but whose answer was lost counts as written", async () => {
    await addSubscription(subId(1));
    const put = store.put.bind(store);
    store.put = async (next, guard) => {
      await put(next, guard);
      throw new Error("socket hang up");
    };
    const item = record(message(subId(1)));
    const result = await deliverBatch([item], deps(new ScriptedSender(() => ok())), plenty);

    expect(result.dispositions.get(item.messageId)).toEqual({ kind: "done", reason: "succeeded" });
    expect(await stored(subId(1))).toMatchObject({ status: "succeeded", runAttempts: 1 });
  });

  it("a failed write is not taken for ours when another writer's record of the same revision is there", async () => {
    await addSubscription(subId(1));
    const put = store.put.bind(store);
    store.put = async (next, guard) => {
      // Another writer got its record in first (same revision, written at another time).
      await put({ ...next, status: "pending", updatedAt: "2026-11-26T09:59:59.000Z" }, guard);
      throw new Error("socket hang up");
    };
    const item = record(message(subId(1)));
    const { lines, log } = capture();
    const result = await deliverBatch(
      [item],
      deps(new ScriptedSender(() => ok()), { log }),
      plenty,
    );

    expect(result.dispositions.get(item.messageId)).toEqual({ kind: "error", reason: "internal" });
    expect(result.failures).toEqual([item.messageId]);
    expect(lines.map((line) => line.message)).toEqual([
      "delivery step failed; the message will be retried",
    ]);
  });

  it("a duplicate's POST is recorded in three tries at most, then left out with a warning", async () => {
    await addSubscription(subId(1));
    await deliverBatch([record(message(subId(1)))], deps(new ScriptedSender(() => ok())), plenty);
    let puts = 0;
    store.put = async () => {
      puts++;
      return false; // the record keeps changing under every write
    };
    const { lines, log } = capture();
    const duplicate = record(message(subId(1)), 1, 1);
    const sender = new ScriptedSender(() => ok());
    const result = await deliverBatch([duplicate], deps(sender, { log }), plenty);

    expect(sender.requests).toHaveLength(1);
    expect(result.dispositions.get(duplicate.messageId)).toEqual({
      kind: "done",
      reason: "finished",
    });
    expect(puts).toBe(1 + 3); // the attempt's write, then three tries at the copy
    expect(await stored(subId(1))).toMatchObject({ attemptCount: 1 });
    expect(lines).toEqual([
      {
        level: "warn",
        message: "could not record a duplicate message's attempt",
        fields: { deliveryId: dlv(subId(1)) },
      },
    ]);
  });
});

describe("what the deliver path reads, and when", () => {
  it("a resend's duplicate on its first receive reads its record: a finished run sends nothing", async () => {
    await addSubscription(subId(1));
    const resend = record(message(subId(1), { g: 1 }));
    const sender = new ScriptedSender(() => ok());
    const run = {
      workspaceId: WS,
      deliveryId: dlv(subId(1)),
      eventId: event.id,
      event: event.name,
    };
    const claim = claimed(undefined, {
      ...run,
      subscriptionId: subId(1),
      generation: 1,
      now: clock,
    });
    await store.put(claim, { kind: "absent" });
    await deliverBatch([resend], deps(sender), plenty);
    expect(sender.requests).toHaveLength(1);

    const duplicate = record(message(subId(1), { g: 1 }), 1, 1);
    const result = await deliverBatch([duplicate], deps(sender), plenty);
    expect(sender.requests).toHaveLength(1);
    expect(result.dispositions.get(duplicate.messageId)).toEqual({
      kind: "done",
      reason: "finished",
    });
  });

  it("two first-receive copies of a finished run in one batch read the record: nothing is sent", async () => {
    await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    await deliverBatch([record(message(subId(1)))], deps(sender), plenty);
    const [a, b] = [record(message(subId(1)), 1, 1), record(message(subId(1)), 1, 2)];
    const result = await deliverBatch([a, b], deps(sender), plenty);

    expect(sender.requests).toHaveLength(1);
    expect(result.dispositions.get(a.messageId)).toEqual({ kind: "done", reason: "finished" });
    expect(result.dispositions.get(b.messageId)).toEqual({
      kind: "later",
      seconds: 1,
      reason: "copy-in-batch",
    });
    expect(await stored(subId(1))).toMatchObject({ attemptCount: 1 });
  });

  it("an event past its retention is canceled, unsent, with the reason", async () => {
    await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    const item = record(message(subId(1), { e: "evt_expired" }));
    const result = await deliverBatch([item], deps(sender), plenty);

    expect(sender.requests).toEqual([]);
    expect(result.dispositions.get(item.messageId)).toEqual({ kind: "done", reason: "canceled" });
    expect(await stored(subId(1))).toMatchObject({
      status: "canceled",
      reason: "event_expired",
      attempts: [],
    });
  });

  it("starts a POST with exactly a request's time and the write reserve left (15 s + 3 s), not 1 ms less", async () => {
    await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    const short = record(message(subId(1)));
    const result = await deliverBatch([short], deps(sender), { remainingMs: () => 17_999 });
    expect(sender.requests).toEqual([]);
    expect(result.dispositions.get(short.messageId)).toEqual({
      kind: "error",
      reason: "deadline",
      retryInSeconds: 0,
    });

    const enough = await deliverBatch([record(message(subId(1)))], deps(sender), {
      remainingMs: () => 18_000,
    });
    expect(sender.requests).toHaveLength(1);
    expect(enough.failures).toEqual([]);
  });

  it("an endpoint slow until this very moment is no longer slow", async () => {
    await addSubscription(subId(1), { slowUntil: new Date(clock).toISOString() });
    const sender = new ScriptedSender(() => ok());
    await deliverBatch([record(message(subId(1)))], deps(sender), plenty);
    expect(sender.requests).toHaveLength(1);
    expect(queue.slowLane).toEqual([]);
  });

  it("a previous secret expiring this very moment no longer signs", async () => {
    await addSubscription(subId(1), {
      previousSecrets: [
        {
          ...(await sealedSecret(WS, subId(1), generateSecret())),
          expiresAt: new Date(clock).toISOString(),
        },
      ],
    });
    const sender = new ScriptedSender(() => ok());
    await deliverBatch([record(message(subId(1)))], deps(sender), plenty);
    expect(sender.requests[0]?.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
  });
});

describe("delivery statistics", () => {
  /** A statistics store in memory; `fail` makes its writes fail. */
  function statsStore() {
    const added: StatsBucket[] = [];
    const state = { fail: false };
    const stats: StatsStore = {
      add: async (bucket) => {
        if (state.fail) throw new Error("DynamoDB is down");
        added.push(structuredClone(bucket));
      },
      read: async () => [],
    };
    return { added, state, stats };
  }

  it("counts every attempt, and writes the counts once they are a minute old by the batch's clock", async () => {
    await addSubscription(subId(1));
    const { added, stats } = statsStore();
    const recorder = new StatsRecorder(stats, { flushMs: 60_000 });
    const first = record(message(subId(1)));
    await deliverBatch(
      [first],
      deps(new ScriptedSender(() => ok(500)), { stats: recorder }),
      plenty,
    );
    expect(added).toEqual([]);

    clock += 60_000;
    await deliverBatch(
      [{ ...first, receiveCount: 2 }],
      deps(new ScriptedSender(() => ok(200)), { stats: recorder }),
      plenty,
    );
    expect(added).toMatchObject([
      {
        workspaceId: WS,
        subscriptionId: subId(1),
        hour: "2026-11-26T10",
        attempts: 2,
        succeeded: 1,
        failed: 1,
        failedByClass: { http_status: 1 },
        lastFailureAt: "2026-11-26T10:00:00.000Z",
        lastSuccessAt: "2026-11-26T10:01:00.000Z",
      },
    ]);
  });

  it("a failed statistics write never fails the delivery, and is logged", async () => {
    await addSubscription(subId(1));
    const { state, stats } = statsStore();
    state.fail = true;
    const recorder = new StatsRecorder(stats, { flushMs: 0 });
    const { lines, log } = capture();
    const item = record(message(subId(1)));
    const result = await deliverBatch(
      [item],
      deps(new ScriptedSender(() => ok()), { stats: recorder, log }),
      plenty,
    );
    expect(result.dispositions.get(item.messageId)).toEqual({ kind: "done", reason: "succeeded" });
    expect(recorder.pending).toBe(1); // kept for the next batch
    expect(lines).toEqual([]);

    // A store that throws outright (not one bucket) is logged, and the batch still answers.
    const broken = {
      record: () => {},
      flush: async () => {
        throw new Error("no statistics today");
      },
    } as unknown as StatsRecorder;
    const again = await deliverBatch(
      [record(message(subId(1), { d: deliveryIdFor("01JTESTSEQ0000000000000001", subId(1)) }))],
      deps(new ScriptedSender(() => ok()), { stats: broken, log }),
      plenty,
    );
    expect(again.failures).toEqual([]);
    expect(lines).toEqual([
      {
        level: "warn",
        message: "could not write delivery statistics",
        fields: expect.objectContaining({ detail: "no statistics today" }),
      },
    ]);
  });
});

describe("what an operator is told when a part of the path is down", () => {
  it("an unreadable message: logged with its id, moved to the dead-letter queue", async () => {
    const { lines, log } = capture();
    const item = record("{not json");
    const result = await deliverBatch(
      [item],
      deps(new ScriptedSender(() => ok()), { log }),
      plenty,
    );
    expect(result.dispositions.get(item.messageId)).toEqual({
      kind: "done",
      reason: "dead-lettered",
    });
    expect(lines).toEqual([
      {
        level: "error",
        message: "unreadable queue message moved to the dead-letter queue",
        fields: { messageId: item.messageId },
      },
    ]);
  });

  it.each([
    {
      what: "the table unreadable",
      setUp: async () => {
        await addSubscription(subId(1));
        store.failLoad = true;
      },
      answer: (): SendResult => ok(),
      reason: "store unavailable",
      line: ["error", "could not load deliveries; the batch will be retried", "DynamoDB is down"],
    },
    {
      what: "the slow lane down",
      setUp: async () => {
        await addSubscription(subId(1), { slowUntil: new Date(clock + 60_000).toISOString() });
        queue.failSlowLane = true;
      },
      answer: (): SendResult => ok(),
      reason: "slow lane unavailable",
      line: ["warn", "could not move messages to the slow lane", "the slow lane queue is down"],
    },
    {
      what: "the dead-letter queue down",
      setUp: async () => {
        await addSubscription(subId(1));
        queue.failDeadLetter = true;
      },
      answer: (): SendResult => ({
        kind: "error",
        errorClass: "destination_refused",
        message: "refused",
        durationMs: 0,
      }),
      reason: "dead-letter queue unavailable",
      line: ["error", "dead-letter queue unavailable; messages stay queued", "DLQ is down"],
    },
  ])("$what: the message handed back as `$reason`, and logged", async (failure) => {
    await failure.setUp();
    const { lines, log } = capture();
    const item = record(message(subId(1)));
    const result = await deliverBatch(
      [item],
      deps(new ScriptedSender(failure.answer), { log }),
      plenty,
    );
    expect(result.dispositions.get(item.messageId)).toEqual({
      kind: "error",
      reason: failure.reason,
    });
    const [level, text, detail] = failure.line;
    expect(lines).toEqual([{ level, message: text, fields: expect.objectContaining({ detail }) }]);
  });

  it("messages that could not be backed off are counted in a warning; none, no warning", async () => {
    await addSubscription(subId(1));
    const { lines, log } = capture();
    const [refused, accepted] = [
      record(message(subId(1))),
      record(message(subId(1), { d: deliveryIdFor("01JTESTSEQ0000000000000001", subId(1)) })),
    ];
    await deliverBatch([accepted], deps(new ScriptedSender(() => ok(500)), { log }), plenty);
    expect(lines).toEqual([]);
    queue.refuseVisibility.add(refused.receiptHandle);
    const result = await deliverBatch(
      [refused],
      deps(new ScriptedSender(() => ok(500)), { log }),
      plenty,
    );
    expect(result.failures).toEqual([refused.messageId]);
    expect(lines).toEqual([
      { level: "warn", message: "some messages could not be backed off", fields: { count: 1 } },
    ]);
  });

  it("a visibility change that throws: the messages are still reported failed, and it is logged", async () => {
    await addSubscription(subId(1));
    queue.changeVisibility = async () => {
      throw new Error("SQS is down");
    };
    const { lines, log } = capture();
    const item = record(message(subId(1)));
    const result = await deliverBatch(
      [item],
      deps(new ScriptedSender(() => ok(500)), { log }),
      plenty,
    );
    expect(result.failures).toEqual([item.messageId]);
    expect(lines).toEqual([
      {
        level: "warn",
        message: "could not back off messages",
        fields: expect.objectContaining({ detail: "SQS is down" }),
      },
    ]);
  });

  it("a health write that fails never fails the delivery, and is logged", async () => {
    await addSubscription(subId(1));
    store.workspaces.markFailing = async () => {
      throw new Error("throttled");
    };
    const { lines, log } = capture();
    const item = record(message(subId(1)));
    const result = await deliverBatch(
      [item],
      deps(new ScriptedSender(() => ok(500)), { log }),
      plenty,
    );
    expect(result.dispositions.get(item.messageId)).toEqual({
      kind: "later",
      seconds: 10,
      reason: "retry",
    });
    expect(await stored(subId(1))).toMatchObject({ status: "retrying", runAttempts: 1 });
    expect(lines).toEqual([
      {
        level: "warn",
        message: "could not record endpoint health",
        fields: expect.objectContaining({ subscriptionId: subId(1), detail: "throttled" }),
      },
    ]);
  });

  it("every line logged for a delivery names it, its event and its workspace", async () => {
    await addSubscription(subId(1));
    store.workspaces.markFailing = async () => {
      throw new Error("throttled");
    };
    const printed: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => {
      printed.push(line);
    });
    try {
      await deliverBatch(
        [record(message(subId(1)))],
        deps(new ScriptedSender(() => ok(500)), { log: jsonLogger }),
        plenty,
      );
    } finally {
      spy.mockRestore();
    }
    expect(printed.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        message: "could not record endpoint health",
        workspaceId: WS,
        eventId: event.id,
        deliveryId: dlv(subId(1)),
      }),
    ]);
  });
});

describe("subscriptions disabled on the deliver path", () => {
  it("one failure too many disables the endpoint, raises webhook.subscription.disabled, and says so in the logs", async () => {
    const watcher = await addSubscription(subId(9), { events: ["webhook.subscription.disabled"] });
    const operational = new OperationalEvents({
      subscriptions: store.workspaces,
      events: store.eventStore,
      queue,
      log: silentLogger,
    });
    await addSubscription(subId(1), {
      failingSince: "2026-11-20T10:00:00.000Z",
      lastFailureAt: "2026-11-26T09:50:00.000Z",
      recentFailures: 2,
      recentSince: "2026-11-26T09:40:00.000Z",
    });
    const { lines, log } = capture();
    await deliverBatch(
      [record(message(subId(1)))],
      deps(new ScriptedSender(() => ok(503)), { operational, log }),
      plenty,
    );

    expect((await store.workspaces.getSubscription(WS, subId(1)))?.enabled).toBe(false);
    const [disabled] = queue.sent.filter((m) => m.n === "webhook.subscription.disabled");
    expect(disabled?.s).toBe(watcher.id);
    const data = JSON.parse(store.eventStore.events.get(`${WS}/${disabled?.e}`)?.body ?? "{}").data;
    expect(data).toMatchObject({ subscriptionId: subId(1) });
    expect(JSON.stringify(data)).toMatch(/failed since 2026-11-20T10:00:00.000Z, 3 times/);
    expect(lines).toEqual([
      {
        level: "warn",
        message: "subscription disabled after failing too long",
        fields: {
          workspaceId: WS,
          subscriptionId: subId(1),
          failingSince: "2026-11-20T10:00:00.000Z",
        },
      },
    ]);
  });

  it("a 410 Gone is logged with the subscription it disabled", async () => {
    await addSubscription(subId(1));
    const { lines, log } = capture();
    await deliverBatch(
      [record(message(subId(1)))],
      deps(new ScriptedSender(() => ok(410)), { log }),
      plenty,
    );
    expect(lines).toEqual([
      {
        level: "warn",
        message: "subscription disabled: its endpoint answered 410 Gone",
        fields: { workspaceId: WS, subscriptionId: subId(1) },
      },
    ]);
  });
});

describe("slowLaneGate", () => {
  function health(fail = false) {
    const marked: unknown[][] = [];
    return {
      marked,
      markSlow: async (...args: unknown[]) => {
        marked.push(args);
        if (fail) throw new Error("throttled");
        return true;
      },
    };
  }

  it("records an endpoint slow for ten minutes, to be refreshed after five, once a request is in flight too long", () => {
    const h = health();
    const slow = slowLaneGate(h, { slowAfterMs: 0, log: silentLogger, now: () => T0 });
    slow.tryStart(endpointOf(subId(1)));
    slow.check();
    expect(h.marked).toEqual([
      [WS, subId(1), new Date(T0 + 600_000).toISOString(), new Date(T0 + 300_000).toISOString()],
    ]);
    expect(slow.isSlow(endpointOf(subId(1)))).toBe(true);
  });

  it("a failed write of it is logged, never thrown", async () => {
    const h = health(true);
    const { lines, log } = capture();
    const slow = slowLaneGate(h, { slowAfterMs: 0, log, now: () => T0 });
    slow.tryStart(endpointOf(subId(1)));
    slow.check();
    await vi.waitFor(() =>
      expect(lines).toEqual([
        {
          level: "warn",
          message: "could not record a slow endpoint",
          fields: expect.objectContaining({ subscriptionId: subId(1), detail: "throttled" }),
        },
      ]),
    );
  });
});

describe("a copy of a subscription the table no longer has", () => {
  it("is dropped for the rest of the batch: a run failing for good names no stale URL", async () => {
    const watcher = await addSubscription(subId(9), { events: ["webhook.delivery.exhausted"] });
    const operational = new OperationalEvents({
      subscriptions: store.workspaces,
      events: store.eventStore,
      queue,
      log: silentLogger,
    });
    const recent = new RecentSubscriptions({ ttlMs: 60_000 });
    const sub = await addSubscription(subId(1));
    const refused = new ScriptedSender(() => ({
      kind: "error",
      errorClass: "destination_refused",
      message: "refused",
      durationMs: 0,
    }));
    // A run fails for good while the dead-letter queue is down: its message stays queued.
    queue.failDeadLetter = true;
    const item = record(message(sub.id));
    await deliverBatch([item], deps(refused), plenty);
    queue.failDeadLetter = false;
    // The instance keeps a copy saying disabled; then the subscription is deleted.
    await addSubscription(sub.id, { enabled: false });
    const other = record(
      message(sub.id, { d: deliveryIdFor("01JTESTSEQ0000000000000001", sub.id) }),
    );
    await deliverBatch([other], deps(refused, { recent }), plenty);
    store.workspaces.subscriptions.delete(sub.id);

    await deliverBatch(
      [{ ...item, receiveCount: 2 }],
      deps(refused, { recent, operational }),
      plenty,
    );
    expect(queue.deadLetters.map((body) => JSON.parse(body))).toEqual([message(sub.id)]);
    const [exhausted] = queue.sent.filter((m) => m.n === "webhook.delivery.exhausted");
    expect(exhausted?.s).toBe(watcher.id);
    const data = JSON.parse(
      store.eventStore.events.get(`${WS}/${exhausted?.e}`)?.body ?? "{}",
    ).data;
    expect(data).toMatchObject({ deliveryId: dlv(sub.id), subscriptionId: sub.id, url: "" });
  });
});

describe("checking a copy against the table", () => {
  it("reads the subscription alone, not the delivery record again", async () => {
    await addSubscription(subId(1), { enabled: false });
    const recent = new RecentSubscriptions({ ttlMs: 60_000 });
    const sender = new ScriptedSender(() => ok());
    await deliverBatch([record(message(subId(1)))], deps(sender, { recent }), plenty);
    await addSubscription(subId(1), { enabled: true });
    const reads: DeliveryRef[][] = [];
    const load = store.loadContext.bind(store);
    store.loadContext = (refs) => {
      reads.push(structuredClone([...refs]));
      return load(refs);
    };
    const d = deliveryIdFor("01JTESTSEQ0000000000000001", subId(1));
    await deliverBatch([record(message(subId(1), { d }))], deps(sender, { recent }), plenty);

    expect(sender.requests).toHaveLength(1);
    expect(reads).toEqual([
      [expect.objectContaining({ deliveryId: d, withRecord: false, withSubscription: false })],
      [
        {
          workspaceId: WS,
          deliveryId: d,
          eventId: event.id,
          subscriptionId: subId(1),
          withRecord: false,
        },
      ],
    ]);
  });
});
