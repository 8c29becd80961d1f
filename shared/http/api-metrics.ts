import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { emfLine, type Unit, writeMetrics } from "../metrics.ts";

/**
 * The API function's metrics: for the routes that take events in, how many were accepted and
 * refused, and each accepted event's fan-out (a distribution); for the workspace's redrives,
 * how many dead letters went back. One EMF document per request that has any, dimension
 * `Function` only.
 */
export function apiMetricsLine(
  route: string,
  status: number,
  body: unknown,
  at = Date.now(),
): string | undefined {
  const count = (value: number) => ({ value, unit: "Count" as Unit });
  const answer = (body ?? {}) as Record<string, unknown>;
  if (route === "POST /v1/events") {
    if (status === 202) {
      return emfLine(
        { Function: "api" },
        {
          EventsAccepted: count(1),
          FanOut: { value: [Number(answer.deliveries ?? 0)], unit: "Count" },
        },
        at,
      );
    }
    return emfLine({ Function: "api" }, { EventsRefused: count(1) }, at);
  }
  if (route === "POST /v1/events/batch") {
    if (status !== 200) return emfLine({ Function: "api" }, { EventsRefused: count(1) }, at);
    const results = (answer.results ?? []) as Array<{ status: number; deliveries?: number }>;
    const accepted = results.filter((r) => r.status === 202);
    return emfLine(
      { Function: "api" },
      {
        EventsAccepted: count(accepted.length),
        EventsRefused: count(results.length - accepted.length),
        ...(accepted.length > 0
          ? { FanOut: { value: accepted.map((r) => r.deliveries ?? 0), unit: "Count" as Unit } }
          : {}),
      },
      at,
    );
  }
  if (route === "POST /v1/dlq/redrive" && status === 200) {
    return emfLine(
      { Function: "api" },
      { DeadLettersRedriven: count(Number(answer.moved ?? 0)) },
      at,
    );
  }
  return undefined;
}

/** Writes the API metrics of each request (after the answer, or the problem, is made). */
export function apiMetrics(
  write: (line: string) => void = writeMetrics,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  const emit = (request: {
    event: APIGatewayProxyEventV2;
    response: APIGatewayProxyStructuredResultV2 | null | undefined;
  }) => {
    const route = routeOf(request.event);
    const status = request.response?.statusCode ?? 500;
    let body: unknown;
    try {
      body = request.response?.body ? JSON.parse(request.response.body) : undefined;
    } catch {
      body = undefined;
    }
    const line = apiMetricsLine(route, status, body);
    if (line) write(line);
  };
  return { after: async (request) => emit(request), onError: async (request) => emit(request) };
}

/** The route key, also for requests API Gateway sent to `$default` (local stack, 404s). */
const routeOf = (event: APIGatewayProxyEventV2) =>
  event.routeKey && event.routeKey !== "$default"
    ? event.routeKey
    : `${event.requestContext?.http?.method ?? ""} ${event.rawPath ?? ""}`;
