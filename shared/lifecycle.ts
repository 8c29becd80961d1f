import type { EventName } from "./catalog.ts";
import type { Attempt, DeferReason, Delivery, DeliveryStatus, EndReason, Lane } from "./domain.ts";
import { type FailureKind, MAX_DEFERRAL_SECONDS, nextRetry, worstCaseRunSeconds } from "./retry.ts";

/**
 * The delivery lifecycle: every rule about a delivery's runs, in one place, as pure functions.
 * The deliver path, the resend paths, the sweep, the DynamoDB store (its conditions come from
 * `Guard`) and the test fakes all use this module; docs/lifecycle.md draws it.
 *
 * A delivery is one event for one subscription. Its record goes through runs (`generation`
 * 0, 1, …: each resend starts a new one). In a run, each queue message receive either makes
 * an attempt or does not; only attempts move the run along its retry schedule, and the step
 * comes from the record (`runAttempts`), never from how often SQS delivered the message. A
 * run ends `succeeded`, `failed` (in the dead-letter index and queue) or `canceled` (nothing
 * to send to); nothing reopens an ended run but a resend, which starts the next generation.
 *
 * Every write is conditioned on what the writer read (`Guard`): the record's revision, or its
 * absence. A writer that loses that race re-reads and lets this module decide again, so two
 * copies of a message, a resend and a late attempt can never both move the same run.
 */

// ——— Guards: what a write expects to find ————————————————————————————————————————————————

export type Guard = { kind: "absent" } | { kind: "revision"; rev: number };

export const guardOf = (stored: Pick<Delivery, "rev"> | undefined): Guard =>
  stored ? { kind: "revision", rev: stored.rev } : { kind: "absent" };

/** Whether a write with `guard` may apply to the stored record (what the fakes evaluate). */
export function guardHolds(guard: Guard, stored: Pick<Delivery, "rev"> | undefined): boolean {
  return guard.kind === "absent" ? stored === undefined : stored?.rev === guard.rev;
}

// ——— States ——————————————————————————————————————————————————————————————————————————————

export const TERMINAL: ReadonlySet<DeliveryStatus> = new Set(["succeeded", "failed", "canceled"]);
export const isTerminal = (status: DeliveryStatus): boolean => TERMINAL.has(status);

/** A failed delivery waits in its workspace's dead-letter index (test sends never do). */
export const inDeadLetterIndex = (delivery: Pick<Delivery, "status" | "test">): boolean =>
  delivery.status === "failed" && !delivery.test;

/** A resend's claim whose queue message is not yet known to be sent: the sweep watches it. */
export const awaitsQueueing = (delivery: Pick<Delivery, "status" | "queued">): boolean =>
  delivery.status === "pending" && !delivery.queued;

/** How a write moves a record; each allowed move is a row of TRANSITIONS. */
export type Via =
  | "attempt"
  | "cancel"
  | "claim"
  | "confirm-queued"
  /** A claim whose message could not be sent gives itself up, to be taken over at once. */
  | "release"
  | "stranded"
  /** A due attempt put off, without being made, because the endpoint had no room for it. */
  | "defer"
  /** Put off past the end of its schedule: the run fails. */
  | "give-up"
  /** A second POST of the same run (a duplicate message) joins the history, nothing else. */
  | "copy-attempt";

export const NEW = "(new)";
export type From = DeliveryStatus | typeof NEW;

/** Every move a record can make. docs/lifecycle.md is drawn from this table. */
export const TRANSITIONS: ReadonlyArray<{
  from: From;
  to: DeliveryStatus;
  via: Via;
  when: string;
}> = [
  ...(["(new)", "pending", "retrying"] as const).flatMap((from) => [
    { from, to: "succeeded" as const, via: "attempt" as const, when: "the receiver answers 2xx" },
    {
      from,
      to: "retrying" as const,
      via: "attempt" as const,
      when: "the attempt fails; the schedule has steps left",
    },
    {
      from,
      to: "failed" as const,
      via: "attempt" as const,
      when: "the last step fails, or the destination is refused",
    },
    {
      from,
      to: "canceled" as const,
      via: "cancel" as const,
      when: "subscription disabled or deleted, or event expired",
    },
    {
      from,
      to: "failed" as const,
      via: "stranded" as const,
      when: "SQS gave up on the message (too many receives)",
    },
    {
      from,
      to: from === "retrying" ? ("retrying" as const) : ("pending" as const),
      via: "defer" as const,
      when: "the endpoint has no room for another request: the attempt is put off",
    },
    {
      from,
      to: "failed" as const,
      via: "give-up" as const,
      when: "the attempt would be put off past the end of the run's schedule",
    },
  ]),
  ...(["(new)", "retrying", "succeeded", "failed", "canceled", "pending"] as const).map((from) => ({
    from,
    to: "pending" as const,
    via: "claim" as const,
    when:
      from === "pending"
        ? "a claim abandoned before its message was sent is taken over"
        : "a resend claims the next generation",
  })),
  {
    from: "pending",
    to: "pending",
    via: "confirm-queued",
    when: "the resend's message is on the queue",
  },
  {
    from: "pending",
    to: "pending",
    via: "release",
    when: "the resend could not queue its message: the claim is given up",
  },
  ...(["retrying", "succeeded", "failed", "canceled", "pending"] as const).map((from) => ({
    from,
    to: from,
    via: "copy-attempt" as const,
    when: "a duplicate message's POST is recorded; the run is unchanged",
  })),
];

export function isAllowed(from: From, to: DeliveryStatus, via: Via): boolean {
  return TRANSITIONS.some((t) => t.from === from && t.to === to && t.via === via);
}

// ——— Receiving a queue message ———————————————————————————————————————————————————————————

/** A message's delivery run, as the receive carries it. */
export interface Receipt {
  messageId: string;
  generation: number;
}

export type SubscriptionState = "enabled" | "disabled" | "deleted";

export interface ReceiveFacts {
  receipt: Receipt;
  /** Which queue it came from; a main-lane message of an endpoint known slow moves lanes. */
  lane?: Lane | undefined;
  endpointSlow?: boolean | undefined;
  /**
   * The stored record: undefined when there is none, or when the deliver path did not read it
   * (a first-generation message on its first receive normally has none). Either way the write
   * then expects no record, and a duplicate that finds one loses its race.
   */
  stored: Delivery | undefined;
  eventFound: boolean;
  subscription: SubscriptionState;
  now: number;
}

export type ReceiveDecision =
  /** Nothing to do: the message is acknowledged. */
  | { kind: "drop"; reason: "stale" | "finished" | "copy" }
  /** The run failed for good: the message belongs in the dead-letter queue (again). */
  | { kind: "dead-letter" }
  /** Not now, and no attempt: the message comes back after `seconds`. Consumes no step. */
  | { kind: "wait"; seconds: number; reason: "not-due" | "raced" }
  | { kind: "cancel"; guard: Guard; reason: CancelReason }
  /** The endpoint answers slowly: the message moves to the slow lane, no attempt here. */
  | { kind: "forward" }
  /** `number`: the attempt's place in this run's schedule (1 = the first). */
  | { kind: "attempt"; guard: Guard; number: number };

export type CancelReason = Extract<
  EndReason,
  "subscription_deleted" | "subscription_disabled" | "event_expired"
>;

/** A message that comes back up to this early is due (SQS's clock and ours differ a little). */
export const DUE_TOLERANCE_MS = 1000;

export function onReceive(facts: ReceiveFacts): ReceiveDecision {
  const { receipt, now, stored } = facts;
  if (stored && stored.generation > receipt.generation) return { kind: "drop", reason: "stale" };
  if (stored && stored.generation === receipt.generation) {
    if (stored.status === "succeeded" || stored.status === "canceled") {
      return { kind: "drop", reason: "finished" };
    }
    if (stored.status === "failed") return { kind: "dead-letter" };
    if (stored.owner !== undefined && stored.owner !== receipt.messageId) {
      // Another message drives this run (the original of a retried ingest's copy, say).
      return { kind: "drop", reason: "copy" };
    }
    const due = stored.nextAttemptAt ? Date.parse(stored.nextAttemptAt) : 0;
    if (due - now > DUE_TOLERANCE_MS) {
      // Back before its time (a crash before the visibility change, a visibility change
      // that failed, a step longer than SQS can hide a message): wait out the rest.
      return { kind: "wait", seconds: Math.ceil((due - now) / 1000), reason: "not-due" };
    }
  }
  const guard = guardOf(stored);
  if (!facts.eventFound) return { kind: "cancel", guard, reason: "event_expired" };
  if (facts.subscription === "deleted") {
    return { kind: "cancel", guard, reason: "subscription_deleted" };
  }
  if (facts.subscription === "disabled") {
    return { kind: "cancel", guard, reason: "subscription_disabled" };
  }
  if (facts.lane === "main" && facts.endpointSlow) return { kind: "forward" };
  return { kind: "attempt", guard, number: runAttempts(stored, receipt.generation) + 1 };
}

/**
 * After an attempt's write lost its race: whether the POST just made is still its run's first
 * attempt. A resend's claim confirmed queued (or released) between the read and the write
 * changes the record's revision but not its run; while nobody has attempted or owns that run,
 * the POST is written as its first attempt (recorded as a copy instead, the run would stay open
 * and the same message would POST again moments later).
 */
export function isUnattemptedRun(stored: Delivery | undefined, generation: number): boolean {
  return (
    stored !== undefined &&
    stored.generation === generation &&
    stored.status === "pending" &&
    stored.runAttempts === 0 &&
    stored.owner === undefined
  );
}

/**
 * After a write lost its race (the record changed since it was read): what the message does
 * now, from the record as it is. It never attempts again on the same receive.
 */
export function afterLostRace(
  stored: Delivery | undefined,
  receipt: Receipt,
  now: number,
): Extract<ReceiveDecision, { kind: "drop" | "dead-letter" | "wait" }> {
  const decision = onReceive({
    receipt,
    stored,
    eventFound: true,
    subscription: "enabled",
    now,
  });
  if (decision.kind === "drop" || decision.kind === "dead-letter" || decision.kind === "wait") {
    return decision;
  }
  // (A lost race leaves the message where it is: it never moves lanes on the same receive.)
  // The run is still open at this generation for this message: look again shortly.
  return { kind: "wait", seconds: 1, reason: "raced" };
}

const runAttempts = (stored: Delivery | undefined, generation: number): number =>
  stored?.generation === generation ? stored.runAttempts : 0;

// ——— After an attempt ————————————————————————————————————————————————————————————————————

export type Verdict =
  | { ok: true }
  | { ok: false; retryable: boolean; kind: FailureKind; retryAfterSeconds?: number | undefined };

export type RunEnd =
  | { status: "succeeded" }
  | { status: "retrying"; delaySeconds: number }
  | { status: "failed"; reason: "exhausted" | "refused" | "gone" };

/** Where attempt `number` of a run leaves it. */
export function afterAttempt(input: {
  number: number;
  verdict: Verdict;
  schedule: readonly number[];
  random?: (() => number) | undefined;
}): RunEnd {
  const { verdict } = input;
  if (verdict.ok) return { status: "succeeded" };
  if (!verdict.retryable) {
    return { status: "failed", reason: verdict.kind === "gone" ? "gone" : "refused" };
  }
  const next = nextRetry({
    schedule: input.schedule,
    attempt: input.number,
    kind: verdict.kind,
    retryAfterSeconds: verdict.retryAfterSeconds,
    ...(input.random ? { random: input.random } : {}),
  });
  return next.retry
    ? { status: "retrying", delaySeconds: next.delaySeconds }
    : { status: "failed", reason: "exhausted" };
}

// ——— The records each move writes ————————————————————————————————————————————————————————

/** The run a write belongs to, and who writes it. */
export interface RunContext {
  workspaceId: string;
  deliveryId: string;
  eventId: string;
  event: EventName;
  subscriptionId: string;
  generation: number;
  /** The queue message making the write (undefined for resends and the sweep). */
  owner?: string | undefined;
  /** The lane the message came from. */
  lane?: Lane | undefined;
  now: number;
}

export type AttemptDraft = Omit<Attempt, "number" | "generation" | "nextAttemptAt">;

/**
 * An ISO time, as records keep them. A write formats the same instant several times (created,
 * updated, run started): the last one is remembered, since formatting a date costs about a
 * microsecond, which the deliver path counts.
 */
let lastMs = Number.NaN;
let lastIso = "";
const iso = (ms: number): string => {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
};

/** The fields every write carries over or starts, and the revision it bumps. */
function carried(prev: Delivery | undefined, ctx: RunContext) {
  return {
    id: ctx.deliveryId,
    workspaceId: ctx.workspaceId,
    eventId: prev?.eventId ?? ctx.eventId,
    event: prev?.event ?? ctx.event,
    subscriptionId: prev?.subscriptionId ?? ctx.subscriptionId,
    rev: (prev?.rev ?? 0) + 1,
    attemptCount: prev?.attemptCount ?? 0,
    attempts: prev?.attempts ?? [],
    attemptsOmitted: prev?.attemptsOmitted ?? 0,
    createdAt: prev?.createdAt ?? iso(ctx.now),
    updatedAt: iso(ctx.now),
    runStartedAt:
      prev?.generation === ctx.generation ? (prev.runStartedAt ?? prev.createdAt) : iso(ctx.now),
    ...(prev?.deferrals ? { deferrals: prev.deferrals } : {}),
    ...(prev?.test ? { test: true } : {}),
  };
}

/** The record after an attempt of this run, ending where `end` says. */
export function withAttempt(
  prev: Delivery | undefined,
  ctx: RunContext,
  draft: AttemptDraft,
  end: RunEnd,
  lastError?: string,
): Delivery {
  const base = carried(prev, ctx);
  const number = base.attemptCount + 1;
  const nextAttemptAt =
    end.status === "retrying" ? iso(ctx.now + end.delaySeconds * 1000) : undefined;
  const attempt: Attempt = {
    ...draft,
    number,
    generation: ctx.generation,
    nextAttemptAt,
    ...(ctx.lane === "slow" ? { lane: "slow" as const } : {}),
  };
  return {
    ...base,
    status: end.status,
    generation: ctx.generation,
    runAttempts: runAttempts(prev, ctx.generation) + 1,
    attemptCount: number,
    attempts: [...base.attempts, attempt],
    nextAttemptAt,
    lastError: end.status === "succeeded" ? undefined : lastError,
    reason: end.status === "failed" ? end.reason : undefined,
    failedAt: end.status === "failed" ? iso(ctx.now) : undefined,
    owner: end.status === "retrying" ? ctx.owner : undefined,
  };
}

const CANCEL_DETAIL: Record<CancelReason, string> = {
  subscription_deleted: "The subscription was deleted; nothing was sent.",
  subscription_disabled: "The subscription is disabled; nothing was sent.",
  event_expired: "The event is past its retention period; nothing was sent.",
};

/** The record of a run canceled before an attempt (nothing was sent). */
export function withCancel(
  prev: Delivery | undefined,
  ctx: RunContext,
  reason: CancelReason,
): Delivery {
  return {
    ...carried(prev, ctx),
    status: "canceled",
    generation: ctx.generation,
    runAttempts: runAttempts(prev, ctx.generation),
    reason,
    lastError: CANCEL_DETAIL[reason],
  };
}

/** How long a deferral puts an attempt off: doubling with each, from 2 s to 15 minutes. */
export function deferralSeconds(deferralsSoFar: number): number {
  return Math.min(MAX_DEFERRAL_SECONDS, 2 ** Math.min(10, deferralsSoFar + 1));
}

/** When the run must end at the latest: its start, and its schedule's longest span. */
export function runDeadline(
  stored: Delivery | undefined,
  ctx: RunContext,
  schedule: readonly number[],
): number {
  const start =
    stored?.generation === ctx.generation ? (stored.runStartedAt ?? stored.createdAt) : undefined;
  return (start ? Date.parse(start) : ctx.now) + worstCaseRunSeconds(schedule) * 1000;
}

export type DeferDecision =
  | { kind: "defer"; seconds: number; record: Delivery }
  | { kind: "give-up"; record: Delivery };

/**
 * A due attempt the endpoint has no room for: put off (no attempt, no step of the schedule),
 * and recorded — or, when that would take the run past the end its schedule allows, the run
 * fails (`unavailable`), so that nothing waits longer than its schedule says.
 */
export function onDefer(
  stored: Delivery | undefined,
  ctx: RunContext,
  reason: DeferReason,
  schedule: readonly number[],
): DeferDecision {
  const deferrals = stored?.deferrals ?? 0;
  const seconds = deferralSeconds(deferrals);
  const until = ctx.now + seconds * 1000;
  const base = carried(stored, ctx);
  /** The record, when it is of this run. */
  const run = stored?.generation === ctx.generation ? stored : undefined;
  if (until > runDeadline(stored, ctx, schedule)) {
    return {
      kind: "give-up",
      record: {
        ...base,
        status: "failed",
        generation: ctx.generation,
        runAttempts: runAttempts(stored, ctx.generation),
        reason: "unavailable",
        lastError:
          "The endpoint never had room for this delivery: it was put off past the end of its schedule.",
        failedAt: iso(ctx.now),
      },
    };
  }
  return {
    kind: "defer",
    seconds,
    record: {
      ...base,
      status: run?.status === "retrying" ? "retrying" : "pending",
      generation: ctx.generation,
      runAttempts: runAttempts(stored, ctx.generation),
      ...(run?.nextAttemptAt ? { nextAttemptAt: run.nextAttemptAt } : {}),
      ...(run?.lastError ? { lastError: run.lastError } : {}),
      owner: run?.owner ?? ctx.owner,
      // The message is on the queue: nothing for the sweep to watch.
      ...(run?.status === "retrying" ? {} : { queued: true }),
      deferrals: deferrals + 1,
      deferredUntil: iso(until),
      deferReason: reason,
    },
  };
}

/** A duplicate message's POST, added to the history without moving the run. */
export function withCopyAttempt(stored: Delivery, draft: AttemptDraft, ctx: RunContext): Delivery {
  const number = stored.attemptCount + 1;
  return {
    ...stored,
    rev: stored.rev + 1,
    updatedAt: iso(ctx.now),
    attemptCount: number,
    attempts: [
      ...stored.attempts,
      { ...draft, number, generation: ctx.generation, duplicate: true },
    ],
  };
}

/** SQS gave up on the run's message: the run fails, and shows in the dead-letter queue. */
export function withStranded(
  prev: Delivery | undefined,
  ctx: RunContext,
  receives: number,
): Delivery {
  return {
    ...carried(prev, ctx),
    status: "failed",
    generation: ctx.generation,
    runAttempts: runAttempts(prev, ctx.generation),
    reason: "stranded",
    lastError: `SQS gave up on the message after ${receives} receives without a finished attempt.`,
    failedAt: iso(ctx.now),
  };
}

// ——— Resending ———————————————————————————————————————————————————————————————————————————

/** A claim older than this whose message was never confirmed sent is abandoned. */
export const DEFAULT_CLAIM_LEASE_MS = 120_000; // two minutes, one literal (mutation testing cannot switch a module-level product per test)

export const isAbandonedClaim = (stored: Delivery, now: number, leaseMs: number): boolean =>
  awaitsQueueing(stored) &&
  (stored.claimedAt === undefined || Date.parse(stored.claimedAt) + leaseMs <= now);

export type ResendDecision =
  | { kind: "claim"; guard: Guard; generation: number }
  | { kind: "refuse"; reason: "in-flight" | "stale" };

/**
 * Whether a resend may claim the delivery's next generation. `expectedGeneration` is the run
 * the caller's copy belongs to (a dead-letter message, an index entry): a delivery resent some
 * other way since is left alone. A claim whose message is on the queue is in flight; one that
 * never got its message out is taken over after the lease.
 */
export function onResend(input: {
  stored: Delivery | undefined;
  now: number;
  leaseMs: number;
  expectedGeneration?: number | undefined;
}): ResendDecision {
  const { stored, expectedGeneration } = input;
  const abandoned = stored !== undefined && isAbandonedClaim(stored, input.now, input.leaseMs);
  if (
    stored &&
    expectedGeneration !== undefined &&
    stored.generation > expectedGeneration &&
    !abandoned
  ) {
    return { kind: "refuse", reason: "stale" };
  }
  if (stored?.status === "pending" && !abandoned) return { kind: "refuse", reason: "in-flight" };
  return {
    kind: "claim",
    guard: guardOf(stored),
    generation: (stored?.generation ?? expectedGeneration ?? -1) + 1,
  };
}

/** The record of a resend's claim: the next generation, pending, a fresh schedule. */
export function claimed(prev: Delivery | undefined, ctx: RunContext): Delivery {
  return {
    ...carried(prev, ctx),
    status: "pending",
    generation: ctx.generation,
    runAttempts: 0,
    runStartedAt: iso(ctx.now),
    claimedAt: iso(ctx.now),
    queued: false,
    ...(prev?.lastError ? { lastError: prev.lastError } : {}),
  };
}

/** The claim's message could not be sent: anyone may take the claim over at once. */
export function released(stored: Delivery, now: number): Delivery {
  return { ...stored, rev: stored.rev + 1, updatedAt: iso(now), claimedAt: iso(0) };
}

/** The claim's message is on the queue: the sweep no longer watches it. */
export function confirmedQueued(stored: Delivery, now: number): Delivery {
  return { ...stored, rev: stored.rev + 1, updatedAt: iso(now), queued: true };
}

// ——— Messages SQS gave up on —————————————————————————————————————————————————————————————

export type StrandedDecision =
  | { kind: "fail"; guard: Guard }
  | { kind: "leave"; reason: "stale" | "finished" | "copy" };

/**
 * A message SQS moved aside after too many receives (its consumer kept crashing, or the
 * message kept coming back): the run it drives is failed, so that it shows in the dead-letter
 * index and can be resent. A run that moved on or ended without it is left as it is.
 */
export function onStranded(stored: Delivery | undefined, receipt: Receipt): StrandedDecision {
  if (!stored) return { kind: "fail", guard: guardOf(stored) };
  if (stored.generation > receipt.generation) return { kind: "leave", reason: "stale" };
  if (stored.generation === receipt.generation) {
    if (isTerminal(stored.status)) return { kind: "leave", reason: "finished" };
    if (stored.owner !== undefined && stored.owner !== receipt.messageId) {
      return { kind: "leave", reason: "copy" };
    }
  }
  return { kind: "fail", guard: guardOf(stored) };
}

// ——— The drawing ————————————————————————————————————————————————————————————————————————

/**
 * The lifecycle as a Mermaid state diagram, drawn from TRANSITIONS (docs/lifecycle.md holds
 * it; a test keeps the two the same). A duplicate's POST, which moves nothing, is left out of
 * the drawing and kept in the table below it.
 */
export function mermaid(): string {
  const edges = new Map<string, string[]>();
  for (const move of TRANSITIONS) {
    if (move.via === "copy-attempt") continue;
    const from = move.from === NEW ? "[*]" : move.from;
    const key = `${from} --> ${move.to}`;
    // (Each move is one row of the table: a pair of states never has the same label twice.)
    edges.set(key, [...(edges.get(key) ?? []), move.via]);
  }
  const lines = ["stateDiagram-v2"];
  for (const [edge, labels] of edges) lines.push(`  ${edge}: ${labels.join(", ")}`);
  return lines.join("\n");
}

/** Every move, as the rows of a Markdown table (from, to, via, when). */
export function movesTable(): string {
  const head = ["from", "to", "by", "when"];
  const body = TRANSITIONS.map((m) => [m.from, m.to, m.via, m.when]);
  // Columns padded as the formatter pads Markdown tables, so the generated file is also formatted.
  const widths = head.map((_, i) =>
    Math.max(3, ...[head, ...body].map((row) => row[i]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}
