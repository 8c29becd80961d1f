import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulators, startEmulatorsInWorker, walSyncRelaxed } from "../../local/emulators.ts";

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
