import { Duration } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
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
  /** Longest a healthy message can wait in the deliveries queue (the schedule's worst case). */
  oldestHealthyMessage: Duration;
  functions: Record<string, IFunction>;
  api: HttpApi;
  email?: string | undefined;
}

/**
 * What should wake someone: messages in the dead-letter queue, a message older than the whole
 * retry schedule allows (something is stuck), any function error (an invocation that crashed,
 * not a receiver that failed), and API 5xx answers. All go to one SNS topic.
 */
export class Alarms extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, "Topic", {
      topicName: `${props.namePrefix}-alarms`,
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    const action = new SnsAction(this.topic);
    const alarm = (name: string, description: string, metric: IMetric, threshold: number) => {
      new Alarm(this, name, {
        alarmName: `${props.namePrefix}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(action);
    };

    alarm(
      "dead-letters",
      "Deliveries ran out of attempts and wait in the dead-letter queue (docs/operations.md).",
      props.deadLetters.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      0,
    );
    alarm(
      "oldest-delivery",
      "A delivery has waited longer than its whole retry schedule: the deliver function is not keeping up.",
      props.deliveries.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      props.oldestHealthyMessage.toSeconds(),
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
      "api-5xx",
      "The HTTP API answered with server errors.",
      props.api.metricServerError({ period: Duration.minutes(5), statistic: "Sum" }),
      0,
    );
  }
}
