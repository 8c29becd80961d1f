/**
 * The API function's floor (bench/coldstart.ts): the AWS SDK clients the function builds at
 * cold start — the DynamoDB document client, SQS, and KMS (which an ingest does not call) —
 * making the calls `POST /v1/events` makes: GetItem of the key, Query of the workspace's
 * subscriptions, PutItem of the event, SendMessageBatch of its fan-out. Nothing else: no
 * validation, no routing, no framework. Depends on nothing of this project (it is bundled on
 * its own); the item layout is docs/data-model.md's.
 */
import { createHash, randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";

const TableName = process.env.WEBHOOKS_TABLE_NAME;
const QueueUrl = process.env.WEBHOOKS_QUEUE_URL;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 5 }), {
  marshallOptions: { removeUndefinedValues: true },
});
const sqs = new SQSClient({ maxAttempts: 5, useQueueUrlAsEndpoint: false });
export const kms = new KMSClient({ maxAttempts: 5 });

export async function handler(
  request: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? "")?.[1] ?? "";
  const workspace = token.split("_")[1];
  const hash = createHash("sha256").update(token).digest("hex");
  const { Item: key } = await documents.send(
    new GetCommand({
      TableName,
      Key: { pk: `WS#${workspace}`, sk: `KEY#${hash}` },
      ConsistentRead: true,
    }),
  );
  if (!key) return { statusCode: 401 };
  const { Items = [] } = await documents.send(
    new QueryCommand({
      TableName,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": `WS#${workspace}`, ":prefix": "SUB#" },
      ConsistentRead: true,
    }),
  );
  const { event, data } = JSON.parse(request.body ?? "{}");
  const targets = Items.filter((s) => s.events.includes(event)).map((s) => s.id as string);
  const id = `evt_${randomUUID()}`;
  const now = new Date().toISOString();
  await documents.send(
    new PutCommand({
      TableName,
      Item: {
        pk: `WS#${workspace}#EVT#${id}`,
        sk: "EVENT",
        id,
        name: event,
        body: JSON.stringify({ event, data, timestamp: now }),
        seq: randomUUID(),
        receivedAt: now,
        targets,
        requestHash: hash,
        expiresAt: Math.floor(Date.now() / 1000) + 86_400,
      },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: targets.map((s, i) => ({
        Id: String(i),
        MessageBody: JSON.stringify({ v: 1, w: workspace, d: randomUUID(), e: id, n: event, s }),
      })),
    }),
  );
  return {
    statusCode: 202,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, event, deliveries: targets.length, replayed: false }),
  };
}
