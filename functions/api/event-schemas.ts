import type { EventName } from "../../shared/catalog.ts";
import { eventSpec } from "../../shared/events.ts";
import { type JsonSchema, standaloneJsonSchema } from "../../shared/http/json-schema.ts";

const cache = new Map<string, JsonSchema>();

/** The JSON Schema of an event's body, made once per event (GET /v1/event-types). */
export function eventJsonSchema(event: string): JsonSchema {
  let schema = cache.get(event);
  if (!schema) {
    schema = standaloneJsonSchema(eventSpec(event as EventName).envelope, "output");
    cache.set(event, schema);
  }
  return schema;
}
