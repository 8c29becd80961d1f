import { Webhook } from "standardwebhooks";
import { beforeEach, describe, expect, it } from "vitest";
import type { DeliveryMessage, StoredEvent, Subscription } from "../../shared/domain.ts";
import { deliveryIdFor } from "../../shared/ids.ts";
import { silentLogger } from "../../shared/log.ts";
import { encodeMessage } from "../../shared/queue/delivery-queue.ts";
import { generateSecret, hexSignature } from "../../shared/signing.ts";
import { contextKey } from "../../shared/store/delivery-store.ts";
import {
  type DeliverDeps,
  deliverBatch,
  type QueueRecord,
} from "../../shared/use-cases/deliver-batch.ts";
import { FakeDeliveryStore, FakeHealth, FakeQueue, ok, ScriptedSender } from "../helpers/fakes.ts";
import { sealedSecret, testSecrets } from "../helpers/secrets.ts";

const WS = "acme";
const SEQ = "01JTESTSEQ0000000000000000";
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

function message(sub: string, patch: Partial<DeliveryMessage> = {}): DeliveryMessage {
  return {
    v: 1,
    w: WS,
    d: deliveryIdFor(SEQ, sub),
    e: event.id,
    n: event.name,
    s: sub,
    g: 0,
    a: 0,
    ...patch,
  };
}

let counter = 0;
/**
 * A received queue message. Like SQS, a message keeps its id when it comes back for another
 * attempt (`receiveCount` 2, 3 …); only its receipt handle changes. `copy` makes a distinct
 * message carrying the same delivery (what a retried ingest would send).
 */
function record(body: DeliveryMessage | string, receiveCount = 1, copy = 0): QueueRecord {
  counter++;
  const messageId = typeof body === "string" ? `raw${counter}` : `m-${body.d}-${body.g}-${copy}`;
  return {
    messageId,
    receiptHandle: `r${counter}`,
    body: typeof body === "string" ? body : encodeMessage(body),
    receiveCount,
  };
}

let store: FakeDeliveryStore;
let queue: FakeQueue;
let health: FakeHealth;
const plenty = { remainingMs: () => 60_000 };

function deps(sender: ScriptedSender, patch: Partial<DeliverDeps> = {}): DeliverDeps {
  return {
    store,
    queue,
    sender,
    schedule: [0, 10, 100],
    retentionSeconds: 86_400,
    requestTimeoutMs: 15_000,
    secrets: testSecrets,
    health,
    autoDisableAfterMs: 5 * 86_400_000,
    log: silentLogger,
    random: () => 0.5,
    ...patch,
  };
}

/**
 * Stores a subscription whose secret is sealed, as the API stores it; returns it with the
 * plaintext secret alongside, for the assertions.
 */
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
  store.subscriptions.set(contextKey(WS, id), sub);
  return { ...sub, plaintext: secret ?? "" };
}

beforeEach(() => {
  store = new FakeDeliveryStore();
  queue = new FakeQueue();
  health = new FakeHealth();
  store.events.set(contextKey(WS, event.id), event);
});

describe("deliverBatch", () => {
  it("POSTs the stored body byte for byte, signed both ways, and records a success", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(204));
    const result = await deliverBatch([record(message(sub.id))], deps(sender), plenty);

    expect(result.failures).toEqual([]);
    const [sent] = sender.requests;
    expect(sent?.url).toBe(sub.url);
    expect(sent?.body).toBe(event.body);
    expect(sent?.headers["X-Webhook-Signature"]).toBe(hexSignature(sub.plaintext, event.body));
    expect(new Webhook(sub.plaintext).verify(event.body, sent?.headers ?? {})).toBeTruthy();
    expect(sent?.headers["webhook-id"]).toBe(deliveryIdFor(SEQ, sub.id));

    const [written] = store.records;
    expect(written?.status).toBe("succeeded");
    expect(written?.attempt).toMatchObject({
      number: 1,
      generation: 0,
      outcome: "succeeded",
      statusCode: 204,
    });
    expect(written?.attempt.requestHeaders).toEqual(sent?.headers);
  });

  it("backs off a failure with ChangeMessageVisibility and reports the item failed", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    const item = record(message(sub.id));
    const result = await deliverBatch([item], deps(sender), plenty);

    expect(result.failures).toEqual([item.messageId]);
    expect(queue.visibility).toEqual([{ receiptHandle: item.receiptHandle, seconds: 10 }]);
    expect(store.records[0]).toMatchObject({ status: "retrying", lastError: "HTTP 500" });
    expect(store.records[0]?.attempt.nextAttemptAt).toBeDefined();
    expect(queue.deadLetters).toEqual([]);
  });

  it("honours Retry-After on a 429", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(429, { "retry-after": "42" }));
    const item = record(message(sub.id));
    await deliverBatch([item], deps(sender), plenty);
    expect(queue.visibility).toEqual([{ receiptHandle: item.receiptHandle, seconds: 42 }]);
  });

  it("after the last attempt marks the delivery failed and moves the message to the DLQ with a fresh schedule", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(503));
    const result = await deliverBatch([record(message(sub.id, { a: 1 }), 2)], deps(sender), plenty);

    expect(result.failures).toEqual([]);
    expect(store.records[0]).toMatchObject({ status: "failed" });
    expect(queue.deadLetters.map((body) => JSON.parse(body))).toEqual([
      { ...message(sub.id), a: 0 },
    ]);
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
    expect(store.records[0]).toMatchObject({ status: "failed" });
    expect(store.records[0]?.attempt.errorClass).toBe("destination_refused");
    expect(queue.deadLetters).toHaveLength(1);
  });

  it("sends nothing to a disabled or deleted subscription and records why", async () => {
    const disabled = await addSubscription(subId(1), { enabled: false });
    const sender = new ScriptedSender(() => ok());
    const result = await deliverBatch(
      [record(message(disabled.id)), record(message(subId(2)))],
      deps(sender),
      plenty,
    );
    expect(sender.requests).toEqual([]);
    expect(result.failures).toEqual([]);
    expect(store.records.map((r) => [r.status, r.attempt.errorClass])).toEqual([
      ["canceled", "subscription_disabled"],
      ["canceled", "subscription_deleted"],
    ]);
  });

  it("uses the subscription as it is now: a changed URL and secret apply to the next attempt", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    await deliverBatch([record(message(sub.id))], deps(sender), plenty);
    const changed = await addSubscription(sub.id, { url: "https://new.example.com/in" });
    await deliverBatch([record(message(sub.id), 2)], deps(sender), plenty);

    expect(sender.requests[1]?.url).toBe("https://new.example.com/in");
    expect(sender.requests[1]?.headers["X-Webhook-Signature"]).toBe(
      hexSignature(changed.plaintext, event.body),
    );
  });

  it("during a rotation signs with every live secret, the newest alone in X-Webhook-Signature", async () => {
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
    expect(headers["X-Webhook-Signature"]).toBe(hexSignature(sub.plaintext, event.body));
    expect(new Webhook(sub.plaintext).verify(event.body, headers)).toBeTruthy();
    expect(new Webhook(previous).verify(event.body, headers)).toBeTruthy();
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
    // The copy a retried ingest re-sent (marked `r`) is checked on its first receive, and so is
    // any message on a later receive: the run is not its own.
    const copy = await deliverBatch(
      [record(message(sub.id, { r: 1 }), 1, 1)],
      deps(sender),
      plenty,
    );
    expect([...copy.dispositions.values()]).toEqual([{ kind: "done", reason: "duplicate" }]);
    const later = await deliverBatch([record(message(sub.id), 2, 2)], deps(sender), plenty);
    expect([...later.dispositions.values()]).toEqual([{ kind: "done", reason: "duplicate" }]);
    const again = await deliverBatch([{ ...first, receiveCount: 2 }], deps(sender), plenty);
    expect([...again.dispositions.values()]).toEqual([{ kind: "retry", delaySeconds: 100 }]);
    expect(sender.requests).toHaveLength(2);
  });

  it("with the run's owner and a copy in one batch, the owner carries on whichever comes first", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok(500));
    const owner = record(message(sub.id));
    await deliverBatch([owner], deps(sender), plenty);
    const copy = record(message(sub.id, { r: 1 }), 1, 1);
    const result = await deliverBatch([copy, { ...owner, receiveCount: 2 }], deps(sender), plenty);
    expect(result.dispositions.get(copy.messageId)).toEqual({ kind: "done", reason: "duplicate" });
    expect(result.dispositions.get(owner.messageId)).toMatchObject({ kind: "retry" });
    expect(sender.requests).toHaveLength(2);
  });

  it("reads no record for a first-generation message on its first receive", async () => {
    // The read-unit trade (BENCHMARKS.md, cost): such a message normally has no record yet, so
    // the batch read skips it. An unmarked duplicate of it (SQS delivering a message twice)
    // then goes out once more — at-least-once — and the record stays consistent.
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    await deliverBatch([record(message(sub.id))], deps(sender), plenty);
    const duplicate = await deliverBatch([record(message(sub.id), 1, 1)], deps(sender), plenty);
    expect([...duplicate.dispositions.values()]).toEqual([{ kind: "done", reason: "succeeded" }]);
    expect(sender.requests).toHaveLength(2);
    const stored = store.deliveries.get(contextKey(WS, deliveryIdFor(SEQ, sub.id)));
    expect(stored).toMatchObject({ status: "succeeded", generation: 0, attemptCount: 2 });
  });

  describe("endpoint health", () => {
    const at = (iso: string) => () => Date.parse(iso);

    it("records the first failure, nothing more while failing, and clears it on success", async () => {
      const sub = await addSubscription(subId(1));
      const fails = new ScriptedSender(() => ok(500));
      await deliverBatch(
        [record(message(sub.id))],
        deps(fails, { now: at("2026-11-20T10:00:00Z") }),
        plenty,
      );
      expect(health.calls).toEqual([`failing ${sub.id} since 2026-11-20T10:00:00.000Z`]);

      await addSubscription(subId(1), { failingSince: "2026-11-20T10:00:00.000Z" });
      await deliverBatch(
        [record(message(sub.id), 2)],
        deps(fails, { now: at("2026-11-21T10:00:00Z") }),
        plenty,
      );
      expect(health.calls).toHaveLength(1);

      await deliverBatch(
        [record(message(sub.id), 3)],
        deps(new ScriptedSender(() => ok()), { now: at("2026-11-21T11:00:00Z") }),
        plenty,
      );
      expect(health.calls.at(-1)).toBe(`healthy ${sub.id}`);
    });

    it("disables an endpoint that has failed for the whole window, and only then", async () => {
      const sub = await addSubscription(subId(1), { failingSince: "2026-11-20T10:00:00.000Z" });
      const fails = new ScriptedSender(() => ok(503));
      await deliverBatch(
        [record(message(sub.id))],
        deps(fails, { now: at("2026-11-25T09:59:00Z") }),
        plenty,
      );
      expect(health.calls).toEqual([]);
      await deliverBatch(
        [record(message(sub.id), 2)],
        deps(fails, { now: at("2026-11-25T10:00:00Z") }),
        plenty,
      );
      expect(health.calls).toEqual([`disable ${sub.id} failing since 2026-11-20T10:00:00.000Z`]);
      health.calls = [];
      await deliverBatch(
        [record(message(sub.id), 3)],
        deps(fails, { now: at("2026-12-30T10:00:00Z"), autoDisableAfterMs: 0 }),
        plenty,
      );
      expect(health.calls).toEqual([]);
    });

    it("a healthy endpoint costs no health write at all", async () => {
      const sub = await addSubscription(subId(1));
      await deliverBatch([record(message(sub.id))], deps(new ScriptedSender(() => ok())), plenty);
      expect(health.calls).toEqual([]);
    });
  });

  it("drops stale and duplicate messages without a POST", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    await deliverBatch([record(message(sub.id))], deps(sender), plenty);
    // A resend moved the delivery to generation 1; the old message is now stale.
    const stored = store.deliveries.get(contextKey(WS, deliveryIdFor(SEQ, sub.id)));
    if (stored) stored.generation = 1;
    // Both come back from the queue (a second receive), so their records are read.
    const stale = await deliverBatch([record(message(sub.id, { g: 0 }), 2)], deps(sender), plenty);
    expect([...stale.dispositions.values()]).toEqual([{ kind: "done", reason: "stale" }]);
    if (stored) stored.generation = 0;
    const duplicate = await deliverBatch([record(message(sub.id), 2)], deps(sender), plenty);
    expect([...duplicate.dispositions.values()]).toEqual([{ kind: "done", reason: "duplicate" }]);
    expect(sender.requests).toHaveLength(1);
  });

  it("delivers two copies of one message in a batch only once", async () => {
    const sub = await addSubscription(subId(1));
    const sender = new ScriptedSender(() => ok());
    const result = await deliverBatch(
      [record(message(sub.id)), record(message(sub.id))],
      deps(sender),
      plenty,
    );
    expect(sender.requests).toHaveLength(1);
    expect(result.failures).toEqual([]);
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
    expect(queue.visibility).toEqual([{ receiptHandle: item.receiptHandle, seconds: 0 }]);
  });

  it("moves an unreadable message to the DLQ instead of losing or looping on it", async () => {
    const sender = new ScriptedSender(() => ok());
    const result = await deliverBatch([record("{not json")], deps(sender), plenty);
    expect(result.failures).toEqual([]);
    expect(queue.deadLetters).toEqual(["{not json"]);
  });

  it("keeps the message when the DLQ cannot take it", async () => {
    const sub = await addSubscription(subId(1));
    queue.failDeadLetter = true;
    const item = record(message(sub.id, { a: 2 }));
    const result = await deliverBatch([item], deps(new ScriptedSender(() => ok(500))), plenty);
    expect(result.failures).toEqual([item.messageId]);
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
