import { isIP } from "node:net";
import * as z from "zod/mini";
import { DEFAULT_SCHEDULE, parseSchedule, retentionProblem } from "./retry.ts";
import { type Cidr, type NetworkPolicy, parseCidrs, parsePorts } from "./ssrf.ts";
import { parsedBy, toFieldErrors } from "./validation.ts";

/**
 * The one configuration of every function, read from the environment once per cold start,
 * validated, and frozen. A wrong setting fails the cold start with a message naming it,
 * never the first request. The CDK app and the local stack set these variables; the
 * comment on each says what it is for.
 */
const bool = z.pipe(
  z.enum(["true", "false", "1", "0"]),
  z.transform((value) => value === "true" || value === "1"),
);

const whole = (min: number, max: number, fallback: number) =>
  z.prefault(
    z.pipe(
      z.string().check(z.regex(/^\d+$/, "must be a whole number")),
      z.pipe(z.transform(Number), z.number().check(z.minimum(min), z.maximum(max))),
    ),
    String(fallback),
  );

/** Parses `203.0.113.10,203.0.113.11` (IPv4 or IPv6); throws with the offending entry named. */
export function parseAddresses(text: string): string[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      if (!isIP(entry)) throw new Error(`'${entry}' is not an IP address like 203.0.113.10`);
      return entry;
    });
}

/** Most subscriptions a workspace may have, unless WEBHOOKS_MAX_SUBSCRIPTIONS says otherwise. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 100;

export const EnvSchema = z.object({
  /** DynamoDB table holding workspaces, keys, subscriptions, events and deliveries. */
  WEBHOOKS_TABLE_NAME: z.string().check(z.minLength(3)),
  /** SQS queue of pending deliveries (one message per event × subscription). */
  WEBHOOKS_QUEUE_URL: z.url(),
  /** SQS dead-letter queue where exhausted deliveries wait for a redrive. */
  WEBHOOKS_DLQ_URL: z.url(),
  /** SQS queue of the slow lane: deliveries to endpoints that answer slowly, with their own consumer. */
  WEBHOOKS_SLOW_QUEUE_URL: z.url(),
  /**
   * SQS queue where SQS itself moves delivery messages received too often without finishing
   * (the redrive target of the deliveries queue); the sweep fails their deliveries visibly.
   */
  WEBHOOKS_STRANDED_QUEUE_URL: z.url(),
  /** Delay before each attempt in seconds, first included (`0,5,300,…`). */
  WEBHOOKS_RETRY_SCHEDULE: z.prefault(parsedBy(parseSchedule), DEFAULT_SCHEDULE.join(",")),
  /**
   * Local stack only: allow plain-http destinations on loopback addresses. Every other private,
   * link-local or metadata address stays refused.
   */
  WEBHOOKS_ALLOW_LOOPBACK_HTTP: z.prefault(bool, "false"),
  /**
   * Private deployments only: comma-separated CIDR ranges deliveries may reach although they
   * are not public (`10.20.0.0/16`). Cloud metadata addresses stay refused.
   */
  WEBHOOKS_ALLOWED_CIDRS: z.prefault(parsedBy(parseCidrs), ""),
  /**
   * AWS with the VPC option: the public addresses deliveries leave from (the stack's NAT
   * gateway Elastic IPs, or those an operator states for an existing VPC), comma-separated, so
   * the API can tell customers what to allow-list. Empty: deliveries have no fixed address.
   */
  WEBHOOKS_EGRESS_IPS: z.prefault(parsedBy(parseAddresses), ""),
  /**
   * Comma-separated ports https deliveries may use besides 443 (`8443`). Every other port is
   * refused, so subscriptions cannot turn the service into a port scanner of public hosts. The
   * local stack's plain http to loopback takes any port.
   */
  WEBHOOKS_ALLOWED_PORTS: z.prefault(parsedBy(parsePorts), ""),
  /** AWS: the KMS key that wraps the data keys sealing subscription secrets. */
  WEBHOOKS_KMS_KEY_ID: z.optional(z.string().check(z.minLength(1))),
  /** Local stack: a file of 32 random bytes (base64) standing in for the KMS key. */
  WEBHOOKS_SECRET_KEY_FILE: z.optional(z.string().check(z.minLength(1))),
  /** How much of a receiver's response body an attempt record keeps (bytes). */
  WEBHOOKS_RESPONSE_BODY_LIMIT: whole(0, 16_384, 4096),
  /** Events and deliveries expire this many days after their last change (DynamoDB TTL). */
  WEBHOOKS_RETENTION_DAYS: whole(1, 365, 30),
  /** Connect timeout of a delivery (ms; the design caps it at 5 s). */
  WEBHOOKS_CONNECT_TIMEOUT_MS: whole(100, 5000, 5000),
  /** Whole-request timeout of a delivery (ms; the design caps it at 15 s). */
  WEBHOOKS_REQUEST_TIMEOUT_MS: whole(500, 15_000, 15_000),
  /**
   * An endpoint with a request in flight this long (ms) goes to the slow lane for ten
   * minutes, so that it cannot hold the main lane's capacity (it keeps the full timeout there).
   */
  WEBHOOKS_SLOW_AFTER_MS: whole(100, 15_000, 2000),
  /**
   * An endpoint failing every attempt for this many hours is disabled, with the reason
   * recorded (0: never). Five days by default.
   */
  WEBHOOKS_AUTO_DISABLE_AFTER_HOURS: whole(0, 24 * 90, 120),
  /**
   * How long (s) an API function instance reuses a workspace's subscription set for ingest
   * before reading it again (0: read it for every event). Changes made through other instances
   * reach ingest within this time.
   */
  WEBHOOKS_SUBSCRIPTION_CACHE_SECONDS: whole(0, 60, 5),
  /**
   * How long (ms) a deliver function instance reuses a subscription it read (0: read it for
   * every batch). A change to a subscription reaches the deliver function within this time.
   */
  WEBHOOKS_DELIVER_CACHE_MS: whole(0, 10_000, 1000),
  /**
   * How old (s) a deliver instance's unwritten subscription statistics may get before it
   * writes them (one write per subscription and hour): the stats lag by at most this much.
   */
  WEBHOOKS_STATS_FLUSH_SECONDS: whole(1, 300, 10),
  /** Most subscriptions a workspace may have (ingest reads them all in one call). */
  WEBHOOKS_MAX_SUBSCRIPTIONS: whole(1, 1000, DEFAULT_MAX_SUBSCRIPTIONS),
});

export interface Config {
  tableName: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  strandedQueueUrl: string;
  slowQueueUrl: string;
  slowAfterMs: number;
  retrySchedule: readonly number[];
  allowLoopbackHttp: boolean;
  allowedCidrs: readonly Cidr[];
  /** Ports besides 443 that deliveries may use. */
  allowedPorts: readonly number[];
  /** The public IPs deliveries leave from (the VPC option); empty when they are not fixed. */
  egressIps: readonly string[];
  /** Where subscription secrets' data keys come from: exactly one of the two. */
  secretKeys: { kmsKeyId: string } | { keyFile: string };
  responseBodyLimit: number;
  retentionSeconds: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxSubscriptions: number;
  /** How long ingest reuses a workspace's subscription set (0: never). */
  subscriptionCacheMs: number;
  /** How long the deliver function reuses a subscription it read (0: never). */
  deliverCacheMs: number;
  /** How old a deliver instance's unwritten statistics may get. */
  statsFlushMs: number;
  /** 0: never disable a failing endpoint. */
  autoDisableAfterMs: number;
}

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = EnvSchema.safeParse(env);
  if (!result.success) {
    const lines = toFieldErrors(result.error.issues).map((e) => `  ${e.field}: ${e.detail}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const env_ = result.data;
  if (env_.WEBHOOKS_CONNECT_TIMEOUT_MS > env_.WEBHOOKS_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      "Invalid configuration:\n  WEBHOOKS_CONNECT_TIMEOUT_MS: must not exceed WEBHOOKS_REQUEST_TIMEOUT_MS.",
    );
  }
  const retention = retentionProblem(env_.WEBHOOKS_RETRY_SCHEDULE, env_.WEBHOOKS_RETENTION_DAYS);
  if (retention) {
    throw new ConfigError(`Invalid configuration:\n  WEBHOOKS_RETENTION_DAYS: ${retention}.`);
  }
  const { WEBHOOKS_KMS_KEY_ID: kmsKeyId, WEBHOOKS_SECRET_KEY_FILE: keyFile } = env_;
  if (Boolean(kmsKeyId) === Boolean(keyFile)) {
    throw new ConfigError(
      "Invalid configuration:\n  WEBHOOKS_KMS_KEY_ID / WEBHOOKS_SECRET_KEY_FILE: set exactly one (KMS on AWS, a key file locally).",
    );
  }
  return Object.freeze({
    secretKeys: kmsKeyId ? { kmsKeyId } : { keyFile: keyFile as string },
    tableName: env_.WEBHOOKS_TABLE_NAME,
    queueUrl: env_.WEBHOOKS_QUEUE_URL,
    deadLetterQueueUrl: env_.WEBHOOKS_DLQ_URL,
    strandedQueueUrl: env_.WEBHOOKS_STRANDED_QUEUE_URL,
    slowQueueUrl: env_.WEBHOOKS_SLOW_QUEUE_URL,
    slowAfterMs: env_.WEBHOOKS_SLOW_AFTER_MS,
    retrySchedule: Object.freeze(env_.WEBHOOKS_RETRY_SCHEDULE),
    allowLoopbackHttp: env_.WEBHOOKS_ALLOW_LOOPBACK_HTTP,
    allowedCidrs: Object.freeze(env_.WEBHOOKS_ALLOWED_CIDRS),
    allowedPorts: Object.freeze(env_.WEBHOOKS_ALLOWED_PORTS),
    egressIps: Object.freeze(env_.WEBHOOKS_EGRESS_IPS),
    responseBodyLimit: env_.WEBHOOKS_RESPONSE_BODY_LIMIT,
    retentionSeconds: env_.WEBHOOKS_RETENTION_DAYS * 86_400,
    connectTimeoutMs: env_.WEBHOOKS_CONNECT_TIMEOUT_MS,
    requestTimeoutMs: env_.WEBHOOKS_REQUEST_TIMEOUT_MS,
    maxSubscriptions: env_.WEBHOOKS_MAX_SUBSCRIPTIONS,
    subscriptionCacheMs: env_.WEBHOOKS_SUBSCRIPTION_CACHE_SECONDS * 1000,
    deliverCacheMs: env_.WEBHOOKS_DELIVER_CACHE_MS,
    statsFlushMs: env_.WEBHOOKS_STATS_FLUSH_SECONDS * 1000,
    autoDisableAfterMs: env_.WEBHOOKS_AUTO_DISABLE_AFTER_HOURS * 3_600_000,
  });
}

/** The settings a deployment chooses; the rest of Config comes from the resources. */
export interface FunctionSettings {
  kmsKeyId: string;
  autoDisableAfterHours?: number;
  /** As written in settings, e.g. "10.20.0.0/16"; empty for none. */
  allowedCidrs?: readonly string[];
  /** Where deliveries leave from, e.g. "203.0.113.10" (or CDK tokens); empty for none. */
  egressIps?: readonly string[];
  /** Ports besides 443 that deliveries may use; empty for none. */
  allowedPorts?: readonly number[];
  tableName: string;
  queueUrl: string;
  deadLetterQueueUrl: string;
  strandedQueueUrl: string;
  slowQueueUrl: string;
  retrySchedule: readonly number[];
  retentionDays: number;
  /** How long the deliver function reuses a subscription it read (`deliverCacheMsFor`). */
  deliverCacheMs?: number;
}

/**
 * How long deliver instances must reuse a subscription they read so that, together, their reads
 * of one workspace's partition stay within 1,500 of its 3,000 read units a second (the rest is
 * ingest's: a key read per event, ~1,000 a second at 1,000 events, and subscription snapshots):
 * each of `instances` reads each of a workspace's `subscriptions` (1 unit each) at most once
 * per period. At least one second, at most ten (past that, the capacity model in BENCHMARKS.md
 * says what gives first).
 */
export const DELIVER_READ_BUDGET = 1500;
export function deliverCacheMsFor(instances: number, subscriptions: number): number {
  const seconds = Math.ceil((instances * subscriptions) / DELIVER_READ_BUDGET);
  return Math.min(10_000, Math.max(1000, seconds * 1000));
}

/**
 * The environment variables that make `loadConfig` produce these settings: how the CDK app
 * configures every function, so the names can never drift from the schema above.
 */
export function functionEnvironment(settings: FunctionSettings): Record<string, string> {
  const env: Partial<Record<keyof typeof EnvSchema.shape, string>> = {
    WEBHOOKS_TABLE_NAME: settings.tableName,
    WEBHOOKS_QUEUE_URL: settings.queueUrl,
    WEBHOOKS_DLQ_URL: settings.deadLetterQueueUrl,
    WEBHOOKS_STRANDED_QUEUE_URL: settings.strandedQueueUrl,
    WEBHOOKS_SLOW_QUEUE_URL: settings.slowQueueUrl,
    WEBHOOKS_KMS_KEY_ID: settings.kmsKeyId,
    WEBHOOKS_RETRY_SCHEDULE: settings.retrySchedule.join(","),
    WEBHOOKS_RETENTION_DAYS: String(settings.retentionDays),
    ...(settings.deliverCacheMs === undefined
      ? {}
      : { WEBHOOKS_DELIVER_CACHE_MS: String(settings.deliverCacheMs) }),
    ...(settings.autoDisableAfterHours === undefined
      ? {}
      : { WEBHOOKS_AUTO_DISABLE_AFTER_HOURS: String(settings.autoDisableAfterHours) }),
    ...(settings.allowedCidrs?.length
      ? { WEBHOOKS_ALLOWED_CIDRS: settings.allowedCidrs.join(",") }
      : {}),
    ...(settings.egressIps?.length ? { WEBHOOKS_EGRESS_IPS: settings.egressIps.join(",") } : {}),
    ...(settings.allowedPorts?.length
      ? { WEBHOOKS_ALLOWED_PORTS: settings.allowedPorts.join(",") }
      : {}),
  };
  return env as Record<string, string>;
}

/** The destination policy every delivery and subscription check applies. */
export const networkPolicy = (config: Config): NetworkPolicy => ({
  allowLoopbackHttp: config.allowLoopbackHttp,
  allowedCidrs: config.allowedCidrs,
  allowedPorts: config.allowedPorts,
});
