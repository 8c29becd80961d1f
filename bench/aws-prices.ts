/**
 * AWS list prices the cost benchmark uses: us-east-1, on-demand, no free tier, first volume
 * tier. Recorded on 2026-11-26 from the pricing pages below as the author knew them — this
 * machine has no route to aws.amazon.com, so the benchmark cannot re-check them. Check the
 * pages before relying on the dollar figures; the request and capacity-unit counts the
 * benchmark measures do not depend on them.
 */
export const PRICES_RECORDED = "2026-11-26";

export const AWS_PRICES = {
  /** API Gateway HTTP API, first 300 million requests a month. */
  httpApiPerMillionRequests: {
    usd: 1.0,
    source: "https://aws.amazon.com/api-gateway/pricing/",
  },
  /** Lambda on arm64 (Graviton), first 7.5 billion GB-seconds a month. */
  lambdaArmPerGbSecond: {
    usd: 0.000_013_333_4,
    source: "https://aws.amazon.com/lambda/pricing/",
  },
  lambdaPerMillionRequests: {
    usd: 0.2,
    source: "https://aws.amazon.com/lambda/pricing/",
  },
  /** SQS standard queue, per request (up to 64 KiB each), after the monthly free million. */
  sqsPerMillionRequests: {
    usd: 0.4,
    source: "https://aws.amazon.com/sqs/pricing/",
  },
  /** DynamoDB on-demand (after the November 2024 price reduction). */
  dynamoPerMillionWriteUnits: {
    usd: 0.625,
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
  },
  dynamoPerMillionReadUnits: {
    usd: 0.125,
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
  },
  /** KMS requests (the deliver function decrypts each data key once per execution environment). */
  kmsPerTenThousandRequests: {
    usd: 0.03,
    source: "https://aws.amazon.com/kms/pricing/",
  },
} as const;
