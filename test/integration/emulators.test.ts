import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import {
  closeDynaliteIterators,
  startEmulators,
  startEmulatorsInWorker,
  walSyncRelaxed,
} from "../../local/emulators.ts";

const region = "us-east-1";
const credentials = { accessKeyId: "test", secretAccessKey: "test" };
const dirs: string[] = [];
const scratch = async () => {
  const dir = await mkdtemp(join(tmpdir(), "webhooks-emulators-"));
  dirs.push(dir);
  return dir;
};
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("local emulators", () => {
  it("switch fauxqs's SQLite to synchronous=NORMAL when they persist", async () => {
    const before = walSyncRelaxed;
    const emulators = await startEmulators(await scratch());
    try {
      expect(walSyncRelaxed).toBe(before + 1);
    } finally {
      await emulators.stop();
    }
    const inMemory = await startEmulators();
    await inMemory.stop();
    expect(walSyncRelaxed).toBe(before + 1);
  });

  it("close dynalite's query iterators, with a Limit or read to the end (nothing piles up)", async () => {
    const require = createRequire(import.meta.resolve("dynalite"));
    const { AbstractIterator } = require("abstract-level") as {
      AbstractIterator: { prototype: { close(): Promise<void> } };
    };
    const close = AbstractIterator.prototype.close;
    let closed = 0;
    AbstractIterator.prototype.close = function counted(this: unknown) {
      closed++;
      return close.call(this);
    };
    const emulators = await startEmulators(await scratch());
    const dynamo = new DynamoDBClient({ endpoint: emulators.dynamoEndpoint, region, credentials });
    try {
      expect(closeDynaliteIterators()).toBe(false); // done once, by startEmulators
      await dynamo.send(
        new CreateTableCommand({
          TableName: "iterators",
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [
            { AttributeName: "pk", AttributeType: "S" },
            { AttributeName: "sk", AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: "pk", KeyType: "HASH" },
            { AttributeName: "sk", KeyType: "RANGE" },
          ],
        }),
      );
      // dynalite answers CreateTable while the table is still CREATING, and refuses writes
      // to it until a timer has made it ACTIVE: under load, after the first PutItem.
      await waitUntilTableExists({ client: dynamo, maxWaitTime: 30 }, { TableName: "iterators" });
      for (let i = 0; i < 30; i++) {
        await dynamo.send(
          new PutItemCommand({
            TableName: "iterators",
            Item: { pk: { S: "p" }, sk: { S: String(i).padStart(3, "0") } },
          }),
        );
      }
      const query = (limit?: number) =>
        dynamo.send(
          new QueryCommand({
            TableName: "iterators",
            KeyConditionExpression: "pk = :p",
            ExpressionAttributeValues: { ":p": { S: "p" } },
            ...(limit ? { Limit: limit } : {}),
          }),
        );
      const before = closed;
      for (let i = 0; i < 20; i++) expect((await query(5)).Items).toHaveLength(5);
      for (let i = 0; i < 20; i++) expect((await query()).Items).toHaveLength(30);
      expect(closed - before).toBeGreaterThanOrEqual(40);
    } finally {
      AbstractIterator.prototype.close = close;
      dynamo.destroy();
      await emulators.stop();
    }
  });

  it("run on a worker thread, keep their data across a restart, and stop", async () => {
    const dataDir = await scratch();
    const first = await startEmulatorsInWorker(dataDir);
    const sqs = new SQSClient({ endpoint: first.sqsEndpoint, region, credentials });
    await sqs.send(new CreateQueueCommand({ QueueName: "kept" }));
    const dynamo = new DynamoDBClient({ endpoint: first.dynamoEndpoint, region, credentials });
    expect((await dynamo.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    await first.stop();
    sqs.destroy();
    dynamo.destroy();

    const second = await startEmulatorsInWorker(dataDir);
    const again = new SQSClient({ endpoint: second.sqsEndpoint, region, credentials });
    try {
      const { QueueUrls = [] } = await again.send(new ListQueuesCommand({}));
      expect(QueueUrls.some((url) => url.endsWith("/kept"))).toBe(true);
    } finally {
      again.destroy();
      await second.stop();
    }
  });

  it("make a persisted message visible again at once when told to (fauxqs 2.4 lost it)", async () => {
    const emulators = await startEmulators(await scratch());
    const sqs = new SQSClient({ endpoint: emulators.sqsEndpoint, region, credentials });
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "release" }));
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "hello" }));
      const first = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 600, WaitTimeSeconds: 1 }),
      );
      const handle = first.Messages?.[0]?.ReceiptHandle;
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl,
          ReceiptHandle: handle,
          VisibilityTimeout: 0,
        }),
      );
      const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
      expect(again.Messages?.map((m) => m.Body)).toEqual(["hello"]);
    } finally {
      sqs.destroy();
      await emulators.stop();
    }
  });

  it("report a data directory they cannot use", async () => {
    const file = join(await scratch(), "not-a-directory");
    await writeFile(file, "");
    await expect(startEmulatorsInWorker(file)).rejects.toThrow(/emulators failed to start/);
  });
});
