import * as z from "zod/mini";
import {
  type Action,
  CRM_EVENT_NAMES,
  type Entity,
  type EventCategory,
  type EventName,
  type OperationalEventName,
} from "./catalog.ts";
import "./validation.ts";

/**
 * The typed event catalog: for every event, what a receiver gets — its description, the schema
 * of the body (`{event, data, timestamp}`, nothing else) and an example. The catalog is data:
 * `GET /v1/event-types`, the OpenAPI document's `webhooks`, ingest's check of `data` and test
 * sends all read EVENT_CATALOG, so a new event (an operational one, say) is one more entry.
 *
 * Plain zod, no Node built-ins: the web console and generated clients use it as is.
 */

/** Whether a value is an integer the API kept digit for digit (JSON.rawJSON, shared/http/request.ts). */
function isRawJsonInteger(value: unknown): boolean {
  const raw = JSON as unknown as { isRawJSON?: (v: unknown) => boolean };
  return (
    raw.isRawJSON?.(value) === true &&
    /^-?\d+$/.test((value as unknown as { rawJSON: string }).rawJSON)
  );
}

/**
 * A record id as the CRM sends it: a non-empty string, or an integer of any length (a 20-digit
 * id reaches the receiver exactly as it was sent). In JSON Schema: `string | integer`
 * (shared/http/json-schema.ts renders it).
 */
const isRecordId = (value: unknown): boolean =>
  (typeof value === "string" && value.length > 0 && value.length <= 256) ||
  Number.isSafeInteger(value) ||
  isRawJsonInteger(value);
export const RecordId = z.custom<string | number>(isRecordId, {
  error: "must be the record's id: a non-empty string or an integer",
});
/** Whether `schema` is RecordId (or a copy of it with a description). */
export const isRecordIdSchema = (schema: z.ZodMiniType): boolean =>
  (schema._zod.def as { fn?: unknown }).fn === isRecordId;
export const RECORD_ID_JSON_SCHEMA = {
  anyOf: [{ type: "string", minLength: 1, maxLength: 256 }, { type: "integer" }],
  description: "The record's id in the CRM: a string, or an integer (sent digit for digit).",
} as const;

const text = (description: string) =>
  z.optional(z.nullable(z.string()).check(z.describe(description)));
const reference = (description: string) =>
  z.optional(z.nullable(RecordId).check(z.describe(description)));
const times = {
  createdAt: text("When the record was created (ISO 8601)."),
  updatedAt: text("When the record was last changed (ISO 8601)."),
};

/**
 * The record each entity's events carry: `id` always, the documented fields when the CRM has
 * them, and whatever else the CRM sends (further properties are allowed and passed on as sent).
 */
export const RECORD_SCHEMAS = {
  contact: z.looseObject({
    id: RecordId,
    name: text("Full name."),
    email: text("Primary email address."),
    phone: text("Primary phone number."),
    organizationId: reference("The organization the contact belongs to."),
    ...times,
  }),
  organization: z.looseObject({
    id: RecordId,
    name: text("The organization's name."),
    domain: text("Its web domain, e.g. example.com."),
    ...times,
  }),
  deal: z.looseObject({
    id: RecordId,
    name: text("What the deal is about."),
    stage: text("The pipeline stage, e.g. negotiation."),
    organizationId: reference("The organization the deal is with."),
    contactIds: z.optional(
      z.nullable(z.array(RecordId)).check(z.describe("The contacts involved in the deal.")),
    ),
    ...times,
  }),
  service: z.looseObject({
    id: RecordId,
    name: text("The service's name."),
    organizationId: reference("The organization the service is provided for."),
    ...times,
  }),
  task: z.looseObject({
    id: RecordId,
    title: text("What is to be done."),
    dueAt: text("When it is due (ISO 8601)."),
    done: z.optional(z.nullable(z.boolean()).check(z.describe("Whether it is done."))),
    assigneeId: reference("Who it is assigned to."),
    ...times,
  }),
} satisfies Record<Entity, z.ZodMiniType>;

const EXAMPLE_RECORDS: Record<Entity, Record<string, unknown>> = {
  contact: {
    id: "c_42",
    name: "Ada Lovelace",
    email: "ada@example.com",
    phone: "+44 20 7946 0958",
    organizationId: "o_7",
    createdAt: "2026-11-26T09:58:00.000Z",
    updatedAt: "2026-11-26T10:00:00.000Z",
  },
  organization: {
    id: "o_7",
    name: "Analytical Engines Ltd",
    domain: "analytical.example",
    createdAt: "2026-11-20T08:00:00.000Z",
    updatedAt: "2026-11-26T10:00:00.000Z",
  },
  deal: {
    id: "d_19",
    name: "Difference Engine, 3-year support",
    stage: "negotiation",
    organizationId: "o_7",
    contactIds: ["c_42"],
    createdAt: "2026-11-21T14:30:00.000Z",
    updatedAt: "2026-11-26T10:00:00.000Z",
  },
  service: {
    id: "s_3",
    name: "Annual maintenance",
    organizationId: "o_7",
    createdAt: "2026-11-22T11:00:00.000Z",
    updatedAt: "2026-11-26T10:00:00.000Z",
  },
  task: {
    id: "t_88",
    title: "Send the signed contract",
    dueAt: "2026-11-30T17:00:00.000Z",
    done: false,
    assigneeId: "u_5",
    createdAt: "2026-11-26T09:00:00.000Z",
    updatedAt: "2026-11-26T10:00:00.000Z",
  },
};

const WHAT_HAPPENED: Record<Action, string> = {
  created: "was created",
  updated: "was changed; `data` is the whole record as it is now",
  deleted: "was deleted; `data` is the record as it was last",
};

export interface EventEnvelope {
  event: string;
  data: Record<string, unknown>;
  timestamp: string;
}

/** What an operational event is about, and what happened to it. */
export const OPERATIONAL_SUBJECTS = ["delivery", "subscription"] as const;
export const OPERATIONAL_ACTIONS = ["exhausted", "failing", "disabled", "recovered"] as const;

export interface EventSpec {
  name: EventName;
  category: EventCategory;
  entity: Entity | (typeof OPERATIONAL_SUBJECTS)[number];
  action: Action | (typeof OPERATIONAL_ACTIONS)[number];
  description: string;
  /** The record in `data`. */
  data: z.ZodMiniType;
  /** The whole body a receiver gets: exactly `event`, `data` and `timestamp`. */
  envelope: z.ZodMiniType;
  example: EventEnvelope;
}

const EXAMPLE_TIME = "2026-11-26T10:00:00.000Z";

const envelopeOf = (name: EventName, data: z.ZodMiniType, when: string) =>
  z.strictObject({
    event: z.literal(name).check(z.describe("The event's name.")),
    data,
    timestamp: z.iso.datetime({ offset: true }).check(z.describe(when)),
  });

const CRM_CATALOG: readonly EventSpec[] = CRM_EVENT_NAMES.map((name) => {
  const [entity, action] = name.split(".") as [Entity, Action];
  const data = RECORD_SCHEMAS[entity];
  let envelope: z.ZodMiniType | undefined;
  return {
    name,
    category: "crm",
    entity,
    action,
    description: `A ${entity} ${WHAT_HAPPENED[action]}.`,
    data,
    // Built on first use (the OpenAPI document, the catalog route, test sends), not at every
    // cold start: ingest checks `data` only (BENCHMARKS.md, cold start).
    get envelope() {
      envelope ??= envelopeOf(
        name,
        data,
        "When it happened (ISO 8601): as the CRM sent it, or when it arrived.",
      );
      return envelope;
    },
    example: { event: name, data: EXAMPLE_RECORDS[entity], timestamp: EXAMPLE_TIME },
  };
});

const id = (description: string) => z.string().check(z.describe(description));
const when = (description: string) =>
  z.iso.datetime({ offset: true }).check(z.describe(description));
const SUBSCRIPTION_FIELDS = {
  subscriptionId: id("The subscription it is about."),
  url: z.string().check(z.describe("Its endpoint.")),
};

/** The service's own events: what each carries, and an example. */
const OPERATIONAL: Record<
  OperationalEventName,
  { description: string; data: z.ZodMiniType; example: Record<string, unknown> }
> = {
  "webhook.delivery.exhausted": {
    description:
      "A delivery of a CRM event failed for good: every attempt of its schedule failed (or its endpoint is gone). It waits in the dead-letter queue; redrive it once the endpoint is fixed.",
    data: z.strictObject({
      deliveryId: id("The delivery that failed."),
      eventId: id("The CRM event it carried."),
      event: id("That event's name."),
      ...SUBSCRIPTION_FIELDS,
      attempts: z.int().check(z.describe("Attempts made, over every run.")),
      reason: z
        .string()
        .check(z.describe("Why the run ended: exhausted, refused, gone, stranded, unavailable.")),
      lastError: z.nullable(z.string()).check(z.describe("The last attempt's error, in one line.")),
      failedAt: when("When it failed for good."),
    }),
    example: {
      deliveryId: "dlv_01JDX6A2B3C4D5E6F7G8H9JKMNM8Q9RST0VWXYZ0AB",
      eventId: "crm-evt-1",
      event: "contact.created",
      subscriptionId: "sub_01JDX5Z7K3M8Q9RST0VWXYZ0AB",
      url: "https://hooks.example.com/crm",
      attempts: 8,
      reason: "exhausted",
      lastError: "HTTP 503",
      failedAt: EXAMPLE_TIME,
    },
  },
  "webhook.subscription.failing": {
    description:
      "An endpoint that was answering failed: the first failure after a success. Sent once per outage.",
    data: z.strictObject({
      ...SUBSCRIPTION_FIELDS,
      failingSince: when("When it started failing."),
      lastError: z.nullable(z.string()).check(z.describe("The failure, in one line.")),
    }),
    example: {
      subscriptionId: "sub_01JDX5Z7K3M8Q9RST0VWXYZ0AB",
      url: "https://hooks.example.com/crm",
      failingSince: EXAMPLE_TIME,
      lastError: "HTTP 503",
    },
  },
  "webhook.subscription.disabled": {
    description:
      "A subscription was disabled by the service: its endpoint failed for too long, or answered 410 Gone. Nothing is sent to it until an admin enables it again.",
    data: z.strictObject({
      ...SUBSCRIPTION_FIELDS,
      reason: z.string().check(z.describe("Why, in words.")),
      disabledAt: when("When it was disabled."),
    }),
    example: {
      subscriptionId: "sub_01JDX5Z7K3M8Q9RST0VWXYZ0AB",
      url: "https://hooks.example.com/crm",
      reason: "The endpoint answered 410 Gone.",
      disabledAt: EXAMPLE_TIME,
    },
  },
  "webhook.subscription.recovered": {
    description: "A failing endpoint answered with success again.",
    data: z.strictObject({
      ...SUBSCRIPTION_FIELDS,
      failingSince: when("When the outage began."),
      recoveredAt: when("When it answered with success."),
    }),
    example: {
      subscriptionId: "sub_01JDX5Z7K3M8Q9RST0VWXYZ0AB",
      url: "https://hooks.example.com/crm",
      failingSince: "2026-11-26T09:00:00.000Z",
      recoveredAt: EXAMPLE_TIME,
    },
  },
};

const OPERATIONAL_CATALOG: readonly EventSpec[] = Object.entries(OPERATIONAL).map(
  ([name, spec]) => {
    const [, entity, action] = name.split(".") as [
      string,
      (typeof OPERATIONAL_SUBJECTS)[number],
      (typeof OPERATIONAL_ACTIONS)[number],
    ];
    let envelope: z.ZodMiniType | undefined;
    return {
      name: name as OperationalEventName,
      category: "operational",
      entity,
      action,
      description: spec.description,
      data: spec.data,
      get envelope() {
        envelope ??= envelopeOf(
          name as OperationalEventName,
          spec.data,
          "When it happened (ISO 8601).",
        );
        return envelope;
      },
      example: { event: name, data: spec.example, timestamp: EXAMPLE_TIME },
    };
  },
);

export const EVENT_CATALOG: readonly EventSpec[] = [...CRM_CATALOG, ...OPERATIONAL_CATALOG];

const byName = new Map<string, EventSpec>(EVENT_CATALOG.map((spec) => [spec.name, spec]));

export function eventSpec(name: EventName): EventSpec {
  const spec = byName.get(name);
  if (!spec) throw new Error(`no catalog entry for ${name}`);
  return spec;
}

/** The catalog entries of one category, or all of them. */
export const catalogEntries = (category?: EventCategory): readonly EventSpec[] =>
  category === undefined ? EVENT_CATALOG : EVENT_CATALOG.filter((e) => e.category === category);
