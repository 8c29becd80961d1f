import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { createSqsClient } from "../../shared/aws.ts";
import { eventually } from "./api-client.ts";

const COUNTS = [
  "ApproximateNumberOfMessages",
  "ApproximateNumberOfMessagesNotVisible",
  "ApproximateNumberOfMessagesDelayed",
] as const;

/**
 * Waits, up to a deadline, until the local stack's delivery queues (main and slow lane) hold no
 * message at all: none visible, none in flight, none delayed. Every delivery comes from one of
 * those messages, so from then on nothing more can arrive: this is how a test says "nothing
 * else was sent" without sleeping a fixed time and hoping.
 */
export async function deliveryQueuesIdle(timeoutMs = 20_000): Promise<void> {
  const sqs = createSqsClient();
  const urls = [process.env.WEBHOOKS_QUEUE_URL, process.env.WEBHOOKS_SLOW_QUEUE_URL];
  if (urls.some((url) => !url)) throw new Error("the local stack's queue URLs are not set");
  try {
    await eventually(async () => {
      for (const url of urls) {
        const { Attributes = {} } = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...COUNTS] }),
        );
        if (COUNTS.some((name) => Number(Attributes[name] ?? 0) > 0)) return undefined;
      }
      return true;
    }, timeoutMs);
  } finally {
    sqs.destroy();
  }
}
