import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { deliveryIdFor } from "../../shared/ids.ts";
import { key } from "../../shared/store/table.ts";
import { context, FUNCTION_ENV, importHandler } from "../helpers/api-event.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

const dynamo = mockClient(DynamoDBDocumentClient);
const sqs = mockClient(SQSClient);
type Handler = (event: SQSEvent, ctx: unknown) => Promise<SQSBatchResponse>;
let handler: Handler;
let healthy: TestServer;
let broken: TestServer;
/** Delivery records the batch read finds. */
let batch: Array<Record<string, unknown>> = [];

const SEQ = "01JTESTSEQ0000000000000000";
const subs = { good: "sub_01JTESTSUB0000000000000001", bad: "sub_01JTESTSUB0000000000000002" };
const body = '{"event":"deal.updated","data":{"id":"d_1"},"timestamp":"2026-11-26T10:00:00.000Z"}';

beforeAll(async () => {
  healthy = await startServer();
  broken = await startServer((_r, res) => {
    res.writeHead(500);
    res.end("boom");
  });
  handler = await importHandler(() => import("../../functions/deliver/handler.ts"), {
    WEBHOOKS_ALLOW_LOOPBACK_HTTP: "true",
    WEBHOOKS_RETRY_SCHEDULE: "0,100,1000",
  });
});
afterAll(async () => {
  await healthy.close();
  await broken.close();
});

beforeEach(() => {
  dynamo.reset();
  sqs.reset();
  const subscription = (id: string, url: string) => ({
    pk: "WS#acme",
    sk: `SUB#${id}`,
    id,
    url,
    events: ["deal.updated"],
    enabled: true,
    description: "",
    createdAt: "x",
    updatedAt: "x",
  });
  batch = [];
  dynamo.on(BatchGetCommand).callsFake(() => ({
    Responses: {
      "webhooks-test": [
        ...batch,
        subscription(subs.good, `${healthy.url}/in`),
        subscription(subs.bad, `${broken.url}/in`),
        {
          pk: "WS#acme#EVT#evt_1",
          sk: "EVENT",
          id: "evt_1",
          name: "deal.updated",
          body,
          seq: SEQ,
          receivedAt: "x",
          targets: [],
          requestHash: "h",
        },
      ],
    },
  }));
  dynamo.on(PutCommand).resolves({});
  dynamo.on(UpdateCommand).resolves({});
  sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
});

function record(sub: string, receiveCount: number): SQSRecord {
  const message = {
    v: 1,
    w: "acme",
    d: deliveryIdFor(SEQ, sub),
    e: "evt_1",
    n: "deal.updated",
    s: sub,
    g: 0,
  };
  return {
    messageId: `m-${sub}`,
    receiptHandle: `r-${sub}`,
    body: JSON.stringify(message),
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: "1",
      SenderId: "x",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn",
    awsRegion: "us-east-1",
  };
}

describe("deliver handler", () => {
  it("reports only the failed item, backs it off per the schedule, and records both attempts", async () => {
    const result = await handler(
      { Records: [record(subs.good, 1), record(subs.bad, 1)] },
      context(),
    );

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: `m-${subs.bad}` }] });
    expect(healthy.requests.at(-1)?.body.toString()).toBe(body);
    const [change] = sqs.commandCalls(ChangeMessageVisibilityBatchCommand);
    const entry = change?.args[0].input.Entries?.[0];
    expect(entry?.ReceiptHandle).toBe(`r-${subs.bad}`);
    expect(entry?.VisibilityTimeout).toBeGreaterThanOrEqual(80);
    expect(entry?.VisibilityTimeout).toBeLessThanOrEqual(120);

    // One conditional write per attempt: the record as a whole, expecting none before it.
    const puts = dynamo.commandCalls(PutCommand).map((c) => c.args[0].input);
    const statuses = Object.fromEntries(
      puts.map((put) => [put.Item?.subscriptionId, put.Item?.status]),
    );
    expect(statuses).toEqual({ [subs.good]: "succeeded", [subs.bad]: "retrying" });
    expect(puts.every((put) => put.ConditionExpression === "attribute_not_exists(pk)")).toBe(true);
    expect(JSON.stringify(puts)).not.toContain("secret");
  });

  it("takes the attempt's step from the record: the run's third attempt is its last, whatever the receive count", async () => {
    const id = deliveryIdFor(SEQ, subs.bad);
    batch = [
      {
        ...key.delivery("acme", id),
        eventId: "evt_1",
        event: "deal.updated",
        subscriptionId: subs.bad,
        status: "retrying",
        generation: 0,
        rev: 2,
        runAttempts: 2,
        attemptCount: 2,
        attempts: [],
        owner: `m-${subs.bad}`,
        nextAttemptAt: "2026-01-01T00:00:00.000Z",
        createdAt: "x",
        updatedAt: "x",
      },
    ];
    // Received 9 times: 7 receives made no attempt (throttled, crashed) and cost no step.
    const result = await handler({ Records: [record(subs.bad, 9)] }, context());
    expect(result).toEqual({ batchItemFailures: [] });
    const [dlq] = sqs.commandCalls(SendMessageBatchCommand);
    expect(dlq?.args[0].input.QueueUrl).toBe(FUNCTION_ENV.WEBHOOKS_DLQ_URL);
    const put = dynamo.commandCalls(PutCommand)[0]?.args[0].input;
    expect(put?.Item).toMatchObject({ status: "failed", reason: "exhausted", runAttempts: 3 });
    expect(put?.ConditionExpression).toBe("rev = :rev");
    expect(put?.ExpressionAttributeValues).toEqual({ ":rev": 2 });
  });
});
