import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueNameExists,
  SetQueueAttributesCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { queueSettings } from "../shared/retry.ts";
import { DEAD_LETTER_INDEX, DEAD_LETTER_PROJECTION } from "../shared/store/table.ts";

export interface Provisioned {
  tableName: string;
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  strandedQueueUrl: string;
  slowQueueUrl: string;
  slowQueueArn: string;
}

/**
 * Creates what the CDK app creates on AWS, idempotently: the table, the dead-letter queue, the
 * stranded queue and the deliveries queue with its redrive policy. Queue settings come from the retry schedule
 * through `queueSettings`, the same function the infrastructure uses.
 */
export async function provision(
  dynamo: DynamoDBClient,
  sqs: SQSClient,
  options: {
    tableName: string;
    queueName: string;
    schedule: readonly number[];
    visibilityTimeout: number;
    /** Overrides the schedule's redrive count (the fault suite strands messages sooner). */
    maxReceiveCount?: number | undefined;
  },
): Promise<Provisioned> {
  const { tableName } = options;
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "pk", AttributeType: "S" },
          { AttributeName: "sk", AttributeType: "S" },
          { AttributeName: "dlqPk", AttributeType: "S" },
          { AttributeName: "dlqSk", AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: DEAD_LETTER_INDEX,
            KeySchema: [
              { AttributeName: "dlqPk", KeyType: "HASH" },
              { AttributeName: "dlqSk", KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: DEAD_LETTER_PROJECTION },
          },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let tries = 0; ; tries++) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === "ACTIVE") break;
    if (tries > 50) throw new Error(`table ${tableName} did not become active`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const settings = queueSettings(options.schedule);
  const dlqUrl = await ensureQueue(sqs, `${options.queueName}-dlq`, {
    MessageRetentionPeriod: String(settings.deadLetterRetentionSeconds),
  });
  const strandedUrl = await ensureQueue(sqs, `${options.queueName}-stranded`, {
    MessageRetentionPeriod: String(settings.deadLetterRetentionSeconds),
  });
  // Both lanes: the same settings, and SQS's redrive to the stranded queue.
  const lane = async (name: string) =>
    ensureQueue(sqs, name, {
      MessageRetentionPeriod: String(settings.retentionSeconds),
      VisibilityTimeout: String(options.visibilityTimeout),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: await arnOf(sqs, strandedUrl),
        maxReceiveCount: options.maxReceiveCount ?? settings.maxReceiveCount,
      }),
    });
  const queueUrl = await lane(options.queueName);
  const slowQueueUrl = await lane(`${options.queueName}-slow`);
  return {
    tableName,
    queueUrl,
    queueArn: await arnOf(sqs, queueUrl),
    deadLetterQueueUrl: dlqUrl,
    strandedQueueUrl: strandedUrl,
    slowQueueUrl,
    slowQueueArn: await arnOf(sqs, slowQueueUrl),
  };
}

/** Creates the queue, or brings an existing one (a restart with other settings) up to date. */
async function ensureQueue(sqs: SQSClient, name: string, attributes: Record<string, string>) {
  try {
    const created = await sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
    );
    return required(created.QueueUrl);
  } catch (error) {
    if (!(error instanceof QueueNameExists)) throw error;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
    return required(QueueUrl);
  }
}

async function arnOf(sqs: SQSClient, queueUrl: string | undefined): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: required(queueUrl), AttributeNames: ["QueueArn"] }),
  );
  return required(Attributes?.QueueArn);
}

function required(value: string | undefined): string {
  if (!value) throw new Error("SQS answered without a queue URL or ARN");
  return value;
}
