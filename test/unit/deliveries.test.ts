import { beforeEach, describe, expect, it } from "vitest";
import type { Delivery, DeliveryStatus, StoredEvent } from "../../shared/domain.ts";
import { NotFoundError, ValidationError } from "../../shared/errors.ts";
import { deliveryIdFor, newUlid } from "../../shared/ids.ts";
import type { DeliveryStore } from "../../shared/ports.ts";
import { getDelivery, listDeliveries } from "../../shared/use-cases/deliveries.ts";
import { FakeDeliveryStore, FakeEventStore } from "../helpers/fakes.ts";
import { problemOf } from "../helpers/problems.ts";

const SUB_A = "sub_01JTESTSUB0000000000000001";
const SUB_B = "sub_01JTESTSUB0000000000000002";
const T0 = Date.parse("2026-11-26T10:00:00.000Z");

let events: FakeEventStore;
let store: FakeDeliveryStore;

beforeEach(() => {
  events = new FakeEventStore();
  store = new FakeDeliveryStore(undefined, events);
});

/** A delivery of an event accepted at `acceptedAt`, stored as the deliver function would. */
async function stored(
  acceptedAt: number,
  patch: Partial<Delivery> = {},
  workspaceId = "acme",
): Promise<Delivery> {
  const subscriptionId = patch.subscriptionId ?? SUB_A;
  const seq = newUlid(acceptedAt);
  const at = new Date(acceptedAt).toISOString();
  const delivery: Delivery = {
    id: deliveryIdFor(seq, subscriptionId),
    workspaceId,
    eventId: `evt_${seq}`,
    event: "contact.created",
    subscriptionId,
    status: "succeeded",
    generation: 0,
    rev: 1,
    runAttempts: 0,
    attemptCount: 0,
    attempts: [],
    attemptsOmitted: 0,
    createdAt: at,
    updatedAt: at,
    ...patch,
  };
  expect(await store.put(delivery, { kind: "absent" })).toBe(true);
  return delivery;
}

const ids = (items: readonly Delivery[]) => items.map((d) => d.id);

describe("listing deliveries", () => {
  it("pages newest first, 20 by default, with a cursor that continues where the page ended", async () => {
    const made: Delivery[] = [];
    for (let i = 0; i < 25; i++) made.push(await stored(T0 + i * 1000));
    const newestFirst = ids(made).reverse();

    const first = await listDeliveries("acme", {}, store);
    expect(ids(first.items)).toEqual(newestFirst.slice(0, 20));
    expect(first.nextCursor).toEqual(expect.any(String));
    expect(first.nextCursor).not.toContain("dlv_");

    const second = await listDeliveries("acme", { cursor: first.nextCursor ?? "" }, store);
    expect(ids(second.items)).toEqual(newestFirst.slice(20));
    expect(second.nextCursor).toBeNull();

    const small = await listDeliveries("acme", { limit: 10 }, store);
    expect(ids(small.items)).toEqual(newestFirst.slice(0, 10));
    const next = await listDeliveries("acme", { limit: 10, cursor: small.nextCursor ?? "" }, store);
    expect(ids(next.items)).toEqual(newestFirst.slice(10, 20));
  });

  it("keeps to the caller's workspace", async () => {
    const ours = await stored(T0);
    await stored(T0 + 1000, {}, "other");
    expect(ids((await listDeliveries("acme", {}, store)).items)).toEqual([ours.id]);
  });

  it("filters by status, subscription (one or several), event and test sends", async () => {
    const failed = await stored(T0, { status: "failed" as DeliveryStatus });
    const otherSub = await stored(T0 + 1000, { subscriptionId: SUB_B });
    const deal = await stored(T0 + 2000, { event: "deal.updated" });
    const test = await stored(T0 + 3000, { test: true });

    const list = async (input: Parameters<typeof listDeliveries>[1]) =>
      ids((await listDeliveries("acme", input, store)).items);
    expect(await list({ status: "failed" })).toEqual([failed.id]);
    expect(await list({ subscriptionId: SUB_B })).toEqual([otherSub.id]);
    expect(await list({ subscriptionId: [SUB_A, SUB_B] })).toEqual(
      ids([test, deal, otherSub, failed]),
    );
    expect(await list({ event: "deal.updated" })).toEqual([deal.id]);
    expect(await list({ test: true })).toEqual([test.id]);
    expect(await list({ test: false })).toEqual(ids([deal, otherSub, failed]));
  });

  it("keeps to a time window of event acceptance, both ends included", async () => {
    const at = (minutes: number) => T0 + minutes * 60_000;
    const iso = (minutes: number) => new Date(at(minutes)).toISOString();
    const made: Delivery[] = [];
    for (let minute = 0; minute < 4; minute++) made.push(await stored(at(minute)));
    /** The deliveries of these minutes, newest first. */
    const of = (...minutes: number[]) => minutes.map((minute) => made[minute]?.id);
    const list = async (input: Parameters<typeof listDeliveries>[1]) =>
      ids((await listDeliveries("acme", input, store)).items);

    expect(await list({ from: iso(1), to: iso(2) })).toEqual(of(2, 1));
    expect(await list({ from: iso(2) })).toEqual(of(3, 2));
    expect(await list({ to: iso(1) })).toEqual(of(1, 0));
    // An offset names the same instant.
    expect(
      await list({ from: "2026-11-26T11:01:00+01:00", to: "2026-11-26T11:01:00+01:00" }),
    ).toEqual(of(1));
    expect(await list({ to: new Date(at(0) - 1).toISOString() })).toEqual([]);
    expect(await list({ from: new Date(at(3) + 1).toISOString() })).toEqual([]);
  });

  it("refuses a cursor it did not issue with a 422 on the cursor parameter", async () => {
    await stored(T0);
    for (const cursor of ["not-a-cursor", Buffer.from("dlv_short").toString("base64url"), ""]) {
      expect(await problemOf(listDeliveries("acme", { cursor }, store))).toEqual({
        type: "/problems/validation-error",
        title: "The request is not valid",
        status: 422,
        detail: "cursor: Is not a cursor this API issued.",
        errors: [{ field: "cursor", detail: "Is not a cursor this API issued." }],
      });
    }
    await expect(listDeliveries("acme", { cursor: "x" }, store)).rejects.toThrow(ValidationError);
  });
});

describe("reading one delivery", () => {
  it("answers the delivery with its event", async () => {
    const delivery = await stored(T0);
    const event: StoredEvent = {
      workspaceId: "acme",
      id: delivery.eventId,
      name: "contact.created",
      body: '{"event":"contact.created","data":{},"timestamp":"2026-11-26T10:00:00.000Z"}',
      seq: delivery.eventId.slice(4),
      receivedAt: "2026-11-26T10:00:00.000Z",
      targets: [SUB_A],
      requestHash: "h",
    };
    await events.create(event);
    expect(await getDelivery("acme", delivery.id, { deliveries: store, events })).toEqual({
      delivery,
      event,
    });
  });

  it("answers a delivery whose event has expired without it", async () => {
    const delivery = await stored(T0);
    expect(await getDelivery("acme", delivery.id, { deliveries: store, events })).toEqual({
      delivery,
      event: undefined,
    });
  });

  it("answers 404 for another workspace's delivery or an unknown one", async () => {
    const theirs = await stored(T0, {}, "other");
    const unknown = deliveryIdFor(newUlid(T0), SUB_B);
    for (const id of [theirs.id, unknown]) {
      expect(await problemOf(getDelivery("acme", id, { deliveries: store, events }))).toEqual({
        type: "/problems/not-found",
        title: "Not found",
        status: 404,
        detail: `No delivery '${id}' in this workspace.`,
      });
    }
  });

  it("answers 404 for what is not a delivery id, without asking the store", async () => {
    const asked: string[] = [];
    const deliveries = {
      get: async (_workspaceId: string, id: string) => {
        asked.push(id);
        return undefined;
      },
    } as unknown as DeliveryStore;
    for (const id of ["dlv_nope", `dlv_${"0".repeat(2000)}`, ""]) {
      const attempt = getDelivery("acme", id, { deliveries, events });
      await expect(attempt).rejects.toThrow(NotFoundError);
      expect((await problemOf(attempt)).detail).toBe(`No delivery '${id}' in this workspace.`);
    }
    expect(asked).toEqual([]);
  });
});
