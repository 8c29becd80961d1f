import { beforeEach, describe, expect, it } from "vitest";
import type { EventName } from "../../shared/catalog.ts";
import type { Delivery, Subscription } from "../../shared/domain.ts";
import {
  OperationalEvents,
  operationalEventId,
} from "../../shared/use-cases/operational-events.ts";
import {
  FakeEventStore,
  FakeQueue,
  FakeWorkspaceStore,
  RecordingLogger,
  testSubscription,
} from "../helpers/fakes.ts";

const WS = "acme";
const AT = "2026-11-26T12:00:00.000Z";

const sub = (n: number, events: EventName[], workspaceId = WS): Subscription =>
  testSubscription(n, { workspaceId, url: `https://s${n}.example.com/hook`, events });

/** The subscription the events are about (it subscribes to them too: it must never get them). */
const subject = sub(1, [
  "contact.created",
  "webhook.delivery.exhausted",
  "webhook.subscription.failing",
  "webhook.subscription.disabled",
  "webhook.subscription.recovered",
]);
/** Watches every operational event. */
const watcher = sub(2, [
  "webhook.delivery.exhausted",
  "webhook.subscription.failing",
  "webhook.subscription.disabled",
  "webhook.subscription.recovered",
]);
/** Watches CRM events only. */
const bystander = sub(3, ["contact.created"]);
/** Another workspace's watcher. */
const stranger = sub(4, ["webhook.subscription.failing"], "other");

const delivery = (patch: Partial<Delivery> = {}): Delivery => ({
  id: "dlv_01JTESTSEQ00000000000000AA_sub_01JTESTSUB0000000000000001",
  workspaceId: WS,
  eventId: "crm-7",
  event: "contact.created",
  subscriptionId: subject.id,
  status: "failed",
  generation: 2,
  rev: 9,
  runAttempts: 8,
  attemptCount: 17,
  attempts: [],
  attemptsOmitted: 0,
  createdAt: "2026-11-20T09:00:00.000Z",
  updatedAt: "2026-11-26T11:00:00.000Z",
  failedAt: "2026-11-26T10:00:00.000Z",
  lastError: "HTTP 503",
  reason: "gone",
  ...patch,
});

let workspaces: FakeWorkspaceStore;
let events: FakeEventStore;
let queue: FakeQueue;
let log: RecordingLogger;
let operational: OperationalEvents;

beforeEach(() => {
  workspaces = new FakeWorkspaceStore();
  for (const s of [subject, watcher, bystander, stranger]) workspaces.subscriptions.set(s.id, s);
  events = new FakeEventStore();
  queue = new FakeQueue();
  log = new RecordingLogger();
  operational = new OperationalEvents({ subscriptions: workspaces, events, queue, log });
});

/** The one event stored, its body parsed. */
function storedEvent() {
  expect(events.events.size).toBe(1);
  const [event] = [...events.events.values()];
  return { ...event, body: JSON.parse(event?.body ?? "null") };
}

describe("OperationalEvents", () => {
  it("exhausted: sends webhook.delivery.exhausted with the delivery's facts to the workspace's watchers only", async () => {
    const count = await operational.exhausted(delivery(), { url: subject.url });
    expect(count).toBe(1);
    const event = storedEvent();
    expect(event).toMatchObject({
      workspaceId: WS,
      id: "webhook.delivery.exhausted:dlv_01JTESTSEQ00000000000000AA_sub_01JTESTSUB0000000000000001:g2",
      name: "webhook.delivery.exhausted",
      targets: [watcher.id],
    });
    expect(event.body).toEqual({
      event: "webhook.delivery.exhausted",
      data: {
        deliveryId: delivery().id,
        eventId: "crm-7",
        event: "contact.created",
        subscriptionId: subject.id,
        url: subject.url,
        attempts: 17,
        reason: "gone",
        lastError: "HTTP 503",
        failedAt: "2026-11-26T10:00:00.000Z",
      },
      timestamp: "2026-11-26T10:00:00.000Z",
    });
    expect(queue.sent.map((m) => [m.s, m.e, m.n])).toEqual([
      [watcher.id, event.id, "webhook.delivery.exhausted"],
    ]);
    expect(log.lines).toEqual([]);
  });

  it("exhausted: defaults what the record lacks (failedAt → updatedAt, reason, lastError, a deleted subscription's url)", async () => {
    await operational.exhausted(
      delivery({ failedAt: undefined, reason: undefined, lastError: undefined }),
      undefined,
    );
    const event = storedEvent();
    expect(event.body.data).toMatchObject({
      url: "",
      reason: "exhausted",
      lastError: null,
      failedAt: "2026-11-26T11:00:00.000Z",
    });
    expect(event.body.timestamp).toBe("2026-11-26T11:00:00.000Z");
  });

  it("failing: sends webhook.subscription.failing, with the last error or null", async () => {
    expect(await operational.failing(subject, AT, "HTTP 500")).toBe(1);
    const event = storedEvent();
    expect(event).toMatchObject({
      id: `webhook.subscription.failing:${subject.id}:${AT}`,
      name: "webhook.subscription.failing",
      targets: [watcher.id],
    });
    expect(event.body).toEqual({
      event: "webhook.subscription.failing",
      data: {
        subscriptionId: subject.id,
        url: subject.url,
        failingSince: AT,
        lastError: "HTTP 500",
      },
      timestamp: AT,
    });

    events = new FakeEventStore();
    operational = new OperationalEvents({ subscriptions: workspaces, events, queue, log });
    await operational.failing(subject, AT, undefined);
    expect(storedEvent().body.data.lastError).toBeNull();
  });

  it("disabled: sends webhook.subscription.disabled with the reason", async () => {
    expect(await operational.disabled(subject, AT, "The endpoint answered 410 Gone")).toBe(1);
    const event = storedEvent();
    expect(event).toMatchObject({
      id: `webhook.subscription.disabled:${subject.id}:${AT}`,
      name: "webhook.subscription.disabled",
      targets: [watcher.id],
    });
    expect(event.body).toEqual({
      event: "webhook.subscription.disabled",
      data: {
        subscriptionId: subject.id,
        url: subject.url,
        reason: "The endpoint answered 410 Gone",
        disabledAt: AT,
      },
      timestamp: AT,
    });
  });

  it("recovered: sends webhook.subscription.recovered with when it started failing", async () => {
    const since = "2026-11-26T08:00:00.000Z";
    expect(await operational.recovered(subject, since, AT)).toBe(1);
    const event = storedEvent();
    expect(event).toMatchObject({
      id: `webhook.subscription.recovered:${subject.id}:${AT}`,
      name: "webhook.subscription.recovered",
      targets: [watcher.id],
    });
    expect(event.body).toEqual({
      event: "webhook.subscription.recovered",
      data: { subscriptionId: subject.id, url: subject.url, failingSince: since, recoveredAt: AT },
      timestamp: AT,
    });
  });

  it("counts every watcher, and raising the same event twice is one event (a replay)", async () => {
    const second = sub(5, ["webhook.subscription.failing"]);
    workspaces.subscriptions.set(second.id, second);
    expect(await operational.failing(subject, AT, undefined)).toBe(2);
    expect(await operational.failing(subject, AT, undefined)).toBe(2);
    expect(events.events.size).toBe(1);
    expect(queue.sent.map((m) => [m.s, m.r])).toEqual([
      [watcher.id, undefined],
      [second.id, undefined],
      [watcher.id, 1],
      [second.id, 1],
    ]);
  });

  it("writes nothing when nobody else watches", async () => {
    workspaces.subscriptions.delete(watcher.id);
    expect(await operational.disabled(subject, AT, "gone")).toBe(0);
    expect(await operational.exhausted(delivery(), { url: subject.url })).toBe(0);
    expect(events.events.size).toBe(0);
    expect(queue.sent).toEqual([]);
  });

  it("is best effort: a failure is logged with what it was about, and answers 0", async () => {
    workspaces.listSubscriptions = async () => {
      throw Object.assign(new Error("DynamoDB is down"), { name: "InternalServerError" });
    };
    expect(await operational.failing(subject, AT, undefined)).toBe(0);
    expect(log.lines).toEqual([
      {
        level: "error",
        message: "could not raise an operational event",
        fields: {
          workspaceId: WS,
          event: "webhook.subscription.failing",
          about: subject.id,
          error: "InternalServerError",
          detail: "DynamoDB is down",
          code: undefined,
        },
      },
    ]);
  });

  it("a queue failure after the event is stored is logged too, and answers 0", async () => {
    queue.failEnqueue = 1;
    expect(await operational.recovered(subject, AT, AT)).toBe(0);
    expect(events.events.size).toBe(1);
    expect(log.lines.map((l) => [l.level, l.fields?.event, l.fields?.error])).toEqual([
      ["error", "webhook.subscription.recovered", "ServiceUnavailableError"],
    ]);
  });
});

describe("operationalEventId", () => {
  it("is the name and the key, with anything outside event ids' alphabet replaced", () => {
    expect(
      operationalEventId("webhook.subscription.failing", "sub_AZaz09:2026-11-26T12:00:00.000Z"),
    ).toBe("webhook.subscription.failing:sub_AZaz09:2026-11-26T12:00:00.000Z");
    expect(operationalEventId("webhook.subscription.disabled", "a/b c+d/é")).toBe(
      "webhook.subscription.disabled:a-b-c-d--",
    );
  });

  it("is cut to 128 characters", () => {
    const id = operationalEventId("webhook.delivery.exhausted", "x".repeat(200));
    expect(id).toBe(`webhook.delivery.exhausted:${"x".repeat(128 - 27)}`);
    expect(id).toHaveLength(128);
  });
});
