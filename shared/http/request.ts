import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type * as z from "zod/mini";
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../errors.ts";
import { MAX_EVENT_BYTES } from "../schemas.ts";
import { parseOrThrow } from "../validation.ts";

/** Header lookup; API Gateway (payload v2) lowercases header names. */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  return event.headers?.[name.toLowerCase()];
}

/**
 * The JSON body, validated. Refusals say what is wrong: 415 for another content type, 413
 * beyond `maxBytes` (256 KiB unless the route says), 400 for empty or malformed JSON, 422 (per field) for the wrong shape.
 */
export function jsonBody<S extends z.ZodMiniType>(
  event: APIGatewayProxyEventV2,
  schema: S,
  maxBytes = MAX_EVENT_BYTES,
): z.output<S> {
  const type = header(event, "content-type");
  if (!type || !/^application\/json\s*(;|$)/i.test(type)) {
    throw new UnsupportedMediaTypeError(
      "Send the body as JSON with 'Content-Type: application/json'.",
    );
  }
  const raw = event.body ?? "";
  const bytes = event.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
  if (bytes.length > maxBytes) {
    throw new PayloadTooLargeError(
      `The body is ${bytes.length} bytes; the most accepted is ${maxBytes} (${maxBytes / 1024} KiB).`,
    );
  }
  const text = bytes.toString("utf8");
  if (text.trim() === "")
    throw new BadRequestError("The request body is empty; send a JSON object.");
  return parseOrThrow(schema, parseJson(text));
}

/**
 * JSON.parse that keeps numbers exactly as written: a CRM id like 12345678901234567890 does
 * not fit a double, so it is carried as raw JSON text and re-serialized digit for digit.
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text, (_key, value, context?: { source?: string }) =>
      typeof value === "number" && context?.source !== undefined && String(value) !== context.source
        ? (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(context.source)
        : value,
    );
  } catch (error) {
    throw new BadRequestError(`The body is not valid JSON: ${(error as Error).message}.`, {
      cause: error,
    });
  }
}

/** Query string parameters, validated (unknown parameters are refused by strict schemas). */
export function query<S extends z.ZodMiniType>(event: APIGatewayProxyEventV2, schema: S) {
  return parseOrThrow(schema, event.queryStringParameters ?? {});
}

/** Requests that must not carry a body (GET, DELETE) are refused when they do. */
export function noBody(event: APIGatewayProxyEventV2): void {
  if (event.body && event.body.length > 0) {
    throw new BadRequestError("This request takes no body.");
  }
}
