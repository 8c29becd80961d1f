import { GetQueueAttributesCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeliveryMessage } from "../../shared/domain.ts";
import { decodeMessage, SqsDeliveryQueue } from "../../shared/queue/delivery-queue.ts";
import { queueSettings } from "../../shared/retry.ts";
import { eventually } from "../helpers/api-client.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";

let aws: LocalAws;
let queue: SqsDeliveryQueue;
const schedule = [0, 1, 2];
beforeAll(async () => {
  aws = await startLocalAws(schedule);
  queue = new SqsDeliveryQueue(aws.sqs, aws);
});
afterAll(() => aws.stop());

const message = (i: number): DeliveryMessage => ({
  v: 1,
  w: "acme",
  d: `dlv_${i}`,
  e: "evt_1",
  n: "task.created",
  s: `sub_${i}`,
  g: 0,
});

async function drain(url: string, visibility = 30) {
  const received = [];
  for (;;) {
    const { Messages = [] } = await aws.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibility,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) return received;
    received.push(...Messages);
  }
}

describe("SqsDeliveryQueue (fauxqs)", () => {
  it("is provisioned with the redrive policy and retention derived from the schedule", async () => {
    const { Attributes } = await aws.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: aws.queueUrl, AttributeNames: ["All"] }),
    );
    const settings = queueSettings(schedule);
    expect(JSON.parse(Attributes?.RedrivePolicy ?? "{}")).toMatchObject({
      maxReceiveCount: settings.maxReceiveCount,
    });
    expect(Number(Attributes?.MessageRetentionPeriod)).toBe(settings.retentionSeconds);
  });

  it("sends 25 messages in batches of ten, all of them readable as ours", async () => {
    const messages = Array.from({ length: 25 }, (_, i) => message(i));
    await queue.enqueue(messages);
    const received = await drain(aws.queueUrl);
    expect(
      received
        .map((m) => decodeMessage(m.Body ?? ""))
        .sort((a, b) => (a?.d ?? "").localeCompare(b?.d ?? "")),
    ).toEqual([...messages].sort((a, b) => a.d.localeCompare(b.d)));
  });

  it("changes visibility so a failed message comes back only after its delay", async () => {
    await queue.enqueue([message(100)]);
    const [first] = await drain(aws.queueUrl, 30);
    await queue.changeVisibility([{ receiptHandle: first?.ReceiptHandle ?? "", seconds: 1 }]);
    expect(await drain(aws.queueUrl)).toHaveLength(0);
    // Back once its second is over: polled for, with a deadline, rather than slept for.
    const [again] = await eventually(async () => {
      const back = await drain(aws.queueUrl);
      return back.length > 0 ? back : undefined;
    }, 10_000);
    expect(again?.Body).toBe(first?.Body);
    expect(again?.Attributes?.ApproximateReceiveCount).toBe("2");
  });

  it("puts bodies on the dead-letter queue as they are", async () => {
    await queue.sendToDeadLetter(["not ours", JSON.stringify(message(7))]);
    const bodies = (await drain(aws.deadLetterQueueUrl)).map((m) => m.Body);
    expect(bodies.sort()).toEqual(["not ours", JSON.stringify(message(7))].sort());
  });
});
