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
