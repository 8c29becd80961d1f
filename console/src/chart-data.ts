import type { ApiClient } from "../../shared/http/client.ts";
import type { SuccessBody } from "../../shared/http/contract.ts";

type DeliverySummary = SuccessBody<"GET /v1/deliveries">["data"][number];

// Plain functions over the typed client, no DOM: unit-tested in Node (test/unit/console.test.ts).

/**
 * Deliveries per hour by outcome, for the last 24 hours. `GET /v1/deliveries` lists, it does not
 * count, so the console reads the listing of the window (test sends left out), newest first, a
 * bounded number of pages, and counts in the browser. When the window holds more deliveries
 * than it reads, the chart says it shows a sample: the most recent ones.
 */
export const SAMPLE_PAGES = 5;
export const PAGE_SIZE = 100;
export const HOURS = 24;
const HOUR = 3_600_000;

export type Outcome = "succeeded" | "failed" | "inProgress" | "canceled";
export const OUTCOMES: readonly Outcome[] = ["succeeded", "failed", "inProgress", "canceled"];

export interface HourBucket extends Record<Outcome, number> {
  /** Start of the hour, epoch milliseconds. */
  start: number;
}

export interface Sample {
  deliveries: DeliverySummary[];
  /** False when the window has more deliveries than were read. */
  complete: boolean;
  /** When the sample was taken. */
  at: number;
}

export function outcomeOf(status: DeliverySummary["status"]): Outcome {
  switch (status) {
    case "succeeded":
      return "succeeded";
    case "failed":
      return "failed";
    case "canceled":
      return "canceled";
    default:
      return "inProgress";
  }
}

/** Twenty-four hourly buckets, oldest first; the last is the current (partial) hour. */
export function bucketByHour(
  deliveries: ReadonlyArray<Pick<DeliverySummary, "createdAt" | "status">>,
  now: number,
): HourBucket[] {
  const currentHour = Math.floor(now / HOUR) * HOUR;
  const first = currentHour - (HOURS - 1) * HOUR;
  const buckets: HourBucket[] = Array.from({ length: HOURS }, (_, i) => ({
    start: first + i * HOUR,
    succeeded: 0,
    failed: 0,
    inProgress: 0,
    canceled: 0,
  }));
  for (const delivery of deliveries) {
    const index = Math.floor((Date.parse(delivery.createdAt) - first) / HOUR);
    const bucket = buckets[index];
    if (bucket) bucket[outcomeOf(delivery.status)]++;
  }
  return buckets;
}

/** Reads the last 24 hours' deliveries, at most SAMPLE_PAGES pages of PAGE_SIZE. */
export async function loadSample(client: ApiClient, now = Date.now()): Promise<Sample> {
  const from = new Date(Math.floor(now / HOUR) * HOUR - (HOURS - 1) * HOUR).toISOString();
  const deliveries: DeliverySummary[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < SAMPLE_PAGES; page++) {
    const answer = await client.call("GET /v1/deliveries", {
      query: { test: "false", from, limit: PAGE_SIZE, cursor },
    });
    deliveries.push(...answer.data);
    if (!answer.nextCursor) return { deliveries, complete: true, at: now };
    cursor = answer.nextCursor;
  }
  return { deliveries, complete: false, at: now };
}

/** The newest delivery of each subscription in the sample. */
export function latestBySubscription(deliveries: readonly DeliverySummary[]) {
  const latest = new Map<string, DeliverySummary>();
  for (const delivery of deliveries) {
    // Newest first: the first seen is the latest.
    if (!latest.has(delivery.subscriptionId)) latest.set(delivery.subscriptionId, delivery);
  }
  return latest;
}
