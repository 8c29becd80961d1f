import * as z from "zod/mini";
import {
  CRM_EVENT_NAMES,
  type CrmEventName,
  EVENT_CATEGORIES,
  EVENT_NAMES,
  type EventName,
} from "./catalog.ts";
import { DELIVERY_STATUSES, type DeliveryStatus } from "./domain.ts";
import { ID_PATTERNS } from "./ids.ts";
import { CAPABILITIES, type Capability, ROLES, type Role, WORKSPACE_ID } from "./roles.ts";
import "./validation.ts";

/** Request schemas of the HTTP API: the single source of validation and input types. */

export const MAX_EVENT_BYTES = 256 * 1024;
export const MAX_URL_LENGTH = 2048;
export const MAX_DESCRIPTION_LENGTH = 500;

/** Any event a subscription may name: the fifteen CRM events and the operational ones. */
export const EventNameSchema = z.enum(EVENT_NAMES as [EventName, ...EventName[]], {
  error: (issue) =>
    `Unknown event ${JSON.stringify(issue.input)}; GET /v1/event-types lists the fifteen CRM events (and ?category=operational the service's own)`,
});
const eventName = EventNameSchema;

/** One of the fifteen events the CRM posts; the operational ones only the service sends. */
export const CrmEventNameSchema = z.enum(CRM_EVENT_NAMES as [CrmEventName, ...CrmEventName[]], {
  error: (issue) =>
    typeof issue.input === "string" && issue.input.startsWith("webhook.")
      ? `${JSON.stringify(issue.input)} is one of the service's own events: it sends them, nobody posts them`
      : `Unknown event ${JSON.stringify(issue.input)}; GET /v1/event-types lists the fifteen valid names`,
});

/** Client-chosen event ids double as idempotency keys. */
export const EventId = z.string().check(
  z.minLength(1),
  z.maxLength(128),
  z.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, "must be letters, digits and . _ : - only"),
  // The service's own (operational) events have ids of their own kind; keeping the prefix
  // for them is what lets IAM tell them from the CRM's (infra/store.ts, WRITE_SCOPES).
  z.refine((id) => !id.startsWith("webhook."), "must not start with 'webhook.' (reserved)"),
);

export const EventInput = z.strictObject({
  event: CrmEventNameSchema,
  data: z.record(z.string(), z.unknown(), { error: "must be a JSON object" }),
  timestamp: z.optional(
    z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time with a time zone" }),
  ),
  id: z.optional(EventId),
});
export type EventInput = z.output<typeof EventInput>;

/** Events one `POST /v1/events/batch` takes, and the most its whole body may weigh. */
export const MAX_BATCH_EVENTS = 100;
export const MAX_BATCH_BYTES = 5 * 1024 * 1024;

/** `POST /v1/events/batch`, as documented: up to 100 events, each as `POST /v1/events` takes it. */
export const EventBatchInput = z.strictObject({
  events: z.array(EventInput).check(z.minLength(1), z.maxLength(MAX_BATCH_EVENTS)),
});

/**
 * What the router checks of a batch before the handler sees it: the list, not its items. Each
 * item is then checked on its own, so that one bad event gets its own problem and the others
 * are still accepted.
 */
export const EventBatchEnvelope = z.strictObject({
  events: z.array(z.unknown()).check(z.minLength(1), z.maxLength(MAX_BATCH_EVENTS)),
});

const WHSEC = /^whsec_([A-Za-z0-9+/]+={0,2})$/;

/**
 * A user's own signing secret: 16–256 printable ASCII characters, no leading or trailing
 * space. ASCII because the Standard Webhooks libraries key a raw secret by its character codes
 * while `X-Webhook-Signature` uses its UTF-8 bytes: the two agree only for ASCII. A `whsec_`
 * secret must carry 24–64 base64 bytes (Standard Webhooks keys).
 */
export const Secret = z.string().check(
  z.minLength(16, "must be at least 16 characters"),
  z.maxLength(256),
  z.regex(/^[\x20-\x7e]*$/, "must be printable ASCII characters"),
  z.refine((value) => value === value.trim(), "must not start or end with a space"),
  z.refine((value) => {
    if (!value.startsWith("whsec_")) return true;
    const bytes = base64Bytes(WHSEC.exec(value)?.[1] ?? "");
    return bytes >= 24 && bytes <= 64;
  }, "a whsec_ secret must be whsec_ followed by the base64 of 24 to 64 bytes"),
);

/** How many bytes a base64 text decodes to (computed, so this module runs in a browser too). */
function base64Bytes(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

const Url = z.string().check(z.minLength(1), z.maxLength(MAX_URL_LENGTH));
const Events = z
  .array(eventName)
  .check(z.minLength(1, "must list at least one event"), z.maxLength(EVENT_NAMES.length));
const Description = z.string().check(z.maxLength(MAX_DESCRIPTION_LENGTH));

export const SubscriptionCreate = z
  .strictObject({
    url: Url,
    events: Events,
    secret: z.optional(Secret),
    generateSecret: z.optional(z.boolean()),
    enabled: z.optional(z.boolean()),
    description: z.optional(Description),
  })
  .check(
    z.refine((input) => !(input.secret !== undefined && input.generateSecret), {
      message: "send either secret or generateSecret, not both",
      path: ["generateSecret"],
    }),
  );
export type SubscriptionCreate = z.output<typeof SubscriptionCreate>;

export const SubscriptionPatch = z
  .strictObject({
    url: z.optional(Url),
    events: z.optional(Events),
    /** A new secret replaces the old one at once; null removes signing. */
    secret: z.optional(z.nullable(Secret)),
    generateSecret: z.optional(z.literal(true)),
    enabled: z.optional(z.boolean()),
    description: z.optional(Description),
  })
  .check(
    z.refine((input) => Object.keys(input).length > 0, "send at least one field to change"),
    z.refine((input) => !(input.secret !== undefined && input.generateSecret), {
      message: "send either secret or generateSecret, not both",
      path: ["generateSecret"],
    }),
  );
export type SubscriptionPatch = z.output<typeof SubscriptionPatch>;

const limit = z.pipe(
  z.string().check(z.regex(/^\d+$/, "must be a whole number")),
  z.pipe(z.transform(Number), z.int().check(z.minimum(1), z.maximum(100))),
);

export const StatsQuery = z.strictObject({
  window: z.optional(z.enum(["24h", "7d"])),
});

export const DeliveryListQuery = z.strictObject({
  status: z.optional(z.enum(DELIVERY_STATUSES as [string, ...string[]])),
  subscriptionId: z.optional(
    z.string().check(z.regex(ID_PATTERNS.subscription, "is not a subscription id")),
  ),
  event: z.optional(eventName),
  /** `true`: test sends only; `false`: none of them. */
  test: z.optional(
    z.pipe(
      z.enum(["true", "false"]),
      z.transform((value) => value === "true"),
    ),
  ),
  /** Only deliveries of events accepted at or after this time (ISO 8601 with a zone). */
  from: z.optional(
    z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time with a time zone" }),
  ),
  /** Only deliveries of events accepted at or before this time. */
  to: z.optional(
    z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time with a time zone" }),
  ),
  limit: z.optional(limit),
  cursor: z.optional(z.string().check(z.maxLength(200))),
});
export type DeliveryListQuery = z.output<typeof DeliveryListQuery>;

export const DeliveryStatusSchema = z.enum(
  DELIVERY_STATUSES as [DeliveryStatus, ...DeliveryStatus[]],
);
const deliveryStatus = DeliveryStatusSchema;
export const SubscriptionId = z
  .string()
  .check(z.regex(ID_PATTERNS.subscription, "is not a subscription id"));
const subscriptionId = SubscriptionId;
const isoTime = z.iso.datetime({
  offset: true,
  error: "must be an ISO 8601 date-time with a time zone",
});
const batchLimit = (max: number) => z.number().check(z.int(), z.minimum(1), z.maximum(max));

/** `POST /v1/dlq/redrive`: one page of at most `limit` dead letters per call (the CLI loops). */
export const RedriveInput = z.strictObject({
  subscriptionId: z.optional(subscriptionId),
  event: z.optional(eventName),
  limit: z.optional(batchLimit(100)),
  cursor: z.optional(z.string().check(z.maxLength(200))),
});
export type RedriveInput = z.output<typeof RedriveInput>;

export const DeadLetterQuery = z.strictObject({
  subscriptionId: z.optional(subscriptionId),
  event: z.optional(eventName),
});

/** `POST /v1/deliveries/replay`: deliveries of events accepted between two times. */
export const ReplayInput = z
  .strictObject({
    from: isoTime,
    to: isoTime,
    subscriptionId: z.optional(subscriptionId),
    status: z.optional(z.array(deliveryStatus).check(z.minLength(1))),
    limit: z.optional(batchLimit(100)),
    cursor: z.optional(z.string().check(z.maxLength(200))),
  })
  .check(
    z.refine((input) => Date.parse(input.from) <= Date.parse(input.to), {
      message: "must not be after `to`",
      path: ["from"],
    }),
  );
export type ReplayInput = z.output<typeof ReplayInput>;

/** `POST /v1/subscriptions/{id}/rotate-secret`: a new secret, the old one kept for a while. */
export const RotateSecretInput = z.strictObject({
  /** Your own new secret; by default one is generated. */
  secret: z.optional(Secret),
  /** How long the old secret keeps signing: 0 (at once) to 7 days; default 24 hours. */
  gracePeriodSeconds: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(7 * 86_400))),
});
export type RotateSecretInput = z.output<typeof RotateSecretInput>;

/** `POST /v1/subscriptions/{id}/test`: which event's example to send (default: its first). */
export const TestSendInput = z.strictObject({
  event: z.optional(eventName),
});
export type TestSendInput = z.output<typeof TestSendInput>;

/** `GET /v1/event-types`: one category only. */
export const EventTypesQuery = z.strictObject({
  category: z.optional(z.enum(EVENT_CATEGORIES)),
});

export const KeyCreate = z.strictObject({
  role: z.enum(ROLES as [Role, ...Role[]]),
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(100))),
});

export const WorkspaceId = z
  .string()
  .check(z.regex(WORKSPACE_ID, "must be lowercase letters, digits and -, at most 40"));
export const DeliveryId = z.string().check(z.regex(ID_PATTERNS.delivery, "is not a delivery id"));

/**
 * What the resend function accepts: one of its jobs. Invoked by operators from the AWS
 * console or `webhooks dlq drain`, and by a schedule for the sweep; see docs/operations.md
 * for the JSON of each.
 */
export const ResendJob = z.discriminatedUnion("action", [
  z.strictObject({
    action: z.literal("drain"),
    workspaceId: z.optional(WorkspaceId),
    subscriptionId: z.optional(subscriptionId),
    event: z.optional(eventName),
    limit: z.optional(batchLimit(10_000)),
  }),
  z.strictObject({
    action: z.literal("resend"),
    workspaceId: WorkspaceId,
    deliveryId: DeliveryId,
  }),
  z
    .strictObject({
      action: z.literal("replay"),
      workspaceId: WorkspaceId,
      from: isoTime,
      to: isoTime,
      subscriptionId: z.optional(subscriptionId),
      status: z.optional(z.array(deliveryStatus).check(z.minLength(1))),
      limit: z.optional(batchLimit(10_000)),
    })
    .check(
      z.refine((input) => Date.parse(input.from) <= Date.parse(input.to), {
        message: "must not be after `to`",
        path: ["from"],
      }),
    ),
  z.strictObject({ action: z.literal("sweep") }),
]);
export type ResendJob = z.output<typeof ResendJob>;

/** Portal sessions live one hour by default, a day at most. */
export const PORTAL_SESSION_DEFAULT_TTL = 3600;
export const PORTAL_SESSION_MAX_TTL = 86_400;
const unique = <T>(items: readonly T[]) => new Set(items).size === items.length;

/** `POST /v1/portal-sessions`: what the session may do, on which subscriptions, how long. */
export const PortalSessionCreate = z.strictObject({
  capabilities: z.array(z.enum(CAPABILITIES as [Capability, ...Capability[]])).check(
    z.minLength(1),
    z.refine(unique, "must not repeat a capability"),
    z.refine(
      (capabilities) => capabilities.includes("read"),
      "must include read: a session that cannot read cannot show anything",
    ),
  ),
  /** Only these subscriptions (and their deliveries); by default all of the workspace's. */
  subscriptionIds: z.optional(
    z
      .array(SubscriptionId)
      .check(z.minLength(1), z.maxLength(100), z.refine(unique, "must not repeat a subscription")),
  ),
  /** Seconds it lives: 60 to 86,400 (a day); default 3,600. */
  ttlSeconds: z.optional(
    z.number().check(z.int(), z.minimum(60), z.maximum(PORTAL_SESSION_MAX_TTL)),
  ),
});
export type PortalSessionCreate = z.output<typeof PortalSessionCreate>;
