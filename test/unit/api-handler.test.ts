import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { generateApiKey, hashApiKey } from "../../shared/keys.ts";
import {
  type ApiHandler,
  apiEvent,
  apiKeyItem,
  context,
  importHandler,
} from "../helpers/api-event.ts";
import { sealedSecret } from "../helpers/secrets.ts";

const PLAINTEXT_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr";

const dynamo = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
let handler: ApiHandler;

const admin = generateApiKey("acme");
const ingest = generateApiKey("acme");
const revoked = generateApiKey("acme");
const keys: Record<string, Record<string, unknown>> = {
  [hashApiKey(admin)]: apiKeyItem(admin, "admin"),
  [hashApiKey(ingest)]: apiKeyItem(ingest, "ingest"),
  [hashApiKey(revoked)]: apiKeyItem(revoked, "admin", { revokedAt: "2026-11-02T00:00:00.000Z" }),
};
const subscriptionItem = {
  pk: "WS#acme",
  sk: "SUB#sub_01JTESTSUB0000000000000001",
  id: "sub_01JTESTSUB0000000000000001",
  url: "https://hooks.example.com/crm",
  events: ["contact.created"],
  enabled: true,
  description: "CRM sync",
  secret: (await sealedSecret("acme", "sub_01JTESTSUB0000000000000001", PLAINTEXT_SECRET)).sealed,
  secretKind: "whsec",
  createdAt: "2026-11-01T00:00:00.000Z",
  updatedAt: "2026-11-01T00:00:00.000Z",
};

beforeAll(async () => {
  handler = await importHandler(() => import("../../functions/api/handler.ts"));
});

beforeEach(() => {
  dynamo.reset();
  sqs.reset();
  dynamo.on(GetCommand).callsFake((input: { Key: { pk: string; sk: string } }) => {
    const hash = input.Key.sk.startsWith("KEY#") ? input.Key.sk.slice(4) : "";
    const item = input.Key.pk === "WS#acme" ? keys[hash] : undefined;
    return { Item: item };
  });
  dynamo
    .on(QueryCommand)
    .callsFake((input: { ExpressionAttributeValues: Record<string, string> }) => {
      const { ":pk": pk, ":prefix": prefix = "" } = input.ExpressionAttributeValues;
      const partition = pk === "WS#acme" ? [...Object.values(keys), subscriptionItem] : [];
      return { Items: partition.filter((item) => String(item.sk).startsWith(prefix)) };
    });
  dynamo.on(PutCommand).resolves({});
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
});

const call = (event: APIGatewayProxyEventV2) => handler(event, context());
const json = (response: APIGatewayProxyStructuredResultV2) => JSON.parse(response.body ?? "null");
const writes = () =>
  dynamo.commandCalls(PutCommand).length + sqs.commandCalls(SendMessageBatchCommand).length;

const event = { event: "contact.created", data: { id: "c_1", name: "Ada" } };

describe("API handler", () => {
  it("GET /health needs no key", async () => {
    const response = await call(apiEvent("GET", "/health"));
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ status: "ok" });
  });

  it("POST /v1/events stores the event once and queues one message per matching subscription", async () => {
    const response = await call(apiEvent("POST", "/v1/events", { key: ingest, body: event }));
    expect(response.statusCode).toBe(202);
    expect(json(response)).toMatchObject({ event: "contact.created", deliveries: 1 });
    // One read of the key, one of the subscription set (then reused: see below), one write.
    expect(dynamo.commandCalls(GetCommand)).toHaveLength(1);
    expect(dynamo.commandCalls(QueryCommand).length).toBeLessThanOrEqual(1);
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(1);
    const [batch] = sqs.commandCalls(SendMessageBatchCommand);
    const bodies =
      batch?.args[0].input.Entries?.map((entry) => JSON.parse(entry.MessageBody ?? "")) ?? [];
    expect(bodies).toEqual([
      expect.objectContaining({ s: subscriptionItem.id, w: "acme", n: "contact.created" }),
    ]);
    expect(JSON.stringify(bodies)).not.toContain(PLAINTEXT_SECRET);
  });

  it("authenticates before it reads anything else: a forged or revoked key costs one read of its hash", async () => {
    for (const key of [generateApiKey("acme"), revoked, generateApiKey("other")]) {
      const response = await call(apiEvent("POST", "/v1/events", { key, body: event }));
      expect(response.statusCode).toBe(401);
    }
    expect(dynamo.commandCalls(GetCommand)).toHaveLength(3);
    expect(dynamo.commandCalls(QueryCommand)).toHaveLength(0);
    expect(writes()).toBe(0);
  });

  it("reads a workspace's subscription set once for many events, and again after a change through this instance", async () => {
    const posts = () =>
      Promise.all(
        Array.from({ length: 5 }, () =>
          call(apiEvent("POST", "/v1/events", { key: ingest, body: event })),
        ),
      );
    const queries = () =>
      dynamo
        .commandCalls(QueryCommand)
        .filter((c) => String(c.args[0].input.ExpressionAttributeValues?.[":prefix"]) === "SUB#");
    dynamo.on(DeleteCommand).resolves({});
    await call(apiEvent("DELETE", `/v1/subscriptions/${subscriptionItem.id}`, { key: admin }));
    dynamo.resetHistory();
    expect((await posts()).map((r) => r.statusCode)).toEqual([202, 202, 202, 202, 202]);
    expect(queries()).toHaveLength(1);
    expect((await posts()).every((r) => r.statusCode === 202)).toBe(true);
    expect(queries()).toHaveLength(1);
    // A change through this instance: the next event reads the set again.
    await call(apiEvent("DELETE", `/v1/subscriptions/${subscriptionItem.id}`, { key: admin }));
    await posts();
    expect(queries()).toHaveLength(2);
  });

  it("reads an ingest key once for many events, every other route's key each time, and refuses a key revoked here at once", async () => {
    const crm = generateApiKey("acme");
    keys[hashApiKey(crm)] = apiKeyItem(crm, "ingest", { id: "key_crm" });
    const reads = (key: string) =>
      dynamo
        .commandCalls(GetCommand)
        .filter((c) => c.args[0].input.Key?.sk === `KEY#${hashApiKey(key)}`).length;
    const post = async () =>
      (await call(apiEvent("POST", "/v1/events", { key: crm, body: event }))).statusCode;
    dynamo.resetHistory();
    for (let i = 0; i < 5; i++) expect(await post()).toBe(202);
    expect(reads(crm)).toBe(1);
    for (let i = 0; i < 2; i++) {
      expect((await call(apiEvent("GET", "/v1/subscriptions", { key: admin }))).statusCode).toBe(
        200,
      );
    }
    expect(reads(admin)).toBe(2);
    // Revoked through this instance: refused by the next request, which reads the key again.
    dynamo.on(UpdateCommand).callsFake((input: { Key: { sk: string } }) => {
      const item = keys[input.Key.sk.slice(4)];
      if (item) item.revokedAt = "2026-11-30T00:00:00.000Z";
      return {};
    });
    const id = String(keys[hashApiKey(crm)]?.id);
    expect((await call(apiEvent("DELETE", `/v1/keys/${id}`, { key: admin }))).statusCode).toBe(204);
    expect(await post()).toBe(401);
    expect(await post()).toBe(401);
    expect(reads(crm)).toBe(3);
    delete keys[hashApiKey(crm)];
  });

  it("POST /v1/events/batch answers each item: accepted, or its own 413/422, in the order sent", async () => {
    const response = await call(
      apiEvent("POST", "/v1/events/batch", {
        key: ingest,
        body: {
          events: [
            { id: "b-1", ...event },
            { id: "b-2", event: "contact.created", data: { name: "no id" } },
            { id: "b-3", event: "contact.created", data: { id: "c", blob: "x".repeat(300_000) } },
            { id: "b-4", event: "nope.created", data: { id: "c" } },
            { id: "b-5", ...event, data: { id: "c_5" } },
          ],
        },
      }),
    );
    expect(response.statusCode).toBe(200);
    const answer = json(response);
    expect(answer).toMatchObject({ accepted: 2, failed: 3 });
    expect(answer.results.map((r: { status: number }) => r.status)).toEqual([
      202, 422, 413, 422, 202,
    ]);
    expect(answer.results[1]).toMatchObject({
      index: 1,
      id: "b-2",
      problem: { status: 422, errors: [expect.objectContaining({ field: "events.1.data.id" })] },
    });
    expect(answer.results[3].problem.errors[0].field).toBe("events.3.event");
    expect(answer.results[0]).toEqual({
      index: 0,
      status: 202,
      id: "b-1",
      event: "contact.created",
      deliveries: 1,
      replayed: false,
    });
    // Two events stored, their fan-out sent in one call.
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(2);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it("POST /v1/events/batch refuses the whole request beyond 100 events or 5 MiB, and an Idempotency-Key", async () => {
    const many = Array.from({ length: 101 }, (_, i) => ({ id: `m-${i}`, ...event }));
    const tooMany = await call(
      apiEvent("POST", "/v1/events/batch", { key: ingest, body: { events: many } }),
    );
    expect(tooMany.statusCode).toBe(422);
    expect(json(tooMany).errors[0].field).toBe("events");
    const heavy = Array.from({ length: 21 }, (_, i) => ({
      id: `h-${i}`,
      event: "contact.created",
      data: { id: "c", blob: "x".repeat(250_000) },
    }));
    const tooBig = await call(
      apiEvent("POST", "/v1/events/batch", { key: ingest, body: { events: heavy } }),
    );
    expect(tooBig.statusCode).toBe(413);
    const keyed = await call(
      apiEvent("POST", "/v1/events/batch", {
        key: ingest,
        body: { events: [event] },
        headers: { "idempotency-key": "k-1" },
      }),
    );
    expect(keyed.statusCode).toBe(422);
    const empty = await call(
      apiEvent("POST", "/v1/events/batch", { key: ingest, body: { events: [] } }),
    );
    expect(empty.statusCode).toBe(422);
    expect(writes()).toBe(0);
  });

  it("writes one metrics document per ingest request, accepted or refused, and logs with the request's context", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => lines.push(line));
    const errors = vi
      .spyOn(console, "error")
      .mockImplementation((line: string) => lines.push(line));
    try {
      await call(apiEvent("POST", "/v1/events", { key: ingest, body: event }));
      await call(
        apiEvent("POST", "/v1/events", { key: ingest, body: { event: "nope", data: {} } }),
      );
      sqs.on(SendMessageBatchCommand).rejects(new Error("SQS down"));
      await call(apiEvent("POST", "/v1/events", { key: ingest, body: { ...event, id: "m-1" } }));
    } finally {
      spy.mockRestore();
      errors.mockRestore();
    }
    const docs = lines.map((line) => JSON.parse(line));
    const metrics = docs.filter((d) => d._aws);
    expect(metrics.map((d) => [d.EventsAccepted, d.EventsRefused])).toEqual([
      [1, undefined],
      [undefined, 1],
      [undefined, 1],
    ]);
    const failure = docs.find((d) => d.message === "request failed");
    expect(failure).toMatchObject({
      function: "api",
      requestId: expect.any(String),
      route: "POST /v1/events",
      workspaceId: "acme",
    });
  });

  it("keeps event ids starting with 'webhook.' for the service's own events", async () => {
    const response = await call(
      apiEvent("POST", "/v1/events", { key: ingest, body: { ...event, id: "webhook.x" } }),
    );
    expect(response.statusCode).toBe(422);
    expect(json(response).errors).toEqual([
      { field: "id", detail: "must not start with 'webhook.' (reserved)." },
    ]);
    expect(writes()).toBe(0);
  });

  it("an admin key may post events too", async () => {
    expect(
      (await call(apiEvent("POST", "/v1/events", { key: admin, body: event }))).statusCode,
    ).toBe(202);
  });

  it("lists subscriptions with secrets masked", async () => {
    const response = await call(apiEvent("GET", "/v1/subscriptions", { key: admin }));
    expect(response.statusCode).toBe(200);
    expect(json(response).data[0]).toMatchObject({
      id: subscriptionItem.id,
      secret: "whsec_********",
    });
    expect(response.body).not.toContain(PLAINTEXT_SECRET);
  });

  it.each([
    { who: "no key", key: undefined, status: 401, slug: "unauthorized" },
    { who: "a malformed key", key: "nope", status: 401, slug: "unauthorized" },
    { who: "an unknown key", key: generateApiKey("acme"), status: 401, slug: "unauthorized" },
    { who: "a revoked key", key: revoked, status: 401, slug: "unauthorized" },
    { who: "an ingest key on an admin route", key: ingest, status: 403, slug: "forbidden" },
    {
      who: "a key of another workspace",
      key: generateApiKey("other"),
      status: 401,
      slug: "unauthorized",
    },
  ])("answers $who with $status and touches nothing", async ({ key, status, slug }) => {
    const response = await call(apiEvent("GET", "/v1/subscriptions", key ? { key } : {}));
    expect(response.statusCode).toBe(status);
    expect(response.headers?.["content-type"]).toBe("application/problem+json");
    expect(json(response)).toMatchObject({ type: `/problems/${slug}`, status });
    if (status === 401) expect(response.headers?.["www-authenticate"]).toContain("Bearer");
    expect(writes()).toBe(0);
  });

  interface Refusal {
    what: string;
    body: unknown;
    headers?: Record<string, string>;
    status: number;
    field?: string;
  }
  it.each<Refusal>([
    {
      what: "an unknown event",
      body: { ...event, event: "contact.merged" },
      status: 422,
      field: "event",
    },
    {
      what: "data that is not an object",
      body: { ...event, data: [1, 2] },
      status: 422,
      field: "data",
    },
    { what: "an unknown field", body: { ...event, extra: true }, status: 422, field: "extra" },
    {
      what: "a timestamp without a zone",
      body: { ...event, timestamp: "2026-11-26 10:00" },
      status: 422,
      field: "timestamp",
    },
    { what: "an id with spaces", body: { ...event, id: "a b" }, status: 422, field: "id" },
    { what: "malformed JSON", body: '{"event": "contact.created",', status: 400 },
    { what: "an empty body", body: "", status: 400 },
    {
      what: "another content type",
      body: "event=x",
      headers: { "content-type": "text/plain" },
      status: 415,
    },
    {
      what: "an Idempotency-Key that differs from id",
      body: { ...event, id: "a" },
      headers: { "idempotency-key": "b" },
      status: 422,
      field: "id",
    },
  ])(
    "refuses $what with $status, naming the field, and writes nothing",
    async ({ body, headers, status, field }) => {
      const response = await call(
        apiEvent("POST", "/v1/events", { key: ingest, body, headers: headers ?? {} }),
      );
      expect(response.statusCode).toBe(status);
      expect(response.headers?.["content-type"]).toBe("application/problem+json");
      const problem = json(response);
      expect(problem).toMatchObject({
        status,
        title: expect.any(String),
        detail: expect.any(String),
      });
      if (field) expect(problem.errors.map((e: { field: string }) => e.field)).toContain(field);
      expect(writes()).toBe(0);
    },
  );

  it("refuses an event body above 256 KiB with 413", async () => {
    const big = { ...event, data: { blob: "x".repeat(256 * 1024) } };
    const response = await call(apiEvent("POST", "/v1/events", { key: ingest, body: big }));
    expect(response.statusCode).toBe(413);
    expect(writes()).toBe(0);
  });

  it("counts the 256 KiB in bytes: multi-byte text that fits in characters is refused with 413", async () => {
    const big = { ...event, data: { id: "c_1", blob: "€".repeat(90_000) } };
    expect(JSON.stringify(big).length).toBeLessThan(256 * 1024);
    const response = await call(apiEvent("POST", "/v1/events", { key: ingest, body: big }));
    expect(response.statusCode).toBe(413);
    expect(json(response).detail).toMatch(/^The body is \d+ bytes; the most accepted is 262144/);
    expect(writes()).toBe(0);
  });

  it("answers unknown paths with 404 and wrong methods with 405 + Allow", async () => {
    const missing = await call(apiEvent("GET", "/v1/nothing", { key: admin }));
    expect(missing.statusCode).toBe(404);
    const wrong = await call(apiEvent("PUT", "/v1/subscriptions", { key: admin }));
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers?.allow).toBe("POST, GET");
  });

  it("looks ids up inside the caller's workspace only", async () => {
    const response = await call(
      apiEvent("GET", "/v1/subscriptions/sub_01JTESTSUB0000000000000001", { key: admin }),
    );
    expect(response.statusCode).toBe(404);
    const lookups = dynamo.commandCalls(GetCommand).map((c) => c.args[0].input.Key);
    expect(lookups.at(-1)).toEqual({ pk: "WS#acme", sk: "SUB#sub_01JTESTSUB0000000000000001" });
  });

  it("turns an unexpected failure into a generic 500 that reveals nothing", async () => {
    dynamo.on(PutCommand).rejects(new Error("secret internal detail"));
    const response = await call(apiEvent("POST", "/v1/events", { key: ingest, body: event }));
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain("secret internal detail");
    expect(json(response)).toMatchObject({ type: "/problems/internal-error", status: 500 });
  });

  it("answers 503 (retry) when SQS refuses the fan-out", async () => {
    sqs.on(SendMessageBatchCommand).rejects(new Error("throttled"));
    const response = await call(
      apiEvent("POST", "/v1/events", { key: ingest, body: { ...event, id: "crm-1" } }),
    );
    expect(response.statusCode).toBe(503);
    expect(response.headers?.["retry-after"]).toBe("1");
  });
});

describe("API handler, when AWS fails", () => {
  it("answers a throttled DynamoDB with a retryable 503, not a 500", async () => {
    dynamo.on(PutCommand).rejects(
      Object.assign(new Error("Rate exceeded"), {
        name: "ThrottlingException",
        $metadata: {},
        $fault: "client",
        $retryable: { throttling: true },
      }),
    );
    const response = await call(apiEvent("POST", "/v1/events", { key: ingest, body: event }));
    expect(response.statusCode).toBe(503);
    expect(response.headers?.["retry-after"]).toBe("1");
    expect(response.body).not.toContain("Rate exceeded");
  });
});
