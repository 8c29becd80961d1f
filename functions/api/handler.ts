import { lookup } from "node:dns/promises";
import middy from "@middy/core";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { createDocumentClient, createSqsClient } from "../../shared/aws.ts";
import { type Config, loadConfig, networkPolicy } from "../../shared/config.ts";
import { apiMetrics } from "../../shared/http/api-metrics.ts";
import { problemJson } from "../../shared/http/problem.ts";
import { jsonLogger, withLogContext } from "../../shared/log.ts";
import type { WebhookSender } from "../../shared/ports.ts";
import { SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { createKeyring } from "../../shared/secrets/keyring.ts";
import { SecretBox } from "../../shared/secrets/secret-box.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DynamoPortalSessionStore } from "../../shared/store/portal-session-store.ts";
import { DynamoStatsStore } from "../../shared/store/stats-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { KeySnapshots, SubscriptionSnapshots } from "../../shared/subscription-snapshots.ts";
import { type ApiDeps, handleApiRequest } from "./routes.ts";

/**
 * How long a test send waits for the receiver: less than the deliver function's 15 s, so the
 * answer (and the attempt's record) fits in the API function's 10 s and API Gateway's 30 s.
 */
export const TEST_SEND_TIMEOUT_MS = 8000;

/**
 * The deliver function's sender (undici, the SSRF guard), for test sends. Loaded on the first
 * test send, not at cold start: esbuild defers a dynamically imported module's evaluation, so
 * ingest never pays for it.
 */
function lazySender(config: Config): WebhookSender {
  let sender: Promise<WebhookSender> | undefined;
  return {
    send: async (request) => {
      sender ??= import("../../shared/http/sender.ts").then(({ createHttpSender }) =>
        createHttpSender({
          policy: networkPolicy(config),
          connectTimeoutMs: Math.min(config.connectTimeoutMs, TEST_SEND_TIMEOUT_MS),
          requestTimeoutMs: Math.min(config.requestTimeoutMs, TEST_SEND_TIMEOUT_MS),
          responseBodyLimit: config.responseBodyLimit,
        }),
      );
      return (await sender).send(request);
    },
  };
}

// Composition root: configuration and clients are built once per cold start.
const config = loadConfig();
const table = { client: createDocumentClient(), name: config.tableName };
const workspaces = new DynamoWorkspaceStore(table);
const deps: ApiDeps = {
  config,
  workspaces,
  subscriptionSets: new SubscriptionSnapshots((id) => workspaces.listSubscriptions(id), {
    ttlMs: config.subscriptionCacheMs,
  }),
  ingestKeys: new KeySnapshots((id, hash) => workspaces.getKey(id, hash), {
    ttlMs: config.subscriptionCacheMs,
  }),
  events: new DynamoEventStore(table, config),
  deliveries: new DynamoDeliveryStore(table, config),
  queue: new SqsDeliveryQueue(createSqsClient(), config),
  portalSessions: new DynamoPortalSessionStore(table),
  secrets: new SecretBox(createKeyring(config)),
  sender: lazySender(config),
  log: jsonLogger,
  stats: new DynamoStatsStore(table),
  resolveHost: async (host) =>
    (await lookup(host, { all: true }).catch(() => [])).map((entry) => entry.address),
  // Generated from the route table with zod's JSON Schema output, on first use.
  openApiDocument: async () => (await import("../../shared/http/openapi.ts")).openApiDocument(),
  eventJsonSchema: async (event) => (await import("./event-schemas.ts")).eventJsonSchema(event),
};

const api = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(apiMetrics())
  .use(problemJson(jsonLogger))
  .handler((event) => handleApiRequest(event, deps));

/** Every line logged while handling a request names the function, the request and its route. */
export const handler = (event: APIGatewayProxyEventV2, context: Context) =>
  withLogContext({ function: "api", requestId: context.awsRequestId, route: event.routeKey }, () =>
    api(event, context),
  );
