import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { createDocumentClient, createSqsClient } from "../../shared/aws.ts";
import { loadConfig, networkPolicy } from "../../shared/config.ts";
import { deliverBatchMetrics } from "../../shared/delivery-metrics.ts";
import { createHttpSender } from "../../shared/http/sender.ts";
import { jsonLogger, withLogContext } from "../../shared/log.ts";
import { writeMetrics } from "../../shared/metrics.ts";
import { SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { RecentSubscriptions } from "../../shared/recent-subscriptions.ts";
import { createKeyring } from "../../shared/secrets/keyring.ts";
import { SecretBox } from "../../shared/secrets/secret-box.ts";
import { StatsRecorder } from "../../shared/stats.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DynamoStatsStore } from "../../shared/store/stats-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import {
  type DeliverDeps,
  deliverBatch,
  type QueueRecord,
  slowLaneGate,
} from "../../shared/use-cases/deliver-batch.ts";
import { OperationalEvents } from "../../shared/use-cases/operational-events.ts";

// Composition root: configuration, clients and the keep-alive HTTP pool live for the
// lifetime of the execution environment, so warm invocations reuse connections.
const config = loadConfig();
const table = { client: createDocumentClient(), name: config.tableName };
const health = new DynamoWorkspaceStore(table);
const queue = new SqsDeliveryQueue(createSqsClient(), config);
const deps: DeliverDeps = {
  store: new DynamoDeliveryStore(table, config),
  health,
  gate: slowLaneGate(health, { slowAfterMs: config.slowAfterMs, log: jsonLogger }),
  recent: new RecentSubscriptions({ ttlMs: config.deliverCacheMs }),
  stats: new StatsRecorder(new DynamoStatsStore(table), { flushMs: config.statsFlushMs }),
  autoDisableAfterMs: config.autoDisableAfterMs,
  queue,
  operational: new OperationalEvents({
    subscriptions: health,
    events: new DynamoEventStore(table, config),
    queue,
    log: jsonLogger,
  }),
  secrets: new SecretBox(createKeyring(config)),
  sender: createHttpSender({
    policy: networkPolicy(config),
    connectTimeoutMs: config.connectTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    responseBodyLimit: config.responseBodyLimit,
  }),
  schedule: config.retrySchedule,
  requestTimeoutMs: config.requestTimeoutMs,
  responseBodyLimit: config.responseBodyLimit,
  log: jsonLogger,
};

/**
 * How long before an invocation its messages may have been received. The event source
 * mapping invokes right after a receive (no batching window is configured); a minute more
 * keeps SQS's 12-hour visibility limit safe for messages received again.
 */
const RECEIVED_BEFORE_INVOKE_MS = 60_000;

/** The slow lane's queue name, to tell which event source mapping a batch came from. */
const slowQueueName = config.slowQueueUrl.split("/").at(-1);

/** An SQS record as the use case sees it; `invokedAt` estimates when a later receive happened. */
export function queueRecord(record: SQSRecord, invokedAt: number): QueueRecord {
  const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
  const first = Number(record.attributes.ApproximateFirstReceiveTimestamp);
  return {
    messageId: record.messageId,
    receiptHandle: record.receiptHandle,
    body: record.body,
    receiveCount,
    receivedAt: receiveCount === 1 && first > 0 ? first : invokedAt - RECEIVED_BEFORE_INVOKE_MS,
    lane: record.eventSourceARN.split(":").at(-1) === slowQueueName ? "slow" : "main",
  };
}

/** SQS event source mapping with ReportBatchItemFailures: failed items stay queued. */
const deliver = middy<SQSEvent, SQSBatchResponse>().handler(async (event, context) => {
  const invokedAt = Date.now();
  const records = event.Records.map((record) => queueRecord(record, invokedAt));
  const result = await deliverBatch(records, deps, {
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  // One EMF document per batch: CloudWatch turns it into metrics, no API call.
  writeMetrics(deliverBatchMetrics(result, records[0]?.lane ?? "main"));
  return { batchItemFailures: result.failures.map((itemIdentifier) => ({ itemIdentifier })) };
});

/** Every line logged while handling a batch names the function and the request. */
export const handler = (event: SQSEvent, context: Context) =>
  withLogContext({ function: "deliver", requestId: context.awsRequestId }, () =>
    deliver(event, context),
  );
