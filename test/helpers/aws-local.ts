import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type Emulators, startEmulators } from "../../local/emulators.ts";
import { type Provisioned, provision } from "../../local/provision.ts";
import { createDocumentClient, createSqsClient } from "../../shared/aws.ts";
import type { Table } from "../../shared/store/table.ts";

export interface LocalAws extends Provisioned {
  emulators: Emulators;
  dynamo: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  sqs: SQSClient;
  table: Table;
  stop(): Promise<void>;
}

/** dynalite + fauxqs in memory, with the table and queues the local stack provisions. */
export async function startLocalAws(schedule: readonly number[] = [0, 1, 2]): Promise<LocalAws> {
  const emulators = await startEmulators();
  const region = "us-east-1";
  const credentials = { accessKeyId: "test", secretAccessKey: "test" };
  const dynamo = new DynamoDBClient({ endpoint: emulators.dynamoEndpoint, region, credentials });
  const documents = createDocumentClient({
    endpoint: emulators.dynamoEndpoint,
    region,
    credentials,
  });
  const sqs = createSqsClient({ endpoint: emulators.sqsEndpoint, region, credentials });
  const resources = await provision(dynamo, sqs, {
    tableName: "webhooks-test",
    queueName: "deliveries",
    schedule,
    visibilityTimeout: 30,
  });
  return {
    ...resources,
    emulators,
    dynamo,
    documents,
    sqs,
    table: { client: documents, name: resources.tableName },
    stop: () => emulators.stop(),
  };
}
