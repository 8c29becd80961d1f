import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { generateApiKey, hashApiKey } from "../../shared/keys.ts";
import {
  type ApiHandler,
  apiEvent,
  apiKeyItem,
  context,
  importHandler,
} from "../helpers/api-event.ts";

/**
 * `GET /v1/meta/egress-ips`: what the CDK app passes the API function as WEBHOOKS_EGRESS_IPS
 * (the VPC option's NAT addresses), for receivers to allow-list; nothing fixed without it.
 */
const dynamo = mockClient(DynamoDBDocumentClient);
const admin = generateApiKey("acme");
const ingest = generateApiKey("acme");
const keys: Record<string, Record<string, unknown>> = {
  [hashApiKey(admin)]: apiKeyItem(admin, "admin"),
  [hashApiKey(ingest)]: apiKeyItem(ingest, "ingest"),
};

beforeEach(() => {
  dynamo.reset();
  dynamo.on(GetCommand).callsFake((input: { Key: { pk: string; sk: string } }) => ({
    Item: input.Key.pk === "WS#acme" ? keys[input.Key.sk.slice(4)] : undefined,
  }));
});

async function handlerWith(env: Record<string, string>): Promise<ApiHandler> {
  vi.resetModules();
  vi.unstubAllEnvs();
  return importHandler(() => import("../../functions/api/handler.ts"), env);
}

const body = (answer: { body?: string }) => JSON.parse(answer.body ?? "null");

describe("GET /v1/meta/egress-ips", () => {
  it("answers the deployment's fixed addresses to admin and ingest keys alike", async () => {
    const handler = await handlerWith({ WEBHOOKS_EGRESS_IPS: "203.0.113.10,2001:db8::7" });
    for (const key of [admin, ingest]) {
      const answer = await handler(apiEvent("GET", "/v1/meta/egress-ips", { key }), context());
      expect(answer.statusCode).toBe(200);
      expect(body(answer)).toEqual({ egressIps: ["203.0.113.10", "2001:db8::7"], static: true });
    }
  });

  it("says nothing is fixed without the VPC option: an empty list, static false", async () => {
    const handler = await handlerWith({});
    const answer = await handler(apiEvent("GET", "/v1/meta/egress-ips", { key: admin }), context());
    expect(answer.statusCode).toBe(200);
    expect(body(answer)).toEqual({ egressIps: [], static: false });
  });

  it("still wants a key", async () => {
    const handler = await handlerWith({ WEBHOOKS_EGRESS_IPS: "203.0.113.10" });
    const anonymous = await handler(apiEvent("GET", "/v1/meta/egress-ips"), context());
    expect(anonymous.statusCode).toBe(401);
    const unknown = generateApiKey("acme");
    const stranger = await handler(
      apiEvent("GET", "/v1/meta/egress-ips", { key: unknown }),
      context(),
    );
    expect(stranger.statusCode).toBe(401);
    expect(JSON.stringify(body(stranger))).not.toContain("203.0.113.10");
  });
});
