import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { AppError, ServiceUnavailableError, ValidationError } from "../errors.ts";
import { describeError, type Logger } from "../log.ts";

export const PROBLEM_TYPE_BASE = "/problems/";

/** The RFC 9457 document of an error (also one item's problem in a batch answer). */
export function problemBody(error: AppError, instance?: string) {
  return {
    type: `${PROBLEM_TYPE_BASE}${error.slug}`,
    title: error.title,
    status: error.status,
    detail: error.message,
    ...(instance ? { instance } : {}),
    ...(error instanceof ValidationError ? { errors: error.errors } : {}),
  };
}

export function problemResponse(
  error: AppError,
  instance?: string,
): APIGatewayProxyStructuredResultV2 {
  const body = problemBody(error, instance);
  return {
    statusCode: error.status,
    headers: {
      "content-type": "application/problem+json",
      "cache-control": "no-store",
      ...error.headers,
    },
    body: JSON.stringify(body),
  };
}

const internal = new AppError(
  500,
  "internal-error",
  "Internal error",
  "Something went wrong on our side; it has been logged. Retrying may help.",
);

/**
 * An AWS service that failed or throttled (after the SDK's own retries): the request may be
 * retried, so it is a 503 with Retry-After, not a 500.
 */
function isAwsServiceFailure(error: unknown): boolean {
  const e = error as { $metadata?: unknown; $fault?: string; $retryable?: unknown; name?: string };
  return (
    e?.$metadata !== undefined &&
    (e.$fault === "server" ||
      e.$retryable !== undefined ||
      /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|ServiceUnavailable|InternalServerError/.test(
        e.name ?? "",
      ))
  );
}

const unavailable = new ServiceUnavailableError(
  "A storage or queue service is busy or failing; retry in a moment (send the same event id).",
);

/**
 * The one place errors become responses: AppErrors expose their status and detail, AWS
 * service failures become a retryable 503, anything else is logged and answered with a
 * generic 500 that reveals nothing.
 */
export function problemJson(
  log: Logger,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    onError: async (request) => {
      const { error, event } = request;
      const known = error instanceof AppError ? error : undefined;
      if (!known || known.status >= 500) {
        log.error("request failed", {
          route: event.routeKey,
          requestId: event.requestContext?.requestId,
          ...describeError(error),
        });
      }
      request.response = problemResponse(asAppError(error), event.rawPath);
    },
  };
}

/** What a client may be told of any error: itself, a retryable 503 for AWS, or a generic 500. */
export function asAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return isAwsServiceFailure(error) ? unavailable : internal;
}
