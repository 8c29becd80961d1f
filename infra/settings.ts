import * as z from "zod/mini";
import { DEFAULT_SCHEDULE, parseSchedule } from "../shared/retry.ts";
import { parseCidrs, parsePorts } from "../shared/ssrf.ts";
import { parsedBy, toFieldErrors } from "../shared/validation.ts";

/**
 * Deployment settings, from CDK context (`cdk.json`, or `-c key=value`). Validated before any
 * construct is built, so a bad value fails `cdk synth` with a message naming it.
 */
const whole = (min: number, max: number) =>
  z.pipe(
    z.union([z.number(), z.string().check(z.regex(/^\d+$/, "must be a whole number"))]),
    z.pipe(z.transform(Number), z.number().check(z.int(), z.minimum(min), z.maximum(max))),
  );

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
  deliverConcurrency: z.prefault(whole(2, 1000), 20),
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
  /** Steady-state request rate the HTTP API accepts per second (burst is twice this). */
  apiRateLimit: z.prefault(whole(1, 10_000), 200),
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
  /**
   * Ports https deliveries may use besides 443, comma-separated (`8443`); every other port is
   * refused, so subscriptions cannot probe SSH, SMTP or Redis on public hosts.
   */
  allowedPorts: z.prefault(
    z.pipe(z.union([z.number(), z.string()]), z.pipe(z.transform(String), parsedBy(parsePorts))),
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
