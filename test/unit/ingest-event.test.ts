import { beforeEach, describe, expect, it } from "vitest";
import type { Subscription } from "../../shared/domain.ts";
import { ConflictError, ServiceUnavailableError } from "../../shared/errors.ts";
import { deliveryIdFor } from "../../shared/ids.ts";
import {
  type IngestInput,
  ingestEvent,
  messagesFor,
  storedEventOf,
} from "../../shared/use-cases/ingest-event.ts";
import { FakeEventStore, FakeQueue, testSubscription } from "../helpers/fakes.ts";

const WS = "acme";
const sub = testSubscription;

let events: FakeEventStore;
let queue: FakeQueue;
const deps = () => ({
  events,
  queue,
  now: () => Date.parse("2026-11-26T12:00:00Z"),
});
const input = (patch: Partial<IngestInput> = {}): IngestInput => ({
  workspaceId: WS,
  subscriptions: [sub(1), sub(2, { enabled: false }), sub(3, { events: ["deal.created"] }), sub(4)],
  event: "contact.created",
  data: { id: "c_1", name: "Ada" },
  ...patch,
});

beforeEach(() => {
  events = new FakeEventStore();
  queue = new FakeQueue();
});

describe("ingestEvent", () => {
  it("queues one message per subscription of that event — a disabled one's too, to be recorded canceled — and nothing for the others", async () => {
    const result = await ingestEvent(input(), deps());
    expect(result).toMatchObject({ event: "contact.created", deliveries: 3, replayed: false });
    expect(result.id).toMatch(/^evt_/);
    const stored = [...events.events.values()][0];
    expect(queue.sent.map((m) => m.s)).toEqual([sub(1).id, sub(2).id, sub(4).id]);
    expect(stored?.targets).toEqual([sub(1).id, sub(2).id, sub(4).id]);
    expect(queue.sent[0]).toEqual({
      v: 1,
      w: WS,
      d: deliveryIdFor(stored?.seq ?? "", sub(1).id),
      e: result.id,
      n: "contact.created",
      s: sub(1).id,
      g: 0,
    });
  });

  it("serializes the body once: exactly {event, data, timestamp}, defaulting the timestamp to now", async () => {
    await ingestEvent(input(), deps());
    const stored = [...events.events.values()][0];
    expect(stored?.body).toBe(
      '{"event":"contact.created","data":{"id":"c_1","name":"Ada"},"timestamp":"2026-11-26T12:00:00.000Z"}',
    );
    await ingestEvent(input({ timestamp: "2026-01-02T03:04:05+01:00", id: "e2" }), deps());
    expect(events.events.get(`${WS}/e2`)?.body).toContain(
      '"timestamp":"2026-01-02T03:04:05+01:00"',
    );
  });

  it("a repeat with the same id returns the first answer, and re-sends the first fan-out marked as a copy", async () => {
    const first = await ingestEvent(input({ id: "crm-1" }), deps());
    const again = await ingestEvent(input({ id: "crm-1", subscriptions: [sub(1)] }), deps());
    expect(again).toEqual({ ...first, replayed: true });
    // One write per event: whether the first fan-out finished is not recorded, so the repeat
    // sends it again — to the targets chosen the first time, the same delivery ids, marked so
    // that the deliver function reads their records and drops what was already made.
    expect(queue.sent).toHaveLength(6);
    expect(queue.sent.slice(3).map((m) => [m.d, m.r])).toEqual(
      queue.sent.slice(0, 3).map((m) => [m.d, 1]),
    );
  });

  it("refuses an id reused for a different event — other data, or another timestamp — with a 409 saying so", async () => {
    await ingestEvent(input({ id: "crm-1" }), deps());
    const conflict = new ConflictError(
      "Event id 'crm-1' was already used for a different event; use a new id.",
    );
    await expect(ingestEvent(input({ id: "crm-1", data: { id: "c_2" } }), deps())).rejects.toThrow(
      conflict,
    );
    await expect(
      ingestEvent(input({ id: "crm-1", timestamp: "2026-11-26T12:00:00.000Z" }), deps()),
    ).rejects.toThrow(conflict);
    await expect(
      ingestEvent(input({ id: "crm-1", event: "contact.updated" }), deps()),
    ).rejects.toThrow(conflict);
    expect(queue.sent).toHaveLength(3);

    // The timestamp the client sent is part of the event: the same one again is a repeat.
    await ingestEvent(input({ id: "crm-2", timestamp: "2026-01-02T03:04:05Z" }), deps());
    const again = await ingestEvent(
      input({ id: "crm-2", timestamp: "2026-01-02T03:04:05Z" }),
      deps(),
    );
    expect(again.replayed).toBe(true);
  });

  it("a failed fan-out answers 503 with its cause, telling how to retry safely", async () => {
    queue.failEnqueue = 2;
    const withId = await ingestEvent(input({ id: "crm-1" }), deps()).catch((error) => error);
    expect(withId).toBeInstanceOf(ServiceUnavailableError);
    expect(withId.message).toBe(
      "The event was stored but not yet queued for every subscriber; retry with the same id.",
    );
    expect(withId.cause).toEqual(new Error("SQS is down"));
    const withoutId = await ingestEvent(input(), deps()).catch((error) => error);
    expect(withoutId).toBeInstanceOf(ServiceUnavailableError);
    expect(withoutId.message).toBe(
      "The event could not be queued; retry (send an `id` to make retries idempotent).",
    );
    expect(withoutId.cause).toEqual(new Error("SQS is down"));
  });

  it("after a failed fan-out, a retry finishes it to the subscribers chosen the first time", async () => {
    queue.failEnqueue = 1;
    await expect(ingestEvent(input({ id: "crm-1" }), deps())).rejects.toThrow(
      ServiceUnavailableError,
    );
    expect(queue.sent).toHaveLength(0);
    const retry = await ingestEvent(input({ id: "crm-1", subscriptions: [] }), deps());
    expect(retry.deliveries).toBe(3);
    expect(queue.sent.map((m) => m.s)).toEqual([sub(1).id, sub(2).id, sub(4).id]);
  });

  it("marks what a retry re-sends, and only that, so the deliver function drops copies of what arrived", async () => {
    queue.failEnqueue = 1;
    await expect(ingestEvent(input({ id: "crm-2" }), deps())).rejects.toThrow();
    await ingestEvent(input({ id: "crm-2" }), deps());
    expect(queue.sent.map((m) => m.r)).toEqual([1, 1, 1]);
    await ingestEvent(input({ id: "crm-3" }), deps());
    expect(queue.sent.slice(3).map((m) => m.r)).toEqual([undefined, undefined, undefined]);
  });

  it("stores an event nobody subscribes to, and sends nothing", async () => {
    const result = await ingestEvent(input({ event: "task.deleted" }), deps());
    expect(result.deliveries).toBe(0);
    expect(queue.sent).toEqual([]);
    expect(events.events.size).toBe(1);
  });

  it("messagesFor: one message per target, of the first run and unmarked unless told otherwise", () => {
    const event = storedEventOf(input({ id: "crm-9" }), Date.parse("2026-11-26T12:00:00Z"));
    const message = (s: Subscription, extra = {}) => ({
      v: 1,
      w: WS,
      d: deliveryIdFor(event.seq, s.id),
      e: "crm-9",
      n: "contact.created",
      s: s.id,
      g: 0,
      ...extra,
    });
    expect(messagesFor(event)).toEqual([message(sub(1)), message(sub(2)), message(sub(4))]);
    expect(messagesFor(event, 2, true)).toEqual([
      message(sub(1), { g: 2, r: 1 }),
      message(sub(2), { g: 2, r: 1 }),
      message(sub(4), { g: 2, r: 1 }),
    ]);
  });
});
