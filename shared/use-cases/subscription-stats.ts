import { NotFoundError } from "../errors.ts";
import type { WorkspaceStore } from "../ports.ts";
import {
  addCounts,
  emptyCounts,
  hourOf,
  percentileMs,
  type StatsCounts,
  type StatsStore,
} from "../stats.ts";

export type StatsWindow = "24h" | "7d";
const WINDOW_HOURS: Record<StatsWindow, number> = { "24h": 24, "7d": 168 };
const HOUR_MS = 3_600_000;

export interface SubscriptionStats {
  subscriptionId: string;
  window: StatsWindow;
  from: string;
  to: string;
  attempts: number;
  succeeded: number;
  failed: number;
  failedByClass: StatsCounts["failedByClass"];
  latencyMs: { p50: number | null; p95: number | null };
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  health: {
    enabled: boolean;
    failingSince: string | null;
    disabledReason: string | null;
    disabledAt: string | null;
  };
  /** Attempts per hour, oldest first (for a chart): every hour of the window, zeros included. */
  hours: Array<{ hour: string; attempts: number; succeeded: number; failed: number }>;
}

/**
 * A subscription's delivery statistics over the last 24 hours or 7 days: whole hours (the
 * current one included), summed from its hourly items; latency percentiles estimated from the
 * histogram (the upper bound of the bucket each falls in).
 */
export async function subscriptionStats(
  workspaceId: string,
  subscriptionId: string,
  window: StatsWindow,
  deps: { subscriptions: Pick<WorkspaceStore, "getSubscription">; stats: StatsStore; now?: number },
): Promise<SubscriptionStats> {
  const subscription = await deps.subscriptions.getSubscription(workspaceId, subscriptionId);
  // Worded as Scope.visible words a subscription outside a portal session's scope, so that a
  // scoped session cannot tell those from subscriptions that do not exist.
  if (!subscription)
    throw new NotFoundError(`No subscription '${subscriptionId}' in this workspace.`);
  const now = deps.now ?? Date.now();
  const start = now - (WINDOW_HOURS[window] - 1) * HOUR_MS;
  const hours = Array.from({ length: WINDOW_HOURS[window] }, (_, i) => hourOf(start + i * HOUR_MS));
  const first = hourOf(start);
  const last = hourOf(now);
  const stored = await deps.stats.read(workspaceId, subscriptionId, first, last);
  const byHour = new Map(stored.map((bucket) => [bucket.hour, bucket]));
  const total = stored.reduce((sum, bucket) => addCounts(sum, bucket), emptyCounts());
  return {
    subscriptionId,
    window,
    from: `${first}:00:00.000Z`,
    to: new Date(now).toISOString(),
    attempts: total.attempts,
    succeeded: total.succeeded,
    failed: total.failed,
    failedByClass: total.failedByClass,
    latencyMs: { p50: percentileMs(total.latency, 50), p95: percentileMs(total.latency, 95) },
    lastSuccessAt: total.lastSuccessAt ?? null,
    lastFailureAt: total.lastFailureAt ?? null,
    health: {
      enabled: subscription.enabled,
      failingSince: subscription.failingSince ?? null,
      disabledReason: subscription.disabledReason ?? null,
      disabledAt: subscription.disabledAt ?? null,
    },
    hours: hours.map((hour) => {
      const bucket = byHour.get(hour);
      return {
        hour: `${hour}:00:00.000Z`,
        attempts: bucket?.attempts ?? 0,
        succeeded: bucket?.succeeded ?? 0,
        failed: bucket?.failed ?? 0,
      };
    }),
  };
}
