import * as z from "zod/mini";
import { parseAddresses } from "../shared/config.ts";
import { DEFAULT_FRAME_ANCESTORS, parseFrameAncestors } from "../shared/http/console-headers.ts";
import { DEFAULT_SCHEDULE, parseSchedule, retentionProblem } from "../shared/retry.ts";
import { parseCidrs, parsePorts } from "../shared/ssrf.ts";
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

/** `true`/`false`, as JSON in cdk.json or as text from `-c key=value`. */
const flag = z.pipe(
  z.union([z.boolean(), z.enum(["true", "false"])]),
  z.transform((v) => v === true || v === "true"),
);

/** A comma-separated list of ids matching `pattern` (`subnet-…,subnet-…`). */
const idList = (pattern: RegExp, example: string) =>
  parsedBy((text) =>
    text
      .split(",")
      .map((id) => id.trim())
      .filter(Boolean)
      .map((id) => {
        if (!pattern.test(id)) throw new Error(`'${id}' is not an id like ${example}`);
        return id;
      }),
  );

/** Zones of a new VPC unless `vpcAzs` says otherwise: two NAT gateways survive one AZ. */
export const DEFAULT_VPC_AZS = 2;

/** The retention periods CloudWatch Logs accepts, in days. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

export const SettingsSchema = z.object({
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
  /** Most concurrent deliver invocations of the slow lane (endpoints that answer slowly). */
  slowLaneConcurrency: z.prefault(
    whole(2, 1000, "must be from 2 to 1000, what an SQS event source's maximum concurrency allows"),
    5,
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
   * (`10.20.0.0/16`). Cloud metadata addresses stay refused. Needs the VPC option: Lambda's own
   * network has no route to private ranges.
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
  /**
   * Keep the table (deletion protection on) and the KMS key sealing its secrets when the stack
   * is deleted (the default), or destroy both.
   */
  retainData: z.prefault(flag, true),
  /**
   * Adopt this table (retained by a deleted stack, or restored from a backup) instead of
   * creating one; needs existingKmsKeyArn. It must have the dead-letters index.
   */
  existingTableName: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^[A-Za-z0-9_.-]{3,255}$/,
          "must be a DynamoDB table name (3–255 letters, digits, _ . -)",
        ),
      ),
  ),
  /** The KMS key the adopted table's secrets were sealed with; a new key could not open them. */
  existingKmsKeyArn: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(?:mrk-)?[0-9a-f-]{32,36}$/,
          "must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or a bare id: IAM policies name keys by ARN",
        ),
      ),
  ),
  /**
   * Run the deliver function in a new VPC's private subnets, leaving through a NAT gateway with
   * an Elastic IP in each availability zone: fixed egress IPs for customers to allow-list, and
   * a network from which `allowedCidrs` can be reached (peered, say). Costs money: README.
   */
  createVpc: z.prefault(flag, false),
  /** Availability zones of the new VPC, each with its own NAT gateway and IP (1–3). */
  vpcAzs: z.optional(whole(1, 3)),
  /** Or run it in private subnets of this existing VPC (with privateSubnetIds and egressIps). */
  vpcId: z.optional(
    z
      .string()
      .check(z.regex(/^vpc-[0-9a-f]{8,17}$/, "must be a VPC id like vpc-0123456789abcdef0")),
  ),
  /** The existing VPC's private subnets for the deliver function: they must route to a NAT. */
  privateSubnetIds: z.prefault(idList(/^subnet-[0-9a-f]{8,17}$/, "subnet-0123456789abcdef0"), ""),
  /** The public IPs the existing VPC's NAT sends from, as the operator states them. */
  egressIps: z.prefault(parsedBy(parseAddresses), ""),
  /**
   * Who may frame the web console (its CSP `frame-ancestors`): `'none'`, or the origins of the
   * application that embeds it, space-separated (`https://crm.example.com`).
   */
  consoleFrameAncestors: z.prefault(parsedBy(parseFrameAncestors), DEFAULT_FRAME_ANCESTORS),
  /**
   * Create an AWS WAF web ACL for the CloudFront distribution with a per-IP rate-based rule:
   * requests one IP may send in five minutes before it gets 429 (100–2,000,000,000). Needs the
   * stack in us-east-1 (a CloudFront web ACL lives there); elsewhere, pass wafWebAclArn.
   */
  wafRateLimit: z.optional(
    whole(100, 2_000_000_000, "must be from 100 to 2000000000 requests per IP per 5 minutes"),
  ),
  /** Or attach this existing web ACL (scope CLOUDFRONT, so in us-east-1) to the distribution. */
  wafWebAclArn: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global\/webacl\/[\w-]{1,128}\/[0-9a-f-]{36}$/,
          "must be the ARN of a CloudFront web ACL: arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id> (CloudFront web ACLs live in us-east-1, scope global)",
        ),
      ),
  ),
});

export type Settings = z.output<typeof SettingsSchema>;

export class SettingsError extends Error {}

/**
 * A CloudFront web ACL can only be created in us-east-1: refuse `wafRateLimit` in a stack of
 * another (or an unknown) region at synth, saying what to do instead.
 */
export function wafRegionProblem(
  settings: Settings,
  region: string | undefined,
): string | undefined {
  if (settings.wafRateLimit === undefined || region === "us-east-1") return undefined;
  return region === undefined
    ? "wafRateLimit: the stack's region is not known at synth (set CDK_DEFAULT_REGION or AWS_REGION), and a CloudFront web ACL can only be created in us-east-1."
    : `wafRateLimit: a CloudFront web ACL can only be created in us-east-1, and this stack is in ${region}. Create one there (a stack of this app deployed to us-east-1 with wafRateLimit, or your own) and pass its ARN as wafWebAclArn instead.`;
}

/** Settings that are each valid but do not go together, as `field: why` lines. */
function conflicts(s: Settings): string[] {
  const problems: string[] = [];
  const inVpc = s.createVpc || s.vpcId !== undefined;
  if (s.allowedCidrs.length > 0 && !inVpc) {
    problems.push(
      "allowedCidrs: private ranges can only be reached from inside a VPC, and without one the deliver function runs on Lambda's own network with no route to them. Set createVpc=true, or vpcId with privateSubnetIds and egressIps.",
    );
  }
  if (s.createVpc && s.vpcId !== undefined) {
    problems.push("vpcId: choose createVpc=true (a new VPC) or vpcId (an existing one), not both.");
  }
  if (s.vpcAzs !== undefined && !s.createVpc) {
    problems.push("vpcAzs: only with createVpc=true (the zones of the VPC the stack creates).");
  }
  if (s.vpcId !== undefined) {
    if (s.privateSubnetIds.length === 0) {
      problems.push(
        "privateSubnetIds: required with vpcId: the private subnets, routed through a NAT, the deliver function runs in.",
      );
    }
    if (s.egressIps.length === 0) {
      problems.push(
        "egressIps: required with vpcId: the public IPs that VPC's NAT sends from, published for customers to allow-list.",
      );
    }
  } else {
    if (s.privateSubnetIds.length > 0) problems.push("privateSubnetIds: only with vpcId.");
    if (s.egressIps.length > 0) {
      problems.push(
        "egressIps: only with vpcId (with createVpc=true they are the NAT gateways' Elastic IPs).",
      );
    }
  }
  if (s.wafRateLimit !== undefined && s.wafWebAclArn !== undefined) {
    problems.push(
      "wafWebAclArn: choose wafRateLimit (a web ACL the stack creates) or wafWebAclArn (an existing one), not both.",
    );
  }
  if ((s.existingTableName === undefined) !== (s.existingKmsKeyArn === undefined)) {
    problems.push(
      s.existingTableName === undefined
        ? "existingTableName: required with existingKmsKeyArn: adopt the table together with the key that sealed its secrets."
        : "existingKmsKeyArn: required with existingTableName: the table's secrets are sealed with that key, and a new key could not open them (the stack output SecretsKeyArn of the stack that created it).",
    );
  }
  return problems;
}

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
  const retention = retentionProblem(result.data.retrySchedule, result.data.retentionDays);
  const problems = [
    ...conflicts(result.data),
    ...(retention ? [`retentionDays: ${retention}.`] : []),
  ];
  if (problems.length > 0) {
    const lines = problems.map((line) => `  ${line}`);
    throw new SettingsError(`Invalid deployment settings (CDK context):\n${lines.join("\n")}`);
  }
  return result.data;
}
