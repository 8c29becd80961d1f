import { Duration, Validations } from "aws-cdk-lib";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { queueSettings } from "../shared/retry.ts";

/**
 * The deliveries queue, its dead-letter queue (deliveries that failed for good, moved there by
 * the deliver function) and the stranded queue (messages SQS itself gave up on after too many
 * receives: the sweep fails their deliveries visibly and passes them on to the dead-letter
 * queue). Retention and the redrive count come from the retry schedule through
 * `queueSettings`, the function the local stack uses too; the visibility timeout is six times
 * the deliver function's timeout, as AWS advises for Lambda.
 */
export class DeliveryQueue extends Construct {
  readonly queue: Queue;
  /** The slow lane: deliveries to endpoints that answer slowly, with their own consumer. */
  readonly slowQueue: Queue;
  readonly deadLetterQueue: Queue;
  readonly strandedQueue: Queue;

  constructor(
    scope: Construct,
    id: string,
    props: { namePrefix: string; schedule: readonly number[]; consumerTimeout: Duration },
  ) {
    super(scope, id);
    const settings = queueSettings(props.schedule);
    this.deadLetterQueue = new Queue(this, "DeadLetters", {
      queueName: `${props.namePrefix}-deliveries-dlq`,
      retentionPeriod: Duration.seconds(settings.deadLetterRetentionSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "This is where failed deliveries end: the deliver function sends them here itself, after their last attempt. It is not SQS's redrive target (the stranded queue is), and nothing consumes it but an operator's drain, so it needs no dead-letter queue of its own.",
    });
    this.strandedQueue = new Queue(this, "Stranded", {
      queueName: `${props.namePrefix}-deliveries-stranded`,
      retentionPeriod: Duration.seconds(settings.deadLetterRetentionSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    // The two lanes: the same retention, visibility and redrive to the stranded queue.
    const lane = (id: string, name: string) =>
      new Queue(this, id, {
        queueName: name,
        retentionPeriod: Duration.seconds(settings.retentionSeconds),
        visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: this.strandedQueue, maxReceiveCount: settings.maxReceiveCount },
      });
    this.queue = lane("Deliveries", `${props.namePrefix}-deliveries`);
    this.slowQueue = lane("SlowDeliveries", `${props.namePrefix}-deliveries-slow`);
  }
}
