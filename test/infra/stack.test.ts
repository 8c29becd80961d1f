import { App, Stack, Validations } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { Queue } from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { readSettings, SettingsError } from "../../infra/settings.ts";
import { WebhooksStack } from "../../infra/webhooks-stack.ts";
import { ROUTE_KEYS } from "../../shared/http/routes.ts";
import { queueSettings } from "../../shared/retry.ts";

/** Synthesizes the stack without bundling the functions (that is `npm run synth`'s job). */
function synth(context: Record<string, unknown> = {}, nag = false) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const settings = readSettings((key) => ({ stage: "test", ...context })[key]);
  const stack = new WebhooksStack(app, "webhooks-test", { settings });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, settings, template: Template.fromStack(stack) };
}

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
  it("redrives deliveries to the dead-letter queue after the schedule's attempts plus spares", () => {
    const dlq = logicalId("AWS::SQS::Queue", { QueueName: "webhooks-test-deliveries-dlq" });
    const q = queueSettings(schedule);
    template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "webhooks-test-deliveries",
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [dlq, "Arn"] },
        maxReceiveCount: schedule.length + 3,
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
    // Both queues refuse anything but TLS.
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
      2,
    );
  });

  it("feeds the deliver function ten messages at a time, with item failures and a concurrency cap", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: functionId("delivery") },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    template.resourceCountIs("AWS::Lambda::EventSourceMapping", 1);
  });

  it("runs every function on Node.js 24, arm64, configured through the config schema", () => {
    const functions = template.findResources("AWS::Lambda::Function");
    expect(Object.keys(functions)).toHaveLength(3);
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
      "kms:GenerateDataKey",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:SendMessage",
    ]);
    expect(actions("DeliverFunctionRole")).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:UpdateItem",
      "kms:Decrypt",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]);
    expect(actions("ResendFunctionRole")).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]);
    const all = JSON.stringify(policies);
    expect(all).not.toMatch(/"(dynamodb|sqs|logs):\*"|"\*"/);
    expect(all).not.toContain("/index/*");
    // The deliver function may send to the dead-letter queue only, never to the deliveries queue.
    const deliverSends = byRole[
      Object.keys(byRole).find((id) => id.startsWith("DeliverFunctionRole")) ?? ""
    ]?.filter((s) => [s.Action].flat().includes("sqs:SendMessage"));
    expect(JSON.stringify(deliverSends)).toContain("DeadLetters");
    expect(JSON.stringify(deliverSends)).not.toContain("Deliveries");
    template.resourceCountIs("AWS::IAM::ManagedPolicy", 0);
    expect(JSON.stringify(template.findResources("AWS::IAM::Role"))).not.toContain(
      "ManagedPolicyArns",
    );
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
    expect(kms.map((s) => s.Action).sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
    for (const statement of kms) {
      expect(statement.Condition).toEqual({
        StringEquals: { "kms:EncryptionContext:service": "customermates-webhooks" },
        Null: { "kms:EncryptionContext:workspace": "false" },
      });
    }
    template.allResourcesProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ WEBHOOKS_KMS_KEY_ID: Match.anyValue() }) },
    });
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

  it("alarms on dead letters, stuck deliveries, function errors and API 5xx, to one topic", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.map((a) => a.Properties.AlarmName).sort()).toEqual(
      [
        "api-5xx",
        "api-errors",
        "dead-letters",
        "deliver-errors",
        "oldest-delivery",
        "resend-errors",
      ].map((n) => `webhooks-test-${n}`),
    );
    for (const alarm of alarms)
      expect(alarm.Properties.AlarmActions).toEqual([
        { Ref: expect.stringMatching(/AlarmsTopic/) },
      ]);
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: "webhooks-test-oldest-delivery",
      MetricName: "ApproximateAgeOfOldestMessage",
      Threshold: queueSettings(schedule).expectedMaxAgeSeconds,
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

  it("outputs what operators and the CLI need", () => {
    for (const name of [
      "ApiUrl",
      "TableName",
      "QueueUrl",
      "DeadLetterQueueUrl",
      "ApiFunctionName",
      "DeliverFunctionName",
      "ResendFunctionName",
      "AlarmTopicArn",
    ]) {
      template.hasOutput(name, {});
    }
  });

  it("passes cdk-nag's AWS Solutions rules (fixed, or acknowledged with a reason in code)", () => {
    const { app } = synth({}, true);
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
      retentionDays: 30,
      autoDisableAfterHours: 120,
      logRetentionDays: 30,
      apiRateLimit: 200,
      allowedCidrs: [],
      allowedPorts: [],
      retainData: true,
    });
    expect(
      synth({ retrySchedule: "0,60,600", deliverConcurrency: "50" }).template.toJSON(),
    ).toBeTruthy();
  });

  it("pass the destination allowances to every function", () => {
    const { template: custom } = synth({
      allowedPorts: "8443, 9443",
      allowedCidrs: "10.20.0.0/16",
    });
    custom.allResourcesProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          WEBHOOKS_ALLOWED_PORTS: "8443,9443",
          WEBHOOKS_ALLOWED_CIDRS: "10.20.0.0/16",
        }),
      },
    });
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
