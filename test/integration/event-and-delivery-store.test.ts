import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Attempt, StoredEvent, Subscription } from "../../shared/domain.ts";
import { deliveryIdFor, newSubscriptionId, newUlid } from "../../shared/ids.ts";
import {
  type AttemptRecord,
  contextKey,
  DynamoDeliveryStore,
} from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";

let aws: LocalAws;
let events: DynamoEventStore;
let deliveries: DynamoDeliveryStore;
let workspaces: DynamoWorkspaceStore;
beforeAll(async () => {
  aws = await startLocalAws();
  events = new DynamoEventStore(aws.table);
  deliveries = new DynamoDeliveryStore(aws.table);
  workspaces = new DynamoWorkspaceStore(aws.table);
});
afterAll(() => aws.stop());

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

const attempt = (patch: Partial<Attempt> = {}): Attempt => ({
  number: 1,
  generation: 0,
  startedAt: "2026-11-26T10:00:00.000Z",
  durationMs: 12,
  url: "https://hooks.example.com/",
  outcome: "failed",
  requestHeaders: { "webhook-id": "x" },
  statusCode: 500,
  responseHeaders: { "content-type": "text/plain" },
  responseBody: "boom",
  responseBodyTruncated: false,
  errorClass: "http_status",
  errorMessage: "HTTP 500 from the receiver.",
  ...patch,
});

function attemptRecord(
  workspaceId: string,
  deliveryId: string,
  patch: Partial<AttemptRecord> = {},
): AttemptRecord {
  return {
    workspaceId,
    deliveryId,
    eventId: "evt_1",
    event: "contact.updated",
    subscriptionId: "sub_1",
    generation: 0,
    status: "retrying",
    attempt: attempt(),
    lastError: "HTTP 500",
    owner: "m-1",
    now: "2026-11-26T10:00:00.000Z",
    expiresAt: 2_000_000_000,
    ...patch,
  };
}

describe("DynamoEventStore (dynalite)", () => {
  it("stores an event once; a second create returns the first and whether its fan-out finished", async () => {
    const event = storedEvent("ws1", "crm-1");
    expect(await events.create(event, 2_000_000_000)).toEqual({ created: true });
    const again = await events.create(
      { ...event, seq: newUlid(), requestHash: "other" },
      2_000_000_000,
    );
    expect(again).toEqual({ created: false, existing: event, fannedOut: false });
    await events.markFannedOut("ws1", "crm-1", 2_000_000_000);
    expect(await events.create(event, 2_000_000_000)).toMatchObject({
      created: false,
      fannedOut: true,
    });
    expect(await events.get("ws1", "crm-1")).toEqual(event);
    expect(await events.get("ws2", "crm-1")).toBeUndefined();
  });
});

describe("DynamoDeliveryStore (dynalite)", () => {
  it("loads subscriptions, deliveries and events of a batch in one go", async () => {
    const event = storedEvent("ws2", "e-ctx");
    await events.create(event, 2_000_000_000);
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
    await deliveries.recordAttempt(
      attemptRecord("ws2", deliveryId, { eventId: event.id, subscriptionId: sub.id }),
    );

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

  it("appends attempts and refuses writes from an older generation", async () => {
    const id = deliveryIdFor(newUlid(), newSubscriptionId());
    expect(await deliveries.recordAttempt(attemptRecord("ws3", id))).toBe("recorded");
    expect(
      await deliveries.recordAttempt(
        attemptRecord("ws3", id, {
          status: "succeeded",
          attempt: attempt({
            number: 2,
            outcome: "succeeded",
            statusCode: 200,
            errorClass: undefined,
            errorMessage: undefined,
          }),
          lastError: undefined,
          now: "2026-11-26T10:05:00.000Z",
        }),
      ),
    ).toBe("recorded");
    const delivery = await deliveries.get("ws3", id);
    expect(delivery).toMatchObject({
      status: "succeeded",
      attemptCount: 2,
      createdAt: "2026-11-26T10:00:00.000Z",
      updatedAt: "2026-11-26T10:05:00.000Z",
    });
    expect(delivery?.lastError).toBeUndefined();
    expect(delivery?.attempts.map((a) => a.statusCode)).toEqual([500, 200]);
    expect(delivery?.attempts[0]).toEqual(attempt());
    // A newer generation (a resend whose claim was never written) takes over; older ones are stale.
    const newer = attemptRecord("ws3", id, { generation: 1 });
    expect(await deliveries.recordAttempt(newer)).toBe("recorded");
    expect(await deliveries.recordAttempt(attemptRecord("ws3", id, { generation: 0 }))).toBe(
      "stale",
    );
    expect((await deliveries.get("ws3", id))?.generation).toBe(1);
    expect(await deliveries.get("other", id)).toBeUndefined();
  });

  it("lists newest first, filters, and pages through everything with the cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const id = deliveryIdFor(
        newUlid(Date.parse("2026-11-26T10:00:00Z") + i * 1000),
        newSubscriptionId(),
      );
      ids.push(id);
      await deliveries.recordAttempt(
        attemptRecord("ws4", id, {
          status: i % 5 === 0 ? "failed" : "succeeded",
          subscriptionId: i % 2 ? "sub_odd" : "sub_even",
        }),
      );
    }
    const newestFirst = [...ids].reverse();
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await deliveries.list("ws4", {}, 7, after);
      seen.push(...page.items.map((d) => d.id));
      after = page.next;
    } while (after);
    expect(seen).toEqual(newestFirst);

    const failed = await deliveries.list("ws4", { status: "failed" }, 100);
    expect(failed.items.map((d) => d.id)).toEqual(
      newestFirst.filter((_id, i) => (24 - i) % 5 === 0),
    );
    const failedPaged: string[] = [];
    after = undefined;
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
    expect(odd.items).toHaveLength(10);
    expect((await deliveries.list("ws5", {}, 10)).items).toEqual([]);
  });
});
