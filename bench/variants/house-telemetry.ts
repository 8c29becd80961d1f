/**
 * A function's handler with per-invocation telemetry the house way: one JSON log line
 * (shared/log.ts) and one EMF line with two metrics (shared/metrics.ts). The baseline the
 * Powertools variant (powertools.ts, the same telemetry) is compared with by
 * `COLDSTART_VARIANT=powertools npm run bench:coldstart` (issue 16).
 */
import type { Context } from "aws-lambda";
import { jsonLogger } from "../../shared/log.ts";
import { emfLine } from "../../shared/metrics.ts";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

export function withTelemetry(handler: Handler, name: string): Handler {
  return async (event, context) => {
    const started = performance.now();
    const answer = await handler(event, context);
    jsonLogger.info("invocation done", { function: name, requestId: context.awsRequestId });
    console.log(
      emfLine(
        { Function: name },
        {
          Invocations: { value: 1, unit: "Count" },
          HandlerTime: { value: performance.now() - started, unit: "Milliseconds" },
        },
      ),
    );
    return answer;
  };
}
