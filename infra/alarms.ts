import { Duration, Stack } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Schedule, ScheduleExpression, ScheduleTargetInput } from "aws-cdk-lib/aws-scheduler";
import { Universal } from "aws-cdk-lib/aws-scheduler-targets";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { METRICS_NAMESPACE } from "../shared/metrics.ts";

export interface AlarmsProps {
  namePrefix: string;
  deliveries: Queue;
  deadLetters: Queue;
  /** Messages SQS gave up on: the sweep empties it every few minutes. */
  stranded: Queue;
  /** How often the sweep runs. */
  sweepEvery: Duration;
  /**
   * Oldest a message may look in the deliveries queue's age metric while deliveries keep up
   * (`oldestMessageAlarmSeconds`: the metric only sees a delivery's first three attempts).
   */
  oldestMessageThreshold: Duration;
  functions: Record<string, IFunction>;
  /** The SQS consumer: throttling it burns receives, so its throttles wake someone too. */
  deliver: IFunction;
  api: HttpApi;
  email?: string | undefined;
}

/**
 * What should wake someone: messages in the dead-letter queue, a delivery older than its first
 * attempts allow (nothing is receiving), any function error (an invocation that crashed, not a
 * receiver that failed), a throttled deliver function, and API 5xx answers. All go to one SNS
 * topic.
 */
export class Alarms extends Construct {
  readonly topic: Topic;
  /** Every alarm, for the dashboard. */
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, "Topic", {
      topicName: `${props.namePrefix}-alarms`,
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    const action = new SnsAction(this.topic);
    const alarms = this.alarms;
    const alarm = (
      name: string,
      description: string,
      metric: IMetric,
      threshold: number,
      treatMissingData = TreatMissingData.NOT_BREACHING,
    ) => {
      const created = new Alarm(this, name, {
        alarmName: `${props.namePrefix}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData,
      });
      created.addAlarmAction(action);
      alarms.push(created);
    };

    alarm(
      "dead-letters",
      "Deliveries ran out of attempts and wait in the dead-letter queue (docs/operations.md).",
      props.deadLetters.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      0,
      // SQS stops publishing a queue's metrics after six hours without activity, dead letters
      // in it or not: missing data must not read as "empty". The keep-alive below keeps the
      // queue active, so a healthy, empty dead-letter queue keeps reporting 0.
      TreatMissingData.BREACHING,
    );
    this.keepActive(props.deadLetters);
    alarm(
      "oldest-delivery",
      "A delivery waiting for its first, second or third attempt is older than those steps allow (SQS's age metric leaves later attempts out): the deliver function is not receiving. A receiver answering with a long Retry-After can also cause it.",
      props.deliveries.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      props.oldestMessageThreshold.toSeconds(),
    );
    alarm(
      "stranded-messages",
      "Messages SQS gave up on have waited through two sweeps: the sweep is not running (docs/operations.md).",
      props.stranded.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      props.sweepEvery.toSeconds() * 2,
    );
    alarm(
      "abandoned-claims",
      "A sweep left resend claims whose message was never sent: they cannot be queued again (docs/operations.md).",
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: "AbandonedClaims",
        dimensionsMap: { Function: "resend", Job: "sweep" },
        period: props.sweepEvery,
        statistic: "Maximum",
      }),
      0,
    );
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(
        `${name}-errors`,
        `The ${name} function failed invocations (crashes or timeouts, not receiver failures).`,
        fn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
        0,
      );
    }
    alarm(
      "deliver-throttles",
      "Lambda throttled the deliver function (the account's concurrency is used up): each throttled batch burns a receive of its messages. See the quota check in the README.",
      props.deliver.metricThrottles({ period: Duration.minutes(5), statistic: "Sum" }),
      0,
    );
    alarm(
      "api-5xx",
      "The HTTP API answered with server errors.",
      props.api.metricServerError({ period: Duration.minutes(5), statistic: "Sum" }),
      0,
    );

    // enforceSSL gives the topic a policy, and a topic policy replaces SNS's default one, the
    // one that let CloudWatch publish: without this statement no alarm would ever arrive.
    // Only these alarms, of this account, may publish.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { "aws:SourceAccount": Stack.of(this).account },
          ArnLike: { "aws:SourceArn": alarms.map((a) => a.alarmArn) },
        },
      }),
    );
  }

  /**
   * An hourly no-op call on the queue (removing a tag it never has) so that SQS counts it as
   * active and keeps publishing its metrics. EventBridge Scheduler cannot call read-only
   * actions such as GetQueueAttributes; UntagQueue changes nothing here. About 730 calls a
   * month: within Scheduler's free tier, a fraction of a cent of SQS requests.
   */
  private keepActive(queue: Queue) {
    new Schedule(this, "KeepDeadLettersActive", {
      description: "Keeps the dead-letter queue reporting metrics (see the dead-letters alarm)",
      schedule: ScheduleExpression.rate(Duration.hours(1)),
      target: new Universal({
        service: "sqs",
        action: "untagQueue",
        input: ScheduleTargetInput.fromObject({
          QueueUrl: queue.queueUrl,
          TagKeys: ["webhooks:keep-active"],
        }),
        policyStatements: [
          new PolicyStatement({ actions: ["sqs:UntagQueue"], resources: [queue.queueArn] }),
        ],
        // The next hour's call does the same; no retries.
        retryAttempts: 0,
      }),
    });
  }
}
