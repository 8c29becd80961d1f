import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDocumentClient } from "../../shared/aws.ts";
import type { Delivery, DeliveryMessage, StoredEvent, Subscription } from "../../shared/domain.ts";
import { deliveryIdFor, newSubscriptionId } from "../../shared/ids.ts";
import { claimed, guardOf, type RunContext, withAttempt } from "../../shared/lifecycle.ts";
import { silentLogger } from "../../shared/log.ts";
import { encodeMessage, SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { SqsHoldingQueue } from "../../shared/queue/holding-queue.ts";
import { emptyCounts } from "../../shared/stats.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DynamoStatsStore } from "../../shared/store/stats-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { OperationalEvents } from "../../shared/use-cases/operational-events.ts";
import { runResendJob } from "../../shared/use-cases/resend.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";
import { allows, type DynamoCall, roleStatements } from "../helpers/iam.ts";
import { synth } from "../infra/synth.ts";

/**
 * The deliver and resend functions' DynamoDB policies (infra/webhooks-stack.ts) against the
 * calls they really make. Each function's stores run on dynalite as its composition root wires
 * them, through a client that records every call: the deliver function's every store method
 * (its dependencies are typed to exactly these: shared/use-cases/deliver-batch.ts), the resend
 * function's every job. Each recorded call must be one its role allows — and the writes they
 * must not make (a subscription's URL, a key, a delivery's status by UpdateItem, …) must not be.
 */
const { template } = synth();
const [tableId] = Object.keys(template.findResources("AWS::DynamoDB::GlobalTable"));
const TABLE = `\${${tableId}.Arn}`;
const RETENTION = 30 * 86_400;
const WS = "iam";

let aws: LocalAws;
let recorded: DynamoCall[] = [];

/** A document client on dynalite that records each call it sends. */
function recordingClient(): DynamoDBDocumentClient {
  const client = createDocumentClient({
    endpoint: aws.emulators.dynamoEndpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const send = client.send.bind(client);
  client.send = ((command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const action = command.constructor.name.replace(/Command$/, "");
    recorded.push({
      action:
        {
          Get: "GetItem",
          Put: "PutItem",
          Update: "UpdateItem",
          Delete: "DeleteItem",
          BatchGet: "BatchGetItem",
          BatchWrite: "BatchWriteItem",
        }[action] ?? action,
      input: structuredClone(command.input),
    });
    return send(command as never);
  }) as typeof client.send;
  return client;
}

beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(() => aws?.stop());

const sub = (patch: Partial<Subscription> = {}): Subscription => ({
  id: newSubscriptionId(),
  workspaceId: WS,
  url: "https://hooks.example.com/",
  events: ["deal.updated"],
  enabled: true,
  description: "",
  secret: null,
  previousSecrets: [],
  createdAt: "2026-11-26T09:00:00.000Z",
  updatedAt: "2026-11-26T09:00:00.000Z",
  ...patch,
});

async function event(events: DynamoEventStore, at = Date.now()): Promise<StoredEvent> {
  const stored: StoredEvent = {
    workspaceId: WS,
    id: `evt_${ulid(at)}`,
    name: "deal.updated",
    body: '{"event":"deal.updated","data":{"id":"d_1"},"timestamp":"2026-11-26T10:00:00.000Z"}',
    seq: ulid(at),
    receivedAt: new Date(at).toISOString(),
    targets: [],
    requestHash: "h",
  };
  await events.create(stored);
  return stored;
}

const run = (
  d: { id: string; eventId: string; subscriptionId: string },
  generation: number,
  now = Date.now(),
): RunContext => ({
  workspaceId: WS,
  deliveryId: d.id,
  eventId: d.eventId,
  event: "deal.updated",
  subscriptionId: d.subscriptionId,
  generation,
  owner: `m-${generation}`,
  now,
});

const attempt = (ok: boolean) => ({
  startedAt: new Date().toISOString(),
  durationMs: 5,
  url: "https://hooks.example.com/",
  outcome: ok ? ("succeeded" as const) : ("failed" as const),
  requestHeaders: {},
  statusCode: ok ? 200 : 500,
});

function expectAllowed(role: string, calls: DynamoCall[]) {
  const statements = roleStatements(template, role);
  const denied = calls.filter((call) => !allows(statements, TABLE, call));
  expect(
    denied.map((call) => `${call.action} ${JSON.stringify(call.input).slice(0, 300)}`),
    `${role} would be denied these calls`,
  ).toEqual([]);
}

describe("the deliver function's DynamoDB calls, against its role", () => {
  it("every call of every store method it is wired with is allowed", async () => {
    const table = { client: recordingClient(), name: aws.tableName };
    const setup = { client: aws.documents, name: aws.tableName };
    const store = new DynamoDeliveryStore(table, { retentionSeconds: RETENTION });
    const health = new DynamoWorkspaceStore(table);
    const events = new DynamoEventStore(setup, { retentionSeconds: RETENTION });
    const subscription = sub();
    await new DynamoWorkspaceStore(setup).createSubscription(subscription);
    const stored = await event(events);
    const id = deliveryIdFor(stored.seq, subscription.id);
    recorded = [];

    // The batch read, with and without delivery records.
    await store.loadContext([
      {
        workspaceId: WS,
        deliveryId: id,
        eventId: stored.id,
        subscriptionId: subscription.id,
        withRecord: true,
      },
      {
        workspaceId: WS,
        deliveryId: id,
        eventId: stored.id,
        subscriptionId: subscription.id,
        withRecord: false,
      },
    ]);
    // An attempt recorded (no record yet), another on the record read, a failure into the DLQ.
    const ids = { id, eventId: stored.id, subscriptionId: subscription.id };
    const first = withAttempt(
      undefined,
      run(ids, 0),
      attempt(false),
      { status: "retrying", delaySeconds: 5 },
      "HTTP 500",
    );
    expect(await store.put(first, guardOf(undefined))).toBe(true);
    const read = (await store.get(WS, id)) as Delivery;
    const failed = withAttempt(
      read,
      run(ids, 0),
      attempt(false),
      { status: "failed", reason: "exhausted" },
      "HTTP 500",
    );
    expect(await store.put(failed, guardOf(read))).toBe(true);
    // The endpoint's health: every write it makes.
    const at = new Date().toISOString();
    expect(await health.markFailing(WS, subscription.id, at)).toBe(true);
    expect(
      await health.countFailure(
        WS,
        subscription.id,
        { recentFailures: 2, recentSince: at },
        new Date(Date.now() + 61_000).toISOString(),
        new Date(Date.now() + 60_000).toISOString(),
      ),
    ).toBe(true);
    expect(
      await health.markSlow(WS, subscription.id, new Date(Date.now() + 600_000).toISOString(), at),
    ).toBe(true);
    expect(await health.disableFailing(WS, subscription.id, at, "Failing for days.", at)).toBe(
      true,
    );
    expect(await health.markHealthy(WS, subscription.id)).toBe(true);
    const gone = sub();
    await new DynamoWorkspaceStore(setup).createSubscription(gone);
    expect(await health.disableGone(WS, gone.id, "Answered 410 Gone.", at)).toBe(true);
    // An operational event raised (read the workspace's subscriptions, store the event), as the
    // deliver function's OperationalEvents does, to a subscriber of it.
    await new DynamoWorkspaceStore(setup).createSubscription({
      ...sub(),
      events: ["webhook.subscription.disabled"],
    });
    const operational = new OperationalEvents({
      subscriptions: health,
      events: new DynamoEventStore(table, { retentionSeconds: RETENTION }),
      queue: new SqsDeliveryQueue(aws.sqs, aws),
      log: silentLogger,
    });
    expect(await operational.disabled(subscription, at, "Answered 410 Gone.")).toBe(1);
    // Statistics written.
    await new DynamoStatsStore(table).add({
      workspaceId: WS,
      subscriptionId: subscription.id,
      hour: at.slice(0, 13),
      ...emptyCounts(),
      attempts: 1,
      succeeded: 1,
      lastSuccessAt: at,
    });

    expect(new Set(recorded.map((call) => call.action))).toEqual(
      new Set(["BatchGetItem", "GetItem", "PutItem", "UpdateItem", "Query"]),
    );
    expectAllowed("DeliverFunctionRole", recorded);
  });

  it("may not write a subscription's URL, secret or enabled-by-admin fields beyond health, a key, or an event", () => {
    const statements = roleStatements(template, "DeliverFunctionRole");
    const forbidden: DynamoCall[] = [
      {
        action: "UpdateItem",
        input: {
          Key: { pk: `WS#${WS}`, sk: "SUB#sub_1" },
          UpdateExpression: "SET #url = :url",
          ExpressionAttributeNames: { "#url": "url" },
          ExpressionAttributeValues: { ":url": "https://attacker.example/" },
        },
      },
      {
        action: "UpdateItem",
        input: {
          Key: { pk: `WS#${WS}`, sk: "SUB#sub_1" },
          UpdateExpression: "SET secret = :s, events = :e",
          ExpressionAttributeValues: { ":s": "x", ":e": [] },
        },
      },
      {
        action: "UpdateItem",
        input: {
          Key: { pk: `WS#${WS}`, sk: "KEY#abc" },
          UpdateExpression: "REMOVE revokedAt",
        },
      },
      {
        action: "UpdateItem",
        input: {
          Key: { pk: `WS#${WS}`, sk: "SUB#sub_1" },
          UpdateExpression: "SET slowUntil = :u",
          ExpressionAttributeValues: { ":u": "x" },
          ReturnValues: "ALL_NEW",
        },
      },
      { action: "PutItem", input: { Item: { pk: `WS#${WS}`, sk: "KEY#abc", role: "admin" } } },
      { action: "PutItem", input: { Item: { pk: `WS#${WS}#EVT#e1`, sk: "EVENT", body: "{}" } } },
      { action: "PutItem", input: { Item: { pk: `WS#${WS}#LIMITS`, sk: "LIMITS", rev: 0 } } },
      { action: "DeleteItem", input: { Key: { pk: `WS#${WS}#DLV#01`, sk: "dlv_x" } } },
    ];
    for (const call of forbidden) {
      expect(allows(statements, TABLE, call), JSON.stringify(call.input)).toBe(false);
    }
  });
});

describe("the resend function's DynamoDB calls, against its role", () => {
  it("every call of every job (drain, resend, replay, sweep) is allowed", async () => {
    const table = { client: recordingClient(), name: aws.tableName };
    const setup = { client: aws.documents, name: aws.tableName };
    const deliveries = new DynamoDeliveryStore(table, { retentionSeconds: RETENTION });
    const events = new DynamoEventStore(table, { retentionSeconds: RETENTION });
    const setupDeliveries = new DynamoDeliveryStore(setup, { retentionSeconds: RETENTION });
    const setupEvents = new DynamoEventStore(setup, { retentionSeconds: RETENTION });
    const queue = new SqsDeliveryQueue(aws.sqs, aws);
    const deps = {
      deliveries,
      events,
      subscriptions: new DynamoWorkspaceStore(table),
      queue,
      deadLetters: new SqsHoldingQueue(aws.sqs, aws.deadLetterQueueUrl),
      stranded: new SqsHoldingQueue(aws.sqs, aws.strandedQueueUrl),
      maxReceiveCount: 9,
      log: silentLogger,
    };
    const subscription = sub();
    await new DynamoWorkspaceStore(setup).createSubscription(subscription);
    const failedDelivery = async (status: "failed" | "retrying" = "failed", at = Date.now()) => {
      const stored = await event(setupEvents, at);
      const ids = {
        id: deliveryIdFor(stored.seq, subscription.id),
        eventId: stored.id,
        subscriptionId: subscription.id,
      };
      const record = withAttempt(
        undefined,
        // A run under way whose message SQS then moved aside has no other owner.
        { ...run(ids, 0), owner: status === "retrying" ? undefined : "m-0" },
        attempt(false),
        status === "failed" ? { status, reason: "exhausted" } : { status, delaySeconds: 5 },
        "HTTP 500",
      );
      await setupDeliveries.put(record, guardOf(undefined));
      const message: DeliveryMessage = {
        v: 1,
        w: WS,
        d: ids.id,
        e: stored.id,
        n: "deal.updated",
        s: subscription.id,
        g: 0,
      };
      return { ...ids, record, message };
    };
    // A dead letter in the SQS queue (drain), one to resend by id, a window to replay, a
    // stranded message and an abandoned claim (sweep).
    const drained = await failedDelivery();
    await queue.sendToDeadLetter([encodeMessage(drained.message)]);
    const single = await failedDelivery();
    // Days earlier than the others, so that its window holds it alone.
    const replayedAt = Date.now() - 3 * 86_400_000;
    await failedDelivery("failed", replayedAt);
    const stranded = await failedDelivery("retrying");
    await aws.sqs.send(
      new SendMessageCommand({
        QueueUrl: aws.strandedQueueUrl,
        MessageBody: encodeMessage({ ...stranded.message }),
      }),
    );
    const abandonedOf = await failedDelivery();
    await setupDeliveries.put(
      claimed(abandonedOf.record, { ...run(abandonedOf, 1), now: Date.now() - 10 * 60_000 }),
      guardOf(abandonedOf.record),
    );
    recorded = [];

    expect(await runResendJob({ action: "drain" }, deps)).toMatchObject({ moved: 1 });
    expect(
      await runResendJob({ action: "resend", workspaceId: WS, deliveryId: single.id }, deps),
    ).toMatchObject({ outcome: "queued" });
    const from = new Date(replayedAt - 1000).toISOString();
    const to = new Date(replayedAt + 1000).toISOString();
    const replay = await runResendJob({ action: "replay", workspaceId: WS, from, to }, deps);
    expect(replay).toMatchObject({ action: "replay", queued: 1, errors: [] });
    expect(await runResendJob({ action: "sweep" }, deps)).toMatchObject({
      strandedFailed: 1,
      claimsRequeued: 1,
    });

    expect(new Set(recorded.map((call) => call.action))).toEqual(
      new Set(["BatchGetItem", "GetItem", "PutItem", "UpdateItem", "Query"]),
    );
    expectAllowed("ResendFunctionRole", recorded);
    // What it queued, so that the queues are left as found.
    await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.queueUrl, MaxNumberOfMessages: 10 }),
    );
  });

  it("may not write a subscription, a key, an event's body, or a delivery by UpdateItem", () => {
    const statements = roleStatements(template, "ResendFunctionRole");
    // The operational events the sweep raises ('webhook.' ids, which the CRM may not use) it may.
    expect(
      allows(statements, TABLE, {
        action: "PutItem",
        input: { Item: { pk: `WS#${WS}#EVT#webhook.delivery.exhausted:dlv_1:g0`, sk: "EVENT" } },
      }),
    ).toBe(true);
    const forbidden: DynamoCall[] = [
      {
        action: "PutItem",
        input: { Item: { pk: `WS#${WS}`, sk: "SUB#sub_1", url: "https://attacker.example/" } },
      },
      { action: "PutItem", input: { Item: { pk: `WS#${WS}`, sk: "KEY#abc", role: "admin" } } },
      { action: "PutItem", input: { Item: { pk: `WS#${WS}#EVT#e1`, sk: "EVENT", body: "{}" } } },
      {
        action: "UpdateItem",
        input: {
          Key: { pk: `WS#${WS}#EVT#e1`, sk: "EVENT" },
          UpdateExpression: "SET body = :b",
          ExpressionAttributeValues: { ":b": "{}" },
        },
      },
      {
        action: "UpdateItem",
        input: {
          Key: { pk: `WS#${WS}`, sk: "SUB#sub_1" },
          UpdateExpression: "SET expiresAt = :x",
          ExpressionAttributeValues: { ":x": 1 },
        },
      },
      {
        action: "UpdateItem",
        input: {
          Key: { pk: `WS#${WS}#DLV#01`, sk: "dlv_x" },
          UpdateExpression: "SET #status = :s",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":s": "succeeded" },
        },
      },
    ];
    for (const call of forbidden) {
      expect(allows(statements, TABLE, call), JSON.stringify(call.input)).toBe(false);
    }
  });
});
