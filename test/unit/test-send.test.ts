import { Webhook } from "standardwebhooks";
import { beforeEach, describe, expect, it } from "vitest";
import type { Subscription } from "../../shared/domain.ts";
import { NotFoundError } from "../../shared/errors.ts";
import { deliveryIdFor } from "../../shared/ids.ts";
import { generateSecret } from "../../shared/signing.ts";
import { testSend } from "../../shared/use-cases/test-send.ts";
import {
  FakeDeliveryStore,
  FakeEventStore,
  FakeWorkspaceStore,
  ok,
  ScriptedSender,
} from "../helpers/fakes.ts";
import { sealedSecret, testSecrets } from "../helpers/secrets.ts";

const SUB = "sub_01JTESTSUB0000000000000001";
let workspaces: FakeWorkspaceStore;
let events: FakeEventStore;
let deliveries: FakeDeliveryStore;
const secret = generateSecret();

async function subscription(patch: Partial<Subscription> = {}): Promise<void> {
  await workspaces.createSubscription({
    id: SUB,
    workspaceId: "acme",
    url: "https://hooks.example.com/in",
    events: ["deal.updated", "deal.created"],
    enabled: true,
    description: "",
    secret: await sealedSecret("acme", SUB, secret),
    previousSecrets: [],
    createdAt: "2026-11-26T00:00:00.000Z",
    updatedAt: "2026-11-26T00:00:00.000Z",
    ...patch,
  });
}

const deps = (sender: ScriptedSender) => ({
  subscriptions: workspaces,
  events,
  deliveries,
  sender,
  secrets: testSecrets,
  responseBodyLimit: 4096,
});

beforeEach(() => {
  workspaces = new FakeWorkspaceStore();
  events = new FakeEventStore();
  deliveries = new FakeDeliveryStore(workspaces, events);
});

describe("test sends", () => {
  it("send the example of the subscription's first event, signed, and record it as a test", async () => {
    await subscription();
    const sender = new ScriptedSender(() => ok(202, { "x-seen": "1" }, "fine"));
    const result = await testSend("acme", SUB, {}, deps(sender));

    expect(result).toMatchObject({
      event: "deal.updated",
      status: "succeeded",
      response: { status: 202, body: "fine", headers: { "x-seen": "1" } },
      error: null,
    });
    const [request] = sender.requests;
    const verified = new Webhook(secret).verify(request?.body ?? "", {
      "webhook-id": request?.headers["webhook-id"] ?? "",
      "webhook-timestamp": request?.headers["webhook-timestamp"] ?? "",
      "webhook-signature": request?.headers["webhook-signature"] ?? "",
    });
    expect(verified).toMatchObject({ event: "deal.updated", data: { id: "d_19" } });

    const event = await events.get("acme", result.eventId);
    expect(result.eventId).toBe(`test_${event?.seq}`);
    expect(result.deliveryId).toBe(deliveryIdFor(event?.seq ?? "", SUB));
    expect(request?.headers["webhook-id"]).toBe(result.deliveryId);
    expect(event?.body).toBe(request?.body);
    const record = await deliveries.get("acme", result.deliveryId);
    expect(record).toMatchObject({ test: true, status: "succeeded", attemptCount: 1 });
  });

  it("a failure ends the run at once: failed, never retried, never in the dead-letter index", async () => {
    await subscription({ enabled: false });
    const sender = new ScriptedSender(() => ok(500, {}, "down"));
    const result = await testSend("acme", SUB, { event: "task.deleted" }, deps(sender));
    expect(result).toMatchObject({ event: "task.deleted", status: "failed" });
    expect(result.error).toEqual({ class: "http_status", message: "HTTP 500 from the receiver." });
    const record = await deliveries.get("acme", result.deliveryId);
    expect(record).toMatchObject({ status: "failed", reason: "exhausted", test: true });
    expect(record?.nextAttemptAt).toBeUndefined();
    expect((await deliveries.listDeadLetters("acme", {}, 10)).items).toEqual([]);
    const listed = await deliveries.list("acme", { test: true }, 10);
    expect(listed.items.map((d) => d.id)).toEqual([result.deliveryId]);
    expect((await deliveries.list("acme", { test: false }, 10)).items).toEqual([]);
  });

  it("a refused destination is failed with the reason `refused`", async () => {
    await subscription({ secret: null });
    const sender = new ScriptedSender(() => ({
      kind: "error",
      errorClass: "destination_refused",
      message: "Destination refused: a private address.",
      durationMs: 0,
    }));
    const result = await testSend("acme", SUB, {}, deps(sender));
    expect(result.error?.class).toBe("destination_refused");
    expect(await deliveries.get("acme", result.deliveryId)).toMatchObject({ reason: "refused" });
    expect(sender.requests[0]?.headers["webhook-signature"]).toBeUndefined();
  });

  it("another workspace's subscription is not found, and nothing is sent", async () => {
    await subscription();
    const sender = new ScriptedSender(() => ok());
    await expect(testSend("other", SUB, {}, deps(sender))).rejects.toThrow(NotFoundError);
    expect(sender.requests).toHaveLength(0);
  });

  it("store the example as an event aimed at the subscription alone", async () => {
    await subscription();
    const started = Date.parse("2026-11-27T09:30:00.000Z");
    const sender = new ScriptedSender(() => ok());
    const result = await testSend(
      "acme",
      SUB,
      { event: "contact.created" },
      { ...deps(sender), now: () => started },
    );
    const event = await events.get("acme", result.eventId);
    expect(event).toEqual({
      workspaceId: "acme",
      id: result.eventId,
      name: "contact.created",
      body: sender.requests[0]?.body,
      seq: expect.stringMatching(/^[0-9A-Z]{26}$/),
      receivedAt: "2026-11-27T09:30:00.000Z",
      targets: [SUB],
      requestHash: "test",
    });
    expect(JSON.parse(event?.body ?? "")).toMatchObject({
      event: "contact.created",
      timestamp: "2026-11-27T09:30:00.000Z",
    });
  });

  it("never overwrite an event or a delivery that already holds their id", async () => {
    await subscription();
    const sender = new ScriptedSender(() => ok());
    const taken = {
      ...deps(sender),
      events: { create: async () => ({ created: false, existing: {} as never }) as const },
    };
    await expect(testSend("acme", SUB, {}, taken)).rejects.toThrow(
      /^test event id test_\w+ is taken$/,
    );
    expect(sender.requests).toHaveLength(0);

    const existing = { ...deps(sender), deliveries: { put: async () => false } };
    await expect(testSend("acme", SUB, {}, existing)).rejects.toThrow(
      /^test delivery dlv_\w+ already exists$/,
    );
  });
});
