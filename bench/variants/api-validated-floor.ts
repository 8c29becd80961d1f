/**
 * The API function's floor (bench/floor/api.ts) plus the least validation this project's
 * contract asks of `POST /v1/events`, done with zod (the validation library of the design):
 * the configuration read through its schema at cold start (shared/config.ts, as every function
 * of this project reads it) and the body checked against an event schema built here with the
 * checks of `EventInput` (shared/schemas.ts: the event's name, `data` an object, an optional
 * ISO 8601 time with a zone, an optional id that is not `webhook.`-prefixed), without their
 * messages. Nothing else of this project: no route table, no stores, no catalog, no
 * middleware — and not the rest of what ingest checks (each entity's `data` fields, the
 * content type, the body's size), so this is a lower bound of what validation costs.
 *
 * Measured by `COLDSTART_VARIANT=validated-floor npm run bench:coldstart` next to the function
 * and its floor: what validating with zod adds to any implementation of the function, and so
 * how much of the budget is left for everything else.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import * as z from "zod/mini";
import { CRM_EVENT_NAMES, type CrmEventName } from "../../shared/catalog.ts";
import { loadConfig } from "../../shared/config.ts";
import { handler as floor } from "../floor/api.ts";

export const config = loadConfig();

const Event = z.strictObject({
  event: z.enum(CRM_EVENT_NAMES as [CrmEventName, ...CrmEventName[]]),
  data: z.record(z.string(), z.unknown()),
  timestamp: z.optional(z.iso.datetime({ offset: true })),
  id: z.optional(
    z.string().check(
      z.minLength(1),
      z.maxLength(128),
      z.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/),
      z.refine((id) => !id.startsWith("webhook.")),
    ),
  ),
});

export async function handler(
  request: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  if (!Event.safeParse(JSON.parse(request.body ?? "null")).success) return { statusCode: 400 };
  return floor(request);
}
