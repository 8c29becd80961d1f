import middy from "@middy/core";
import { createDocumentClient, createSqsClient } from "../../shared/aws.ts";
import { loadConfig } from "../../shared/config.ts";
import { ValidationError } from "../../shared/errors.ts";
import { jsonLogger } from "../../shared/log.ts";
import { SqsDeadLetterQueue } from "../../shared/queue/dead-letter-queue.ts";
import { SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { ResendJob } from "../../shared/schemas.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { type JobResult, runResendJob } from "../../shared/use-cases/resend.ts";
import { parseOrThrow } from "../../shared/validation.ts";

// Composition root: configuration and clients are built once per cold start.
const config = loadConfig();
const table = { client: createDocumentClient(), name: config.tableName };
const sqs = createSqsClient();
const deps = {
  deliveries: new DynamoDeliveryStore(table),
  events: new DynamoEventStore(table),
  queue: new SqsDeliveryQueue(sqs, config.queueUrl, config.deadLetterQueueUrl),
  deadLetters: new SqsDeadLetterQueue(sqs, config.deadLetterQueueUrl),
  retentionSeconds: config.retentionSeconds,
  log: jsonLogger,
};

/** Operators' resend function: drain the DLQ, resend one delivery, or replay a window. */
export const handler = middy<unknown, JobResult>().handler(async (input) => {
  let job: ResendJob;
  try {
    job = parseOrThrow(ResendJob, input);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const lines = error.errors.map((e) => `${e.field}: ${e.detail}`);
    throw new Error(`Invalid resend job. ${lines.join(" ")} See docs/operations.md.`);
  }
  const result = await runResendJob(job, deps);
  jsonLogger.info("resend job done", { ...result });
  return result;
});
