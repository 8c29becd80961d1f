import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { EVENT_NAMES } from "../../shared/catalog.ts";
import { matchRoute, ROUTE_KEYS } from "../../shared/http/routes.ts";
import { generateApiKey } from "../../shared/keys.ts";
import {
  type ApiHandler,
  apiEvent,
  apiKeyItem,
  context,
  importHandler,
} from "../helpers/api-event.ts";
import { ALLOWED_PORT, COVERING_CIDRS, refusedUrl } from "./destinations.ts";
import { fuzz } from "./settings.ts";

const dynamo = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
let handler: ApiHandler;

const admin = generateApiKey("acme");
const ingest = generateApiKey("acme");
const keyItems = [apiKeyItem(admin, "admin"), apiKeyItem(ingest, "ingest")];
const writes = () =>
  dynamo.commandCalls(PutCommand).length +
  dynamo.commandCalls(UpdateCommand).length +
  dynamo.commandCalls(DeleteCommand).length +
  sqs.commandCalls(SendMessageBatchCommand).length;

beforeAll(async () => {
  // A private deployment's allowances: a range that covers the metadata addresses, one port.
  handler = await importHandler(() => import("../../functions/api/handler.ts"), {
    WEBHOOKS_ALLOWED_CIDRS: COVERING_CIDRS[0] ?? "",
    WEBHOOKS_ALLOWED_PORTS: String(ALLOWED_PORT),
  });
});

function reset() {
  dynamo.reset();
  sqs.reset();
  dynamo.on(GetCommand).callsFake((input: { Key: { sk: string } }) => ({
    Item: keyItems.find((k) => k.sk === input.Key.sk),
  }));
  dynamo.on(QueryCommand).resolves({ Items: keyItems });
  dynamo.on(BatchGetCommand).resolves({ Responses: {} });
  dynamo.on(PutCommand).resolves({});
  dynamo.on(UpdateCommand).resolves({});
  dynamo.on(DeleteCommand).resolves({});
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
}

// --- what a hostile or careless client sends --------------------------------------------
const weird = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom(
    "",
    "..",
    "%00",
    "%ZZ",
    "a/b",
    "sub_01JTESTSUB0000000000000001",
    `dlv_${"A".repeat(42)}`,
  ),
);
const path = fc.oneof(
  fc
    .tuple(fc.constantFrom(...ROUTE_KEYS), weird)
    .map(([key, param]) => key.split(" ")[1]?.replace("{id}", encodeURIComponent(param)) ?? "/"),
  fc.array(weird, { maxLength: 5 }).map((parts) => `/${parts.map(encodeURIComponent).join("/")}`),
);
const method = fc.oneof(
  fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
  fc.string({ minLength: 1, maxLength: 8 }),
);
const authorization = fc.option(
  fc.oneof(
    fc.constantFrom(
      `Bearer ${admin}`,
      `Bearer ${ingest}`,
      `bearer ${admin}`,
      `Basic ${admin}`,
      `Bearer ${generateApiKey("other")}`,
    ),
    fc.string().map((s) => `Bearer ${s}`),
    fc.string(),
  ),
  { nil: undefined },
);
const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "application/x-www-form-urlencoded",
    ),
    fc.string(),
  ),
  { nil: undefined },
);
const value = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(...EVENT_NAMES),
  fc.string({ maxLength: 3000 }),
);
const shapedBody = fc.record(
  {
    event: fc.oneof(fc.constantFrom(...EVENT_NAMES), value),
    data: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), value),
    id: value,
    timestamp: fc.oneof(
      fc.date().map((d) => (Number.isNaN(d.getTime()) ? "x" : d.toISOString())),
      value,
    ),
    url: fc.oneof(
      fc.webUrl(),
      value,
      fc.constantFrom(
        "http://169.254.169.254/",
        "https://2130706433/",
        "https://[::ffff:10.0.0.1]/",
        "https://hooks.example.com:22/",
        "https://93.184.215.14:6379/",
        `https://hooks.example.com:${ALLOWED_PORT}/`,
        "https://localhost./",
        "https://foo.LOCALHOST./",
        "https://169.254.170.23/",
        "https://[fd00:ec2::23]/",
      ),
      refusedUrl,
    ),
    events: fc.oneof(fc.subarray([...EVENT_NAMES]), value),
    secret: fc.oneof(fc.string({ minLength: 10, maxLength: 40 }), value),
    generateSecret: fc.oneof(fc.boolean(), value),
    enabled: fc.oneof(fc.boolean(), value),
    limit: fc.oneof(fc.integer(), value),
    role: fc.oneof(fc.constantFrom("admin", "ingest"), value),
    from: value,
    to: value,
    gracePeriodSeconds: fc.oneof(fc.integer(), value),
  },
  { requiredKeys: [] },
);
const body = fc.option(
  fc.oneof(
    shapedBody.map((b) => JSON.stringify(b)),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string(),
    fc.constant("x".repeat(300 * 1024)),
  ),
  { nil: undefined },
);
const query = fc.dictionary(
  fc.oneof(fc.constantFrom("status", "subscriptionId", "event", "limit", "cursor"), fc.string()),
  fc.string(),
  { maxKeys: 3 },
);

const chaotic = fc.record({
  method,
  path,
  authorization,
  contentType,
  body,
  query,
  base64: fc.boolean(),
  idempotencyKey: fc.option(fc.string(), { nil: undefined }),
});
/** A real route with its own method, mostly good keys and JSON: reaches validation and beyond. */
const realistic = fc
  .record({
    route: fc.constantFrom(...ROUTE_KEYS),
    param: fc.oneof(
      fc.constantFrom(
        "sub_01JTESTSUB0000000000000001",
        `dlv_${"A".repeat(42)}`,
        "key_01JTESTKEY0000000000000001",
      ),
      weird,
    ),
    authorization: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(`Bearer ${admin}`, `Bearer ${ingest}`) },
      { weight: 1, arbitrary: authorization },
    ),
    contentType: fc.oneof(
      { weight: 4, arbitrary: fc.constant("application/json") },
      { weight: 1, arbitrary: contentType },
    ),
    body,
    query,
    base64: fc.constant(false),
    idempotencyKey: fc.option(fc.string(), { nil: undefined }),
  })
  .map(({ route, param, ...rest }) => {
    const [verb, template] = route.split(" ") as [string, string];
    return { ...rest, method: verb, path: template.replace("{id}", encodeURIComponent(param)) };
  });
const request = fc.oneof({ weight: 3, arbitrary: realistic }, { weight: 1, arbitrary: chaotic });

type FuzzRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

function toEvent(r: FuzzRequest): APIGatewayProxyEventV2 {
  const match = matchRoute(r.method, r.path.split("?")[0] ?? "/");
  const headers: Record<string, string> = {};
  if (r.authorization !== undefined) headers.authorization = r.authorization;
  if (r.contentType !== undefined) headers["content-type"] = r.contentType;
  if (r.idempotencyKey !== undefined) headers["idempotency-key"] = r.idempotencyKey;
  return {
    version: "2.0",
    routeKey: match.kind === "route" ? match.routeKey : "$default",
    rawPath: r.path,
    rawQueryString: new URLSearchParams(r.query).toString(),
    headers,
    ...(Object.keys(r.query).length ? { queryStringParameters: r.query } : {}),
    ...(match.kind === "route" ? { pathParameters: match.pathParameters } : {}),
    requestContext: {
      accountId: "1",
      apiId: "fuzz",
      domainName: "api",
      domainPrefix: "api",
      http: {
        method: r.method,
        path: r.path,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.1",
        userAgent: "fuzz",
      },
      requestId: "fuzz",
      routeKey: "$default",
      stage: "$default",
      time: "",
      timeEpoch: 0,
    },
    ...(r.body === undefined
      ? {}
      : { body: r.base64 ? Buffer.from(r.body).toString("base64") : r.body }),
    isBase64Encoded: r.body !== undefined && r.base64,
  };
}

describe("the API handler (property-based)", () => {
  it("never answers 5xx; refusals are problem+json naming their status, and write nothing", async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        reset();
        const response = await handler(toEvent(r), context());
        const status = response.statusCode ?? 0;
        seen.add(status);
        expect(status, JSON.stringify(r).slice(0, 300)).toBeLessThan(500);
        if (status >= 400) {
          expect(response.headers?.["content-type"]).toBe("application/problem+json");
          const problem = JSON.parse(response.body ?? "{}");
          expect(problem).toMatchObject({
            status,
            type: expect.stringMatching(/^\/problems\//),
            title: expect.any(String),
            detail: expect.any(String),
          });
          expect(writes()).toBe(0);
        }
      }),
      fuzz,
    );
    // The generator reaches every layer, not just the key check.
    for (const status of [400, 401, 403, 404, 405, 413, 415, 422]) expect(seen).toContain(status);
    expect([...seen].some((status) => status >= 200 && status < 300)).toBe(true);
  });

  it("refuses every destination the guard refuses up front: a 422 on url, nothing written", async () => {
    await fc.assert(
      fc.asyncProperty(refusedUrl, async (url) => {
        reset();
        const response = await handler(
          apiEvent("POST", "/v1/subscriptions", {
            key: admin,
            body: { url, events: ["deal.created"] },
          }),
          context(),
        );
        expect(response.statusCode, url).toBe(422);
        const problem = JSON.parse(response.body ?? "{}");
        expect(problem.errors.map((e: { field: string }) => e.field)).toEqual(["url"]);
        expect(writes()).toBe(0);
      }),
      fuzz,
    );
  });
});
