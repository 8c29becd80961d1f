import * as z from "zod/mini";
import {
  type Action,
  type Entity,
  EVENT_NAMES,
  type EventCategory,
  type EventName,
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

export interface EventSpec {
  name: EventName;
  category: EventCategory;
  entity: Entity;
  action: Action;
  description: string;
  /** The record in `data`. */
  data: z.ZodMiniType;
  /** The whole body a receiver gets: exactly `event`, `data` and `timestamp`. */
  envelope: z.ZodMiniType;
  example: EventEnvelope;
}

const EXAMPLE_TIME = "2026-11-26T10:00:00.000Z";

export const EVENT_CATALOG: readonly EventSpec[] = EVENT_NAMES.map((name) => {
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
      envelope ??= z.strictObject({
        event: z.literal(name).check(z.describe("The event's name.")),
        data,
        timestamp: z.iso
          .datetime({ offset: true })
          .check(
            z.describe("When it happened (ISO 8601): as the CRM sent it, or when it arrived."),
          ),
      });
      return envelope;
    },
    example: { event: name, data: EXAMPLE_RECORDS[entity], timestamp: EXAMPLE_TIME },
  };
});

const byName = new Map<string, EventSpec>(EVENT_CATALOG.map((spec) => [spec.name, spec]));

export function eventSpec(name: EventName): EventSpec {
  const spec = byName.get(name);
  if (!spec) throw new Error(`no catalog entry for ${name}`);
  return spec;
}

/** The catalog entries of one category, or all of them. */
export const catalogEntries = (category?: EventCategory): readonly EventSpec[] =>
  category === undefined ? EVENT_CATALOG : EVENT_CATALOG.filter((e) => e.category === category);
