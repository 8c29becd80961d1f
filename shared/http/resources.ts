import * as z from "zod/mini";
import { ACTIONS, ENTITIES, EVENT_CATEGORIES } from "../catalog.ts";
import { OPERATIONAL_ACTIONS, OPERATIONAL_SUBJECTS } from "../events.ts";
import { ID_PATTERNS } from "../ids.ts";
import { CAPABILITIES, ROLES } from "../roles.ts";
import { DeliveryStatusSchema, EventNameSchema } from "../schemas.ts";
import "../validation.ts";

/**
 * What the API answers, as zod schemas: the views (shared/http/views.ts) are typed by them,
 * the OpenAPI document is generated from them, and the end-to-end tests check every real answer
 * against that document. Plain zod, no Node built-ins (the web console imports the types).
 */
const time = z.iso.datetime({ offset: true });
const nullableTime = (description: string) => z.nullable(time.check(z.describe(description)));
const count = z.int().check(z.minimum(0));
const pattern = (regex: RegExp, description: string) =>
  z.string().check(z.regex(regex), z.describe(description));

export const SubscriptionIdValue = pattern(ID_PATTERNS.subscription, "A subscription id.");
export const DeliveryIdValue = pattern(
  ID_PATTERNS.delivery,
  "A delivery id: the same on every attempt and resend (`webhook-id`).",
);
export const KeyIdValue = pattern(ID_PATTERNS.key, "An API key's id.");
export const PortalSessionIdValue = pattern(ID_PATTERNS.portalSession, "A portal session's id.");

export const Health = z.strictObject({ status: z.literal("ok") });

export const Subscription = z.strictObject({
  id: SubscriptionIdValue,
  url: z.string(),
  events: z.array(EventNameSchema),
  enabled: z.boolean(),
  description: z.string(),
  secret: z.nullable(
    z
      .string()
      .check(
        z.describe(
          "The signing secret: in clear only in the answer of the call that set it, masked (`whsec_********`) afterwards; null when deliveries are unsigned.",
        ),
      ),
  ),
  rotationEndsAt: nullableTime(
    "While set, deliveries also carry signatures made with the previous secret(s).",
  ),
  failingSince: nullableTime(
    "Every attempt to the endpoint has failed since then (null: healthy).",
  ),
  disabledReason: z.nullable(z.string()),
  disabledAt: nullableTime("When it was last disabled."),
  createdAt: time,
  updatedAt: time,
});

export const SubscriptionUpdated = z.extend(Subscription, {
  missed: z.optional(
    z
      .strictObject({ from: time, to: time })
      .check(
        z.describe(
          "When a disabled subscription is enabled again: the window it was failing or disabled in (replay its failed and canceled deliveries of it).",
        ),
      ),
  ),
});

export const SubscriptionList = z.strictObject({ data: z.array(Subscription) });

const AttemptErrorClass = z.enum([
  "destination_refused",
  "dns_error",
  "connect_timeout",
  "connection_error",
  "tls_error",
  "timeout",
  "network_error",
  "http_status",
]);

/** A receiver's answer as an attempt keeps it (capped; see README "Deliveries"). */
export const ReceiverResponse = z.strictObject({
  status: z.int(),
  headers: z.record(z.string(), z.string()),
  body: z.string().check(z.describe("The first bytes of the body (WEBHOOKS_RESPONSE_BODY_LIMIT).")),
  bodyEncoding: z.enum(["utf-8", "base64"]),
  bodyTruncated: z.boolean(),
});

export const AttemptError = z.strictObject({
  class: AttemptErrorClass,
  message: z.string(),
});

export const Attempt = z.strictObject({
  number: z.int().check(z.minimum(1)),
  generation: count,
  startedAt: time,
  durationMs: count,
  url: z.string(),
  outcome: z.enum(["succeeded", "failed"]),
  request: z.strictObject({ headers: z.record(z.string(), z.string()) }),
  response: z.nullable(ReceiverResponse),
  error: z.nullable(AttemptError),
  nextAttemptAt: z.nullable(time),
  lane: z
    .enum(["main", "slow"])
    .check(
      z.describe(
        "The queue it was made from: `slow` while the endpoint was answering slowly (README: Isolation).",
      ),
    ),
});

export const DeliverySummary = z.strictObject({
  id: DeliveryIdValue,
  eventId: z.string(),
  event: EventNameSchema,
  subscriptionId: SubscriptionIdValue,
  status: DeliveryStatusSchema,
  attemptCount: count,
  lastError: z.nullable(z.string()),
  nextAttemptAt: z.nullable(time),
  createdAt: time,
  updatedAt: time,
  test: z.boolean().check(z.describe("A test send (POST /v1/subscriptions/{id}/test).")),
  reason: z.nullable(
    z
      .enum([
        "exhausted",
        "refused",
        "gone",
        "stranded",
        "subscription_deleted",
        "subscription_disabled",
        "event_expired",
        "unavailable",
      ])
      .check(z.describe("Why the latest run ended without success (failed or canceled).")),
  ),
});

export const DeliveryList = z.strictObject({
  data: z.array(DeliverySummary),
  nextCursor: z.nullable(z.string()),
});

export const Delivery = z.extend(DeliverySummary, {
  generation: count,
  failedAt: z.nullable(time),
  deferrals: count.check(
    z.describe(
      "Due attempts put off without being made because the endpoint had no room (they cost no step of the schedule).",
    ),
  ),
  deferredUntil: z.nullable(time),
  deferReason: z.nullable(z.enum(["endpoint-busy"])),
  attemptsOmitted: count,
  payload: z.nullable(
    z.string().check(z.describe("The exact body sent, byte for byte (null once past retention).")),
  ),
  attempts: z.array(Attempt),
});

export const ApiKey = z.strictObject({
  id: KeyIdValue,
  name: z.string(),
  role: z.enum(ROLES as ["admin", "ingest"]),
  hint: z.string(),
  createdAt: time,
  revokedAt: z.nullable(time),
});
export const ApiKeyCreated = z.extend(ApiKey, {
  key: z.string().check(z.describe("The key itself: shown in this answer only.")),
});
export const ApiKeyList = z.strictObject({ data: z.array(ApiKey) });

const CapabilityValue = z.enum(CAPABILITIES as ["read", "manage", "resend"]);
const SessionScope = z.nullable(
  z
    .array(SubscriptionIdValue)
    .check(
      z.describe("The only subscriptions it may see and act on; null: all of the workspace's."),
    ),
);

export const PortalSessionCreated = z.strictObject({
  id: PortalSessionIdValue,
  token: z
    .string()
    .check(
      z.describe(
        "The session token (`whp_<workspace>_<secret>`), a bearer like a key: shown in this answer only.",
      ),
    ),
  workspaceId: z.string(),
  capabilities: z.array(CapabilityValue),
  subscriptionIds: SessionScope,
  expiresAt: time,
  consolePath: z
    .string()
    .check(
      z.describe(
        "Where the console opens with this session, relative to the console's origin: `/console#session=<token>`.",
      ),
    ),
});

export const Caller = z.strictObject({
  workspaceId: z.string(),
  kind: z
    .enum(["key", "portal-session"])
    .check(z.describe("An admin key, or a portal session (POST /v1/portal-sessions).")),
  capabilities: z.array(CapabilityValue).check(z.describe("An admin key has all three.")),
  subscriptionIds: SessionScope,
  expiresAt: z.nullable(time.check(z.describe("When the session ends (null for a key)."))),
});

export const EventAccepted = z.strictObject({
  id: z.string(),
  event: EventNameSchema,
  deliveries: count,
});

export const EventType = z.strictObject({
  name: EventNameSchema,
  entity: z.enum([...ENTITIES, ...OPERATIONAL_SUBJECTS]),
  action: z.enum([...ACTIONS, ...OPERATIONAL_ACTIONS]),
  category: z.enum(EVENT_CATEGORIES),
  description: z.string(),
  schema: z
    .record(z.string(), z.unknown())
    .check(z.describe("JSON Schema (2020-12) of the body a receiver gets for this event.")),
  example: z.strictObject({
    event: EventNameSchema,
    data: z.record(z.string(), z.unknown()),
    timestamp: time,
  }),
});
export const EventTypeList = z.strictObject({ data: z.array(EventType) });

const ItemError = z.strictObject({
  id: z.string(),
  reason: z.string(),
});

export const ResendAccepted = z.strictObject({
  id: DeliveryIdValue,
  status: z.literal("pending"),
  generation: count,
});

export const ReplayResult = z.strictObject({
  queued: count,
  skipped: count,
  errors: z.array(ItemError),
  nextCursor: z.nullable(z.string()),
});

export const DeadLetterSummary = z.strictObject({
  depth: count.check(
    z.describe(
      "Dead letters counted: all of them when `depthExact`, else a floor. A request reads at most 10,000 entries of the dead-letter index, whatever the depth.",
    ),
  ),
  depthExact: z
    .boolean()
    .check(z.describe("False when there are more dead letters than the request counted.")),
  oldestFailedAt: nullableTime(
    "When the dead letter of the oldest event failed: of all of them, or, filtered and not `depthExact`, of those counted.",
  ),
  oldestAgeSeconds: z.nullable(count),
});

export const RedriveResult = z.strictObject({
  moved: count,
  skipped: count,
  errors: z.array(ItemError),
  left: count.check(
    z.describe(
      "Dead letters matching the filter still there after this page: exact when `leftExact`, else a floor (a page counts at most 1,000).",
    ),
  ),
  leftExact: z.boolean(),
  nextCursor: z.nullable(
    z.string().check(z.describe("Pass back as `cursor` for the next page; null at the end.")),
  ),
});

export const EgressIps = z.strictObject({
  egressIps: z.array(
    z
      .string()
      .check(
        z.describe(
          "A public IP address deliveries leave from (IPv4 or IPv6), for receivers to allow-list.",
        ),
      ),
  ),
  static: z
    .boolean()
    .check(
      z.describe(
        "True when deliveries leave from exactly these addresses (the deployment's VPC option); false, with no addresses, when they leave from AWS addresses that change.",
      ),
    ),
});

export const TestSendResult = z.strictObject({
  deliveryId: DeliveryIdValue,
  eventId: z.string(),
  event: EventNameSchema,
  status: z.enum(["succeeded", "failed"]),
  durationMs: count,
  response: z.nullable(ReceiverResponse),
  error: z.nullable(AttemptError),
});

export const OpenApiDocument = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

export const FieldError = z.strictObject({ field: z.string(), detail: z.string() });

/** RFC 9457 problem details: every 4xx and 5xx answer. */
export const Problem = z.strictObject({
  type: z.string().check(z.describe("`/problems/<slug>`, one per kind of problem.")),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  instance: z.optional(z.string()),
  errors: z.optional(z.array(FieldError)),
});

/** One item of a batch: accepted (or an idempotent replay), or its own problem. */
export const EventBatchItem = z.union([
  z.strictObject({
    index: z.int().check(z.describe("The item's position in `events`, from 0.")),
    status: z.literal(202),
    id: z.string(),
    event: z.string(),
    deliveries: z.int(),
    replayed: z
      .boolean()
      .check(
        z.describe("True when this repeats the answer to an earlier request with the same id."),
      ),
  }),
  z.strictObject({
    index: z.int(),
    status: z
      .int()
      .check(
        z.describe(
          "The item's own status: 409 (id used for another event), 413 (over 256 KiB), 422 (invalid), 503 (not stored or not queued: retry the item with the same id).",
        ),
      ),
    id: z.nullable(z.string()),
    problem: Problem,
  }),
]);

export const EventBatchResult = z.strictObject({
  accepted: z.int().check(z.describe("Items accepted, replays included.")),
  failed: z.int(),
  results: z.array(EventBatchItem).check(z.describe("One per item, in the order sent.")),
});

export const SubscriptionStats = z.strictObject({
  subscriptionId: SubscriptionIdValue,
  window: z.enum(["24h", "7d"]),
  from: time,
  to: time,
  attempts: count,
  succeeded: count,
  failed: count,
  failedByClass: z
    .record(z.string(), count)
    .check(z.describe("Failed attempts by error class (`http_status`, `timeout`, …).")),
  latencyMs: z
    .strictObject({
      p50: z.nullable(count),
      p95: z.nullable(count),
    })
    .check(
      z.describe(
        "Attempt latency percentiles, estimated from a histogram: the upper bound of the bucket each falls in (null without attempts).",
      ),
    ),
  lastSuccessAt: nullableTime("The last attempt that succeeded, in the window."),
  lastFailureAt: nullableTime("The last attempt that failed, in the window."),
  health: z.strictObject({
    enabled: z.boolean(),
    failingSince: nullableTime("Since when every attempt has failed (null: healthy)."),
    disabledReason: z.nullable(z.string()),
    disabledAt: nullableTime("When the service disabled it."),
  }),
  hours: z
    .array(z.strictObject({ hour: time, attempts: count, succeeded: count, failed: count }))
    .check(z.describe("Every hour of the window, oldest first, zeros included.")),
});

export type SubscriptionBody = z.output<typeof Subscription>;
export type DeliverySummaryBody = z.output<typeof DeliverySummary>;
export type DeliveryBody = z.output<typeof Delivery>;
export type AttemptBody = z.output<typeof Attempt>;
export type ApiKeyBody = z.output<typeof ApiKey>;
export type ProblemBody = z.output<typeof Problem>;
export type EventBatchItemBody = z.output<typeof EventBatchItem>;
export type TestSendBody = z.output<typeof TestSendResult>;
export type CallerBody = z.output<typeof Caller>;
export type PortalSessionBody = z.output<typeof PortalSessionCreated>;
