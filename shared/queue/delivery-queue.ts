import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { backoffMs, sleep } from "../aws.ts";
import { EVENT_NAMES } from "../catalog.ts";
import type { DeliveryMessage } from "../domain.ts";
import type { DeliveryQueue, FanOutQueue, VisibilityChange } from "../ports.ts";

/** SQS takes at most ten entries per batch call. */
export const SQS_BATCH = 10;
const SEND_TRIES = 5;
const VISIBILITY_TRIES = 2;

/** The queues of the delivery path, by URL. */
export interface DeliveryQueueUrls {
  /** The main lane: every delivery starts here. */
  queueUrl: string;
  /** The slow lane: deliveries to endpoints that answer slowly. */
  slowQueueUrl: string;
  deadLetterQueueUrl: string;
}

export class SqsDeliveryQueue implements DeliveryQueue, FanOutQueue {
  readonly #sqs: SQSClient;
  readonly #urls: DeliveryQueueUrls;

  constructor(sqs: SQSClient, urls: DeliveryQueueUrls) {
    this.#sqs = sqs;
    this.#urls = urls;
  }

  enqueue(messages: readonly DeliveryMessage[]): Promise<void> {
    return sendAll(this.#sqs, this.#urls.queueUrl, messages.map(encodeMessage));
  }

  async enqueueEach(messages: readonly DeliveryMessage[]): Promise<ReadonlySet<number>> {
    const bodies = messages.map(encodeMessage);
    const failed = new Set<number>();
    const calls: Array<Promise<void>> = [];
    for (let offset = 0; offset < bodies.length; offset += SQS_BATCH) {
      const chunk = bodies.slice(offset, offset + SQS_BATCH);
      calls.push(
        sendAll(this.#sqs, this.#urls.queueUrl, chunk).catch(() => {
          for (let i = 0; i < chunk.length; i++) failed.add(offset + i);
        }),
      );
    }
    await Promise.all(calls);
    return failed;
  }

  sendToDeadLetter(bodies: readonly string[]): Promise<void> {
    return sendAll(this.#sqs, this.#urls.deadLetterQueueUrl, bodies);
  }

  sendToSlowLane(bodies: readonly string[]): Promise<void> {
    return sendAll(this.#sqs, this.#urls.slowQueueUrl, bodies);
  }

  /**
   * ChangeMessageVisibilityBatch answers 200 even when entries fail: those are tried once more,
   * and the ones that still fail are handed back. Their messages come back early, after the
   * queue's own visibility timeout, and the lifecycle then waits out the rest of their step.
   */
  async changeVisibility(changes: readonly VisibilityChange[]): Promise<string[]> {
    const failed: string[] = [];
    for (const lane of ["main", "slow"] as const) {
      const ofLane = changes.filter((change) => (change.lane ?? "main") === lane);
      const url = lane === "main" ? this.#urls.queueUrl : this.#urls.slowQueueUrl;
      failed.push(...(await this.#changeVisibility(url, ofLane)));
    }
    return failed;
  }

  async #changeVisibility(url: string, changes: readonly VisibilityChange[]): Promise<string[]> {
    const failed: string[] = [];
    for (let offset = 0; offset < changes.length; offset += SQS_BATCH) {
      let pending = changes.slice(offset, offset + SQS_BATCH);
      for (let attempt = 0; pending.length > 0 && attempt < VISIBILITY_TRIES; attempt++) {
        if (attempt > 0) await sleep(backoffMs(attempt));
        const result = await this.#sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: pending.map((change, index) => ({
              Id: String(index),
              ReceiptHandle: change.receiptHandle,
              VisibilityTimeout: change.seconds,
            })),
          }),
        );
        const refused = new Set((result.Failed ?? []).map((entry) => entry.Id));
        // A receipt handle that is no longer valid (the message was received again) will not
        // become valid by retrying.
        const permanent = new Set(
          (result.Failed ?? []).filter((entry) => entry.SenderFault).map((entry) => entry.Id),
        );
        const next: VisibilityChange[] = [];
        pending.forEach((change, index) => {
          const id = String(index);
          if (!refused.has(id)) return;
          if (permanent.has(id) || attempt === VISIBILITY_TRIES - 1)
            failed.push(change.receiptHandle);
          else next.push(change);
        });
        pending = next;
      }
    }
    return failed;
  }
}

/**
 * SendMessageBatch answers 200 even when some entries fail; those are retried with backoff
 * and, if they keep failing, the whole call fails (the caller reports an error, never success).
 */
export async function sendAll(sqs: SQSClient, queueUrl: string, bodies: readonly string[]) {
  for (let offset = 0; offset < bodies.length; offset += SQS_BATCH) {
    let pending: SendMessageBatchRequestEntry[] = bodies
      .slice(offset, offset + SQS_BATCH)
      .map((body, index) => ({ Id: String(index), MessageBody: body }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt === SEND_TRIES) {
        throw new Error(`SQS refused ${pending.length} messages after ${SEND_TRIES} tries`);
      }
      if (attempt > 0) await sleep(backoffMs(attempt));
      const result = await sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }),
      );
      const failed = new Set((result.Failed ?? []).map((entry) => entry.Id));
      const permanent = (result.Failed ?? []).find((entry) => entry.SenderFault);
      if (permanent) {
        throw new Error(`SQS rejected a message: ${permanent.Code} ${permanent.Message ?? ""}`);
      }
      pending = pending.filter((entry) => failed.has(entry.Id));
    }
  }
}

export const encodeMessage = (message: DeliveryMessage): string => JSON.stringify(message);

const EVENTS: ReadonlySet<string> = new Set(EVENT_NAMES);
/** An id or name in a message: a non-empty string of at most 200 characters. */
const isId = (value: unknown): value is string =>
  typeof value === "string" && value.length > 0 && value.length <= 200;

/**
 * Parses a queue message body; undefined when it is not one of ours. Checked field by field
 * rather than with a schema: this runs for every delivery, and a zod parse of it cost about
 * 5 µs of the deliver path's CPU (the profile in BENCHMARKS.md); the rules are the same.
 * Unknown fields are dropped.
 */
export function decodeMessage(body: string): DeliveryMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const { v, w, d, e, n, s, g, r, o } = parsed as Record<string, unknown>;
  if (v !== 1 || !isId(w) || !isId(d) || !isId(e) || !isId(s)) return undefined;
  if (typeof n !== "string" || !EVENTS.has(n)) return undefined;
  if (typeof g !== "number" || !Number.isInteger(g) || g < 0) return undefined;
  if (r !== undefined && r !== 1) return undefined;
  if (o !== undefined && !isId(o)) return undefined;
  return {
    v: 1,
    w,
    d,
    e,
    n: n as DeliveryMessage["n"],
    s,
    g,
    ...(r === 1 ? { r: 1 as const } : {}),
    ...(o === undefined ? {} : { o }),
  };
}
