import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { AppError, ValidationError } from "../errors.ts";
import { describeError, type Logger } from "../log.ts";

export const PROBLEM_TYPE_BASE = "/problems/";

export function problemResponse(
  error: AppError,
  instance?: string,
): APIGatewayProxyStructuredResultV2 {
  const body = {
    type: `${PROBLEM_TYPE_BASE}${error.slug}`,
    title: error.title,
    status: error.status,
    detail: error.message,
    ...(instance ? { instance } : {}),
    ...(error instanceof ValidationError ? { errors: error.errors } : {}),
  };
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
 * The one place errors become responses: AppErrors expose their status and detail, anything
 * else is logged and answered with a generic 500 that reveals nothing.
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
      request.response = problemResponse(known ?? internal, event.rawPath);
    },
  };
}
