import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { type FieldError, ValidationError } from "./errors.ts";

// zod/mini ships without messages (that is what keeps it ~15 KB); English is all we publish.
// Modules import "zod/mini" themselves: re-exporting its namespace from here would defeat
// tree-shaking and put all of zod (~430 KB) in every Lambda bundle.
z.config(en());

type Issue = z.core.$ZodIssue;

function fieldOf(path: readonly PropertyKey[], prefix: string): string {
  const parts = [prefix, ...path.map(String)].filter((part) => part !== "");
  return parts.join(".") || "body";
}

/** zod issues → per-field errors; unknown keys become one error per key. */
export function toFieldErrors(issues: readonly Issue[], prefix = ""): FieldError[] {
  return issues.flatMap((issue): FieldError[] =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({
          field: fieldOf([...issue.path, key], prefix),
          detail: "Unknown field.",
        }))
      : [{ field: fieldOf(issue.path, prefix), detail: sentence(issue.message) }],
  );
}

const sentence = (message: string): string => (/[.!?]$/.test(message) ? message : `${message}.`);

/** A string setting read by `parse`, whose thrown message becomes the validation issue. */
export const parsedBy = <T>(parse: (text: string) => T) =>
  z.pipe(
    z.string(),
    z.transform((text: string, ctx): T => {
      try {
        return parse(text);
      } catch (error) {
        ctx.issues.push({ code: "custom", message: (error as Error).message, input: text });
        return z.NEVER;
      }
    }),
  );

/** Parses or throws a ValidationError naming every offending field. */
export function parseOrThrow<S extends z.ZodMiniType>(
  schema: S,
  value: unknown,
  prefix = "",
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(toFieldErrors(result.error.issues, prefix));
}

export interface SettingDefault {
  name: string;
  /** The default as it is written (`0,5,300`, `false`); undefined when there is none. */
  value: string | undefined;
  required: boolean;
}

/**
 * Each field of a settings schema (an object of `z.prefault`, `z.optional` and required
 * fields) with its default as written: what the README's configuration tables must show
 * (test/unit/docs.test.ts keeps them in step).
 */
export function settingDefaults(schema: z.ZodMiniObject): SettingDefault[] {
  return Object.entries(schema._zod.def.shape).map(([name, field]) => {
    const def = (field as z.ZodMiniType)._zod.def as { type: string; defaultValue?: unknown };
    if (def.type === "prefault" || def.type === "default") {
      const value = def.defaultValue;
      return {
        name,
        value: String(typeof value === "function" ? value() : value),
        required: false,
      };
    }
    return { name, value: undefined, required: def.type !== "optional" };
  });
}
