import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { vi } from "vitest";
import { lambdaContext } from "../../local/lambda-context.ts";
import { matchRoute } from "../../shared/http/routes.ts";
import { hashApiKey } from "../../shared/keys.ts";
import { TEST_KEY_FILE } from "./secrets.ts";

/** An API Gateway HTTP API (payload 2.0) event, routed the way API Gateway routes it. */
export function apiEvent(
  method: string,
  pathAndQuery: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const url = new URL(pathAndQuery, "https://api.example");
  const match = matchRoute(method, url.pathname);
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const query = Object.fromEntries(url.searchParams);
  return {
    version: "2.0",
    routeKey: match.kind === "route" ? match.routeKey : "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(match.kind === "route" && Object.keys(match.pathParameters).length
      ? { pathParameters: match.pathParameters }
      : {}),
    requestContext: {
      accountId: "1",
      apiId: "test",
      domainName: "api.example",
      domainPrefix: "api",
      http: {
        method,
        path: url.pathname,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.9",
        userAgent: "test",
      },
      requestId: "req-1",
      routeKey: match.kind === "route" ? match.routeKey : "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
  };
}

export const context = () => lambdaContext("test", 30_000);

export const FUNCTION_ENV = {
  WEBHOOKS_SECRET_KEY_FILE: TEST_KEY_FILE,
  WEBHOOKS_TABLE_NAME: "webhooks-test",
  WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/deliveries",
  WEBHOOKS_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/deliveries-dlq",
  WEBHOOKS_SLOW_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/deliveries-slow",
  WEBHOOKS_STRANDED_QUEUE_URL:
    "https://sqs.us-east-1.amazonaws.com/000000000000/deliveries-stranded",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
};

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: unknown,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * A function's handler, imported as Lambda starts it: FUNCTION_ENV (and `env`) set first, since
 * the module reads its configuration once, at import.
 */
export async function importHandler<H>(
  load: () => Promise<unknown>,
  env: Record<string, string> = {},
): Promise<H> {
  for (const [name, value] of Object.entries({ ...FUNCTION_ENV, ...env })) vi.stubEnv(name, value);
  return ((await load()) as { handler: H }).handler;
}

/** The table item of an API key of workspace `acme`. */
export const apiKeyItem = (key: string, role: string, extra: Record<string, unknown> = {}) => ({
  pk: "WS#acme",
  sk: `KEY#${hashApiKey(key)}`,
  id: `key_${role}`,
  role,
  name: role,
  hint: "h",
  createdAt: "2026-11-01T00:00:00.000Z",
  ...extra,
});
