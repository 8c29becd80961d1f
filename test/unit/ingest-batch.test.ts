import { beforeEach, describe, expect, it } from "vitest";
import type { StoredEvent, Subscription } from "../../shared/domain.ts";
import { type BatchEvent, ingestBatch } from "../../shared/use-cases/ingest-batch.ts";
import { FakeEventStore, FakeQueue } from "../helpers/fakes.ts";

const WS = "acme";
const sub = (n: number, events = ["contact.created"]): Subscription =>
  ({
    id: `sub_01JTESTSUB00000000000000${String(n).padStart(2, "0")}`,
    workspaceId: WS,
    url: `https://s${n}.example.com/`,
    events,
    enabled: true,
    description: "",
    secret: null,
    previousSecrets: [],
    createdAt: "2026-11-26T09:00:00.000Z",
    updatedAt: "2026-11-26T09:00:00.000Z",
  }) as Subscription;

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
    expect(outcomes[1]?.kind === "refused" && outcomes[1].error.status).toBe(409);
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
