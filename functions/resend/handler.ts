import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { createDocumentClient, createSqsClient } from "../../shared/aws.ts";
import { loadConfig } from "../../shared/config.ts";
import { ValidationError } from "../../shared/errors.ts";
import { jsonLogger, withLogContext } from "../../shared/log.ts";
import { emfLine, writeMetrics } from "../../shared/metrics.ts";
import { SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { SqsHoldingQueue } from "../../shared/queue/holding-queue.ts";
import { queueSettings } from "../../shared/retry.ts";
import { ResendJob } from "../../shared/schemas.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";
import { DynamoEventStore } from "../../shared/store/event-store.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { OperationalEvents } from "../../shared/use-cases/operational-events.ts";
import { type JobResult, runResendJob } from "../../shared/use-cases/resend.ts";
import { parseOrThrow } from "../../shared/validation.ts";

// Composition root: configuration and clients are built once per cold start.
const config = loadConfig();
const table = { client: createDocumentClient(), name: config.tableName };
const sqs = createSqsClient();
const events = new DynamoEventStore(table, config);
const subscriptions = new DynamoWorkspaceStore(table);
const queue = new SqsDeliveryQueue(sqs, config);
const deps = {
  deliveries: new DynamoDeliveryStore(table, config),
  events,
  subscriptions,
  queue,
  operational: new OperationalEvents({ subscriptions, events, queue, log: jsonLogger }),
  deadLetters: new SqsHoldingQueue(sqs, config.deadLetterQueueUrl),
  stranded: new SqsHoldingQueue(sqs, config.strandedQueueUrl),
  maxReceiveCount: queueSettings(config.retrySchedule).maxReceiveCount,
  log: jsonLogger,
};

/**
 * Operators' resend function: drain the dead-letter queue, resend one delivery, replay a
 * window — and, on a schedule, the sweep.
 */
const resend = middy<unknown, JobResult>().handler(async (input) => {
  let job: ResendJob;
  try {
    job = parseOrThrow(ResendJob, input);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const lines = error.errors.map((e) => `${e.field}: ${e.detail}`);
    throw new Error(`Invalid resend job. ${lines.join(" ")} See docs/operations.md.`);
  }
  const result = await runResendJob(job, deps);
  const swept = result.action === "sweep" ? result : undefined;
  const news =
    !swept ||
    swept.claimsLeft + swept.strandedFailed + swept.strandedLeft + swept.claimsRequeued > 0;
  // A sweep that found nothing says nothing (it runs every few minutes, or seconds locally).
  if (news) jsonLogger.info("resend job done", { ...result });
  if (swept && news) {
    // Only when there is news: the alarm on AbandonedClaims fires on any left behind.
    writeMetrics(
      emfLine(
        { Function: "resend", Job: "sweep" },
        {
          AbandonedClaims: { value: swept.claimsLeft, unit: "Count" },
          StrandedFailed: { value: swept.strandedFailed, unit: "Count" },
          ClaimsRequeued: { value: swept.claimsRequeued, unit: "Count" },
        },
      ),
    );
  }
  if (result.action === "drain" || result.action === "replay") {
    writeMetrics(
      emfLine(
        { Function: "resend", Job: result.action },
        result.action === "drain"
          ? { DeadLettersDrained: { value: result.moved, unit: "Count" } }
          : { Replayed: { value: result.queued, unit: "Count" } },
      ),
    );
  }
  return result;
});

/** Every line logged while running a job names the function, the request and the job. */
export const handler = (input: unknown, context: Context) =>
  withLogContext(
    {
      function: "resend",
      requestId: context.awsRequestId,
      job: (input as { action?: unknown } | null)?.action,
    },
    () => resend(input, context),
  );
