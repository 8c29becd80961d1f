import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * SDK clients, built once per cold start by each handler (the composition root). Endpoints
 * come from the SDK's own settings (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS`),
 * which is how the local stack points the very same code at dynalite and fauxqs.
 */
export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 5, ...config }), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createSqsClient(config: SQSClientConfig = {}): SQSClient {
  // Send to the configured endpoint, not the queue URL's host: on AWS they are the same, and
  // locally fauxqs issues URLs on `sqs.<region>.localhost` while it listens on 127.0.0.1.
  return new SQSClient({ maxAttempts: 5, useQueueUrlAsEndpoint: false, ...config });
}

/** Waits `ms` milliseconds; backoff for the partial failures the SDK does not retry. */
export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Exponential backoff with full jitter, capped: 25, 50, 100 … ms. */
export const backoffMs = (attempt: number): number =>
  Math.random() * Math.min(2000, 25 * 2 ** attempt);
