import { resolve } from "node:path";
import { CfnOutput, Duration, Stack, type StackProps } from "aws-cdk-lib";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { Construct } from "constructs";
import { functionEnvironment } from "../shared/config.ts";
import { queueSettings } from "../shared/retry.ts";
import { Alarms } from "./alarms.ts";
import { Api } from "./api.ts";
import { DeliveryQueue } from "./delivery-queue.ts";
import { HouseFunction } from "./house-function.ts";
import type { Settings } from "./settings.ts";
import { Store } from "./store.ts";

const root = resolve(import.meta.dirname, "..");
const DELIVER_TIMEOUT = Duration.seconds(60);

/** The whole service, reading like the diagram in DESIGN.md. */
export class WebhooksStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps & { settings: Settings }) {
    super(scope, id, props);
    const { settings } = props;
    const prefix = `webhooks-${settings.stage}`;

    const store = new Store(this, "Store", { tableName: prefix, retainData: settings.retainData });
    const queues = new DeliveryQueue(this, "Queues", {
      namePrefix: prefix,
      schedule: settings.retrySchedule,
      consumerTimeout: DELIVER_TIMEOUT,
    });
    const shared = functionEnvironment({
      tableName: store.table.tableName,
      queueUrl: queues.queue.queueUrl,
      deadLetterQueueUrl: queues.deadLetterQueue.queueUrl,
      retrySchedule: settings.retrySchedule,
      retentionDays: settings.retentionDays,
      allowedCidrs: settings.allowedCidrs,
      allowedPorts: settings.allowedPorts,
      kmsKeyId: store.secretsKey.keyArn,
      autoDisableAfterHours: settings.autoDisableAfterHours,
    });

    const api = new HouseFunction(this, "ApiFunction", {
      entry: resolve(root, "functions/api/handler.ts"),
      description: "Webhooks HTTP API: events in, subscriptions and deliveries",
      environment: shared,
      timeout: Duration.seconds(10),
      logRetention: settings.logRetentionDays,
    });
    // Keys, subscriptions, events, deliveries; the dead-letter index for /v1/dlq.
    store.grant(api, ["GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"], {
      deadLetterIndex: true,
    });
    queues.queue.grantSendMessages(api);
    store.grantSecrets(api, "kms:GenerateDataKey");

    const deliver = new HouseFunction(this, "DeliverFunction", {
      entry: resolve(root, "functions/deliver/handler.ts"),
      description: "Webhooks delivery: signs and POSTs queued deliveries",
      environment: shared,
      timeout: DELIVER_TIMEOUT,
      logRetention: settings.logRetentionDays,
    });
    store.grant(deliver, ["BatchGetItem", "UpdateItem"]);
    queues.deadLetterQueue.grantSendMessages(deliver);
    store.grantSecrets(deliver, "kms:Decrypt");
    // Maximum concurrency on the event source (not reserved concurrency) is what keeps Lambda
    // from receiving more batches than it can run: a throttled batch would burn receive counts.
    deliver.addEventSource(
      new SqsEventSource(queues.queue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: settings.deliverConcurrency,
      }),
    );

    const resend = new HouseFunction(this, "ResendFunction", {
      entry: resolve(root, "functions/resend/handler.ts"),
      functionName: `${prefix}-resend`,
      description:
        "Webhooks resend: drain the dead-letter queue, resend one delivery, replay a window",
      environment: shared,
      timeout: Duration.minutes(5),
      logRetention: settings.logRetentionDays,
    });
    // Reads deliveries and events, claims deliveries, extends events; Query for replays.
    store.grant(resend, ["GetItem", "BatchGetItem", "Query", "UpdateItem"]);
    queues.queue.grantSendMessages(resend);
    queues.deadLetterQueue.grantConsumeMessages(resend);

    const http = new Api(this, "Api", {
      name: prefix,
      handler: api,
      rateLimit: settings.apiRateLimit,
      logRetention: settings.logRetentionDays,
    });

    const alarms = new Alarms(this, "Alarms", {
      namePrefix: prefix,
      deliveries: queues.queue,
      deadLetters: queues.deadLetterQueue,
      oldestHealthyMessage: Duration.seconds(
        queueSettings(settings.retrySchedule).expectedMaxAgeSeconds,
      ),
      functions: { api, deliver, resend },
      api: http.httpApi,
      email: settings.alarmEmail,
    });

    new CfnOutput(this, "ApiUrl", { value: http.httpApi.apiEndpoint });
    new CfnOutput(this, "AlarmTopicArn", { value: alarms.topic.topicArn });
    new CfnOutput(this, "TableName", { value: store.table.tableName });
    new CfnOutput(this, "QueueUrl", { value: queues.queue.queueUrl });
    new CfnOutput(this, "DeadLetterQueueUrl", { value: queues.deadLetterQueue.queueUrl });
    new CfnOutput(this, "ApiFunctionName", { value: api.functionName });
    new CfnOutput(this, "DeliverFunctionName", { value: deliver.functionName });
    new CfnOutput(this, "ResendFunctionName", { value: resend.functionName });
  }
}
