import middy from "@middy/core";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createDocumentClient, createSqsClient } from "../../shared/aws.ts";
import { loadConfig, networkPolicy } from "../../shared/config.ts";
import { createHttpSender } from "../../shared/http/sender.ts";
import { jsonLogger } from "../../shared/log.ts";
import { SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { createKeyring } from "../../shared/secrets/keyring.ts";
import { SecretBox } from "../../shared/secrets/secret-box.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { type DeliverDeps, deliverBatch } from "../../shared/use-cases/deliver-batch.ts";

// Composition root: configuration, clients and the keep-alive HTTP pool live for the
// lifetime of the execution environment, so warm invocations reuse connections.
const config = loadConfig();
const table = { client: createDocumentClient(), name: config.tableName };
const deps: DeliverDeps = {
  store: new DynamoDeliveryStore(table),
  health: new DynamoWorkspaceStore(table),
  autoDisableAfterMs: config.autoDisableAfterMs,
  queue: new SqsDeliveryQueue(createSqsClient(), config.queueUrl, config.deadLetterQueueUrl),
  secrets: new SecretBox(createKeyring(config)),
  sender: createHttpSender({
    policy: networkPolicy(config),
    connectTimeoutMs: config.connectTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    responseBodyLimit: config.responseBodyLimit,
  }),
  schedule: config.retrySchedule,
  retentionSeconds: config.retentionSeconds,
  requestTimeoutMs: config.requestTimeoutMs,
  log: jsonLogger,
};

/** SQS event source mapping with ReportBatchItemFailures: failed items stay queued. */
export const handler = middy<SQSEvent, SQSBatchResponse>().handler(async (event, context) => {
  const { failures } = await deliverBatch(
    event.Records.map((record) => ({
      messageId: record.messageId,
      receiptHandle: record.receiptHandle,
      body: record.body,
      receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
    })),
    deps,
    { remainingMs: () => context.getRemainingTimeInMillis() },
  );
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
});
