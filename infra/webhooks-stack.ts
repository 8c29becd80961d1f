import { resolve } from "node:path";
import { CfnOutput, Duration, Fn, Stack, type StackProps, Token } from "aws-cdk-lib";
import { Rule, RuleTargetInput, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { Construct } from "constructs";
import {
  DEFAULT_MAX_SUBSCRIPTIONS,
  deliverCacheMsFor,
  type FunctionSettings,
  functionEnvironment,
} from "../shared/config.ts";
import { oldestMessageAlarmSeconds } from "../shared/retry.ts";
import { STACK_OUTPUTS } from "../shared/stack-outputs.ts";
import { Alarms } from "./alarms.ts";
import { Api } from "./api.ts";
import { Console } from "./console.ts";
import { OperationsDashboard } from "./dashboard.ts";
import { DeliveryQueue } from "./delivery-queue.ts";
import { HouseFunction } from "./house-function.ts";
import { Network } from "./network.ts";
import {
  apiBurstLimit,
  DEFAULT_VPC_AZS,
  type Settings,
  SettingsError,
  wafRegionProblem,
} from "./settings.ts";
import { Store, WRITE_SCOPES } from "./store.ts";
import { RateLimitAcl } from "./waf.ts";

const root = resolve(import.meta.dirname, "..");
const DELIVER_TIMEOUT = Duration.seconds(60);
/** How often the sweep runs. */
export const SWEEP_MINUTES = 5;

/** The whole service, reading like the diagram in docs/architecture.md. */
export class WebhooksStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps & { settings: Settings }) {
    super(scope, id, props);
    const { settings } = props;
    const prefix = `webhooks-${settings.stage}`;
    const wafProblem = wafRegionProblem(
      settings,
      Token.isUnresolved(this.region) ? undefined : this.region,
    );
    if (wafProblem) {
      throw new SettingsError(`Invalid deployment settings (CDK context):\n  ${wafProblem}`);
    }

    const store = new Store(this, "Store", {
      namePrefix: prefix,
      retainData: settings.retainData,
      existing:
        settings.existingTableName !== undefined && settings.existingKmsKeyArn !== undefined
          ? { tableName: settings.existingTableName, kmsKeyArn: settings.existingKmsKeyArn }
          : undefined,
    });
    const queues = new DeliveryQueue(this, "Queues", {
      namePrefix: prefix,
      schedule: settings.retrySchedule,
      consumerTimeout: DELIVER_TIMEOUT,
    });
    const network = WebhooksStack.network(this, settings, prefix);
    const base: FunctionSettings = {
      tableName: store.table.tableName,
      queueUrl: queues.queue.queueUrl,
      deadLetterQueueUrl: queues.deadLetterQueue.queueUrl,
      strandedQueueUrl: queues.strandedQueue.queueUrl,
      slowQueueUrl: queues.slowQueue.queueUrl,
      retrySchedule: settings.retrySchedule,
      retentionDays: settings.retentionDays,
      allowedCidrs: settings.allowedCidrs,
      allowedPorts: settings.allowedPorts,
      kmsKeyId: store.secretsKey.keyArn,
      autoDisableAfterHours: settings.autoDisableAfterHours,
      // Every deliver instance may read every subscription of a busy workspace: the copy lives
      // long enough that their reads fit the workspace partition (see deliverCacheMsFor).
      deliverCacheMs: deliverCacheMsFor(
        settings.deliverConcurrency + settings.slowLaneConcurrency,
        DEFAULT_MAX_SUBSCRIPTIONS,
      ),
    };
    const shared = functionEnvironment(base);

    const api = new HouseFunction(this, "ApiFunction", {
      entry: resolve(root, "functions/api/handler.ts"),
      description: "Webhooks HTTP API: events in, subscriptions, deliveries, test sends",
      // The API tells customers which addresses to allow-list; only it needs them.
      environment: network
        ? functionEnvironment({ ...base, egressIps: network.egressIps })
        : shared,
      timeout: Duration.seconds(10),
      logRetention: settings.logRetentionDays,
      reservedConcurrentExecutions: settings.apiReservedConcurrency,
    });
    // Keys, subscriptions, events, deliveries; the dead-letter index for /v1/dlq.
    store.grant(api, ["GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem"], {
      deadLetterIndex: true,
    });
    queues.queue.grantSendMessages(api);
    store.grantSecrets(api, "kms:GenerateDataKey");
    // Test sends sign with the subscription's secret, as the deliver function does.
    store.grantSecrets(api, "kms:Decrypt");

    const deliver = new HouseFunction(this, "DeliverFunction", {
      entry: resolve(root, "functions/deliver/handler.ts"),
      description: "Webhooks delivery: signs and POSTs queued deliveries",
      environment: shared,
      timeout: DELIVER_TIMEOUT,
      logRetention: settings.logRetentionDays,
      placement: network?.placement,
    });
    // Reads its batch; Query: a workspace's subscriptions, read when an operational event (an
    // endpoint failing, disabled, recovered; a delivery exhausted) is raised — a change of state,
    // never per delivery. Writes attempts (PutItem with a condition, delivery records), the
    // operational events it raises (PutItem of events), endpoint health (UpdateItem of the health
    // fields only: never a URL, a secret, a key) and subscription statistics (their own items).
    store.grant(deliver, ["BatchGetItem", "GetItem", "Query"]);
    store.grant(deliver, ["PutItem"], {
      leadingKeys: [...WRITE_SCOPES.deliveries, ...WRITE_SCOPES.operationalEvents],
    });
    store.grant(deliver, ["UpdateItem"], { attributes: WRITE_SCOPES.health });
    store.grant(deliver, ["UpdateItem"], { leadingKeys: WRITE_SCOPES.stats });
    queues.deadLetterQueue.grantSendMessages(deliver);
    // Operational events are delivered like any other: their fan-out goes to the main queue.
    queues.queue.grantSendMessages(deliver);
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
    // The slow lane: endpoints that answer slowly, with a concurrency of their own, so that
    // they cannot take the main lane's.
    deliver.addEventSource(
      new SqsEventSource(queues.slowQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: settings.slowLaneConcurrency,
      }),
    );
    queues.slowQueue.grantSendMessages(deliver);

    const resend = new HouseFunction(this, "ResendFunction", {
      entry: resolve(root, "functions/resend/handler.ts"),
      functionName: `${prefix}-resend`,
      description:
        "Webhooks resend: drain the dead-letter queue, resend one delivery, replay a window",
      environment: shared,
      timeout: Duration.minutes(5),
      logRetention: settings.logRetentionDays,
    });
    // Reads deliveries, events and subscriptions; Query for replays, the dead-letter index and
    // the sweep. Claims deliveries (PutItem with a condition, delivery records only) and
    // extends events (UpdateItem of an event's expiry only).
    store.grant(resend, ["GetItem", "BatchGetItem", "Query"], { deadLetterIndex: true });
    // Delivery records (claims, cancels, stranded runs), and the operational events the sweep
    // raises when it fails a stranded run.
    store.grant(resend, ["PutItem"], {
      leadingKeys: [...WRITE_SCOPES.deliveries, ...WRITE_SCOPES.operationalEvents],
    });
    store.grant(resend, ["UpdateItem"], {
      leadingKeys: WRITE_SCOPES.events,
      attributes: WRITE_SCOPES.eventExpiry,
    });
    queues.queue.grantSendMessages(resend);
    queues.deadLetterQueue.grantConsumeMessages(resend);
    queues.deadLetterQueue.grantSendMessages(resend);
    queues.strandedQueue.grantConsumeMessages(resend);
    // The sweep: messages SQS gave up on, and resend claims that crashed before queuing.
    new Rule(this, "Sweep", {
      description: "Webhooks sweep: reconcile stranded messages, re-queue abandoned claims",
      schedule: Schedule.rate(Duration.minutes(SWEEP_MINUTES)),
      targets: [
        new LambdaFunction(resend, {
          event: RuleTargetInput.fromObject({ action: "sweep" }),
          retryAttempts: 2,
        }),
      ],
    });

    const http = new Api(this, "Api", {
      name: prefix,
      handler: api,
      rateLimit: settings.apiRateLimit,
      burstLimit: apiBurstLimit(settings.apiRateLimit),
      logRetention: settings.logRetentionDays,
    });

    // The web console, and the same origin for the API: CloudFront, optionally behind WAF.
    const waf =
      settings.wafRateLimit === undefined
        ? undefined
        : new RateLimitAcl(this, "Waf", { namePrefix: prefix, rateLimit: settings.wafRateLimit });
    const webConsole = new Console(this, "Console", {
      api: http.httpApi,
      frameAncestors: settings.consoleFrameAncestors,
      webAclArn: waf?.arn ?? settings.wafWebAclArn,
      logRetention: settings.logRetentionDays,
    });

    const alarms = new Alarms(this, "Alarms", {
      namePrefix: prefix,
      deliveries: queues.queue,
      deadLetters: queues.deadLetterQueue,
      stranded: queues.strandedQueue,
      sweepEvery: Duration.minutes(SWEEP_MINUTES),
      oldestMessageThreshold: Duration.seconds(oldestMessageAlarmSeconds(settings.retrySchedule)),
      functions: { api, deliver, resend },
      deliver,
      api: http.httpApi,
      email: settings.alarmEmail,
    });

    const dashboard = new OperationsDashboard(this, "Operations", {
      name: prefix,
      api: http.httpApi,
      functions: { api, deliver, resend },
      queues: {
        deliveries: queues.queue,
        slowLane: queues.slowQueue,
        deadLetters: queues.deadLetterQueue,
        stranded: queues.strandedQueue,
      },
      alarms: alarms.alarms,
    });

    // The outputs the CLI's --stack and `npm run smoke` read (shared/stack-outputs.ts).
    new CfnOutput(this, STACK_OUTPUTS.apiUrl, { value: http.httpApi.apiEndpoint });
    new CfnOutput(this, "DashboardUrl", {
      description: "The CloudWatch dashboard: ingest, deliveries, latency, queues, alarms",
      value: dashboard.url,
    });
    new CfnOutput(this, "ConsoleUrl", {
      description: "The web console; the same origin serves the API under /v1",
      value: webConsole.url,
    });
    new CfnOutput(this, "AlarmTopicArn", { value: alarms.topic.topicArn });
    new CfnOutput(this, STACK_OUTPUTS.table, { value: store.table.tableName });
    // With TableName, what a later stack needs to adopt the data (existingKmsKeyArn).
    new CfnOutput(this, "SecretsKeyArn", { value: store.secretsKey.keyArn });
    new CfnOutput(this, "QueueUrl", { value: queues.queue.queueUrl });
    new CfnOutput(this, "DeadLetterQueueUrl", { value: queues.deadLetterQueue.queueUrl });
    new CfnOutput(this, "StrandedQueueUrl", { value: queues.strandedQueue.queueUrl });
    new CfnOutput(this, "ApiFunctionName", { value: api.functionName });
    new CfnOutput(this, "DeliverFunctionName", { value: deliver.functionName });
    new CfnOutput(this, STACK_OUTPUTS.resendFunction, { value: resend.functionName });
    if (network) {
      new CfnOutput(this, "EgressIps", {
        description: "Public IPs deliveries leave from, for receivers to allow-list",
        value: Fn.join(",", [...network.egressIps]),
      });
    }
    if (network?.createdVpc) {
      new CfnOutput(this, "VpcId", { value: network.createdVpc.vpcId });
    }
  }

  /** The VPC option, when a setting asks for it (settings.ts refuses half of one). */
  private static network(scope: Construct, settings: Settings, namePrefix: string) {
    const common = { namePrefix, logRetention: settings.logRetentionDays };
    if (settings.createVpc) {
      return new Network(scope, "Network", { ...common, azs: settings.vpcAzs ?? DEFAULT_VPC_AZS });
    }
    if (settings.vpcId !== undefined) {
      return new Network(scope, "Network", {
        ...common,
        vpcId: settings.vpcId,
        privateSubnetIds: settings.privateSubnetIds,
        egressIps: settings.egressIps,
      });
    }
    return undefined;
  }
}
