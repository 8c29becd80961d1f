import { BatchWriteCommand, type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { backoffMs, sleep } from "../shared/aws.ts";
import { describeError, type Logger } from "../shared/log.ts";
import { TTL_ATTRIBUTE } from "../shared/store/table.ts";

/**
 * Does locally what DynamoDB's TTL does on AWS (dynalite does not): every so often, deletes
 * the items whose `expiresAt` has passed, so retention behaves the same in both places.
 */
export function startTtlSweeper(
  client: DynamoDBDocumentClient,
  tableName: string,
  options: { everyMs: number; log: Logger },
): { stop(): void; sweep(): Promise<number> } {
  async function sweep(): Promise<number> {
    let removed = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: tableName,
          FilterExpression: `${TTL_ATTRIBUTE} < :now`,
          ExpressionAttributeValues: { ":now": Math.floor(Date.now() / 1000) },
          ProjectionExpression: "pk, sk",
          ExclusiveStartKey: start,
        }),
      );
      const keys = page.Items ?? [];
      for (let offset = 0; offset < keys.length; offset += 25) {
        let pending = keys.slice(offset, offset + 25).map((Key) => ({ DeleteRequest: { Key } }));
        for (let attempt = 0; pending.length > 0 && attempt < 6; attempt++) {
          if (attempt > 0) await sleep(backoffMs(attempt));
          const result = await client.send(
            new BatchWriteCommand({ RequestItems: { [tableName]: pending } }),
          );
          pending = (result.UnprocessedItems?.[tableName] ?? []) as typeof pending;
        }
      }
      removed += keys.length;
      start = page.LastEvaluatedKey;
    } while (start);
    return removed;
  }
  const timer = setInterval(() => {
    sweep().catch((error) => options.log.warn("TTL sweep failed", describeError(error)));
  }, options.everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer), sweep };
}
