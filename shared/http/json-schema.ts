import * as z from "zod/mini";
import { isRecordIdSchema, RECORD_ID_JSON_SCHEMA } from "../events.ts";

/**
 * zod schemas as JSON Schema (2020-12, which OpenAPI 3.1 uses), with zod's own generator
 * (`z.toJSONSchema`, part of zod and so of the API bundle already): no second library to keep
 * in step with the schemas, and what it emits is what the schemas check. Named schemas become
 * shared components, referenced as `#/components/schemas/<Name>`.
 */
export type JsonSchema = Record<string, unknown>;

const COMPONENTS = "#/components/schemas/";

export class SchemaSet {
  /** Components by name, as converted so far. */
  readonly components: Record<string, JsonSchema> = {};
  readonly #names = new Map<z.ZodMiniType, string>();

  /** Registers `schema` as the component `name`: every use of it becomes a `$ref`. */
  name(schema: z.ZodMiniType, name: string): this {
    this.#names.set(schema, name);
    return this;
  }

  /**
   * The JSON Schema of `schema`, for what a client sends (`input`) or what the API answers
   * (`output`); the components it uses are added to `components`.
   */
  convert(schema: z.ZodMiniType, io: "input" | "output"): JsonSchema {
    const names = this.#names;
    // Descriptions come from zod's global registry (z.describe), names from this set.
    const metadata = {
      get: (s: z.ZodMiniType) => {
        const base = z.globalRegistry.get(s);
        const id = names.get(s);
        return id === undefined ? base : { ...base, id };
      },
    } as unknown as z.core.$ZodRegistry<Record<string, unknown>>;
    const converted = z.toJSONSchema(schema, {
      target: "draft-2020-12",
      io,
      metadata,
      // RecordId (a string or an integer, however long) is the one custom type there is.
      unrepresentable: ({ zodSchema }) => {
        if (!isRecordIdSchema(zodSchema as unknown as z.ZodMiniType)) return "throw";
        return structuredClone(RECORD_ID_JSON_SCHEMA) as unknown as Record<string, unknown>;
      },
      override: ({ jsonSchema }) => {
        const json = jsonSchema as JsonSchema;
        // zod spells date-times out as a long pattern too; the format says it.
        if (json.format === "date-time") delete json.pattern;
      },
    }) as JsonSchema;
    const { $defs, $schema: _, ...root } = converted;
    for (const [id, definition] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
      const def = rewriteRefs(definition) as JsonSchema;
      const existing = this.components[id];
      if (existing && JSON.stringify(existing) !== JSON.stringify(def)) {
        throw new Error(`component ${id} differs between uses (input and output?)`);
      }
      this.components[id] = def;
    }
    return rewriteRefs(root) as JsonSchema;
  }
}

/** `#/$defs/X` → `#/components/schemas/X`, everywhere. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      key === "$ref" && typeof inner === "string"
        ? inner.replace(/^#\/\$defs\//, COMPONENTS)
        : rewriteRefs(inner),
    ]),
  );
}

/** One schema on its own (no components): e.g. an event's body for GET /v1/event-types. */
export function standaloneJsonSchema(schema: z.ZodMiniType, io: "input" | "output"): JsonSchema {
  const set = new SchemaSet();
  const root = set.convert(schema, io);
  return { $schema: "https://json-schema.org/draft/2020-12/schema", ...root };
}
