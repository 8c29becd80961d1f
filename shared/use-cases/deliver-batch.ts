import { isOperationalEvent } from "../catalog.ts";
import type {
  AttemptErrorClass,
  Delivery,
  DeliveryMessage,
  Lane,
  StoredEvent,
  Subscription,
} from "../domain.ts";
import { EndpointGate, type Permit } from "../endpoint-gate.ts";
import { healthAfter } from "../health.ts";
import {
  type AttemptDraft,
  afterAttempt,
  afterLostRace,
  type Guard,
  guardOf,
  isUnattemptedRun,
  onDefer,
  onReceive,
  type Receipt,
  type ReceiveDecision,
  type RunContext,
  type SubscriptionState,
  type Verdict,
  withAttempt,
  withCancel,
  withCopyAttempt,
} from "../lifecycle.ts";
import { describeError, type Logger, withLogContext } from "../log.ts";
import {
  contextKey,
  type DeliveryContext,
  type DeliveryQueue,
  type DeliveryStore,
  type SendResult,
  type SubscriptionHealth,
  type VisibilityChange,
  type WebhookSender,
} from "../ports.ts";
import { decodeMessage, encodeMessage } from "../queue/delivery-queue.ts";
import type { RecentSubscriptions } from "../recent-subscriptions.ts";
import { capResponseHeaders, clip, ERROR_MESSAGE_LIMIT, keepBody } from "../records.ts";
import { type FailureKind, parseRetryAfter, visibilityFor } from "../retry.ts";
import { secretContext } from "../secrets/keyring.ts";
import type { SecretOpener } from "../secrets/secret-box.ts";
import { deliveryHeaders } from "../signing.ts";
import type { StatsRecorder } from "../stats.ts";
import type { OperationalEvents } from "./operational-events.ts";

/** One received queue message, as both the SQS event source mapping and the local poller see it. */
export interface QueueRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** ApproximateReceiveCount: 1 on the first receive of this message. */
  receiveCount: number;
  /** When this receive happened (epoch ms): SQS's 12-hour visibility limit counts from it. */
  receivedAt: number;
  /** The queue it came from: the main lane, or the slow lane (default main). */
  lane?: Lane | undefined;
}

export interface DeliverDeps {
  /** All the deliver path needs of the store: one batch read, one write per attempt. */
  store: Pick<DeliveryStore, "loadContext" | "get" | "put">;
  queue: DeliveryQueue;
  sender: WebhookSender;
  /** Opens sealed signing secrets, at the moment they are needed. */
  secrets: SecretOpener;
  /** Where endpoint health is kept (failing since when, disabled, slow). */
  health: SubscriptionHealth;
  /** Requests in flight per endpoint, in this process (`slowLaneGate` makes one). */
  gate: EndpointGate;
  /** Subscriptions read in the last second or so, reused instead of read again (optional). */
  recent?: RecentSubscriptions | undefined;
  /** Raises the service's own events (endpoint failing, disabled, recovered; delivery exhausted). */
  operational?: OperationalEvents | undefined;
  /** Counts each attempt for its subscription's statistics, written every few seconds. */
  stats?: StatsRecorder | undefined;
  /** An endpoint failing for this long (and repeatedly of late) is disabled; 0 never. */
  autoDisableAfterMs: number;
  schedule: readonly number[];
  requestTimeoutMs: number;
  /** Bytes of a receiver's response body an attempt keeps. */
  responseBodyLimit: number;
  log: Logger;
  now?: () => number;
  random?: () => number;
}

export interface DeliverOptions {
  /** Milliseconds this invocation has left (Lambda's getRemainingTimeInMillis). */
  remainingMs: () => number;
}

/** What became of one message. `done` deletes it; the others leave it queued. */
export type Disposition =
  | {
      kind: "done";
      reason:
        | "succeeded"
        | "failed"
        | "canceled"
        | "stale"
        | "finished"
        | "copy"
        | "dead-lettered"
        | "moved-to-slow-lane";
    }
  /** Back after `seconds`: the next attempt of its schedule, or a wait without an attempt. */
  | {
      kind: "later";
      seconds: number;
      reason: "retry" | "not-due" | "raced" | "copy-in-batch" | "deferred";
    }
  | { kind: "error"; reason: string; retryInSeconds?: number };

/**
 * How long an endpoint found slow stays in the slow lane (refreshed while it is slow): ten
 * minutes, written as one literal (a product of two would be a module-level mutant that
 * mutation testing cannot switch on per test).
 */
export const SLOW_LANE_MS = 600_000;

/**
 * The gate of a deliver process: an endpoint with a request in flight past `slowAfterMs` is
 * recorded slow (its subscription's `slowUntil`), so that every deliver process moves its
 * deliveries to the slow lane. Best effort: a failed write only delays that.
 */
export function slowLaneGate(
  health: Pick<SubscriptionHealth, "markSlow">,
  options: { slowAfterMs: number; log: Logger; now?: () => number },
): EndpointGate {
  const now = options.now ?? Date.now;
  return new EndpointGate({
    slowAfterMs: options.slowAfterMs,
    onSlow: (key) => {
      const [workspaceId = "", subscriptionId = ""] = key.split("/");
      const at = now();
      health
        .markSlow(
          workspaceId,
          subscriptionId,
          new Date(at + SLOW_LANE_MS).toISOString(),
          new Date(at + SLOW_LANE_MS / 2).toISOString(),
        )
        .catch((error) =>
          options.log.warn("could not record a slow endpoint", {
            subscriptionId,
            ...describeError(error),
          }),
        );
    },
  });
}

export interface BatchResult {
  /** Message ids to report as `batchItemFailures`. */
  failures: string[];
  dispositions: Map<string, Disposition>;
  /** Every attempt the batch made (its metrics). */
  attempts: AttemptSample[];
}

/** What the batch's metrics need of one attempt. */
export interface AttemptSample {
  ok: boolean;
  errorClass?: AttemptErrorClass | undefined;
  durationMs: number;
  /** Its number in its run (1: the first attempt). */
  number: number;
  /** How the run stands after it. */
  end: "succeeded" | "retrying" | "failed";
}

/** Time kept back after the last POST for writing the attempt and changing visibility. */
const WRITE_RESERVE_MS = 3000;
/** Tries at recording a duplicate message's POST when the record keeps changing under it. */
const COPY_WRITE_TRIES = 3;

/**
 * Delivers one batch of queue messages. Each message goes where the lifecycle says
 * (shared/lifecycle.ts): dropped, waited for, canceled or attempted; attempts run
 * concurrently, each is recorded with one conditional write, failures are backed off with
 * ChangeMessageVisibility and reported as item failures, and runs that end failed go to the
 * dead-letter queue.
 */
export async function deliverBatch(
  records: readonly QueueRecord[],
  deps: DeliverDeps,
  options: DeliverOptions,
): Promise<BatchResult> {
  const dispositions = new Map<string, Disposition>();
  /** The failed records of runs this batch ends, by delivery: each raises an operational event. */
  const failedRuns = new Map<string, Delivery>();
  const attempts: AttemptSample[] = [];
  const deadLetter: Array<{ messageId: string; body: string }> = [];
  const slowLane: Array<{ messageId: string; body: string }> = [];
  /** Messages for the same delivery run (a copy and its original, say), together. */
  const runs = new Map<string, Array<{ record: QueueRecord; message: DeliveryMessage }>>();

  for (const record of records) {
    const message = decodeMessage(record.body);
    if (!message) {
      deps.log.error("unreadable queue message moved to the dead-letter queue", {
        messageId: record.messageId,
      });
      deadLetter.push({ messageId: record.messageId, body: record.body });
      continue;
    }
    const identity = `${message.w}/${message.d}/${message.g}`;
    const run = runs.get(identity);
    if (run) run.push({ record, message });
    else runs.set(identity, [{ record, message }]);
  }

  let context: DeliveryContext;
  const readAt = (deps.now ?? Date.now)();
  const fresh = new Map<string, Subscription | undefined>();
  try {
    const refs = [...runs.values()].flatMap((run) =>
      run.map(({ record, message: m }) => {
        const key = contextKey(m.w, m.s);
        const copy = fresh.has(key) ? { value: fresh.get(key) } : deps.recent?.get(key, readAt);
        if (copy) fresh.set(key, copy.value);
        return {
          workspaceId: m.w,
          deliveryId: m.d,
          eventId: m.e,
          subscriptionId: m.s,
          // A first-generation message on its first receive has no record to read — unless
          // a retried ingest re-sent it (`r`), it was moved to the slow lane (`o`: its receive
          // count starts again there, while its record may hold a deferral or the main lane's
          // attempts), or it shares this batch with a copy.
          withRecord:
            m.g > 0 || m.r === 1 || m.o !== undefined || record.receiveCount > 1 || run.length > 1,
          withSubscription: !copy,
        };
      }),
    );
    context = await deps.store.loadContext(refs);
    for (const ref of refs) {
      const key = contextKey(ref.workspaceId, ref.subscriptionId);
      if (ref.withSubscription) deps.recent?.put(key, context.subscriptions.get(key), readAt);
      else {
        const copy = fresh.get(key);
        if (copy) context.subscriptions.set(key, copy);
      }
    }
  } catch (error) {
    deps.log.error("could not load deliveries; the batch will be retried", describeError(error));
    for (const run of runs.values()) {
      for (const { record } of run) {
        dispositions.set(record.messageId, { kind: "error", reason: "store unavailable" });
      }
    }
    return finish();
  }

  // Several messages of one run in the batch: the run's owner goes on (or the first, when the
  // run has none yet); the others come back shortly, when the record says who owns the run.
  const work: Array<{ record: QueueRecord; message: DeliveryMessage }> = [];
  for (const run of runs.values()) {
    const [first] = run as [(typeof run)[number]];
    const owner = context.deliveries.get(contextKey(first.message.w, first.message.d))?.owner;
    const chosen = run.find(({ record }) => record.messageId === owner) ?? first;
    work.push(chosen);
    for (const { record } of run) {
      if (record !== chosen.record) {
        dispositions.set(record.messageId, { kind: "later", seconds: 1, reason: "copy-in-batch" });
      }
    }
  }

  const outcomes = await Promise.all(
    work.map(async ({ record, message }) => {
      try {
        // Every line logged for this delivery names it, its event and its workspace.
        return await withLogContext(
          { workspaceId: message.w, eventId: message.e, deliveryId: message.d },
          () =>
            deliverOne(record, message, context, deps, options, {
              failedRuns,
              attempts,
              copied: new Set(fresh.keys()),
            }),
        );
      } catch (error) {
        deps.log.error("delivery step failed; the message will be retried", {
          deliveryId: message.d,
          ...describeError(error),
        });
        return { kind: "error", reason: "internal" } as const;
      }
    }),
  );
  work.forEach(({ record, message }, index) => {
    const outcome = outcomes[index] as Disposition | "dead-letter" | "forward";
    if (outcome === "dead-letter") {
      deadLetter.push({ messageId: record.messageId, body: JSON.stringify(message) });
    } else if (outcome === "forward") {
      // Its owner stays the message that first drove the run.
      const moved = { ...message, o: message.o ?? record.messageId };
      slowLane.push({ messageId: record.messageId, body: encodeMessage(moved) });
    } else {
      dispositions.set(record.messageId, outcome);
    }
  });
  return finish();

  async function finish(): Promise<BatchResult> {
    if (slowLane.length > 0) {
      try {
        await deps.queue.sendToSlowLane(slowLane.map((entry) => entry.body));
        for (const entry of slowLane) {
          dispositions.set(entry.messageId, { kind: "done", reason: "moved-to-slow-lane" });
        }
      } catch (error) {
        // They stay in the main lane, and move when they come back.
        deps.log.warn("could not move messages to the slow lane", describeError(error));
        for (const entry of slowLane) {
          dispositions.set(entry.messageId, { kind: "error", reason: "slow lane unavailable" });
        }
      }
    }
    if (deadLetter.length > 0) {
      try {
        await deps.queue.sendToDeadLetter(deadLetter.map((entry) => entry.body));
        for (const entry of deadLetter) {
          dispositions.set(entry.messageId, { kind: "done", reason: "dead-lettered" });
        }
        await raiseExhausted(failedRuns, context, deps);
      } catch (error) {
        // The record already says failed: when the message comes back, the lifecycle sends
        // it to the dead-letter queue again (never drops it as finished).
        deps.log.error("dead-letter queue unavailable; messages stay queued", describeError(error));
        for (const entry of deadLetter) {
          dispositions.set(entry.messageId, {
            kind: "error",
            reason: "dead-letter queue unavailable",
          });
        }
      }
    }
    const now = (deps.now ?? Date.now)();
    if (deps.stats) {
      // Counts are written when they are a few seconds old: one write per subscription and
      // hour, not one per delivery. A failed write keeps them for the next batch.
      await deps.stats.flush({ now }).catch((error: unknown) => {
        deps.log.warn("could not write delivery statistics", describeError(error));
      });
    }
    const changes: VisibilityChange[] = [];
    for (const record of records) {
      const disposition = dispositions.get(record.messageId);
      const seconds =
        disposition?.kind === "later"
          ? disposition.seconds
          : disposition?.kind === "error"
            ? disposition.retryInSeconds
            : undefined;
      if (seconds !== undefined) {
        changes.push({
          receiptHandle: record.receiptHandle,
          seconds: visibilityFor(seconds, record.receivedAt, now),
          lane: record.lane ?? "main",
        });
      }
    }
    if (changes.length > 0) {
      try {
        const failed = await deps.queue.changeVisibility(changes);
        if (failed.length > 0) {
          // Those messages come back early; their records say when they are due.
          deps.log.warn("some messages could not be backed off", { count: failed.length });
        }
      } catch (error) {
        deps.log.warn("could not back off messages", describeError(error));
      }
    }
    const failures = records
      .filter((record) => {
        const kind = dispositions.get(record.messageId)?.kind;
        return kind === "later" || kind === "error";
      })
      .map((record) => record.messageId);
    return { failures, dispositions, attempts };
  }
}

async function deliverOne(
  record: QueueRecord,
  message: DeliveryMessage,
  context: DeliveryContext,
  deps: DeliverDeps,
  options: DeliverOptions,
  batch: {
    failedRuns: Map<string, Delivery>;
    attempts: AttemptSample[];
    /** Subscriptions this batch took from the instance's copy rather than the table. */
    copied: ReadonlySet<string>;
  },
): Promise<Disposition | "dead-letter" | "forward"> {
  const { failedRuns } = batch;
  const now = deps.now ?? Date.now;
  // A message moved to the slow lane still speaks for the one that first drove its run.
  const receipt: Receipt = { messageId: message.o ?? record.messageId, generation: message.g };
  // Undefined when there is none, or when it was not read (a first receive): either way
  // the write then expects no record.
  const prev = context.deliveries.get(contextKey(message.w, message.d));
  const event = context.events.get(contextKey(message.w, message.e));
  let subscription = context.subscriptions.get(contextKey(message.w, message.s));
  if (batch.copied.has(contextKey(message.w, message.s)) && !subscription?.enabled) {
    // A copy says disabled or deleted: it may be a moment old, and an admin who just enabled
    // the subscription and replayed what it missed must not see those canceled again. Only the
    // table's word cancels a delivery.
    subscription = await refreshSubscription(message, context, deps);
  }
  const lane = record.lane ?? "main";
  const endpoint = contextKey(message.w, message.s);
  const decision = onReceive({
    receipt,
    stored: prev,
    eventFound: event !== undefined,
    subscription: stateOf(subscription),
    lane,
    endpointSlow:
      deps.gate.isSlow(endpoint) ||
      (subscription?.slowUntil !== undefined && Date.parse(subscription.slowUntil) > now()),
    now: now(),
  });
  const run = (at: number): RunContext => ({
    workspaceId: message.w,
    deliveryId: message.d,
    eventId: message.e,
    event: message.n,
    subscriptionId: message.s,
    generation: message.g,
    owner: receipt.messageId,
    lane,
    now: at,
  });

  switch (decision.kind) {
    case "drop":
      return { kind: "done", reason: decision.reason };
    case "dead-letter":
      // A failed run whose message is back (its dead-letter send had failed): raised again,
      // idempotently, in case it was not the first time.
      if (prev?.status === "failed") failedRuns.set(contextKey(message.w, message.d), prev);
      return "dead-letter";
    case "wait":
      return { kind: "later", seconds: decision.seconds, reason: decision.reason };
    case "cancel": {
      const next = withCancel(prev, run(now()), decision.reason);
      if (await write(next, decision.guard, deps)) return { kind: "done", reason: "canceled" };
      return settleLostRace(message, receipt, deps);
    }
    case "forward":
      return "forward";
    case "attempt":
      break;
  }
  if (options.remainingMs() < deps.requestTimeoutMs + WRITE_RESERVE_MS) {
    // Not enough time left for a whole request: hand it back, no attempt made, no step used.
    return { kind: "error", reason: "deadline", retryInSeconds: 0 };
  }
  const permit = await place(endpoint, deps, options);
  if (!permit) {
    // The endpoint has no room: put off, recorded, no attempt and no step of the schedule.
    const deferral = onDefer(prev, run(now()), "endpoint-busy", deps.schedule);
    if (!(await write(deferral.record, decision.guard, deps))) {
      return settleLostRace(message, receipt, deps);
    }
    if (deferral.kind === "defer") {
      return { kind: "later", seconds: deferral.seconds, reason: "deferred" };
    }
    failedRuns.set(contextKey(message.w, message.d), deferral.record);
    return "dead-letter";
  }
  try {
    return await attempt(
      decision,
      { record, message, receipt, prev, run, permit, failedRuns, samples: batch.attempts },
      event as StoredEvent,
      subscription as Subscription,
      deps,
    );
  } finally {
    // (attempt() finishes the permit as soon as the answer is in; this covers a throw before.)
    deps.gate.finish(permit, false, true);
  }
}

/** The subscription as the table has it now; the copies (the instance's, the batch's) follow. */
async function refreshSubscription(
  message: DeliveryMessage,
  context: DeliveryContext,
  deps: DeliverDeps,
): Promise<Subscription | undefined> {
  const key = contextKey(message.w, message.s);
  const read = await deps.store.loadContext([
    {
      workspaceId: message.w,
      deliveryId: message.d,
      eventId: message.e,
      subscriptionId: message.s,
      withRecord: false,
    },
  ]);
  const subscription = read.subscriptions.get(key);
  deps.recent?.put(key, subscription, (deps.now ?? Date.now)());
  if (subscription) context.subscriptions.set(key, subscription);
  else context.subscriptions.delete(key);
  return subscription;
}

/** How often a message waiting for a place at its endpoint looks again. */
const PLACE_POLL_MS = 5;

/**
 * A place in flight at the endpoint: at once, or after a short wait while the endpoint's
 * requests are young (it answers quickly); undefined when it is busy with slow ones.
 */
async function place(
  endpoint: string,
  deps: DeliverDeps,
  options: DeliverOptions,
): Promise<Permit | undefined> {
  for (;;) {
    const permit = deps.gate.tryStart(endpoint);
    if (permit) return permit;
    if (!deps.gate.worthWaiting(endpoint)) return undefined;
    if (options.remainingMs() < deps.requestTimeoutMs + WRITE_RESERVE_MS) return undefined;
    await new Promise((resolve) => setTimeout(resolve, PLACE_POLL_MS));
  }
}

async function attempt(
  decision: Extract<ReceiveDecision, { kind: "attempt" }>,
  job: {
    record: QueueRecord;
    message: DeliveryMessage;
    receipt: Receipt;
    prev: Delivery | undefined;
    run: (at: number) => RunContext;
    permit: Permit;
    failedRuns: Map<string, Delivery>;
    samples: AttemptSample[];
  },
  event: StoredEvent,
  subscription: Subscription,
  deps: DeliverDeps,
): Promise<Disposition | "dead-letter"> {
  const now = deps.now ?? Date.now;
  const { message } = job;
  const startedAt = now();
  const headers = deliveryHeaders({
    deliveryId: message.d,
    event: message.n,
    body: event.body,
    timestamp: Math.floor(startedAt / 1000),
    secrets: await signingSecrets(subscription, deps.secrets, startedAt),
  });
  const result = await deps.sender.send({ url: subscription.url, headers, body: event.body });
  deps.gate.finish(
    job.permit,
    deps.gate.isFast(job.permit) && !(result.kind === "error" && result.errorClass === "timeout"),
  );
  const verdict = classify(result, now());
  deps.stats?.record({
    workspaceId: message.w,
    subscriptionId: message.s,
    ok: verdict.verdict.ok,
    errorClass: verdict.errorClass,
    durationMs: result.durationMs,
    at: startedAt,
  });
  const end = afterAttempt({
    number: decision.number,
    verdict: verdict.verdict,
    schedule: deps.schedule,
    random: deps.random,
  });
  const draft = attemptDraft(result, verdict, {
    startedAt,
    url: subscription.url,
    headers,
    bodyLimit: deps.responseBodyLimit,
  });
  const next = withAttempt(job.prev, job.run(now()), draft, end, verdict.summary);
  job.samples.push({
    ok: verdict.verdict.ok,
    errorClass: verdict.errorClass,
    durationMs: result.durationMs,
    number: decision.number,
    end: end.status,
  });

  if (
    !(await write(next, decision.guard, deps)) &&
    !(await recordAsFirstAttempt(message, job.run, draft, end, verdict.summary, deps))
  ) {
    // Another message of this run (a duplicate SQS delivered, say) wrote first: the POST we
    // made joins the history, and the run goes on as the record says.
    await recordCopy(message, job.run, draft, deps);
    return settleLostRace(message, job.receipt, deps);
  }
  await keepHealth(subscription, verdict, now(), deps);
  switch (end.status) {
    case "succeeded":
      return { kind: "done", reason: "succeeded" };
    case "retrying":
      return { kind: "later", seconds: end.delaySeconds, reason: "retry" };
    case "failed":
      job.failedRuns.set(contextKey(message.w, message.d), next);
      return "dead-letter";
  }
}

/**
 * One conditional write. A write whose answer was lost (a timeout, a throttled retry) may have
 * applied: the record is read back, and a record that is exactly what we wrote counts as written.
 */
async function write(next: Delivery, guard: Guard, deps: DeliverDeps): Promise<boolean> {
  try {
    return await deps.store.put(next, guard);
  } catch (error) {
    const stored = await deps.store.get(next.workspaceId, next.id);
    if (stored?.rev === next.rev && stored.updatedAt === next.updatedAt) return true;
    throw error;
  }
}

/** The POST made is its run's first attempt after all (see `isUnattemptedRun`): written as such. */
async function recordAsFirstAttempt(
  message: DeliveryMessage,
  run: (at: number) => RunContext,
  draft: AttemptDraft,
  end: ReturnType<typeof afterAttempt>,
  summary: string | undefined,
  deps: DeliverDeps,
): Promise<boolean> {
  const stored = await deps.store.get(message.w, message.d);
  if (!stored || !isUnattemptedRun(stored, message.g)) return false;
  const now = deps.now ?? Date.now;
  return write(withAttempt(stored, run(now()), draft, end, summary), guardOf(stored), deps);
}

async function recordCopy(
  message: DeliveryMessage,
  run: (at: number) => RunContext,
  draft: AttemptDraft,
  deps: DeliverDeps,
): Promise<void> {
  const now = deps.now ?? Date.now;
  for (let tries = 0; tries < COPY_WRITE_TRIES; tries++) {
    const stored = await deps.store.get(message.w, message.d);
    if (!stored) return;
    if (
      await write(
        withCopyAttempt(stored, draft, run(now())),
        { kind: "revision", rev: stored.rev },
        deps,
      )
    ) {
      return;
    }
  }
  deps.log.warn("could not record a duplicate message's attempt", { deliveryId: message.d });
}

async function settleLostRace(
  message: DeliveryMessage,
  receipt: Receipt,
  deps: DeliverDeps,
): Promise<Disposition | "dead-letter"> {
  const stored = await deps.store.get(message.w, message.d);
  const decision = afterLostRace(stored, receipt, (deps.now ?? Date.now)());
  switch (decision.kind) {
    case "drop":
      return { kind: "done", reason: decision.reason };
    case "dead-letter":
      return "dead-letter";
    case "wait":
      return { kind: "later", seconds: decision.seconds, reason: decision.reason };
  }
}

const stateOf = (subscription: Subscription | undefined): SubscriptionState =>
  !subscription ? "deleted" : subscription.enabled ? "enabled" : "disabled";

export function attemptDraft(
  result: SendResult,
  verdict: Classification,
  sent: { startedAt: number; url: string; headers: Record<string, string>; bodyLimit: number },
): AttemptDraft {
  const draft: AttemptDraft = {
    startedAt: new Date(sent.startedAt).toISOString(),
    durationMs: result.durationMs,
    url: sent.url,
    outcome: verdict.verdict.ok ? "succeeded" : "failed",
    requestHeaders: sent.headers,
  };
  if (result.kind === "response") {
    const body = keepBody(result.body, sent.bodyLimit, result.bodyTruncated);
    draft.statusCode = result.status;
    draft.responseHeaders = capResponseHeaders(result.headers).headers;
    draft.responseBody = body.body;
    if (body.encoding) draft.responseBodyEncoding = body.encoding;
    draft.responseBodyTruncated = body.truncated;
  }
  if (!verdict.verdict.ok) {
    draft.errorClass = verdict.errorClass;
    draft.errorMessage = clip(verdict.message ?? "", ERROR_MESSAGE_LIMIT);
  }
  return draft;
}

/**
 * Endpoint health, written only when it changes (shared/health.ts decides): the first failure
 * after a success records since when; failures while failing are counted at most once a minute;
 * a success clears it; failing for the whole window, and repeatedly of late, disables the
 * subscription. Best effort: a failed health write never fails the delivery.
 */
async function keepHealth(
  subscription: Subscription,
  verdict: Classification,
  now: number,
  deps: DeliverDeps,
) {
  const { workspaceId, id } = subscription;
  try {
    if (!verdict.verdict.ok && verdict.verdict.kind === "gone") {
      const at = new Date(now).toISOString();
      // Standard Webhooks: 410 Gone means stop. Disabled at once, with the reason.
      deps.recent?.forget(contextKey(workspaceId, id));
      const reason = `The endpoint answered 410 Gone at ${at}: it asks for nothing more to be sent. Enable the subscription again to resume.`;
      if (await deps.health.disableGone(workspaceId, id, reason, at)) {
        deps.log.warn("subscription disabled: its endpoint answered 410 Gone", {
          workspaceId,
          subscriptionId: id,
        });
        await deps.operational?.disabled(subscription, at, reason);
      }
      return;
    }
    const change = healthAfter(subscription, verdict.verdict.ok, now, deps.autoDisableAfterMs);
    // What this instance writes of the subscription, it reads again next time.
    if (change.kind !== "none") deps.recent?.forget(contextKey(workspaceId, id));
    switch (change.kind) {
      case "none":
        return;
      case "healthy":
        if (await deps.health.markHealthy(workspaceId, id)) {
          const at = new Date(now).toISOString();
          await deps.operational?.recovered(subscription, subscription.failingSince ?? at, at);
        }
        return;
      case "failing":
        if (await deps.health.markFailing(workspaceId, id, change.at)) {
          await deps.operational?.failing(subscription, change.at, verdict.summary);
        }
        return;
      case "count": {
        const counted = await deps.health.countFailure(
          workspaceId,
          id,
          { recentFailures: change.recentFailures, recentSince: change.recentSince },
          change.at,
          change.countedBefore,
        );
        if (
          counted &&
          change.disable &&
          (await deps.health.disableFailing(
            workspaceId,
            id,
            change.disable.failingSince,
            change.disable.reason,
            change.at,
          ))
        ) {
          deps.log.warn("subscription disabled after failing too long", {
            workspaceId,
            subscriptionId: id,
            failingSince: change.disable.failingSince,
          });
          await deps.operational?.disabled(subscription, change.at, change.disable.reason);
        }
        return;
      }
    }
  } catch (error) {
    deps.log.warn("could not record endpoint health", {
      subscriptionId: id,
      ...describeError(error),
    });
  }
}

/** `webhook.delivery.exhausted` for each CRM delivery this batch failed for good. */
async function raiseExhausted(
  failedRuns: ReadonlyMap<string, Delivery>,
  context: DeliveryContext,
  deps: DeliverDeps,
): Promise<void> {
  const operational = deps.operational;
  if (!operational) return;
  await Promise.all(
    [...failedRuns.values()]
      .filter((record) => !record.test && !isOperationalEvent(record.event))
      .map((record) =>
        operational.exhausted(
          record,
          context.subscriptions.get(contextKey(record.workspaceId, record.subscriptionId)),
        ),
      ),
  );
}

/** The current secret first, then those still inside a rotation's grace period. */
export async function signingSecrets(
  subscription: Subscription,
  opener: SecretOpener,
  now: number,
): Promise<string[]> {
  const context = secretContext(subscription.workspaceId, subscription.id);
  const live = [
    ...(subscription.secret ? [subscription.secret] : []),
    ...subscription.previousSecrets.filter((p) => Date.parse(p.expiresAt) > now),
  ];
  return Promise.all(live.map((secret) => opener.open(secret.sealed, context)));
}

export interface Classification {
  verdict: Verdict;
  errorClass?: AttemptErrorClass | undefined;
  message?: string | undefined;
  /** One line for delivery lists. */
  summary?: string | undefined;
}

/** 2xx is success; everything else fails, and only a refused destination is final. */
export function classify(result: SendResult, now: number): Classification {
  if (result.kind === "error") {
    const kind: FailureKind =
      result.errorClass === "timeout" || result.errorClass === "connect_timeout"
        ? "timeout"
        : "other";
    return {
      verdict: { ok: false, retryable: result.errorClass !== "destination_refused", kind },
      errorClass: result.errorClass,
      message: result.message,
      summary: `${result.errorClass}: ${clip(result.message, 200)}`,
    };
  }
  if (result.status >= 200 && result.status < 300) return { verdict: { ok: true } };
  if (result.status === 410) {
    // Standard Webhooks: 410 Gone means stop sending. The subscription is disabled at once.
    return {
      verdict: { ok: false, retryable: false, kind: "gone" },
      errorClass: "http_status",
      message: "HTTP 410 Gone: the receiver asks for nothing more to be sent.",
      summary: "HTTP 410",
    };
  }
  const kind: FailureKind =
    result.status === 429 ? "rate_limited" : result.status === 503 ? "unavailable" : "other";
  const message =
    result.status >= 300 && result.status < 400
      ? `HTTP ${result.status}: redirects are not followed.`
      : `HTTP ${result.status} from the receiver.`;
  return {
    verdict: {
      ok: false,
      retryable: true,
      kind,
      retryAfterSeconds:
        kind === "other" ? undefined : parseRetryAfter(result.headers["retry-after"], now),
    },
    errorClass: "http_status",
    message,
    summary: `HTTP ${result.status}`,
  };
}
