import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { HeldMessage, HoldingQueue } from "../ports.ts";
import { SQS_BATCH } from "./delivery-queue.ts";

/**
 * A queue an operator's job reads on demand, holding what it takes while it works: the
 * dead-letter queue (the drain) and the stranded queue (the sweep).
 */
export class SqsHoldingQueue implements HoldingQueue {
  readonly #sqs: SQSClient;
  readonly #url: string;

  constructor(sqs: SQSClient, url: string) {
    this.#sqs = sqs;
    this.#url = url;
  }

  async receive(visibilitySeconds: number): Promise<HeldMessage[]> {
    const { Messages = [] } = await this.#sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#url,
        MaxNumberOfMessages: SQS_BATCH,
        VisibilityTimeout: visibilitySeconds,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
        // A short long-poll: an empty answer then really means the queue is drained.
        WaitTimeSeconds: 1,
      }),
    );
    return Messages.map((m) => ({
      messageId: m.MessageId ?? "",
      receiptHandle: m.ReceiptHandle ?? "",
      body: m.Body ?? "",
      receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
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
