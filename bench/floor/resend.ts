/**
 * The resend function's floor (bench/coldstart.ts): the AWS SDK clients the function builds at
 * cold start — the DynamoDB document client and SQS — making the calls a sweep makes when
 * there is nothing to finish: a ReceiveMessage of the stranded queue (a 1-second long poll),
 * then the dead-letter index's sweep partitions, one Query each, twice (the claims to take
 * over, then the count of those left). Depends on nothing of this project.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";

const TableName = process.env.WEBHOOKS_TABLE_NAME;
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 5 }), {
  marshallOptions: { removeUndefinedValues: true },
});
const sqs = new SQSClient({ maxAttempts: 5, useQueueUrlAsEndpoint: false });

async function claims(before: string, limit: number): Promise<number> {
  let found = 0;
  for (let shard = 0; shard < 32 && found < limit; shard++) {
    const { Items = [] } = await documents.send(
      new QueryCommand({
        TableName,
        IndexName: "dead-letters",
        KeyConditionExpression: "dlqPk = :pk AND dlqSk < :before",
        ExpressionAttributeValues: {
          ":pk": `SWEEP#${String(shard).padStart(2, "0")}`,
          ":before": before,
        },
        Limit: limit - found,
      }),
    );
    found += Items.length;
  }
  return found;
}

export async function handler(input: { action: string }) {
  if (input.action !== "sweep") throw new Error("the floor only sweeps");
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: process.env.WEBHOOKS_STRANDED_QUEUE_URL,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 300,
      MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      WaitTimeSeconds: 1,
    }),
  );
  if (Messages.length > 0) throw new Error("the floor sweeps an empty stranded queue only");
  const before = new Date(Date.now() - 2 * 60_000).toISOString();
  await claims(before, 500);
  const left = await claims(before, 1);
  return {
    action: "sweep",
    strandedFailed: 0,
    strandedLeft: 0,
    claimsRequeued: 0,
    claimsCanceled: 0,
    claimsLeft: left,
  };
}
