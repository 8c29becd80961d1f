/** The CRM records that emit events, and what can happen to them. */
export const ENTITIES = ["contact", "organization", "deal", "service", "task"] as const;
export const ACTIONS = ["created", "updated", "deleted"] as const;

/**
 * CRM events come from the CRM; operational events (about the service itself, added later)
 * from the service. shared/events.ts has the typed catalog: schemas and examples.
 */
export const EVENT_CATEGORIES = ["crm", "operational"] as const;
export type EventCategory = (typeof EVENT_CATEGORIES)[number];

export type Entity = (typeof ENTITIES)[number];
export type Action = (typeof ACTIONS)[number];
/** The fifteen events the CRM posts. */
export type CrmEventName = `${Entity}.${Action}`;

/**
 * Events about the webhook service itself, sent by it to the subscriptions that ask for them:
 * a delivery failed for good, an endpoint started failing, was disabled, recovered.
 */
export const OPERATIONAL_EVENT_NAMES = [
  "webhook.delivery.exhausted",
  "webhook.subscription.failing",
  "webhook.subscription.disabled",
  "webhook.subscription.recovered",
] as const;
export type OperationalEventName = (typeof OPERATIONAL_EVENT_NAMES)[number];

/** Any event a subscription may receive. */
export type EventName = CrmEventName | OperationalEventName;

/** Exactly fifteen CRM event names, in a stable order (entity, then action). */
export const CRM_EVENT_NAMES: readonly CrmEventName[] = ENTITIES.flatMap((entity) =>
  ACTIONS.map((action) => `${entity}.${action}` as const),
);

/** Every event a subscription may name: the fifteen CRM events, then the operational ones. */
export const EVENT_NAMES: readonly EventName[] = [...CRM_EVENT_NAMES, ...OPERATIONAL_EVENT_NAMES];

const operational = new Set<string>(OPERATIONAL_EVENT_NAMES);
export const isOperationalEvent = (name: string): name is OperationalEventName =>
  operational.has(name);

const known = new Set<string>(EVENT_NAMES);
export const isEventName = (value: string): value is EventName => known.has(value);
