/**
 * The deliver function's floor (bench/coldstart.ts): the AWS SDK clients the function builds
 * at cold start — the DynamoDB document client, SQS (which a first-try success does not call),
 * and KMS — making the calls a first delivery makes: BatchGetItem of the subscription and the
 * event, KMS Decrypt of the secret's data key, the POST to the receiver (Node's built-in
 * fetch), PutItem of the delivery's record. No signing, no SSRF guard, no lifecycle, no
 * bundled HTTP client. Depends on nothing of this project; the item layout is
 * docs/data-model.md's.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DecryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { SQSClient } from "@aws-sdk/client-sqs";
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";

const TableName = process.env.WEBHOOKS_TABLE_NAME ?? "";
const KeyId = process.env.WEBHOOKS_KMS_KEY_ID;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 5 }), {
  marshallOptions: { removeUndefinedValues: true },
});
export const sqs = new SQSClient({ maxAttempts: 5, useQueueUrlAsEndpoint: false });
const kms = new KMSClient({ maxAttempts: 5 });

/** The delivery partition's shard (FNV-1a of the id, 32 shards), as the store computes it. */
function shard(id: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return String((hash >>> 0) % 32).padStart(2, "0");
}

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  await Promise.all(
    event.Records.map(async (record) => {
      const m = JSON.parse(record.body);
      const subscriptionKey = { pk: `WS#${m.w}`, sk: `SUB#${m.s}` };
      const eventKey = { pk: `WS#${m.w}#EVT#${m.e}`, sk: "EVENT" };
      const { Responses = {} } = await documents.send(
        new BatchGetCommand({
          RequestItems: {
            [TableName]: { Keys: [subscriptionKey, eventKey], ConsistentRead: true },
          },
        }),
      );
      const items = Responses[TableName] ?? [];
      const subscription = items.find((item) => item.sk === subscriptionKey.sk);
      const stored = items.find((item) => item.sk === "EVENT");
      const wrapped = String(subscription?.secret).split(".")[1] ?? "";
      await kms.send(
        new DecryptCommand({
          KeyId,
          CiphertextBlob: Buffer.from(wrapped.slice(4), "base64url"),
          EncryptionContext: { service: "customermates-webhooks", workspace: m.w },
        }),
      );
      const startedAt = new Date().toISOString();
      const response = await fetch(subscription?.url, {
        method: "POST",
        headers: { "content-type": "application/json", "webhook-id": m.d },
        body: stored?.body,
      });
      const body = await response.text();
      const now = new Date().toISOString();
      await documents.send(
        new PutCommand({
          TableName,
          Item: {
            pk: `WS#${m.w}#DLV#${shard(m.d)}`,
            sk: m.d,
            eventId: m.e,
            event: m.n,
            subscriptionId: m.s,
            status: response.ok ? "succeeded" : "failed",
            generation: m.g,
            rev: 1,
            runAttempts: 1,
            attemptCount: 1,
            attempts: [
              { n: 1, at: startedAt, u: subscription?.url, sc: response.status, rb: body },
            ],
            createdAt: now,
            updatedAt: now,
            expiresAt: Math.floor(Date.now() / 1000) + 86_400,
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    }),
  );
  return { batchItemFailures: [] };
}
