import { App, Stack, Validations } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { apiBurstLimit, readSettings, SettingsError } from "../../infra/settings.ts";
import { deliverCacheMsFor } from "../../shared/config.ts";
import { ROUTE_KEYS } from "../../shared/http/routes.ts";
import { oldestMessageAlarmSeconds, queueSettings } from "../../shared/retry.ts";
import { STACK_OUTPUTS } from "../../shared/stack-outputs.ts";
import { consoleCopiers, serviceFunctions, synth } from "./synth.ts";

const { template, settings } = synth();
const schedule = settings.retrySchedule;
const logicalId = (type: string, props: Record<string, unknown>) => {
  const [id] = Object.keys(template.findResources(type, { Properties: props }));
  if (!id) throw new Error(`no ${type} with ${JSON.stringify(props)}`);
  return id;
};
const functionId = (name: string) =>
  logicalId("AWS::Lambda::Function", { Description: Match.stringLikeRegexp(name) });

describe("WebhooksStack", () => {
  it("hands messages SQS gives up on (far past the schedule's attempts) to the stranded queue, and keeps a dead-letter queue for failures", () => {
    const stranded = logicalId("AWS::SQS::Queue", {
      QueueName: "webhooks-test-deliveries-stranded",
    });
    const q = queueSettings(schedule);
    template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "webhooks-test-deliveries",
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [stranded, "Arn"] },
        maxReceiveCount: q.maxReceiveCount,
      },
      MessageRetentionPeriod: q.retentionSeconds,
      VisibilityTimeout: 6 * 60,
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "webhooks-test-deliveries-dlq",
      MessageRetentionPeriod: 1_209_600,
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "webhooks-test-deliveries-stranded",
      MessageRetentionPeriod: 1_209_600,
      SqsManagedSseEnabled: true,
    });
    expect(q.maxReceiveCount).toBeGreaterThan(schedule.length * 4);
    // Every queue refuses anything but TLS.
    template.resourcePropertiesCountIs(
      "AWS::SQS::QueuePolicy",
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: "Deny",
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            }),
          ]),
        },
      },
      4,
    );
  });

  it("runs the sweep every few minutes: the resend function's sweep job", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
      Targets: [
        Match.objectLike({
          Arn: { "Fn::GetAtt": [functionId("resend"), "Arn"] },
          Input: JSON.stringify({ action: "sweep" }),
        }),
      ],
    });
  });

  it("feeds the deliver function ten messages at a time from each lane, with item failures and a concurrency cap of its own", () => {
    const lane = (name: string) =>
      logicalId("AWS::SQS::Queue", { QueueName: `webhooks-test-${name}` });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: functionId("delivery") },
      EventSourceArn: { "Fn::GetAtt": [lane("deliveries"), "Arn"] },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: functionId("delivery") },
      EventSourceArn: { "Fn::GetAtt": [lane("deliveries-slow"), "Arn"] },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    template.resourceCountIs("AWS::Lambda::EventSourceMapping", 2);
    // The slow lane keeps messages as long, and hands them to the stranded queue alike.
    const q = queueSettings(schedule);
    template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "webhooks-test-deliveries-slow",
      MessageRetentionPeriod: q.retentionSeconds,
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [lane("deliveries-stranded"), "Arn"] },
        maxReceiveCount: q.maxReceiveCount,
      },
    });
    synth({ slowLaneConcurrency: "12" }).template.hasResourceProperties(
      "AWS::Lambda::EventSourceMapping",
      { ScalingConfig: { MaximumConcurrency: 12 } },
    );
  });

  it("runs every function on Node.js 24, arm64, configured through the config schema", () => {
    const functions = serviceFunctions(template);
    expect(Object.keys(functions)).toHaveLength(3);
    // The one other: CDK's BucketDeployment handler, copying the web console at deploy time.
    expect(consoleCopiers(template)).toHaveLength(1);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs24.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        Environment: {
          Variables: {
            NODE_OPTIONS: "--enable-source-maps",
            WEBHOOKS_RETRY_SCHEDULE: schedule.join(","),
            WEBHOOKS_RETENTION_DAYS: "30",
            WEBHOOKS_TABLE_NAME: { Ref: expect.any(String) },
            WEBHOOKS_QUEUE_URL: { Ref: expect.any(String) },
            WEBHOOKS_DLQ_URL: { Ref: expect.any(String) },
          },
        },
      });
      expect(fn.Properties.LoggingConfig.LogGroup).toEqual({ Ref: expect.stringMatching(/Logs/) });
    }
    template.hasResourceProperties("AWS::Lambda::Function", {
      FunctionName: "webhooks-test-resend",
    });
    template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  it("sizes the deliver function's subscription copy to its concurrency (reads of one workspace's partition)", () => {
    const cacheMs = (t: Template) =>
      Object.values(serviceFunctions(t)).map(
        (fn) => fn.Properties.Environment.Variables.WEBHOOKS_DELIVER_CACHE_MS,
      );
    // 20 + 5 instances × 100 subscriptions ÷ 1,500 units: 1.7 s, in whole seconds.
    expect(new Set(cacheMs(template))).toEqual(new Set(["2000"]));
    // 205 × 100 ÷ 1,500 = 13.7 s: held at the ten-second ceiling.
    expect(new Set(cacheMs(synth({ deliverConcurrency: "200" }).template))).toEqual(
      new Set(["10000"]),
    );
    expect(deliverCacheMsFor(5, 100)).toBe(1000);
    expect(deliverCacheMsFor(60, 100)).toBe(4000);
  });

  it("grants each function exactly the actions it calls, on exactly its resources", () => {
    interface Statement {
      Action: string | string[];
      Resource: unknown;
    }
    const policies = template.findResources("AWS::IAM::Policy");
    const byRole: Record<string, Statement[]> = Object.fromEntries(
      Object.values(policies).map((policy) => [
        policy.Properties.Roles[0].Ref,
        policy.Properties.PolicyDocument.Statement,
      ]),
    );
    const actions = (fragment: string) => {
      const role = Object.keys(byRole).find((id) => id.startsWith(fragment));
      return (byRole[role ?? ""] ?? []).flatMap((s) => [s.Action].flat()).sort();
    };
    expect(actions("ApiFunctionRole")).toEqual([
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "kms:Decrypt",
      "kms:GenerateDataKey",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:SendMessage",
    ]);
    expect(actions("DeliverFunctionRole")).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "dynamodb:UpdateItem",
      "kms:Decrypt",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "sqs:ChangeMessageVisibility",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:GetQueueUrl",
      "sqs:GetQueueUrl",
      "sqs:GetQueueUrl",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
      "sqs:SendMessage",
      "sqs:SendMessage",
    ]);
    expect(actions("ResendFunctionRole")).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "sqs:ChangeMessageVisibility",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:GetQueueUrl",
      "sqs:GetQueueUrl",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
      "sqs:SendMessage",
    ]);
    const all = JSON.stringify(policies);
    expect(all).not.toMatch(/"(dynamodb|sqs|logs):\*"|"\*"/);
    expect(all).not.toContain("/index/*");
    // The deliver function sends to the dead-letter queue, the slow lane (a message moves there
    // once, never back) and the main queue (the fan-out of operational events), nowhere else.
    const deliverSends = byRole[
      Object.keys(byRole).find((id) => id.startsWith("DeliverFunctionRole")) ?? ""
    ]
      ?.filter((s) => [s.Action].flat().includes("sqs:SendMessage"))
      .map((s) => JSON.stringify(s.Resource))
      .sort();
    expect(deliverSends).toEqual([
      expect.stringMatching(/"QueuesDeadLetters[0-9A-F]{8}"/),
      expect.stringMatching(/"QueuesDeliveries[0-9A-F]{8}"/),
      expect.stringMatching(/"QueuesSlowDeliveries[0-9A-F]{8}"/),
    ]);
    template.resourceCountIs("AWS::IAM::ManagedPolicy", 0);
    expect(JSON.stringify(template.findResources("AWS::IAM::Role"))).not.toContain(
      "ManagedPolicyArns",
    );
  });

  it("lets the deliver and resend functions write only what they write: delivery records, operational events, health fields, statistics, an event's expiry", () => {
    interface Statement {
      Action: string | string[];
      Resource: unknown;
      Condition?: Record<string, Record<string, unknown>>;
    }
    const statementsOf = (fragment: string) =>
      Object.values(template.findResources("AWS::IAM::Policy"))
        .filter((p) => String(p.Properties.Roles[0].Ref).startsWith(fragment))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const dynamoWrites = (fragment: string) =>
      statementsOf(fragment)
        .filter((s) =>
          [s.Action].flat().some((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a)),
        )
        .map((s) => ({ actions: [s.Action].flat().sort(), condition: s.Condition }));
    const noneBack = { "dynamodb:ReturnValues": "NONE" };
    expect(dynamoWrites("DeliverFunctionRole")).toEqual([
      {
        actions: ["dynamodb:PutItem"],
        condition: {
          "ForAllValues:StringLike": {
            "dynamodb:LeadingKeys": ["WS#*#DLV#??", "WS#*#EVT#webhook.*"],
          },
          StringEqualsIfExists: noneBack,
        },
      },
      {
        actions: ["dynamodb:UpdateItem"],
        condition: {
          "ForAllValues:StringEquals": {
            "dynamodb:Attributes": [
              "pk",
              "sk",
              "failingSince",
              "lastFailureAt",
              "recentFailures",
              "recentSince",
              "slowUntil",
              "enabled",
              "disabledReason",
              "disabledAt",
            ],
          },
          StringEqualsIfExists: noneBack,
        },
      },
      {
        actions: ["dynamodb:UpdateItem"],
        condition: {
          "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["WS#*#STATS#*"] },
          StringEqualsIfExists: noneBack,
        },
      },
    ]);
    expect(dynamoWrites("ResendFunctionRole")).toEqual([
      {
        actions: ["dynamodb:PutItem"],
        condition: {
          "ForAllValues:StringLike": {
            "dynamodb:LeadingKeys": ["WS#*#DLV#??", "WS#*#EVT#webhook.*"],
          },
          StringEqualsIfExists: noneBack,
        },
      },
      {
        actions: ["dynamodb:UpdateItem"],
        condition: {
          "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["WS#*#EVT#*"] },
          "ForAllValues:StringEquals": { "dynamodb:Attributes": ["pk", "sk", "expiresAt"] },
          StringEqualsIfExists: noneBack,
        },
      },
    ]);
    // Neither may delete anything, or write in batches.
    for (const role of ["DeliverFunctionRole", "ResendFunctionRole"]) {
      const actions = statementsOf(role).flatMap((s) => [s.Action].flat());
      expect(actions).not.toContain("dynamodb:DeleteItem");
      expect(actions).not.toContain("dynamodb:BatchWriteItem");
    }
  });

  it("seals secrets with a rotated KMS key, kept with the table, usable only for workspaces' data keys", () => {
    template.hasResource("AWS::KMS::Key", {
      DeletionPolicy: "Retain",
      Properties: Match.objectLike({ EnableKeyRotation: true }),
    });
    const statements = Object.values(template.findResources("AWS::IAM::Policy")).flatMap(
      (p) =>
        p.Properties.PolicyDocument.Statement as Array<{ Action: string; Condition?: unknown }>,
    );
    const kms = statements.filter((s) => String(s.Action).startsWith("kms:"));
    // Deliver and the API (test sends) open secrets; the API seals new ones.
    expect(kms.map((s) => s.Action).sort()).toEqual([
      "kms:Decrypt",
      "kms:Decrypt",
      "kms:GenerateDataKey",
    ]);
    for (const statement of kms) {
      expect(statement.Condition).toEqual({
        StringEquals: { "kms:EncryptionContext:service": "customermates-webhooks" },
        Null: { "kms:EncryptionContext:workspace": "false" },
      });
    }
    for (const fn of Object.values(serviceFunctions(template))) {
      expect(fn.Properties.Environment.Variables).toHaveProperty("WEBHOOKS_KMS_KEY_ID");
    }
  });

  it("keeps the table: on-demand, point-in-time recovery, TTL, encryption, retained, one sparse index", () => {
    template.hasResource("AWS::DynamoDB::GlobalTable", {
      DeletionPolicy: "Retain",
      Properties: Match.objectLike({
        BillingMode: "PAY_PER_REQUEST",
        TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
        SSESpecification: { SSEEnabled: true },
        Replicas: [
          Match.objectLike({
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          }),
        ],
        GlobalSecondaryIndexes: [
          Match.objectLike({
            IndexName: "dead-letters",
            KeySchema: [
              { AttributeName: "dlqPk", KeyType: "HASH" },
              { AttributeName: "dlqSk", KeyType: "RANGE" },
            ],
          }),
        ],
      }),
    });
    const { template: disposable } = synth({ retainData: "false" });
    disposable.hasResource("AWS::DynamoDB::GlobalTable", { DeletionPolicy: "Delete" });
  });

  it("routes every API route and $default to the API function, throttled and logged", () => {
    const routes = Object.values(template.findResources("AWS::ApiGatewayV2::Route")).map(
      (r) => r.Properties.RouteKey,
    );
    expect(routes.sort()).toEqual([...ROUTE_KEYS, "$default"].sort());
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      DefaultRouteSettings: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp("requestId"),
      },
    });
  });

  it("alarms on dead letters, stuck deliveries, function errors, throttles and API 5xx, to one topic", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.map((a) => a.Properties.AlarmName).sort()).toEqual(
      [
        "abandoned-claims",
        "api-5xx",
        "api-errors",
        "dead-letters",
        "deliver-errors",
        "deliver-throttles",
        "oldest-delivery",
        "resend-errors",
        "stranded-messages",
      ].map((n) => `webhooks-test-${n}`),
    );
    for (const alarm of alarms)
      expect(alarm.Properties.AlarmActions).toEqual([
        { Ref: expect.stringMatching(/AlarmsTopic/) },
      ]);
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: "webhooks-test-deliver-throttles",
      Namespace: "AWS/Lambda",
      MetricName: "Throttles",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: functionId("delivery") } }],
      Statistic: "Sum",
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    });
    // The sweep's alarms: stranded messages waiting through two sweeps, abandoned claims left.
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: "webhooks-test-stranded-messages",
      MetricName: "ApproximateAgeOfOldestMessage",
      Threshold: 600,
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: "webhooks-test-abandoned-claims",
      Namespace: "CustomermatesWebhooks",
      MetricName: "AbandonedClaims",
      Threshold: 0,
    });
    template.resourceCountIs("AWS::SNS::Subscription", 0);
    synth({ alarmEmail: "ops@example.com" }).template.hasResourceProperties(
      "AWS::SNS::Subscription",
      {
        Protocol: "email",
        Endpoint: "ops@example.com",
      },
    );
  });

  it("alarms on the oldest delivery after minutes, from the first three steps of the schedule", () => {
    const threshold = (t: Template) =>
      Object.values(
        t.findResources("AWS::CloudWatch::Alarm", {
          Properties: { AlarmName: "webhooks-test-oldest-delivery" },
        }),
      ).map((a) => a.Properties.Threshold);
    expect(threshold(template)).toEqual([oldestMessageAlarmSeconds(schedule)]);
    expect(threshold(template)).toEqual([846]);
    const custom = [0, 600, 1800, 7200];
    expect(threshold(synth({ retrySchedule: custom.join(",") }).template)).toEqual([
      oldestMessageAlarmSeconds(custom),
    ]);
    expect(oldestMessageAlarmSeconds(custom)).toBe(3360);
  });

  it("reads a silent dead-letter queue as a breach, and keeps the queue reporting", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: "webhooks-test-dead-letters",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [
        {
          Name: "QueueName",
          Value: { "Fn::GetAtt": [Match.stringLikeRegexp("DeadLetters"), "QueueName"] },
        },
      ],
      TreatMissingData: "breaching",
    });
    // Every other alarm: no data is no news.
    const others = Object.values(template.findResources("AWS::CloudWatch::Alarm")).filter(
      (a) => a.Properties.AlarmName !== "webhooks-test-dead-letters",
    );
    expect(others.map((a) => a.Properties.TreatMissingData)).toEqual(
      others.map(() => "notBreaching"),
    );
    // SQS stops publishing after six hours without activity: an hourly no-op call keeps it going.
    const dlq = logicalId("AWS::SQS::Queue", { QueueName: "webhooks-test-deliveries-dlq" });
    const [keepAlive, ...more] = Object.values(template.findResources("AWS::Scheduler::Schedule"));
    expect(more).toHaveLength(0);
    expect(keepAlive?.Properties).toMatchObject({
      ScheduleExpression: "rate(1 hour)",
      State: "ENABLED",
      Target: {
        Arn: { "Fn::Join": ["", expect.arrayContaining([":scheduler:::aws-sdk:sqs:untagQueue"])] },
        RetryPolicy: { MaximumRetryAttempts: 0 },
      },
    });
    expect(JSON.stringify(keepAlive?.Properties.Target.Input)).toContain(`{"Ref":"${dlq}"}`);
    const schedulerPolicy = Object.values(template.findResources("AWS::IAM::Policy")).find((p) =>
      String(p.Properties.Roles[0].Ref).startsWith("SchedulerRole"),
    );
    expect(schedulerPolicy?.Properties.PolicyDocument.Statement).toEqual([
      { Action: "sqs:UntagQueue", Effect: "Allow", Resource: { "Fn::GetAtt": [dlq, "Arn"] } },
    ]);
  });

  it("lets CloudWatch publish to the alarm topic: only these alarms, of this account, over TLS", () => {
    const alarmIds = Object.keys(template.findResources("AWS::CloudWatch::Alarm")).sort();
    const policies = Object.values(template.findResources("AWS::SNS::TopicPolicy"));
    expect(policies).toHaveLength(1);
    const statements = policies[0]?.Properties.PolicyDocument.Statement as Array<{
      Effect: string;
      Principal: unknown;
      Action: string;
      Condition: Record<string, Record<string, unknown>>;
    }>;
    const allow = statements.filter((s) => s.Effect === "Allow");
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatchObject({
      Principal: { Service: "cloudwatch.amazonaws.com" },
      Action: "sns:Publish",
      Resource: { Ref: expect.stringMatching(/AlarmsTopic/) },
      Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
    });
    const sources = allow[0]?.Condition.ArnLike?.["aws:SourceArn"] as Array<{
      "Fn::GetAtt": [string, string];
    }>;
    expect(sources.map((arn) => arn["Fn::GetAtt"]).sort()).toEqual(
      alarmIds.map((id) => [id, "Arn"]),
    );
    // The TLS-only deny stays.
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
  });

  it("outputs what operators and the CLI need", () => {
    // What `webhooks --stack` and `npm run smoke` read back.
    for (const name of Object.values(STACK_OUTPUTS)) template.hasOutput(name, {});
    for (const name of [
      "ApiUrl",
      "TableName",
      "QueueUrl",
      "DeadLetterQueueUrl",
      "ApiFunctionName",
      "DeliverFunctionName",
      "ResendFunctionName",
      "AlarmTopicArn",
      "SecretsKeyArn",
      "DashboardUrl",
    ]) {
      template.hasOutput(name, {});
    }
  });

  it("draws one dashboard: ingest, outcomes, latency, queues, dead letters, functions and every alarm", () => {
    const dashboards = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);
    for (const metric of [
      "EventsAccepted",
      "EventsRefused",
      "Succeeded",
      "FailedForGood",
      "Deferred",
      "MovedToSlowLane",
      "AttemptLatency",
      "p99",
      "ApproximateNumberOfMessagesVisible",
      "ApproximateAgeOfOldestMessage",
      "Throttles",
      "Errors",
      "5xx",
    ]) {
      expect(body, metric).toContain(metric);
    }
    const alarms = Object.keys(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.length).toBeGreaterThan(5);
    for (const alarm of alarms) expect(body, alarm).toContain(alarm);
    expect(JSON.stringify(template.findOutputs("DashboardUrl"))).toContain(
      "#dashboards/dashboard/",
    );
  });

  it("passes cdk-nag's AWS Solutions rules (fixed, or acknowledged with a reason in code)", () => {
    const { app } = synth({}, { nag: true });
    expect(() => app.synth()).not.toThrow();
  });

  it("cdk-nag does fail a synth on an unacknowledged finding", () => {
    const app = new App();
    new Queue(new Stack(app, "bad"), "Plain", { enforceSSL: false });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions/);
  });
});

describe("deployment settings", () => {
  it("read from context, with documented defaults", () => {
    expect(readSettings(() => undefined)).toEqual({
      stage: "dev",
      retrySchedule: [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000],
      deliverConcurrency: 20,
      slowLaneConcurrency: 5,
      retentionDays: 30,
      autoDisableAfterHours: 120,
      logRetentionDays: 30,
      apiRateLimit: 200,
      allowedCidrs: [],
      allowedPorts: [],
      retainData: true,
      createVpc: false,
      privateSubnetIds: [],
      egressIps: [],
      consoleFrameAncestors: "'none'",
    });
    // Context values arrive as strings from `-c key=value`; they reach the resources.
    const { template: custom } = synth({ retrySchedule: "0,60,600", deliverConcurrency: "50" });
    custom.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "webhooks-test-deliveries",
      MessageRetentionPeriod: queueSettings([0, 60, 600]).retentionSeconds,
      RedrivePolicy: Match.objectLike({
        maxReceiveCount: queueSettings([0, 60, 600]).maxReceiveCount,
      }),
    });
    custom.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      ScalingConfig: { MaximumConcurrency: 50 },
    });
    for (const fn of Object.values(serviceFunctions(custom))) {
      expect(fn.Properties.Environment.Variables.WEBHOOKS_RETRY_SCHEDULE).toBe("0,60,600");
    }
  });

  it("cap the API's burst at the account's default burst quota (5,000)", () => {
    expect(apiBurstLimit(200)).toBe(400);
    expect(apiBurstLimit(2500)).toBe(5000);
    expect(apiBurstLimit(10_000)).toBe(5000);
    synth({ apiRateLimit: "10000" }).template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 10_000, ThrottlingBurstLimit: 5000 },
    });
    // The rate itself cannot go past the account's rate quota.
    expect(() => readSettings((key) => ({ apiRateLimit: 10_001 })[key])).toThrow(
      /apiRateLimit: must be from 1 to 10000, API Gateway's default account-level rate quota/,
    );
  });

  it("keep deliverConcurrency within what an SQS event source's maximum concurrency allows", () => {
    for (const bad of [0, 1, 1001, "5000"]) {
      expect(() => readSettings((key) => ({ deliverConcurrency: bad })[key])).toThrow(
        /deliverConcurrency: must be from 2 to 1000, what an SQS event source's maximum concurrency allows/,
      );
    }
    for (const good of [2, 1000]) {
      synth({ deliverConcurrency: String(good) }).template.hasResourceProperties(
        "AWS::Lambda::EventSourceMapping",
        { ScalingConfig: { MaximumConcurrency: good } },
      );
    }
  });

  it("reserve concurrency for the API function only when asked", () => {
    const reserved = (t: Template) =>
      Object.values(serviceFunctions(t)).map((fn) => fn.Properties.ReservedConcurrentExecutions);
    expect(reserved(template)).toEqual([undefined, undefined, undefined]);
    const { template: withReserve } = synth({ apiReservedConcurrency: "50" });
    withReserve.hasResourceProperties("AWS::Lambda::Function", {
      Description: Match.stringLikeRegexp("HTTP API"),
      ReservedConcurrentExecutions: 50,
    });
    expect(reserved(withReserve).sort()).toEqual([50, undefined, undefined]);
    expect(() => readSettings((key) => ({ apiReservedConcurrency: 0 })[key])).toThrow(
      /apiReservedConcurrency/,
    );
  });

  it("pass the destination allowances to every function", () => {
    const { template: custom } = synth({
      allowedPorts: "8443, 9443",
      allowedCidrs: "10.20.0.0/16",
      createVpc: "true",
    });
    for (const fn of Object.values(serviceFunctions(custom))) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        WEBHOOKS_ALLOWED_PORTS: "8443,9443",
        WEBHOOKS_ALLOWED_CIDRS: "10.20.0.0/16",
      });
    }
    expect(readSettings((key) => ({ allowedPorts: 8443 })[key]).allowedPorts).toEqual([8443]);
    expect(JSON.stringify(template.toJSON())).not.toContain("WEBHOOKS_ALLOWED_PORTS");
  });

  it("refuse a bad value at synth, naming it", () => {
    const bad = {
      stage: "Prod!",
      retrySchedule: "10,20",
      deliverConcurrency: 1,
      logRetentionDays: 31,
      allowedCidrs: "10.0.0.0/8,nope",
      allowedPorts: "8443,ssh",
      alarmEmail: "nope",
      retainData: "maybe",
    };
    const read = () => readSettings((key) => bad[key as keyof typeof bad]);
    expect(read).toThrow(SettingsError);
    expect(read).toThrow(
      /stage:.*\n.*retrySchedule: the first delay[\s\S]*deliverConcurrency[\s\S]*logRetentionDays: must be one of[\s\S]*allowedCidrs: 'nope' is not a CIDR[\s\S]*allowedPorts: 'ssh' is not a port number[\s\S]*alarmEmail: must be an email address[\s\S]*retainData/,
    );
  });
});
