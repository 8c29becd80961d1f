import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ROUTE_KEYS, ROUTE_TABLE, type RouteKey } from "../../shared/http/contract.ts";
import { generateApiKey, hashApiKey, ROLES, type Role } from "../../shared/keys.ts";
import {
  type ApiHandler,
  apiEvent,
  apiKeyItem,
  context,
  importHandler,
} from "../helpers/api-event.ts";

/**
 * Who may call what, written down here on its own rather than read from the route table, so
 * that a wrong grant in the table fails this suite: every route of the one route table
 * (shared/http/contract.ts), for every role, a revoked key and no key, through the API handler.
 */
const PUBLIC = new Set<string>(["GET /health", "GET /v1/openapi.json"]);
const INGEST = new Set<string>([
  "POST /v1/events",
  "POST /v1/events/batch",
  "GET /v1/meta/egress-ips",
]);

function mayCall(route: RouteKey, role: Role): boolean {
  if (PUBLIC.has(route)) return true;
  switch (role) {
    case "admin":
      return true;
    case "ingest":
      return INGEST.has(route);
  }
}

const dynamo = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
let handler: ApiHandler;

const keys = {
  admin: generateApiKey("acme"),
  ingest: generateApiKey("acme"),
  revoked: generateApiKey("acme"),
};
const items: Record<string, Record<string, unknown>> = {
  [hashApiKey(keys.admin)]: apiKeyItem(keys.admin, "admin"),
  [hashApiKey(keys.ingest)]: apiKeyItem(keys.ingest, "ingest"),
  [hashApiKey(keys.revoked)]: apiKeyItem(keys.revoked, "admin", {
    revokedAt: "2026-11-02T00:00:00.000Z",
  }),
};

beforeAll(async () => {
  handler = await importHandler(() => import("../../functions/api/handler.ts"));
});

beforeEach(() => {
  dynamo.reset();
  sqs.reset();
  // An empty workspace: a granted call goes on to an ordinary answer (404, 422, an empty list).
  dynamo.onAnyCommand().resolves({ Items: [], Count: 0, ScannedCount: 0 });
  sqs.onAnyCommand().resolves({ Successful: [], Failed: [] });
  dynamo.on(GetCommand).callsFake((input: { Key: { pk: string; sk: string } }) => ({
    Item: input.Key.pk === "WS#acme" ? items[input.Key.sk.replace(/^KEY#/, "")] : undefined,
  }));
});

/** A request line for the route, its path parameters filled in; no body. */
function call(route: RouteKey, key?: string) {
  const [method, template] = route.split(" ") as [string, string];
  const path = template.replace(/\{(\w+)\}/g, "$1_01JTEST0000000000000000000");
  return handler(apiEvent(method, path, key ? { key } : {}), context());
}

const refusedStatus = (response: { statusCode?: number }) =>
  response.statusCode === 401 || response.statusCode === 403;

describe("route grants, every route × role", () => {
  it("the table has the routes this policy names", () => {
    for (const route of [...PUBLIC, ...INGEST]) expect(ROUTE_KEYS).toContain(route);
    expect(ROLES).toEqual(["admin", "ingest"]);
  });

  describe.each(ROUTE_KEYS)("%s", (route) => {
    it("the table grants exactly the roles the policy does", () => {
      const auth = ROUTE_TABLE[route].auth;
      if (PUBLIC.has(route)) expect(auth).toBe("public");
      else expect([...auth].sort()).toEqual(ROLES.filter((role) => mayCall(route, role)).sort());
    });

    it.each(ROLES)(
      "a key with role %s is let through exactly when the policy says",
      async (role) => {
        const response = await call(route, keys[role]);
        if (mayCall(route, role)) {
          expect(refusedStatus(response), `${route} as ${role}: ${response.body}`).toBe(false);
        } else {
          expect(response.statusCode).toBe(403);
          expect(JSON.parse(response.body ?? "{}").detail).toBe(
            "An ingest key may only post events (POST /v1/events) and read the egress IPs; use an admin key.",
          );
        }
      },
    );

    it("no key, and a revoked key, get 401 unless the route is public", async () => {
      for (const key of [undefined, keys.revoked]) {
        const response = await call(route, key);
        if (PUBLIC.has(route)) expect(refusedStatus(response)).toBe(false);
        else expect(response.statusCode).toBe(401);
      }
    });
  });
});
