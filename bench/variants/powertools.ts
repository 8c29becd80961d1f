/**
 * A function's handler with the same per-invocation telemetry as house-telemetry.ts — one log
 * line, two metrics in one EMF line — through Powertools for AWS Lambda: its Logger (with the
 * Lambda context added, as its docs recommend) and Metrics, built at cold start as they would
 * be in a composition root. Measured by `COLDSTART_VARIANT=powertools npm run bench:coldstart`
 * (issue 16); not used by the functions.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { METRICS_NAMESPACE } from "../../shared/metrics.ts";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const logger = new Logger({ serviceName: "webhooks" });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "webhooks" });

export function withTelemetry(handler: Handler, name: string): Handler {
  return async (event, context) => {
    logger.addContext(context);
    const started = performance.now();
    const answer = await handler(event, context);
    logger.info("invocation done", { function: name });
    metrics.addDimension("Function", name);
    metrics.addMetric("Invocations", MetricUnit.Count, 1);
    metrics.addMetric("HandlerTime", MetricUnit.Milliseconds, performance.now() - started);
    metrics.publishStoredMetrics();
    return answer;
  };
}
