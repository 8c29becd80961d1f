import type { DeadLetter, Delivery, DeliveryMessage, DeliveryStatus } from "../domain.ts";
import { deliveryIdBound } from "../ids.ts";
import { describeError, type Logger } from "../log.ts";
import type { DeadLetterQueue } from "../queue/dead-letter-queue.ts";
import { type DeliveryQueue, decodeMessage } from "../queue/delivery-queue.ts";
import type { ResendJob } from "../schemas.ts";
import { contextKey, type DeliveryStore } from "../store/delivery-store.ts";
import type { EventStore } from "../store/event-store.ts";
import { expiresAt } from "../store/items.ts";

/**
 * Resending: one primitive, `resendDelivery`, and three jobs built on it — redrive a
 * workspace's dead letters, replay a time window, and drain the SQS dead-letter queue.
 *
 * A resend first *claims* the delivery: a conditional write moves it to the next generation
 * with status `pending`. Only one of two concurrent resenders can win that write, so a
 * delivery is queued once however many redrives run. The claim then queues a fresh message
 * (attempt 1 of a new schedule, same delivery id). If the process dies between the two, the
 * delivery stays visibly `pending` and, once the claim's lease has passed, the next redrive
 * takes it over: a crash can duplicate a send, never lose one.
 */
export interface ResendDeps {
  deliveries: DeliveryStore;
  events: EventStore;
  queue: DeliveryQueue;
  retentionSeconds: number;
  now?: () => number;
  /** A claim older than this is abandoned (its resender died) and may be taken over. */
  leaseMs?: number;
}

export type ResendOutcome =
  /** Claimed and queued: a new run starts now. */
  | "queued"
  /** Another resend holds a live claim on it. */
  | "in-flight"
  /** Already resent some other way since the caller looked (the caller's copy is old). */
  | "stale"
  /** Its event is past retention: there is nothing left to send. */
  | "expired"
  | "not-found";

export interface ResendResult {
  outcome: ResendOutcome;
  generation?: number;
}

export const DEFAULT_LEASE_MS = 5 * 60 * 1000;
/** Attempts kept when a new run starts (the first one is always kept), bounding item size. */
const KEPT_ATTEMPTS = 40;

export interface ResendOptions {
  /** The generation the caller's copy (a DLQ message, an index entry) belongs to. */
  expectedGeneration?: number | undefined;
  /** The record, when the caller has already read it (null: read, and not there). */
  record?: Delivery | null | undefined;
  /** The queue message the caller holds, to resend a delivery that has no record yet. */
  message?: DeliveryMessage | undefined;
}

export async function resendDelivery(
  workspaceId: string,
  deliveryId: string,
  deps: ResendDeps,
  options: ResendOptions = {},
): Promise<ResendResult> {
  const now = (deps.now ?? Date.now)();
  const record =
    options.record === undefined
      ? await deps.deliveries.get(workspaceId, deliveryId)
      : options.record;
  const message = options.message;
  if (!record && !message) return { outcome: "not-found" };

  // An abandoned claim (its resender died before queuing) is taken over, from any copy.
  const abandoned = record?.status === "pending" && claimExpired(record, now, deps.leaseMs);
  const expected = options.expectedGeneration;
  if (record && expected !== undefined && record.generation > expected && !abandoned) {
    return { outcome: "stale" };
  }
  if (record?.status === "pending" && !abandoned) return { outcome: "in-flight" };

  const eventId = record?.eventId ?? message?.e ?? "";
  const event = await deps.events.get(workspaceId, eventId);
  if (!event) return { outcome: "expired" };

  const from = record?.generation;
  const generation = (from ?? message?.g ?? -1) + 1;
  const claim = {
    workspaceId,
    deliveryId,
    eventId,
    event: record?.event ?? event.name,
    subscriptionId: record?.subscriptionId ?? message?.s ?? "",
    fromGeneration: from,
    toGeneration: generation,
    trimAttempts: trimmed(record),
    now: new Date(now).toISOString(),
    expiresAt: expiresAt(now, deps.retentionSeconds),
  };
  if (!(await deps.deliveries.claimForResend(claim))) return { outcome: "in-flight" };
  try {
    await deps.events.extend(workspaceId, eventId, claim.expiresAt);
    await deps.queue.enqueue([
      {
        v: 1,
        w: workspaceId,
        d: deliveryId,
        e: eventId,
        n: claim.event,
        s: claim.subscriptionId,
        g: generation,
        a: 0,
      },
    ]);
  } catch (error) {
    // Give the claim up so that a retry can take it at once instead of after the lease.
    await deps.deliveries.releaseClaim(workspaceId, deliveryId, generation).catch(() => {});
    throw error;
  }
  return { outcome: "queued", generation };
}

const claimExpired = (record: Delivery, now: number, leaseMs = DEFAULT_LEASE_MS): boolean =>
  !record.pendingSince || Date.parse(record.pendingSince) + leaseMs <= now;

/** Indices of the attempts to drop so that at most KEPT_ATTEMPTS remain, the first kept. */
function trimmed(record: Delivery | null | undefined): number[] {
  const excess = (record?.attempts.length ?? 0) - KEPT_ATTEMPTS;
  return excess > 0 ? Array.from({ length: excess }, (_, i) => i + 1) : [];
}

export interface Tally {
  queued: number;
  skipped: number;
  expired: number;
}

function count(tally: Tally, outcome: ResendOutcome) {
  if (outcome === "queued") tally.queued++;
  else if (outcome === "expired") tally.expired++;
  else tally.skipped++;
}

/** Runs `work` over `items`, `width` at a time. */
async function inParallel<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>) {
  const results: R[] = [];
  for (let offset = 0; offset < items.length; offset += width) {
    results.push(...(await Promise.all(items.slice(offset, offset + width).map(work))));
  }
  return results;
}

export interface DeadLetterFilter {
  subscriptionId?: string | undefined;
  event?: DeliveryMessage["n"] | undefined;
}

export interface DeadLetterSummary {
  /** Deliveries that failed for good and wait to be resent. */
  depth: number;
  /** Deliveries claimed by a resend that has not reached its first attempt yet. */
  pending: number;
  oldestFailedAt: string | null;
  oldestAgeSeconds: number | null;
}

/** A workspace's view of its dead-letter queue, from its dead-letter index. */
export async function deadLetterSummary(
  workspaceId: string,
  filter: DeadLetterFilter,
  deps: Pick<ResendDeps, "deliveries" | "now">,
): Promise<DeadLetterSummary> {
  const summary: DeadLetterSummary = {
    depth: 0,
    pending: 0,
    oldestFailedAt: null,
    oldestAgeSeconds: null,
  };
  for await (const item of deadLetters(workspaceId, filter, deps.deliveries)) {
    if (item.status === "pending") {
      summary.pending++;
    } else if (item.status === "failed") {
      summary.depth++;
      if (item.failedAt && (!summary.oldestFailedAt || item.failedAt < summary.oldestFailedAt)) {
        summary.oldestFailedAt = item.failedAt;
      }
    }
  }
  if (summary.oldestFailedAt) {
    const now = (deps.now ?? Date.now)();
    summary.oldestAgeSeconds = Math.max(
      0,
      Math.round((now - Date.parse(summary.oldestFailedAt)) / 1000),
    );
  }
  return summary;
}

async function* deadLetters(
  workspaceId: string,
  filter: DeadLetterFilter,
  store: DeliveryStore,
): AsyncGenerator<DeadLetter> {
  let after: string | undefined;
  do {
    const page = await store.listDeadLetters(workspaceId, filter, 100, after);
    yield* page.items;
    after = page.next;
  } while (after);
}

export interface RedriveResult extends Tally {
  /** Dead letters still waiting after this call (matching the filter). */
  left: number;
}

/**
 * Resends up to `limit` of a workspace's dead letters (failed, or claimed by a resender that
 * died), oldest event first. Safe to run twice at once: each delivery is claimed by one.
 */
export async function redriveWorkspace(
  workspaceId: string,
  filter: DeadLetterFilter,
  limit: number,
  deps: ResendDeps,
): Promise<RedriveResult> {
  const now = (deps.now ?? Date.now)();
  const tally: Tally = { queued: 0, skipped: 0, expired: 0 };
  const candidates: DeadLetter[] = [];
  for await (const item of deadLetters(workspaceId, filter, deps.deliveries)) {
    const abandoned =
      item.status === "pending" &&
      (!item.pendingSince ||
        Date.parse(item.pendingSince) + (deps.leaseMs ?? DEFAULT_LEASE_MS) <= now);
    if (item.status === "failed" || abandoned) candidates.push(item);
    if (candidates.length === limit) break;
  }
  const outcomes = await inParallel(candidates, 10, (item) =>
    resendDelivery(workspaceId, item.id, deps, { expectedGeneration: item.generation }),
  );
  for (const { outcome } of outcomes) count(tally, outcome);
  const after = await deadLetterSummary(workspaceId, filter, deps);
  return { ...tally, left: after.depth };
}

export interface ReplayWindow {
  /** ISO times: deliveries of events accepted in [from, to]. */
  from: string;
  to: string;
  subscriptionId?: string | undefined;
  statuses?: readonly DeliveryStatus[] | undefined;
  limit: number;
  /** A delivery id to continue after (from a previous call's `next`). */
  after?: string | undefined;
}

export interface ReplayResult extends Tally {
  /** Pass back as `after` to continue; null when the window is done. */
  next: string | null;
}

/** Resends every delivery of a window (a replay: succeeded ones included, unless filtered). */
export async function replayWindow(
  workspaceId: string,
  window: ReplayWindow,
  deps: ResendDeps,
): Promise<ReplayResult> {
  const page = await deps.deliveries.list(
    workspaceId,
    {
      subscriptionId: window.subscriptionId,
      status: window.statuses,
      idRange: {
        from: deliveryIdBound(Date.parse(window.from), "min"),
        to: deliveryIdBound(Date.parse(window.to), "max"),
      },
    },
    window.limit,
    window.after,
  );
  const tally: Tally = { queued: 0, skipped: 0, expired: 0 };
  const outcomes = await inParallel(page.items, 10, (delivery) =>
    resendDelivery(workspaceId, delivery.id, deps, { record: delivery }),
  );
  for (const { outcome } of outcomes) count(tally, outcome);
  return { ...tally, next: page.next ?? null };
}

export interface DrainFilter extends DeadLetterFilter {
  workspaceId?: string | undefined;
}

export interface DrainResult {
  /** Resent into the deliveries queue. */
  moved: number;
  /** Removed without a resend: already resent some other way, or past retention. */
  dropped: number;
  /** Left in the dead-letter queue: not matching the filter, over the limit, unreadable, or in flight. */
  skipped: number;
  /** Messages still in the dead-letter queue afterwards (approximate, as SQS reports it). */
  left: number;
}

/** How long a drain holds the messages it has received; far longer than it needs. */
const DRAIN_HOLD_SECONDS = 300;

/**
 * The operator's drain of the SQS dead-letter queue (all workspaces, or filtered), up to
 * `limit` resends. Each message is held by one drain at a time (SQS visibility) and each
 * delivery is claimed by one resender, so two drains at once move every message once.
 * Messages it does not move are released at the end, untouched.
 */
export async function drainDeadLetterQueue(
  filter: DrainFilter,
  limit: number,
  deps: ResendDeps & { deadLetters: DeadLetterQueue; log: Logger },
): Promise<DrainResult> {
  const result: DrainResult = { moved: 0, dropped: 0, skipped: 0, left: 0 };
  const held: string[] = [];
  const seen = new Set<string>();
  try {
    while (result.moved < limit) {
      const batch = (await deps.deadLetters.receive(DRAIN_HOLD_SECONDS)).filter((m) => {
        if (seen.has(m.messageId)) return false;
        seen.add(m.messageId);
        return true;
      });
      if (batch.length === 0) break;
      const wanted: Array<{ receiptHandle: string; message: DeliveryMessage }> = [];
      for (const received of batch) {
        const message = decodeMessage(received.body);
        if (message && matches(message, filter) && wanted.length < limit - result.moved) {
          wanted.push({ receiptHandle: received.receiptHandle, message });
        } else {
          held.push(received.receiptHandle);
          result.skipped++;
        }
      }
      const records = await deps.deliveries.getMany(
        wanted.map(({ message }) => ({ workspaceId: message.w, deliveryId: message.d })),
      );
      const done: string[] = [];
      const outcomes = await Promise.all(
        wanted.map(({ message }) =>
          resendDelivery(message.w, message.d, deps, {
            expectedGeneration: message.g,
            record: records.get(contextKey(message.w, message.d)) ?? null,
            message,
          }).catch((error) => {
            deps.log.warn("resend failed; the message stays in the dead-letter queue", {
              deliveryId: message.d,
              ...describeError(error),
            });
            return { outcome: "in-flight" } as ResendResult;
          }),
        ),
      );
      outcomes.forEach(({ outcome }, index) => {
        const entry = wanted[index];
        if (!entry) return;
        if (outcome === "queued") {
          result.moved++;
          done.push(entry.receiptHandle);
        } else if (outcome === "stale" || outcome === "expired") {
          result.dropped++;
          done.push(entry.receiptHandle);
        } else {
          result.skipped++;
          held.push(entry.receiptHandle);
        }
      });
      await deps.deadLetters.remove(done);
    }
  } finally {
    await deps.deadLetters.release(held).catch((error) => {
      deps.log.warn(
        "could not release held messages; they reappear on their own",
        describeError(error),
      );
    });
  }
  const depth = await deps.deadLetters.depth();
  result.left = depth.visible + depth.inFlight;
  return result;
}

function matches(message: DeliveryMessage, filter: DrainFilter): boolean {
  return (
    (!filter.workspaceId || message.w === filter.workspaceId) &&
    (!filter.subscriptionId || message.s === filter.subscriptionId) &&
    (!filter.event || message.n === filter.event)
  );
}

export type JobResult =
  | ({ action: "redrive" } & DrainResult)
  | {
      action: "resend";
      deliveryId: string;
      outcome: ResendOutcome;
      generation?: number | undefined;
    }
  | ({ action: "replay" } & Tally);

/** The resend function's three jobs (input: ResendJob in shared/schemas.ts). */
export async function runResendJob(
  job: ResendJob,
  deps: ResendDeps & { deadLetters: DeadLetterQueue; log: Logger },
): Promise<JobResult> {
  switch (job.action) {
    case "redrive": {
      const filter = {
        workspaceId: job.workspaceId,
        subscriptionId: job.subscriptionId,
        event: job.event,
      };
      return {
        action: "redrive",
        ...(await drainDeadLetterQueue(filter, job.limit ?? 1000, deps)),
      };
    }
    case "resend": {
      const result = await resendDelivery(job.workspaceId, job.deliveryId, deps);
      return { action: "resend", deliveryId: job.deliveryId, ...result };
    }
    case "replay": {
      const total: Tally = { queued: 0, skipped: 0, expired: 0 };
      let remaining = job.limit ?? 1000;
      let after: string | undefined;
      do {
        const page = await replayWindow(
          job.workspaceId,
          { ...job, statuses: job.status, limit: Math.min(100, remaining), after },
          deps,
        );
        total.queued += page.queued;
        total.skipped += page.skipped;
        total.expired += page.expired;
        remaining -= page.queued + page.skipped + page.expired;
        after = page.next ?? undefined;
      } while (after && remaining > 0);
      return { action: "replay", ...total };
    }
  }
}
