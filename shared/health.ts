import type { EndpointHealth } from "./domain.ts";

/**
 * Endpoint health: when a subscription counts as failing, and when it is disabled. Pure; the
 * deliver function applies the decision through SubscriptionHealth, field by field.
 *
 * The rule (README, "Endpoint health"): an endpoint is disabled only when every attempt has
 * failed for the whole window (`autoDisableAfterMs`, five days by default) *and* it has failed
 * recently and repeatedly — in at least RECENT_FAILURES_TO_DISABLE different minutes of the
 * last day. An endpoint with one old outage and little traffic is not disabled by the next
 * single failure; one that keeps failing day after day is.
 */
export const FAILURE_COUNT_INTERVAL_MS = 60_000;
export const RECENT_WINDOW_MS = 24 * 3_600_000;
export const RECENT_FAILURES_TO_DISABLE = 3;

export type HealthChange =
  | { kind: "none" }
  | { kind: "healthy" }
  | { kind: "failing"; at: string }
  | {
      kind: "count";
      at: string;
      /** Only if the last counted failure is older than this (one count a minute). */
      countedBefore: string;
      recentFailures: number;
      recentSince: string;
      /** Also disable it: failing since `failingSince`, for the whole window and repeatedly. */
      disable?: { failingSince: string; reason: string } | undefined;
    };

export function healthAfter(
  health: EndpointHealth,
  ok: boolean,
  now: number,
  autoDisableAfterMs: number,
): HealthChange {
  if (ok) return health.failingSince ? { kind: "healthy" } : { kind: "none" };
  const at = new Date(now).toISOString();
  if (!health.failingSince) return { kind: "failing", at };
  if (health.lastFailureAt && now - Date.parse(health.lastFailureAt) < FAILURE_COUNT_INTERVAL_MS) {
    return { kind: "none" };
  }
  const sameWindow =
    health.recentSince !== undefined && now - Date.parse(health.recentSince) < RECENT_WINDOW_MS;
  const recentFailures = sameWindow ? (health.recentFailures ?? 0) + 1 : 1;
  const recentSince = sameWindow ? (health.recentSince as string) : at;
  const longEnough =
    autoDisableAfterMs > 0 && now - Date.parse(health.failingSince) >= autoDisableAfterMs;
  return {
    kind: "count",
    at,
    countedBefore: new Date(now - FAILURE_COUNT_INTERVAL_MS).toISOString(),
    recentFailures,
    recentSince,
    disable:
      longEnough && recentFailures >= RECENT_FAILURES_TO_DISABLE
        ? {
            failingSince: health.failingSince,
            reason: `Disabled automatically: every delivery has failed since ${health.failingSince}, ${recentFailures} times in the last day.`,
          }
        : undefined,
  };
}
