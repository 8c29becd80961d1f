import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { SQS_BATCH } from "./delivery-queue.ts";

export interface DeadMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
}

/** The SQS dead-letter queue, as the operator's drain sees it. */
export interface DeadLetterQueue {
  /** Up to ten messages, hidden from other readers for `visibilitySeconds`. */
  receive(visibilitySeconds: number): Promise<DeadMessage[]>;
  remove(receiptHandles: readonly string[]): Promise<void>;
  /** Makes held messages visible again at once. */
  release(receiptHandles: readonly string[]): Promise<void>;
  /** Approximate counts: waiting, and held by a reader. */
  depth(): Promise<{ visible: number; inFlight: number }>;
}

export class SqsDeadLetterQueue implements DeadLetterQueue {
  readonly #sqs: SQSClient;
  readonly #url: string;

  constructor(sqs: SQSClient, url: string) {
    this.#sqs = sqs;
    this.#url = url;
  }

  async receive(visibilitySeconds: number): Promise<DeadMessage[]> {
    const { Messages = [] } = await this.#sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#url,
        MaxNumberOfMessages: SQS_BATCH,
        VisibilityTimeout: visibilitySeconds,
        // A short long-poll: an empty answer then really means the queue is drained.
        WaitTimeSeconds: 1,
      }),
    );
    return Messages.map((m) => ({
      messageId: m.MessageId ?? "",
      receiptHandle: m.ReceiptHandle ?? "",
      body: m.Body ?? "",
    }));
  }

  async remove(receiptHandles: readonly string[]): Promise<void> {
    for (const chunk of chunks(receiptHandles)) {
      await this.#sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#url,
          Entries: chunk.map((handle, index) => ({ Id: String(index), ReceiptHandle: handle })),
        }),
      );
    }
  }

  async release(receiptHandles: readonly string[]): Promise<void> {
    for (const chunk of chunks(receiptHandles)) {
      await this.#sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.#url,
          Entries: chunk.map((handle, index) => ({
            Id: String(index),
            ReceiptHandle: handle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
  }

  async depth(): Promise<{ visible: number; inFlight: number }> {
    const { Attributes = {} } = await this.#sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.#url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return {
      visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }
}

function* chunks<T>(items: readonly T[]): Generator<T[]> {
  for (let offset = 0; offset < items.length; offset += SQS_BATCH) {
    yield items.slice(offset, offset + SQS_BATCH);
  }
}
