import { Duration, Stack } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

export interface AlarmsProps {
  namePrefix: string;
  deliveries: Queue;
  deadLetters: Queue;
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
    const alarms: Alarm[] = [];
    const alarm = (name: string, description: string, metric: IMetric, threshold: number) => {
      const created = new Alarm(this, name, {
        alarmName: `${props.namePrefix}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
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
}
