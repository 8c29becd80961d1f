import { isOperationalEvent } from "../catalog.ts";
import type { DeadLetter, Delivery, DeliveryMessage, DeliveryStatus } from "../domain.ts";
import { deliveryIdBound } from "../ids.ts";
import {
  type CancelReason,
  claimed,
  confirmedQueued,
  DEFAULT_CLAIM_LEASE_MS,
  guardOf,
  isAbandonedClaim,
  onResend,
  onStranded,
  type RunContext,
  released,
  withCancel,
  withStranded,
} from "../lifecycle.ts";
import { describeError, type Logger } from "../log.ts";
import type {
  DeliveryQueue,
  DeliveryStore,
  EventStore,
  HoldingQueue,
  WorkspaceStore,
} from "../ports.ts";
import { contextKey } from "../ports.ts";
import { decodeMessage } from "../queue/delivery-queue.ts";
import type { ResendJob } from "../schemas.ts";
import type { OperationalEvents } from "./operational-events.ts";

/**
 * Resending: one primitive, `resendDelivery`, and the jobs built on it — redrive a workspace's
 * dead letters, replay a time window, drain the SQS dead-letter queue — plus the sweep that
 * finishes what crashed halfway.
 *
 * A resend first *claims* the delivery: a conditional write moves it to the next generation,
 * `pending`. Only one of two concurrent resenders can win that write, so a delivery is queued
 * once however many redrives run. The claim then queues a fresh message (attempt 1 of a new
 * schedule, same delivery id) and marks itself queued. If the process dies in between, the
 * claim stays visibly `pending` and on the sweep's watch list: after the lease the sweep (or
 * the next resend) takes it over. A crash can duplicate a send, never lose one.
 */
export interface ResendDeps {
  deliveries: DeliveryStore;
  events: EventStore;
  subscriptions: Pick<WorkspaceStore, "getSubscription">;
  queue: DeliveryQueue;
  now?: () => number;
  /** A claim older than this whose message was never confirmed sent is abandoned. */
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
  /** Its subscription is disabled (enable it, then resend) or deleted (nothing to send to). */
  | "subscription-disabled"
  | "subscription-deleted"
  /** A test send: never resent (send a new test instead). */
  | "test"
  | "not-found";

export interface ResendResult {
  outcome: ResendOutcome;
  generation?: number;
}

export interface ResendOptions {
  /** The generation the caller's copy (a DLQ message, an index entry) belongs to. */
  expectedGeneration?: number | undefined;
  /** The record, when the caller has already read it (null: read, and not there). */
  record?: Delivery | null | undefined;
  /** The queue message the caller holds, to resend a delivery that has no record yet. */
  message?: DeliveryMessage | undefined;
  /** Subscriptions already looked up by this job (id → enabled; null: deleted). */
  subscriptionCache?: Map<string, boolean | null>;
}

export async function resendDelivery(
  workspaceId: string,
  deliveryId: string,
  deps: ResendDeps,
  options: ResendOptions = {},
): Promise<ResendResult> {
  const now = (deps.now ?? Date.now)();
  const stored =
    options.record === undefined
      ? await deps.deliveries.get(workspaceId, deliveryId)
      : (options.record ?? undefined);
  const message = options.message;
  if (!stored && !message) return { outcome: "not-found" };
  if (stored?.test) return { outcome: "test" };

  const decision = onResend({
    stored,
    now,
    leaseMs: deps.leaseMs ?? DEFAULT_CLAIM_LEASE_MS,
    expectedGeneration: options.expectedGeneration ?? message?.g,
  });
  if (decision.kind === "refuse") return { outcome: decision.reason };

  const subscriptionId = stored?.subscriptionId ?? message?.s ?? "";
  const subscription = await subscriptionState(workspaceId, subscriptionId, deps, options);
  if (subscription !== "enabled") return { outcome: `subscription-${subscription}` };
  const eventId = stored?.eventId ?? message?.e ?? "";
  const event = await deps.events.get(workspaceId, eventId);
  if (!event) return { outcome: "expired" };

  const run: RunContext = {
    workspaceId,
    deliveryId,
    eventId,
    event: stored?.event ?? event.name,
    subscriptionId,
    generation: decision.generation,
    now,
  };
  const claim = claimed(stored, run);
  if (!(await deps.deliveries.put(claim, decision.guard))) return { outcome: "in-flight" };
  try {
    await deps.events.extend(workspaceId, eventId, now);
    await deps.queue.enqueue([
      {
        v: 1,
        w: workspaceId,
        d: deliveryId,
        e: eventId,
        n: run.event,
        s: subscriptionId,
        g: decision.generation,
      },
    ]);
  } catch (error) {
    // Give the claim up so that a retry can take it at once instead of after the lease.
    await deps.deliveries.put(released(claim, now), guardOf(claim)).catch(() => {});
    throw error;
  }
  // Off the sweep's watch list. If this write is lost, the sweep re-queues the claim after
  // the lease: the message queued above then turns stale, and one run still goes on.
  await deps.deliveries.put(confirmedQueued(claim, now), guardOf(claim)).catch(() => {});
  return { outcome: "queued", generation: decision.generation };
}

async function subscriptionState(
  workspaceId: string,
  id: string,
  deps: ResendDeps,
  options: ResendOptions,
): Promise<"enabled" | "disabled" | "deleted"> {
  const cache = options.subscriptionCache;
  let enabled = cache?.get(id);
  if (enabled === undefined) {
    enabled = (await deps.subscriptions.getSubscription(workspaceId, id))?.enabled ?? null;
    cache?.set(id, enabled);
  }
  return enabled === null ? "deleted" : enabled ? "enabled" : "disabled";
}

/** What a job did with each item: counts, and every item it could not resend, with why. */
export interface Tally {
  queued: number;
  /** Left alone: another resend has it, or it was resent since. */
  skipped: number;
  errors: Array<{ id: string; reason: string }>;
}

const emptyTally = (): Tally => ({ queued: 0, skipped: 0, errors: [] });

function count(tally: Tally, id: string, result: ResendResult | Error) {
  if (result instanceof Error) {
    tally.errors.push({ id, reason: `internal error (${result.name})` });
  } else if (result.outcome === "queued") {
    tally.queued++;
  } else if (result.outcome === "in-flight" || result.outcome === "stale") {
    tally.skipped++;
  } else {
    tally.errors.push({ id, reason: result.outcome });
  }
}

/** Runs `work` over `items`, `width` at a time; one item's failure is its own. */
async function eachSettled<T, R>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<R>,
): Promise<Array<R | Error>> {
  const results: Array<R | Error> = [];
  for (let offset = 0; offset < items.length; offset += width) {
    const settled = await Promise.allSettled(items.slice(offset, offset + width).map(work));
    for (const outcome of settled) {
      results.push(
        outcome.status === "fulfilled"
          ? outcome.value
          : outcome.reason instanceof Error
            ? outcome.reason
            : new Error(String(outcome.reason)),
      );
    }
  }
  return results;
}

export interface DeadLetterFilter {
  /** One subscription, or any of several (a portal session's scope). */
  subscriptionId?: string | readonly string[] | undefined;
  event?: DeliveryMessage["n"] | undefined;
}

export interface DeadLetterView {
  /** Failed deliveries waiting to be resent (at least this many when not `depthExact`). */
  depth: number;
  depthExact: boolean;
  /**
   * The dead letter of the oldest event — of all when unfiltered or `depthExact`, else of
   * those counted —: when it failed, and how long ago.
   */
  oldestFailedAt: string | null;
  oldestAgeSeconds: number | null;
}

/**
 * Index entries GET /v1/dlq reads at most to count: a bounded read per request instead of a
 * counter, which would cost every failure and every resend a write of its own.
 */
export const DEAD_LETTER_COUNT_BUDGET = 10_000;

/**
 * Index entries a redrive page reads at most to say what is `left` after it: a tenth of the
 * count's budget, so that a page's own resends, not its count, are most of its work.
 */
export const REDRIVE_LEFT_BUDGET = 1_000;

/**
 * A workspace's view of its dead letters, from its dead-letter index, with bounded work: at
 * most `budget` index entries read, in one Query per shard. `depth` is exact when
 * `depthExact`, else a floor; `oldest…` is the oldest of those counted (of all, unfiltered).
 */
export async function deadLetterSummary(
  workspaceId: string,
  filter: DeadLetterFilter,
  deps: Pick<ResendDeps, "deliveries" | "now">,
  budget = DEAD_LETTER_COUNT_BUDGET,
): Promise<DeadLetterView> {
  const summary = await deps.deliveries.summarizeDeadLetters(workspaceId, filter, budget);
  const oldestFailedAt = summary.oldest?.failedAt ?? null;
  const now = (deps.now ?? Date.now)();
  return {
    depth: summary.count,
    depthExact: summary.exact,
    oldestFailedAt,
    oldestAgeSeconds: oldestFailedAt
      ? Math.max(0, Math.round((now - Date.parse(oldestFailedAt)) / 1000))
      : null,
  };
}

export interface RedriveResult extends Tally {
  /** Continue after this position; null when every dead letter matching the filter was seen. */
  next: string | null;
}

/**
 * Resends one page of a workspace's dead letters (at most `limit`), oldest event first; call
 * again with `next` for the following page. Safe to run twice at once: each delivery is
 * claimed by one. An item that cannot be resent is reported, and the rest go on.
 */
export async function redriveWorkspace(
  workspaceId: string,
  filter: DeadLetterFilter,
  page: { limit: number; after?: string | undefined },
  deps: ResendDeps,
): Promise<RedriveResult> {
  const found = await deps.deliveries.listDeadLetters(workspaceId, filter, page.limit, page.after);
  // The page's records in BatchGetItem calls of a hundred, not a GetItem each.
  const records = await deps.deliveries.getMany(
    found.items.map((item) => ({ workspaceId, deliveryId: item.id })),
  );
  const tally = emptyTally();
  const subscriptionCache = new Map<string, boolean | null>();
  const results = await eachSettled(found.items, 10, (item: DeadLetter) =>
    resendDelivery(workspaceId, item.id, deps, {
      expectedGeneration: item.generation,
      record: records.get(contextKey(workspaceId, item.id)) ?? null,
      subscriptionCache,
    }),
  );
  found.items.forEach((item, index) => {
    count(tally, item.id, results[index] as ResendResult | Error);
  });
  return { ...tally, next: found.next ?? null };
}

export interface ReplayWindow {
  /** ISO times: deliveries of events accepted in [from, to]. */
  from: string;
  to: string;
  subscriptionId?: string | readonly string[] | undefined;
  statuses?: readonly DeliveryStatus[] | undefined;
  limit: number;
  /** A position to continue after (from a previous call's `next`). */
  after?: string | undefined;
}

export interface ReplayResult extends Tally {
  /** Pass back as `after` to continue; null when the window is done. */
  next: string | null;
}

/** Resends one page of a window's deliveries (a replay: succeeded ones too, unless filtered). */
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
  const tally = emptyTally();
  const subscriptionCache = new Map<string, boolean | null>();
  const results = await eachSettled(
    page.items.filter((delivery) => !delivery.test),
    10,
    (delivery) =>
      resendDelivery(workspaceId, delivery.id, deps, { record: delivery, subscriptionCache }),
  );
  page.items
    .filter((delivery) => !delivery.test)
    .forEach((delivery, index) => {
      count(tally, delivery.id, results[index] as ResendResult | Error);
    });
  return { ...tally, next: page.next ?? null };
}

export interface DrainFilter extends Omit<DeadLetterFilter, "subscriptionId"> {
  workspaceId?: string | undefined;
  subscriptionId?: string | undefined;
}

export interface DrainResult {
  /** Resent into the deliveries queue. */
  moved: number;
  /** Removed without a resend: already resent some other way, or past retention. */
  dropped: number;
  /** Left in the dead-letter queue: not matching the filter, over the limit, unreadable, or in flight. */
  skipped: number;
  errors: Array<{ id: string; reason: string }>;
  /** Messages still in the dead-letter queue afterwards (approximate, as SQS reports it). */
  left: number;
}

/** How long a drain or a sweep holds the messages it has received; far longer than it needs. */
const HOLD_SECONDS = 300;

type JobDeps = ResendDeps & {
  deadLetters: HoldingQueue;
  stranded: HoldingQueue;
  /** How many receives SQS allows before it moves a message to the stranded queue. */
  maxReceiveCount: number;
  log: Logger;
  /** Raises `webhook.delivery.exhausted` for the runs the sweep fails (optional). */
  operational?: OperationalEvents | undefined;
};

/**
 * The operator's drain of the SQS dead-letter queue (all workspaces, or filtered), up to
 * `limit` resends. Each message is held by one drain at a time (SQS visibility) and each
 * delivery is claimed by one resender, so two drains at once move every message once.
 * Messages it does not move are released at the end, untouched.
 */
export async function drainDeadLetterQueue(
  filter: DrainFilter,
  limit: number,
  deps: JobDeps,
): Promise<DrainResult> {
  const result: DrainResult = { moved: 0, dropped: 0, skipped: 0, errors: [], left: 0 };
  const held: string[] = [];
  const seen = new Set<string>();
  try {
    while (result.moved < limit) {
      const batch = (await deps.deadLetters.receive(HOLD_SECONDS)).filter((m) => {
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
      const subscriptionCache = new Map<string, boolean | null>();
      const outcomes = await eachSettled(wanted, 10, ({ message }) =>
        resendDelivery(message.w, message.d, deps, {
          expectedGeneration: message.g,
          record: records.get(contextKey(message.w, message.d)) ?? null,
          message,
          subscriptionCache,
        }),
      );
      const done: string[] = [];
      outcomes.forEach((outcome, index) => {
        const entry = wanted[index] as (typeof wanted)[number];
        if (outcome instanceof Error) {
          deps.log.warn("resend failed; the message stays in the dead-letter queue", {
            deliveryId: entry.message.d,
            ...describeError(outcome),
          });
          result.errors.push({ id: entry.message.d, reason: `internal error (${outcome.name})` });
          held.push(entry.receiptHandle);
        } else if (outcome.outcome === "queued") {
          result.moved++;
          done.push(entry.receiptHandle);
        } else if (outcome.outcome === "stale" || outcome.outcome === "expired") {
          result.dropped++;
          done.push(entry.receiptHandle);
        } else {
          if (outcome.outcome !== "in-flight") {
            result.errors.push({ id: entry.message.d, reason: outcome.outcome });
          }
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

export interface SweepResult {
  /** Messages SQS gave up on whose runs were failed (now in the dead-letter queue and index). */
  strandedFailed: number;
  /** Messages SQS gave up on whose runs had already moved on or ended. */
  strandedLeft: number;
  /** Abandoned resend claims queued again. */
  claimsRequeued: number;
  /** Abandoned resend claims that cannot be sent any more, canceled with the reason. */
  claimsCanceled: number;
  /** Abandoned claims still there after the sweep (an alarm fires on any). */
  claimsLeft: number;
}

/** At most this many abandoned claims are taken per sweep (the next sweep takes the rest). */
const CLAIMS_PER_SWEEP = 500;

/**
 * Finishes what crashed halfway, on a schedule (every few minutes on AWS, every few seconds
 * locally): messages SQS moved to the stranded queue after too many receives have their runs
 * failed, visibly, and go on to the dead-letter queue; resend claims whose message was never
 * confirmed sent are queued again (or canceled when there is nothing left to send).
 */
export async function sweep(deps: JobDeps): Promise<SweepResult> {
  const now = (deps.now ?? Date.now)();
  const result: SweepResult = {
    strandedFailed: 0,
    strandedLeft: 0,
    claimsRequeued: 0,
    claimsCanceled: 0,
    claimsLeft: 0,
  };

  const seen = new Set<string>();
  /** Runs failed by this round, for their operational events once their messages moved on. */
  const failedNow: Delivery[] = [];
  for (;;) {
    const batch = (await deps.stranded.receive(HOLD_SECONDS)).filter((m) => !seen.has(m.messageId));
    if (batch.length === 0) break;
    const forward: string[] = [];
    const done: string[] = [];
    for (const received of batch) {
      seen.add(received.messageId);
      const message = decodeMessage(received.body);
      if (!message) {
        forward.push(received.body);
        done.push(received.receiptHandle);
        continue;
      }
      // A message moved to the slow lane speaks for the one that first drove its run.
      const outcome = await reconcileStranded(message, message.o ?? received.messageId, deps, now);
      if (typeof outcome === "object") {
        result.strandedFailed++;
        failedNow.push(outcome.failed);
      } else result.strandedLeft++;
      if (outcome !== "leave") forward.push(received.body);
      done.push(received.receiptHandle);
    }
    if (forward.length > 0) await deps.queue.sendToDeadLetter(forward);
    await Promise.all(
      failedNow.splice(0).map(async (record) => {
        if (record.test || isOperationalEvent(record.event)) return;
        const subscription = await deps.subscriptions.getSubscription(
          record.workspaceId,
          record.subscriptionId,
        );
        await deps.operational?.exhausted(record, subscription);
      }),
    );
    await deps.stranded.remove(done);
  }

  const leaseMs = deps.leaseMs ?? DEFAULT_CLAIM_LEASE_MS;
  const claims = await deps.deliveries.listUnqueuedClaims(
    new Date(now - leaseMs).toISOString(),
    CLAIMS_PER_SWEEP,
  );
  for (const claim of claims) {
    try {
      const outcome = await takeOverClaim(claim.workspaceId, claim.deliveryId, deps, now, leaseMs);
      if (outcome === "queued") result.claimsRequeued++;
      else if (outcome === "canceled") result.claimsCanceled++;
    } catch (error) {
      deps.log.warn("could not take over an abandoned claim", {
        deliveryId: claim.deliveryId,
        ...describeError(error),
      });
    }
  }
  result.claimsLeft = (
    await deps.deliveries.listUnqueuedClaims(new Date(now - leaseMs).toISOString(), 1)
  ).length;
  return result;
}

/** failed: the run was failed now; dead-letter: it had failed already; leave: it moved on. */
async function reconcileStranded(
  message: DeliveryMessage,
  messageId: string,
  deps: JobDeps,
  now: number,
): Promise<{ failed: Delivery } | "dead-letter" | "leave"> {
  for (let tries = 0; tries < 3; tries++) {
    const stored = await deps.deliveries.get(message.w, message.d);
    const decision = onStranded(stored, { messageId, generation: message.g });
    if (decision.kind === "leave") {
      const failedRun = stored?.status === "failed" && stored.generation === message.g;
      return failedRun ? "dead-letter" : "leave";
    }
    const run: RunContext = {
      workspaceId: message.w,
      deliveryId: message.d,
      eventId: message.e,
      event: message.n,
      subscriptionId: message.s,
      generation: message.g,
      now,
    };
    const failed = withStranded(stored, run, deps.maxReceiveCount);
    if (await deps.deliveries.put(failed, decision.guard)) return { failed };
  }
  throw new Error(`delivery ${message.d} kept changing while its stranded message was reconciled`);
}

async function takeOverClaim(
  workspaceId: string,
  deliveryId: string,
  deps: JobDeps,
  now: number,
  leaseMs: number,
): Promise<"queued" | "canceled" | "left"> {
  const stored = await deps.deliveries.get(workspaceId, deliveryId);
  if (!stored || !isAbandonedClaim(stored, now, leaseMs)) return "left";
  const result = await resendDelivery(workspaceId, deliveryId, deps, { record: stored });
  if (result.outcome === "queued") return "queued";
  // Nothing left to send: canceled, with the reason. (Any other outcome means the claim's
  // write lost a race: the record changed since it was read, so it is left as it is.)
  const cancelFor: Partial<Record<ResendOutcome, CancelReason>> = {
    expired: "event_expired",
    "subscription-deleted": "subscription_deleted",
    "subscription-disabled": "subscription_disabled",
  };
  const reason = cancelFor[result.outcome];
  if (!reason) return "left";
  const canceled = withCancel(stored, { ...runOf(stored), now }, reason);
  return (await deps.deliveries.put(canceled, guardOf(stored))) ? "canceled" : "left";
}

const runOf = (delivery: Delivery): Omit<RunContext, "now"> => ({
  workspaceId: delivery.workspaceId,
  deliveryId: delivery.id,
  eventId: delivery.eventId,
  event: delivery.event,
  subscriptionId: delivery.subscriptionId,
  generation: delivery.generation,
});

export type JobResult =
  | ({ action: "drain" } & DrainResult)
  | {
      action: "resend";
      deliveryId: string;
      outcome: ResendOutcome;
      generation?: number | undefined;
    }
  | ({ action: "replay" } & Omit<Tally, "errors"> & { errors: Tally["errors"] })
  | ({ action: "sweep" } & SweepResult);

/** The resend function's jobs (input: ResendJob in shared/schemas.ts). */
export async function runResendJob(job: ResendJob, deps: JobDeps): Promise<JobResult> {
  switch (job.action) {
    case "drain": {
      const filter = {
        workspaceId: job.workspaceId,
        subscriptionId: job.subscriptionId,
        event: job.event,
      };
      return { action: "drain", ...(await drainDeadLetterQueue(filter, job.limit ?? 1000, deps)) };
    }
    case "resend": {
      const result = await resendDelivery(job.workspaceId, job.deliveryId, deps);
      return { action: "resend", deliveryId: job.deliveryId, ...result };
    }
    case "replay": {
      const total = emptyTally();
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
        total.errors.push(...page.errors);
        remaining -= page.queued + page.skipped + page.errors.length;
        after = page.next ?? undefined;
      } while (after && remaining > 0);
      return { action: "replay", ...total };
    }
    case "sweep":
      return { action: "sweep", ...(await sweep(deps)) };
  }
}
