import { ApiClient, ApiError, UnreachableError } from "../../shared/http/client.ts";
import type { SuccessBody } from "../../shared/http/contract.ts";
import type { Capability } from "../../shared/roles.ts";

export type { Capability };
/**
 * The console talks to the same HTTP API as everyone else, through the typed client
 * (shared/http/client.ts): same origin, the caller's key or portal session as the bearer.
 */
export { ApiClient, ApiError };
export type Caller = SuccessBody<"GET /v1/whoami">;
export type Subscription = SuccessBody<"GET /v1/subscriptions/{id}">;
export type DeliverySummary = SuccessBody<"GET /v1/deliveries">["data"][number];
export type Delivery = SuccessBody<"GET /v1/deliveries/{id}">;
export type Attempt = Delivery["attempts"][number];
export type EventType = SuccessBody<"GET /v1/event-types">["data"][number];
export type ApiKey = SuccessBody<"GET /v1/keys">["data"][number];
export type TestSendResult = SuccessBody<"POST /v1/subscriptions/{id}/test">;
export type DeliveryStatus = DeliverySummary["status"];

export function clientFor(token: string): ApiClient {
  return new ApiClient(window.location.origin, { key: token, timeoutMs: 30_000 });
}

/** One sentence a person can act on, for any failure of a call. */
export function describeError(error: unknown): string {
  if (error instanceof UnreachableError) {
    return "The API cannot be reached. Check your connection and try again; nothing was changed.";
  }
  if (error instanceof ApiError) {
    const detail = error.problem.detail ?? error.message;
    switch (error.status) {
      case 401:
        return `You are signed out: ${detail}`;
      case 403:
        return `Not allowed: ${detail}`;
      case 404:
        return `Not found: ${detail}`;
      case 409:
        return `Conflict: ${detail}`;
      case 422:
        return `Please correct the highlighted fields. ${detail}`;
      case 503:
        return "The service is busy; try again in a moment.";
      default:
        return error.status >= 500
          ? "Something went wrong on the service's side; try again."
          : detail;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** The API's per-field problems (`errors` of a 422), by the field's first segment. */
export function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError) || error.status !== 422) return {};
  const byField: Record<string, string> = {};
  for (const { field, detail } of error.problem.errors ?? []) {
    const name = field.split(".")[0] ?? field;
    byField[name] = byField[name] ? `${byField[name]} ${detail}` : detail;
  }
  return byField;
}

export const isUnauthorized = (error: unknown): boolean =>
  error instanceof ApiError && error.status === 401;
