import { createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { createDocumentClient } from "../../shared/aws.ts";
import { newSubscriptionId } from "../../shared/ids.ts";
import { generateApiKey } from "../../shared/keys.ts";
import { silentLogger } from "../../shared/log.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { createKey } from "../../shared/use-cases/keys.ts";
import { api, eventually } from "../helpers/api-client.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";
import { deliveryQueuesIdle } from "../helpers/queues.ts";

/**
 * The local stack in this process with real HTTP receivers: subscribe, post a CRM event,
 * receive it signed, verify both signatures, and read the attempt back through the API.
 */
let stack: LocalStack;
let dataDir: string;
const receivers: Record<string, TestServer> = {};
const subscriptions: Record<string, { id: string; secret: string | null }> = {};
let otherAdmin: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-e2e-"));
  stack = await startLocalStack(
    { PORT: "0", WEBHOOKS_LOCAL_DATA_DIR: dataDir, WEBHOOKS_RETRY_SCHEDULE: "0,1,1" },
    { log: silentLogger },
  );
  for (const name of ["generated", "own", "disabled", "otherEvent"])
    receivers[name] = await startServer();

  const create = async (name: string, body: Record<string, unknown>) => {
    const answer = await api(stack.url, "POST", "/v1/subscriptions", {
      key: stack.adminKey,
      body: { url: `${receivers[name]?.url}/hooks/${name}`, ...body },
    });
    expect(answer.status).toBe(201);
    subscriptions[name] = { id: answer.body.id, secret: answer.body.secret };
  };
  await create("generated", { events: ["contact.created"], generateSecret: true });
  await create("own", {
    events: ["contact.created", "contact.updated"],
    secret: "a secret of my own choosing",
  });
  await create("disabled", { events: ["contact.created"], generateSecret: true, enabled: false });
  await create("otherEvent", { events: ["deal.created"], generateSecret: true });

  // A second workspace, written straight to the table as an operator would.
  const store = new DynamoWorkspaceStore({ client: createDocumentClient(), name: "webhooks" });
  otherAdmin = (await createKey("other", { role: "admin" }, store)).plaintext;
  await store.createSubscription({
    id: newSubscriptionId(),
    workspaceId: "other",
    url: "https://other.example.com/",
    events: ["contact.created"],
    enabled: true,
    description: "",
    secret: null,
    previousSecrets: [],
    createdAt: "2026-11-26T00:00:00.000Z",
    updatedAt: "2026-11-26T00:00:00.000Z",
  });
});

afterAll(async () => {
  await Promise.all(Object.values(receivers).map((r) => r.close()));
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Raw JSON as the CRM sends it: the 20-digit id does not fit a double and must survive. */
const crmEventJson =
  '{"event":"contact.created","id":"crm-contact-42-created","timestamp":"2026-11-26T10:00:00.000Z",' +
  '"data":{"id":12345678901234567890,"name":"Ada Lovelace","email":"ada@example.com","score":1.5e2}}';
const crmEvent = JSON.parse(crmEventJson);

describe("the local pipeline, end to end", () => {
  it("delivers a contact.created to every enabled subscriber of it exactly once, signed, byte for byte", async () => {
    const accepted = await api(stack.url, "POST", "/v1/events", {
      key: stack.ingestKey,
      body: crmEventJson,
    });
    expect(accepted.status).toBe(202);
    // Three subscribers of the event: two enabled, one disabled (recorded, not sent).
    expect(accepted.body).toEqual({ id: crmEvent.id, event: "contact.created", deliveries: 3 });

    const [generated] = (await receivers.generated?.waitFor(1)) ?? [];
    const [own] = (await receivers.own?.waitFor(1)) ?? [];
    const expectedBody =
      '{"event":"contact.created","data":{"id":12345678901234567890,"name":"Ada Lovelace","email":"ada@example.com","score":1.5e2},"timestamp":"2026-11-26T10:00:00.000Z"}';
    for (const [name, got] of [
      ["generated", generated],
      ["own", own],
    ] as const) {
      const secret = subscriptions[name]?.secret ?? "";
      expect(got?.body.toString("utf8")).toBe(expectedBody);
      expect(got?.headers["content-type"]).toBe("application/json");
      expect(got?.headers["x-webhook-event"]).toBe("contact.created");
      expect(got?.headers["user-agent"]).toMatch(/^Customermates-Webhooks\//);
      expect(got?.headers["x-webhook-delivery"]).toBe(got?.headers["webhook-id"]);
      // Checked with independent code, not the production signer.
      expect(got?.headers["x-webhook-signature"]).toBe(
        createHmac("sha256", Buffer.from(secret, "utf8")).update(expectedBody).digest("hex"),
      );
      const verifier = secret.startsWith("whsec_")
        ? new Webhook(secret)
        : new Webhook(secret, { format: "raw" });
      expect(verifier.verify(got?.body ?? "", got?.headers ?? {})).toEqual(
        JSON.parse(expectedBody),
      );
    }

    // Once the queues are empty no delivery can still come: then nobody else got anything.
    await deliveryQueuesIdle();
    expect(receivers.generated?.requests).toHaveLength(1);
    expect(receivers.own?.requests).toHaveLength(1);
    expect(receivers.disabled?.requests).toHaveLength(0);
    expect(receivers.otherEvent?.requests).toHaveLength(0);
    // The disabled subscription's delivery is recorded, canceled with the reason, so that
    // enabling it again can replay what it missed.
    const canceled = await eventually(async () => {
      const answer = await api(
        stack.url,
        "GET",
        `/v1/deliveries?subscriptionId=${subscriptions.disabled?.id}`,
        { key: stack.adminKey },
      );
      return answer.body.data.length === 1 ? answer.body.data[0] : undefined;
    });
    expect(canceled).toMatchObject({
      status: "canceled",
      lastError: expect.stringMatching(/disabled/),
    });
  });

  it("a repeat of the same event id returns the first answer and sends nothing more", async () => {
    const again = await api(stack.url, "POST", "/v1/events", {
      key: stack.ingestKey,
      body: crmEventJson,
    });
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ id: crmEvent.id, event: "contact.created", deliveries: 3 });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    await deliveryQueuesIdle();
    expect(receivers.generated?.requests).toHaveLength(1);
  });

  it("records every attempt, readable through the API without secrets", async () => {
    const list = await eventually(async () => {
      const answer = await api(stack.url, "GET", "/v1/deliveries?status=succeeded", {
        key: stack.adminKey,
      });
      return answer.body.data.length === 2 ? answer : undefined;
    });
    const delivery = list.body.data.find(
      (d: { subscriptionId: string }) => d.subscriptionId === subscriptions.generated?.id,
    );
    expect(delivery).toMatchObject({
      eventId: crmEvent.id,
      event: "contact.created",
      status: "succeeded",
      attemptCount: 1,
    });

    const detail = await api(stack.url, "GET", `/v1/deliveries/${delivery.id}`, {
      key: stack.adminKey,
    });
    expect(detail.status).toBe(200);
    const [attempt] = detail.body.attempts;
    expect(attempt).toMatchObject({
      number: 1,
      outcome: "succeeded",
      url: `${receivers.generated?.url}/hooks/generated`,
      response: { status: 200, body: "ok" },
      error: null,
    });
    expect(attempt.request.headers["webhook-id"]).toBe(delivery.id);
    expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
    expect(detail.body.payload).toBe(receivers.generated?.requests[0]?.body.toString("utf8"));
    expect(detail.text).not.toContain(subscriptions.generated?.secret);
    const listed = await api(stack.url, "GET", "/v1/subscriptions", { key: stack.adminKey });
    expect(listed.text).not.toContain(subscriptions.generated?.secret);
    expect(listed.text).not.toContain("a secret of my own choosing");
  });

  describe("refusals get the right problem and leave nothing behind", () => {
    // Everything a request could leave behind; not the statistics, which the deliver function
    // flushes on its own every second (WEBHOOKS_STATS_FLUSH_SECONDS) after the deliveries above.
    const count = async () => {
      const { Count } = await createDocumentClient().send(
        new ScanCommand({
          TableName: "webhooks",
          Select: "COUNT",
          FilterExpression: "NOT contains(pk, :stats)",
          ExpressionAttributeValues: { ":stats": "#STATS#" },
        }),
      );
      return Count ?? 0;
    };

    it.each([
      {
        what: "an unknown event",
        key: "ingest",
        method: "POST",
        path: "/v1/events",
        body: { event: "contact.merged", data: {} },
        status: 422,
      },
      {
        what: "malformed JSON",
        key: "ingest",
        method: "POST",
        path: "/v1/events",
        body: '{"event":',
        status: 400,
      },
      {
        what: "a missing key",
        key: undefined,
        method: "POST",
        path: "/v1/events",
        body: crmEvent,
        status: 401,
      },
      {
        what: "a wrong key",
        key: "wrong",
        method: "POST",
        path: "/v1/events",
        body: { ...crmEvent, id: "x1" },
        status: 401,
      },
      {
        what: "the wrong role",
        key: "ingest",
        method: "POST",
        path: "/v1/subscriptions",
        body: { url: "https://a.example.com/", events: ["task.created"] },
        status: 403,
      },
      {
        what: "another workspace's subscription id",
        key: "other",
        method: "GET",
        path: "/v1/subscriptions/{sub}",
        status: 404,
      },
      {
        what: "another workspace's subscription, patched",
        key: "other",
        method: "PATCH",
        path: "/v1/subscriptions/{sub}",
        body: { enabled: false },
        status: 404,
      },
      {
        what: "another workspace's subscription, deleted",
        key: "other",
        method: "DELETE",
        path: "/v1/subscriptions/{sub}",
        status: 404,
      },
      {
        what: "another workspace's delivery, resent",
        key: "other",
        method: "POST",
        path: "/v1/deliveries/{delivery}/resend",
        status: 404,
      },
      {
        what: "another workspace's delivery id",
        key: "other",
        method: "GET",
        path: "/v1/deliveries/{delivery}",
        status: 404,
      },
    ])("$what → $status", async ({ key, method, path, body, status }) => {
      const keys: Record<string, string> = {
        ingest: stack.ingestKey,
        other: otherAdmin,
        wrong: generateApiKey("demo"),
      };
      const deliveries = await api(stack.url, "GET", "/v1/deliveries", { key: stack.adminKey });
      const resolved = path
        .replace("{sub}", subscriptions.generated?.id ?? "")
        .replace("{delivery}", deliveries.body.data[0].id);
      const before = await count();
      const answer = await api(stack.url, method, resolved, {
        ...(key ? { key: keys[key] } : {}),
        ...(body === undefined ? {} : { body }),
      });
      expect(answer.status).toBe(status);
      expect(answer.headers.get("content-type")).toBe("application/problem+json");
      expect(answer.body).toMatchObject({
        status,
        type: expect.stringMatching(/^\/problems\//),
        detail: expect.any(String),
      });
      expect(await count()).toBe(before);
      const still = await api(
        stack.url,
        "GET",
        `/v1/subscriptions/${subscriptions.generated?.id}`,
        { key: stack.adminKey },
      );
      expect(still.body.enabled).toBe(true);
    });

    it("other workspaces' deliveries and subscriptions never appear in lists", async () => {
      const theirs = await api(stack.url, "GET", "/v1/subscriptions", { key: otherAdmin });
      expect(theirs.body.data).toHaveLength(1);
      expect(theirs.text).not.toContain(subscriptions.generated?.id);
      const deliveries = await api(stack.url, "GET", "/v1/deliveries", { key: otherAdmin });
      expect(deliveries.body.data).toEqual([]);
    });
  });
});
