import { beforeEach, describe, expect, it } from "vitest";
import type { StoredEvent, Subscription } from "../../shared/domain.ts";
import { type BatchEvent, ingestBatch } from "../../shared/use-cases/ingest-batch.ts";
import { FakeEventStore, FakeQueue, testSubscription } from "../helpers/fakes.ts";

const WS = "acme";
const sub = (n: number, events: string[] = ["contact.created"]): Subscription =>
  testSubscription(n, { events: events as Subscription["events"] });

let events: FakeEventStore;
let queue: FakeQueue;
/** Counts the fan-out calls the batch made (each a SendMessageBatch of at most ten). */
let calls: number[];

const deps = () => ({ events, queue, now: () => Date.parse("2026-11-26T12:00:00Z") });
const item = (index: number, patch: Partial<BatchEvent> = {}): BatchEvent => ({
  index,
  event: "contact.created",
  data: { id: `c_${index}` },
  id: `crm-${index}`,
  ...patch,
});
const subscriptions = [sub(1), sub(2), sub(3, ["deal.updated"])];

beforeEach(() => {
  events = new FakeEventStore();
  queue = new FakeQueue();
  calls = [];
  const enqueueEach = queue.enqueueEach.bind(queue);
  queue.enqueueEach = async (messages) => {
    for (let offset = 0; offset < messages.length; offset += 10) {
      calls.push(Math.min(10, messages.length - offset));
    }
    return enqueueEach(messages);
  };
});

describe("ingestBatch", () => {
  it("stores each event once and sends all their fan-out in full calls of ten", async () => {
    const items = Array.from({ length: 25 }, (_, i) => item(i));
    const outcomes = await ingestBatch(WS, subscriptions, items, deps());
    expect(outcomes.map((o) => o.kind)).toEqual(items.map(() => "accepted"));
    expect(outcomes[0]).toEqual({
      index: 0,
      kind: "accepted",
      id: "crm-0",
      event: "contact.created",
      deliveries: 2,
      replayed: false,
    });
    expect(events.events.size).toBe(25);
    expect(queue.sent).toHaveLength(50);
    expect(calls).toEqual([10, 10, 10, 10, 10]);
    // Each event's messages name its own deliveries, in the order the events came.
    const seqs = [...events.events.values()].map((e) => e.seq);
    expect([...seqs].sort()).toEqual(seqs);
  });

  it("writes at most 25 events at once, and each event of a longer batch once", async () => {
    let inFlight = 0;
    let most = 0;
    const create = events.create.bind(events);
    events.create = async (event: StoredEvent) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await Promise.resolve();
      inFlight--;
      return create(event);
    };
    const items = Array.from({ length: 30 }, (_, i) => item(i));
    const outcomes = await ingestBatch(WS, subscriptions, items, deps());
    expect(most).toBe(25);
    expect(events.events.size).toBe(30);
    expect(outcomes.map((o) => o.kind === "accepted" && o.replayed)).toEqual(
      items.map(() => false),
    );
    expect(queue.sent).toHaveLength(60);
    expect(queue.sent.every((m) => m.r === undefined)).toBe(true);
  });

  it("answers a repeat of a batch as replays and sends the fan-out again, marked", async () => {
    const items = [item(0), item(1)];
    await ingestBatch(WS, subscriptions, items, deps());
    const again = await ingestBatch(WS, subscriptions, items, deps());
    expect(again.map((o) => o.kind === "accepted" && o.replayed)).toEqual([true, true]);
    expect(events.events.size).toBe(2);
    expect(queue.sent.slice(4).every((m) => m.r === 1)).toBe(true);
  });

  it("answers 409 for an id used before for a different event, and accepts the others", async () => {
    await ingestBatch(WS, subscriptions, [item(0)], deps());
    const outcomes = await ingestBatch(
      WS,
      subscriptions,
      [item(0, { data: { id: "other" } }), item(1)],
      deps(),
    );
    expect(outcomes[0]).toMatchObject({ kind: "refused", id: "crm-0" });
    expect(outcomes[0]?.kind === "refused" && outcomes[0].error.status).toBe(409);
    expect(outcomes[0]?.kind === "refused" && outcomes[0].error.message).toBe(
      "Event id 'crm-0' was already used for a different event; use a new id.",
    );
    expect(outcomes[1]).toMatchObject({ kind: "accepted", id: "crm-1", replayed: false });
  });

  it("treats a repeated id inside one batch as the same event (a replay) or, if it differs, a 409", async () => {
    const outcomes = await ingestBatch(
      WS,
      subscriptions,
      [item(0), item(1, { id: "crm-0" }), item(2, { id: "crm-0", data: { id: "c_0" } })],
      deps(),
    );
    // Item 1 carries another record under crm-0: a conflict. Item 2 is item 0 again: a replay.
    expect(outcomes[0]).toMatchObject({ kind: "accepted", replayed: false });
    expect(outcomes[1]).toMatchObject({ index: 1, kind: "refused", id: "crm-0" });
    expect(outcomes[1]?.kind === "refused" && outcomes[1].error.status).toBe(409);
    expect(outcomes[1]?.kind === "refused" && outcomes[1].error.message).toBe(
      "Event id 'crm-0' was already used for a different event; use a new id.",
    );
    expect(outcomes[2]).toMatchObject({ index: 2, kind: "accepted", id: "crm-0", replayed: true });
    expect(events.events.size).toBe(1);
    expect(queue.sent).toHaveLength(2);
  });

  it("events without an id get their own, and are never taken for one another", async () => {
    const outcomes = await ingestBatch(
      WS,
      subscriptions,
      [item(0, { id: undefined }), item(1, { id: undefined, data: { id: "c_0" } })],
      deps(),
    );
    const ids = outcomes.map((o) => o.kind === "accepted" && o.id);
    expect(ids[0]).toMatch(/^evt_/);
    expect(ids[1]).toMatch(/^evt_/);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("an event that cannot be stored answers 503, the others are accepted", async () => {
    const create = events.create.bind(events);
    events.create = async (event: StoredEvent) => {
      if (event.id === "crm-1") {
        throw Object.assign(new Error("Rate exceeded"), {
          name: "ThrottlingException",
          $metadata: {},
          $retryable: { throttling: true },
        });
      }
      return create(event);
    };
    const outcomes = await ingestBatch(WS, subscriptions, [item(0), item(1), item(2)], deps());
    expect(outcomes.map((o) => (o.kind === "accepted" ? 202 : o.error.status))).toEqual([
      202, 503, 202,
    ]);
    expect(outcomes[1]?.kind === "refused" && outcomes[1].error.message).toMatch(/same id/);
    expect(queue.sent.map((m) => m.e)).toEqual(["crm-0", "crm-0", "crm-2", "crm-2"]);
  });

  it("tells a client whose event could not be stored how to retry: with its id, or by sending one", async () => {
    const throttled = () =>
      Object.assign(new Error("Rate exceeded"), {
        name: "ThrottlingException",
        $metadata: {},
        $retryable: { throttling: true },
      });
    const failures = new Map<string, Error>();
    const create = events.create.bind(events);
    events.create = async (event: StoredEvent) => {
      const failure = failures.get(JSON.parse(event.body).data.id);
      if (failure) throw failure;
      return create(event);
    };
    const bug = new TypeError("a bug");
    failures.set("c_1", throttled()).set("c_2", bug).set("c_3", throttled());
    const outcomes = await ingestBatch(
      WS,
      subscriptions,
      [item(0), item(1, { id: undefined }), item(2, { id: undefined }), item(3)],
      deps(),
    );
    const refused = outcomes.map((o) =>
      o.kind === "refused"
        ? [o.index, o.error.status, o.error.message, o.cause]
        : [o.index, o.kind],
    );
    expect(refused).toEqual([
      [0, "accepted"],
      [
        1,
        503,
        "The event could not be stored; retry it (send an `id` to make retries idempotent).",
        failures.get("c_1"),
      ],
      // Anything but a storage failure reveals nothing (the API logs its cause).
      [2, 500, "Something went wrong on our side; it has been logged. Retrying may help.", bug],
      [3, 503, "The event could not be stored; retry it with the same id.", failures.get("c_3")],
    ]);
    expect(outcomes[1]?.kind === "refused" && outcomes[1].id).toMatch(/^evt_/);
  });

  it("a repeat inside the batch of an event that could not be stored answers as that event did", async () => {
    events.create = async () => {
      throw Object.assign(new Error("Rate exceeded"), {
        name: "ThrottlingException",
        $metadata: {},
      });
    };
    const outcomes = await ingestBatch(
      WS,
      subscriptions,
      [item(0), item(1, { id: "crm-0" }), item(2, { id: "crm-0", data: { id: "other" } })],
      deps(),
    );
    const why = "The event could not be stored; retry it with the same id.";
    expect(
      outcomes.map((o) => [
        o.index,
        o.kind === "refused" && [o.error.status, o.error.message],
        o.id,
      ]),
    ).toEqual([
      [0, [503, why], "crm-0"],
      [1, [503, why], "crm-0"],
      [2, [503, why], "crm-0"],
    ]);
    expect(queue.sent).toEqual([]);
  });

  it("stamps the events with the batch's clock, and keeps a timestamp the client sent", async () => {
    await ingestBatch(
      WS,
      subscriptions,
      [item(0), item(1, { timestamp: "2026-01-02T03:04:05Z" })],
      deps(),
    );
    const [first, second] = [...events.events.values()];
    expect(first?.receivedAt).toBe("2026-11-26T12:00:00.000Z");
    expect(JSON.parse(first?.body ?? "{}").timestamp).toBe("2026-11-26T12:00:00.000Z");
    expect(JSON.parse(second?.body ?? "{}").timestamp).toBe("2026-01-02T03:04:05Z");
  });

  it("an event whose messages were not all queued answers 503 (retry with its id); a retry completes it", async () => {
    // Six events × 2 subscribers = 12 messages in two calls; the second call keeps failing.
    const items = Array.from({ length: 6 }, (_, i) => item(i));
    const original = queue.enqueueEach;
    queue.enqueueEach = async (messages) => {
      queue.sent.push(...messages.slice(0, 10));
      return new Set(messages.slice(10).map((_, i) => 10 + i));
    };
    const outcomes = await ingestBatch(WS, subscriptions, items, deps());
    expect(outcomes.map((o) => (o.kind === "accepted" ? 202 : o.error.status))).toEqual([
      202, 202, 202, 202, 202, 503,
    ]);
    expect(outcomes[5]?.kind === "refused" && outcomes[5].error.message).toMatch(
      /stored but not yet queued/,
    );
    queue.enqueueEach = original;
    const retry = await ingestBatch(WS, subscriptions, [item(5)], deps());
    expect(retry[0]).toMatchObject({ kind: "accepted", replayed: true, deliveries: 2 });
    expect(queue.sent.filter((m) => m.e === "crm-5")).toHaveLength(2);
  });

  it("when the queue refuses everything, every stored event answers 503 and nothing is lost", async () => {
    queue.failEnqueueEach = 1;
    const outcomes = await ingestBatch(WS, subscriptions, [item(0), item(1)], deps());
    expect(outcomes.map((o) => o.kind === "refused" && o.error.status)).toEqual([503, 503]);
    expect(events.events.size).toBe(2);
    const retry = await ingestBatch(WS, subscriptions, [item(0), item(1)], deps());
    expect(retry.map((o) => o.kind)).toEqual(["accepted", "accepted"]);
    expect(queue.sent).toHaveLength(4);
  });

  it("never drops an item it could not judge (two items at one position): it answers 503, retry", async () => {
    // The API numbers the items by position, so this cannot come from a request; were it to
    // happen, each item still gets an answer.
    const outcomes = await ingestBatch(WS, subscriptions, [item(0), item(0)], deps());
    expect(
      outcomes.map((o) => o.kind === "refused" && [o.index, o.id, o.error.status, o.error.message]),
    ).toEqual([
      [0, "crm-0", 503, "Not processed; retry."],
      [0, "crm-0", 503, "Not processed; retry."],
    ]);
    // The other items of the batch are answered as usual.
    const mixed = await ingestBatch(
      WS,
      subscriptions,
      [item(1), item(2, { id: "x" }), item(2, { id: "x" })],
      deps(),
    );
    expect(mixed.map((o) => [o.kind, o.id])).toEqual([
      ["accepted", "crm-1"],
      ["refused", "x"],
      ["refused", "x"],
    ]);
  });

  it("an event nobody subscribes to is accepted with no deliveries and sends nothing", async () => {
    const outcomes = await ingestBatch(
      WS,
      subscriptions,
      [item(0, { event: "task.deleted" })],
      deps(),
    );
    expect(outcomes[0]).toMatchObject({ kind: "accepted", deliveries: 0 });
    expect(calls).toEqual([]);
  });
});
