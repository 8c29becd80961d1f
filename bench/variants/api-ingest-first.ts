/**
 * The API function as it would be if ingest loaded nothing else: `POST /v1/events` served by
 * the ingest-only handler (bench/variants/api-ingest-only.ts, which takes single events only),
 * every other route — the batch route too — by the whole function (functions/api/handler.ts),
 * imported on its first request — and bundled with esbuild's code splitting, so that a cold start for ingest neither
 * parses nor runs the rest (the CDK's bundling makes one file: this is not how the stack
 * builds it). Measured by `COLDSTART_VARIANT=ingest-first npm run bench:coldstart`: the most a
 * restructured API function could gain, next to the function and its floor.
 */
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { handler as ingest } from "./api-ingest-only.ts";

const INGEST_ROUTES = new Set(["POST /v1/events"]);

export async function handler(event: APIGatewayProxyEventV2, context: Context) {
  if (INGEST_ROUTES.has(event.routeKey)) return ingest(event);
  const { handler: everything } = await import("../../functions/api/handler.ts");
  return everything(event, context);
}
