import { Duration, Stack } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  type Alarm,
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
} from "aws-cdk-lib/aws-cloudwatch";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { METRICS_NAMESPACE } from "../shared/metrics.ts";

export interface DashboardProps {
  name: string;
  api: HttpApi;
  functions: Record<string, IFunction>;
  queues: { deliveries: Queue; slowLane: Queue; deadLetters: Queue; stranded: Queue };
  alarms: Alarm[];
}

const MINUTE = Duration.minutes(1);

/**
 * One CloudWatch dashboard for the whole service: ingest (requests, events accepted and
 * refused, API errors), what became of deliveries (by outcome, both lanes), attempt latency
 * p50/p99, the queues' depth and age, the dead-letter and stranded queues, the functions'
 * errors and throttles, and every alarm. Its URL is a stack output.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: Dashboard;
  readonly url: string;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    /** A metric the functions write (EMF), summed over both lanes where it has them. */
    const emf = (name: string, label: string, statistic = "Sum") =>
      new MathExpression({
        expression: `SUM(SEARCH('{${METRICS_NAMESPACE},Function,Lane} MetricName="${name}"', '${statistic}', 60))`,
        label,
        period: MINUTE,
      });
    const fromApi = (name: string, label: string): IMetric =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { Function: "api" },
        statistic: "Sum",
        period: MINUTE,
        label,
      });
    const latency = (statistic: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: "AttemptLatency",
        dimensionsMap: { Function: "deliver", Lane: "main" },
        statistic,
        period: MINUTE,
        label: `attempt latency ${statistic}, main lane`,
      });
    const queue = (q: Queue, label: string) => [
      q.metricApproximateNumberOfMessagesVisible({ period: MINUTE, statistic: "Maximum", label }),
    ];

    this.dashboard = new Dashboard(this, "Dashboard", {
      dashboardName: props.name,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new TextWidget({
            markdown: `# Webhooks — ${props.name}\nIngest, deliveries, latency, queues and alarms. The README's "Operating it" section says what each means.`,
            width: 24,
            height: 2,
          }),
        ],
        [
          new GraphWidget({
            title: "Ingest",
            left: [
              props.api.metricCount({ period: MINUTE, statistic: "Sum", label: "HTTP requests" }),
              fromApi("EventsAccepted", "events accepted"),
              fromApi("EventsRefused", "events refused"),
            ],
            width: 12,
          }),
          new GraphWidget({
            title: "API errors",
            left: [
              props.api.metricClientError({ period: MINUTE, statistic: "Sum", label: "4xx" }),
              props.api.metricServerError({ period: MINUTE, statistic: "Sum", label: "5xx" }),
            ],
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: "Deliveries by outcome (both lanes)",
            left: [
              emf("Succeeded", "succeeded"),
              emf("Retried", "failed, retrying"),
              emf("FailedForGood", "failed for good"),
              emf("Canceled", "canceled"),
              emf("Deferred", "deferred (endpoint busy)"),
              emf("MovedToSlowLane", "moved to the slow lane"),
            ],
            width: 12,
          }),
          new GraphWidget({
            title: "Attempt latency",
            left: [latency("p50"), latency("p99")],
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: "Queues: messages waiting",
            left: [
              ...queue(props.queues.deliveries, "deliveries"),
              ...queue(props.queues.slowLane, "slow lane"),
            ],
            right: [
              props.queues.deliveries.metricApproximateAgeOfOldestMessage({
                period: MINUTE,
                statistic: "Maximum",
                label: "oldest delivery (s)",
              }),
            ],
            width: 12,
          }),
          new GraphWidget({
            title: "Dead letters and stranded messages",
            left: [
              ...queue(props.queues.deadLetters, "dead-letter queue"),
              ...queue(props.queues.stranded, "stranded queue"),
            ],
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: "Function errors and throttles",
            left: Object.entries(props.functions).flatMap(([name, fn]) => [
              fn.metricErrors({ period: MINUTE, statistic: "Sum", label: `${name} errors` }),
              fn.metricThrottles({ period: MINUTE, statistic: "Sum", label: `${name} throttles` }),
            ]),
            width: 12,
          }),
          new AlarmStatusWidget({ title: "Alarms", alarms: props.alarms, width: 12 }),
        ],
      ],
    });
    this.url = `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${props.name}`;
  }
}
