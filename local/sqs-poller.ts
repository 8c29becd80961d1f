import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { describeError, type Logger } from "../shared/log.ts";
import { runInvocation } from "./invocation.ts";
import { lambdaContext } from "./lambda-context.ts";

export type SqsHandler = (
  event: SQSEvent,
  context: Context,
) => Promise<SQSBatchResponse | undefined>;

export interface PollerOptions {
  queueUrl: string;
  queueArn: string;
  /** Concurrent batches, like the event source mapping's maximum concurrency. */
  concurrency: number;
  /** The function's timeout: an invocation still running then is stopped, as on Lambda. */
  timeoutMs: number;
  /**
   * Test seam: false makes a received batch go uninvoked, as when Lambda throttles the
   * function — the messages were received (their receive count went up) and come back later.
   */
  shouldInvoke?: (messages: readonly Message[]) => boolean;
  log: Logger;
}

/**
 * Does locally what the SQS event source mapping does for the deliver function: long-polls
 * up to ten messages, invokes the function with them, deletes the ones that succeeded and
 * leaves `batchItemFailures` (or the whole batch, if the invocation throws or runs out of
 * time — it is then stopped, as Lambda stops it) on the queue.
 */
export function startPoller(
  sqs: SQSClient,
  handler: SqsHandler,
  options: PollerOptions,
): { stop(): Promise<void> } {
  const abort = new AbortController();
  const workers = Array.from({ length: options.concurrency }, () => poll());

  async function poll(): Promise<void> {
    while (!abort.signal.aborted) {
      let messages: Message[] = [];
      try {
        const received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 2,
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: abort.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (abort.signal.aborted) return;
        options.log.warn("receive failed; retrying", describeError(error));
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (messages.length > 0) await invoke(messages);
    }
  }

  async function invoke(messages: Message[]): Promise<void> {
    if (options.shouldInvoke && !options.shouldInvoke(messages)) return;
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, options)) };
    const outcome = await runInvocation("deliver", options.timeoutMs, () =>
      handler(event, lambdaContext("webhooks-deliver", options.timeoutMs)),
    );
    if (!outcome.ok) {
      options.log.error(
        "deliver invocation failed; the batch stays queued",
        describeError(outcome.error),
      );
      return;
    }
    const failed = new Set(
      outcome.value?.batchItemFailures.map((item) => item.itemIdentifier) ?? [],
    );
    const done = messages.filter((m) => m.MessageId && !failed.has(m.MessageId));
    if (done.length === 0) return;
    try {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: done.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    } catch (error) {
      options.log.warn("delete failed; messages will be redelivered", describeError(error));
    }
  }

  return {
    async stop() {
      abort.abort();
      await Promise.allSettled(workers);
    },
  };
}

function toRecord(message: Message, options: PollerOptions): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? "",
      SenderId: attributes.SenderId ?? "local",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? "",
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: options.queueArn,
    awsRegion: "us-east-1",
  };
}
