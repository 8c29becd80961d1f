import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  ScanCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { startTtlSweeper } from "../../local/ttl-sweeper.ts";
import { silentLogger } from "../../shared/log.ts";
import { SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { key } from "../../shared/store/table.ts";

/** What AWS does when it half-succeeds: the adapters must retry the rest, or say they failed. */
const sqs = mockClient(SQSClient);
const dynamo = mockClient(DynamoDBDocumentClient);
beforeEach(() => {
  sqs.reset();
  dynamo.reset();
});

const message = (i: number) => ({
  v: 1 as const,
  w: "acme",
  d: `dlv_${i}`,
  e: "evt_1",
  n: "task.created" as const,
  s: `sub_${i}`,
  g: 0,
});
const queue = () =>
  new SqsDeliveryQueue(new SQSClient({ region: "us-east-1" }), {
    queueUrl: "https://q",
    slowQueueUrl: "https://slow",
    deadLetterQueueUrl: "https://dlq",
  });

describe("SendMessageBatch with failed entries inside a 200 answer", () => {
  it("resends only the failed entries until all are in", async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: "0", MessageId: "a", MD5OfMessageBody: "" }],
        Failed: [
          { Id: "1", Code: "InternalError", SenderFault: false },
          { Id: "2", Code: "ServiceUnavailable", SenderFault: false },
        ],
      })
      .resolvesOnce({
        Successful: [{ Id: "1", MessageId: "b", MD5OfMessageBody: "" }],
        Failed: [{ Id: "2", Code: "InternalError", SenderFault: false }],
      })
      .resolves({ Successful: [{ Id: "2", MessageId: "c", MD5OfMessageBody: "" }], Failed: [] });
    await queue().enqueue([message(0), message(1), message(2)]);
    const calls = sqs
      .commandCalls(SendMessageBatchCommand)
      .map((c) => c.args[0].input.Entries?.map((e) => e.Id));
    expect(calls).toEqual([["0", "1", "2"], ["1", "2"], ["2"]]);
  });

  it("never reports success while entries keep failing", async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: "0", Code: "InternalError", SenderFault: false }],
    });
    await expect(queue().enqueue([message(0)])).rejects.toThrow("SQS refused 1 messages");
  });

  it("gives up at once on a sender fault (retrying cannot help)", async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: "0", Code: "InvalidMessageContents", SenderFault: true, Message: "bad" }],
    });
    await expect(queue().enqueue([message(0)])).rejects.toThrow("InvalidMessageContents");
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it("sends 25 messages as batches of 10, 10 and 5", async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    await queue().enqueue(Array.from({ length: 25 }, (_, i) => message(i)));
    expect(
      sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries?.length),
    ).toEqual([10, 10, 5]);
  });
});

describe("ChangeMessageVisibilityBatch with failed entries inside a 200 answer", () => {
  const change = (receiptHandle: string) => ({ receiptHandle, seconds: 300 });

  it("tries the failed entries once more and hands back those that still fail", async () => {
    sqs
      .on(ChangeMessageVisibilityBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: "0" }],
        Failed: [
          { Id: "1", Code: "InternalError", SenderFault: false },
          { Id: "2", Code: "InternalError", SenderFault: false },
        ],
      })
      .resolves({
        // The retry re-numbers its entries: "0" is b, "1" is c.
        Successful: [{ Id: "1" }],
        Failed: [{ Id: "0", Code: "InternalError", SenderFault: false }],
      });
    const failed = await queue().changeVisibility([change("a"), change("b"), change("c")]);
    // "c" went through on the second try; "b" failed twice: its message comes back early,
    // and the lifecycle waits out the rest of its step then.
    expect(failed).toEqual(["b"]);
    const calls = sqs
      .commandCalls(ChangeMessageVisibilityBatchCommand)
      .map((c) => c.args[0].input.Entries?.map((e) => e.ReceiptHandle));
    expect(calls).toEqual([
      ["a", "b", "c"],
      ["b", "c"],
    ]);
  });

  it("does not retry an entry whose receipt handle is no longer valid", async () => {
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: "0", Code: "ReceiptHandleIsInvalid", SenderFault: true }],
    });
    expect(await queue().changeVisibility([change("a")])).toEqual(["a"]);
    expect(sqs.commandCalls(ChangeMessageVisibilityBatchCommand)).toHaveLength(1);
  });
});

describe("BatchGetItem with unprocessed keys", () => {
  const store = () =>
    new DynamoDeliveryStore(
      { client: DynamoDBDocumentClient.from(new DynamoDBClientStub()), name: "t" },
      { retentionSeconds: 86_400 },
    );
  const one = key.delivery("acme", "dlv_1");
  const two = key.delivery("acme", "dlv_2");

  it("asks again for the unprocessed keys and returns everything", async () => {
    const refs = [
      { workspaceId: "acme", deliveryId: "dlv_1" },
      { workspaceId: "acme", deliveryId: "dlv_2" },
    ];
    dynamo
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { t: [{ ...one, status: "succeeded" }] },
        UnprocessedKeys: { t: { Keys: [two] } },
      })
      .resolves({ Responses: { t: [{ ...two, status: "failed" }] } });
    const found = await store().getMany(refs);
    expect([...found.keys()].sort()).toEqual(["acme/dlv_1", "acme/dlv_2"]);
    expect(dynamo.commandCalls(BatchGetCommand)[1]?.args[0].input.RequestItems?.t?.Keys).toEqual([
      two,
    ]);
  });

  it("fails rather than return a partial answer when keys stay unprocessed", async () => {
    dynamo.on(BatchGetCommand).resolves({
      Responses: { t: [] },
      UnprocessedKeys: { t: { Keys: [one] } },
    });
    await expect(store().getMany([{ workspaceId: "acme", deliveryId: "dlv_1" }])).rejects.toThrow(
      "unprocessed",
    );
  });
});

describe("BatchWriteItem with unprocessed items (the local TTL sweeper)", () => {
  it("deletes expired items, retrying the unprocessed ones", async () => {
    dynamo.on(ScanCommand).resolves({
      Items: [
        { pk: "a", sk: "1" },
        { pk: "b", sk: "2" },
      ],
    });
    dynamo
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { t: [{ DeleteRequest: { Key: { pk: "b", sk: "2" } } }] } })
      .resolves({ UnprocessedItems: {} });
    const sweeper = startTtlSweeper(DynamoDBDocumentClient.from(new DynamoDBClientStub()), "t", {
      everyMs: 3_600_000,
      log: silentLogger,
    });
    expect(await sweeper.sweep()).toBe(2);
    sweeper.stop();
    const writes = dynamo
      .commandCalls(BatchWriteCommand)
      .map((c) => c.args[0].input.RequestItems?.t?.length);
    expect(writes).toEqual([2, 1]);
  });
});

import { DynamoDBClient as DynamoDBClientStub } from "@aws-sdk/client-dynamodb";
