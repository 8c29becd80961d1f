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
export type EventName = `${Entity}.${Action}`;

/** Exactly fifteen event names, in a stable order (entity, then action). */
export const EVENT_NAMES: readonly EventName[] = ENTITIES.flatMap((entity) =>
  ACTIONS.map((action) => `${entity}.${action}` as const),
);

const descriptions: Record<Action, string> = {
  created: "was created",
  updated: "was updated",
  deleted: "was deleted",
};

export interface EventType {
  name: EventName;
  entity: Entity;
  action: Action;
  description: string;
}

export const EVENT_TYPES: readonly EventType[] = EVENT_NAMES.map((name) => {
  const [entity, action] = name.split(".") as [Entity, Action];
  return { name, entity, action, description: `A ${entity} ${descriptions[action]}.` };
});

const known = new Set<string>(EVENT_NAMES);
export const isEventName = (value: string): value is EventName => known.has(value);
