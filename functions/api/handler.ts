import { lookup } from "node:dns/promises";
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { createDocumentClient, createSqsClient } from "../../shared/aws.ts";
import { loadConfig } from "../../shared/config.ts";
import { problemJson } from "../../shared/http/problem.ts";
import { jsonLogger } from "../../shared/log.ts";
import { SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { createKeyring } from "../../shared/secrets/keyring.ts";
import { SecretBox } from "../../shared/secrets/secret-box.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { type ApiDeps, handleApiRequest } from "./routes.ts";

// Composition root: configuration and clients are built once per cold start.
const config = loadConfig();
const table = { client: createDocumentClient(), name: config.tableName };
const deps: ApiDeps = {
  config,
  workspaces: new DynamoWorkspaceStore(table),
  events: new DynamoEventStore(table, config),
  deliveries: new DynamoDeliveryStore(table, config),
  queue: new SqsDeliveryQueue(createSqsClient(), config),
  secrets: new SecretBox(createKeyring(config)),
  resolveHost: async (host) =>
    (await lookup(host, { all: true }).catch(() => [])).map((entry) => entry.address),
};

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(problemJson(jsonLogger))
  .handler((event) => handleApiRequest(event, deps));
