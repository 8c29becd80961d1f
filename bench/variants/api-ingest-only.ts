/**
 * The least of this project the API function could load for `POST /v1/events`: the same
 * configuration, clients, stores, validation and ingest use case as functions/api/handler.ts,
 * without the route table, the other routes or middy. Measured by
 * `COLDSTART_VARIANT=ingest-only npm run bench:coldstart` next to the function and its floor:
 * what the API's cold start would be if it loaded nothing but ingest — this design's floor.
 * Not a function of the stack.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { createDocumentClient, createSqsClient } from "../../shared/aws.ts";
import { loadConfig } from "../../shared/config.ts";
import { eventSpec } from "../../shared/events.ts";
import { header, jsonBody } from "../../shared/http/request.ts";
import { parseBearer } from "../../shared/keys.ts";
import { SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { EventInput } from "../../shared/schemas.ts";
import { createKeyring } from "../../shared/secrets/keyring.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { SubscriptionSnapshots } from "../../shared/subscription-snapshots.ts";
import { authorize } from "../../shared/use-cases/authenticate.ts";
import { ingestEvent } from "../../shared/use-cases/ingest-event.ts";
import { parseOrThrow } from "../../shared/validation.ts";

const config = loadConfig();
const table = { client: createDocumentClient(), name: config.tableName };
const workspaces = new DynamoWorkspaceStore(table);
const subscriptionSets = new SubscriptionSnapshots((id) => workspaces.listSubscriptions(id), {
  ttlMs: config.subscriptionCacheMs,
});
const events = new DynamoEventStore(table, config);
const queue = new SqsDeliveryQueue(createSqsClient(), config);
/** Built at cold start as the function builds it (a KMS client on AWS), though ingest needs none. */
export const keyring = createKeyring(config);

export async function handler(
  request: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  const { workspaceId, hash } = parseBearer(header(request, "authorization"));
  authorize(await workspaces.getKey(workspaceId, hash), ["ingest", "admin"]);
  const body = jsonBody(request, EventInput);
  parseOrThrow(eventSpec(body.event).data, body.data, "data");
  const result = await ingestEvent(
    {
      workspaceId,
      subscriptions: await subscriptionSets.get(workspaceId),
      event: body.event,
      data: body.data,
      timestamp: body.timestamp,
      id: body.id ?? header(request, "idempotency-key"),
    },
    { events, queue },
  );
  return {
    statusCode: 202,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
    body: JSON.stringify({ id: result.id, event: result.event, deliveries: result.deliveries }),
  };
}
