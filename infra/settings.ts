import * as z from "zod/mini";
import { DEFAULT_SCHEDULE, parseSchedule } from "../shared/retry.ts";
import { parseCidrs } from "../shared/ssrf.ts";
import { parsedBy, toFieldErrors } from "../shared/validation.ts";

/**
 * Deployment settings, from CDK context (`cdk.json`, or `-c key=value`). Validated before any
 * construct is built, so a bad value fails `cdk synth` with a message naming it.
 */
const whole = (min: number, max: number, outOfRange?: string) =>
  z.pipe(
    z.union([z.number(), z.string().check(z.regex(/^\d+$/, "must be a whole number"))]),
    z.pipe(
      z.transform(Number),
      z.number().check(z.int(), z.minimum(min, outOfRange), z.maximum(max, outOfRange)),
    ),
  );

/**
 * API Gateway's default account-level quotas in a region, shared by every API in the account:
 * 10,000 requests per second, bursts of 5,000. A route asking for more gets no more.
 */
export const API_GATEWAY_RATE_QUOTA = 10_000;
export const API_GATEWAY_BURST_QUOTA = 5000;

/** The stage's burst: twice the rate, but never above the account's burst quota. */
export const apiBurstLimit = (rateLimit: number): number =>
  Math.min(rateLimit * 2, API_GATEWAY_BURST_QUOTA);

/** The retention periods CloudWatch Logs accepts, in days. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

const SettingsSchema = z.object({
  /** Prefix of every resource name: one stack per stage (`dev`, `prod`, …). */
  stage: z.prefault(
    z
      .string()
      .check(
        z.regex(
          /^[a-z][a-z0-9-]{0,19}$/,
          "must be lowercase letters, digits or -, starting with a letter, at most 20",
        ),
      ),
    "dev",
  ),
  /** Delay before each delivery attempt in seconds, first included (`0,5,300,…`). */
  retrySchedule: z.prefault(parsedBy(parseSchedule), DEFAULT_SCHEDULE.join(",")),
  /** Most concurrent deliver invocations (the event source mapping's maximum concurrency). */
  deliverConcurrency: z.prefault(
    whole(2, 1000, "must be from 2 to 1000, what an SQS event source's maximum concurrency allows"),
    20,
  ),
  /** Days events and deliveries are kept before DynamoDB's TTL removes them. */
  retentionDays: z.prefault(whole(1, 365), 30),
  /** Hours an endpoint may fail every attempt before its subscription is disabled (0: never). */
  autoDisableAfterHours: z.prefault(whole(0, 24 * 90), 120),
  /** Days CloudWatch keeps function and access logs. */
  logRetentionDays: z.prefault(
    z.pipe(
      whole(1, 3653),
      z
        .number()
        .check(
          z.refine(
            (days) => (LOG_RETENTION_DAYS as readonly number[]).includes(days),
            `must be one of ${LOG_RETENTION_DAYS.join(", ")}`,
          ),
        ),
    ),
    30,
  ),
  /** Steady-state request rate the HTTP API accepts per second (burst: `apiBurstLimit`). */
  apiRateLimit: z.prefault(
    whole(
      1,
      API_GATEWAY_RATE_QUOTA,
      `must be from 1 to ${API_GATEWAY_RATE_QUOTA}, API Gateway's default account-level rate quota`,
    ),
    200,
  ),
  /**
   * Concurrency reserved for (and capping) the API function, so deliveries and resends cannot
   * starve ingest. Off by default: Lambda keeps 100 of the account's quota unreserved, so an
   * account needs a quota of at least this plus 100 (new accounts may have 10).
   */
  apiReservedConcurrency: z.optional(whole(1, 10_000)),
  /**
   * Private deployments: CIDR ranges deliveries may reach although not public, comma-separated
   * (`10.20.0.0/16`). Cloud metadata addresses stay refused.
   */
  allowedCidrs: z.prefault(
    parsedBy((text) => {
      parseCidrs(text); // validated here; the functions parse the same text again at start
      return text
        .split(",")
        .map((cidr) => cidr.trim())
        .filter(Boolean);
    }),
    "",
  ),
  /** Where alarms are emailed (SNS); without it the topic has no subscriber. */
  alarmEmail: z.optional(z.email({ error: "must be an email address" })),
  /** Keep the table and its data when the stack is deleted (the default), or destroy them. */
  retainData: z.prefault(
    z.pipe(
      z.union([z.boolean(), z.enum(["true", "false"])]),
      z.transform((v) => v === true || v === "true"),
    ),
    true,
  ),
});

export type Settings = z.output<typeof SettingsSchema>;

export class SettingsError extends Error {}

/** Reads and validates the settings; `read(key)` looks a context value up. */
export function readSettings(read: (key: string) => unknown): Settings {
  const keys = Object.keys(SettingsSchema.shape) as Array<keyof Settings>;
  const raw = Object.fromEntries(
    keys.map((key) => [key, read(key)]).filter(([, value]) => value !== undefined),
  );
  const result = SettingsSchema.safeParse(raw);
  if (!result.success) {
    const lines = toFieldErrors(result.error.issues).map((e) => `  ${e.field}: ${e.detail}`);
    throw new SettingsError(`Invalid deployment settings (CDK context):\n${lines.join("\n")}`);
  }
  return result.data;
}
