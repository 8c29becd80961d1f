import type {
  Attempt,
  AttemptErrorClass,
  DeliveryMessage,
  DeliveryStatus,
  Subscription,
} from "../domain.ts";
import type { SendResult, WebhookSender } from "../http/sender.ts";
import { describeError, type Logger } from "../log.ts";
import {
  type DeliveryQueue,
  decodeMessage,
  type VisibilityChange,
} from "../queue/delivery-queue.ts";
import { type FailureKind, nextRetry, parseRetryAfter } from "../retry.ts";
import { secretContext } from "../secrets/keyring.ts";
import type { SecretOpener } from "../secrets/secret-box.ts";
import { deliveryHeaders } from "../signing.ts";
import { contextKey, type DeliveryContext, type DeliveryStore } from "../store/delivery-store.ts";
import { expiresAt } from "../store/items.ts";
import type { SubscriptionHealth } from "../store/workspace-store.ts";

/** One received queue message, as both the SQS event source mapping and the local poller see it. */
export interface QueueRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** ApproximateReceiveCount: 1 on the first receive of this message. */
  receiveCount: number;
}

export interface DeliverDeps {
  /** All the deliver path needs of the store: one batch read, one write per attempt. */
  store: Pick<DeliveryStore, "loadContext" | "recordAttempt">;
  queue: DeliveryQueue;
  sender: WebhookSender;
  /** Opens sealed signing secrets, at the moment they are needed. */
  secrets: SecretOpener;
  /** Where endpoint health is kept (failing since when, disabled). */
  health: SubscriptionHealth;
  /** An endpoint failing for this long is disabled; 0 never. */
  autoDisableAfterMs: number;
  schedule: readonly number[];
  retentionSeconds: number;
  requestTimeoutMs: number;
  log: Logger;
  now?: () => number;
  random?: () => number;
}

export interface DeliverOptions {
  /** Milliseconds this invocation has left (Lambda's getRemainingTimeInMillis). */
  remainingMs: () => number;
}

/** What became of one message. Everything but `retry` and `error` deletes it from the queue. */
export type Disposition =
  | { kind: "done"; reason: "succeeded" | "canceled" | "stale" | "duplicate" | "dead-lettered" }
  | { kind: "retry"; delaySeconds: number }
  | { kind: "error"; reason: string; retryInSeconds?: number };

export interface BatchResult {
  /** Message ids to report as `batchItemFailures`. */
  failures: string[];
  dispositions: Map<string, Disposition>;
}

/** Time kept back after the last POST for writing the attempt and changing visibility. */
const WRITE_RESERVE_MS = 3000;
const TERMINAL = new Set<DeliveryStatus>(["succeeded", "failed", "canceled"]);

/**
 * Delivers one batch of queue messages: all POSTs run concurrently, each outcome is recorded,
 * failures are backed off with ChangeMessageVisibility and reported as item failures, and
 * deliveries past their last attempt (or refused outright) go to the dead-letter queue.
 */
export async function deliverBatch(
  records: readonly QueueRecord[],
  deps: DeliverDeps,
  options: DeliverOptions,
): Promise<BatchResult> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const dispositions = new Map<string, Disposition>();
  const deadLetter: Array<{ messageId: string; body: string }> = [];
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
  const received = [...runs.values()].flat();

  let context: DeliveryContext;
  try {
    context = await deps.store.loadContext(
      received.map(({ record, message: m }) => ({
        workspaceId: m.w,
        deliveryId: m.d,
        eventId: m.e,
        subscriptionId: m.s,
        // A first-generation message on its first receive has no record to check — unless a
        // retried ingest re-sent it (`r`). An unmarked duplicate (SQS delivering a message
        // twice) then goes out once more, as at-least-once allows, and the conditional write
        // keeps the record's run and generation right.
        withRecord: m.g > 0 || m.a > 0 || m.r === 1 || record.receiveCount > 1,
      })),
    );
  } catch (error) {
    deps.log.error("could not load deliveries; the batch will be retried", describeError(error));
    for (const { record } of received) {
      dispositions.set(record.messageId, { kind: "error", reason: "store unavailable" });
    }
    return finish();
  }

  // Several messages for one run in the batch: one of them goes on — the run's owner, if it
  // is here (a copy that goes first would be dropped as not the owner, and the owner with
  // it) — and the others are dropped.
  const work: Array<{ record: QueueRecord; message: DeliveryMessage }> = [];
  for (const run of runs.values()) {
    const [first] = run as [(typeof run)[number]];
    const owner = context.deliveries.get(contextKey(first.message.w, first.message.d))?.owner;
    const chosen = run.find(({ record }) => record.messageId === owner) ?? first;
    work.push(chosen);
    for (const { record } of run) {
      if (record !== chosen.record) {
        dispositions.set(record.messageId, { kind: "done", reason: "duplicate" });
      }
    }
  }

  const outcomes = await Promise.all(
    work.map(async ({ record, message }) => {
      try {
        return await deliverOne(record, message, context, deps, options, startedAt);
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
    const outcome = outcomes[index] as Disposition | "dead-letter";
    if (outcome === "dead-letter") {
      deadLetter.push({ messageId: record.messageId, body: JSON.stringify({ ...message, a: 0 }) });
    } else {
      dispositions.set(record.messageId, outcome);
    }
  });
  return finish();

  async function finish(): Promise<BatchResult> {
    if (deadLetter.length > 0) {
      try {
        await deps.queue.sendToDeadLetter(deadLetter.map((entry) => entry.body));
        for (const entry of deadLetter) {
          dispositions.set(entry.messageId, { kind: "done", reason: "dead-lettered" });
        }
      } catch (error) {
        deps.log.error("dead-letter queue unavailable; messages stay queued", describeError(error));
        for (const entry of deadLetter) {
          dispositions.set(entry.messageId, {
            kind: "error",
            reason: "dead-letter queue unavailable",
          });
        }
      }
    }
    const changes: VisibilityChange[] = [];
    for (const record of records) {
      const disposition = dispositions.get(record.messageId);
      const seconds =
        disposition?.kind === "retry"
          ? disposition.delaySeconds
          : disposition?.kind === "error"
            ? disposition.retryInSeconds
            : undefined;
      if (seconds !== undefined) changes.push({ receiptHandle: record.receiptHandle, seconds });
    }
    if (changes.length > 0) {
      try {
        await deps.queue.changeVisibility(changes);
      } catch (error) {
        // The messages still come back, after the queue's default visibility timeout.
        deps.log.warn("could not back off failed messages", describeError(error));
      }
    }
    const failures = records
      .filter((record) => {
        const kind = dispositions.get(record.messageId)?.kind;
        return kind === "retry" || kind === "error";
      })
      .map((record) => record.messageId);
    return { failures, dispositions };
  }
}

async function deliverOne(
  record: QueueRecord,
  message: DeliveryMessage,
  context: DeliveryContext,
  deps: DeliverDeps,
  options: DeliverOptions,
  batchStartedAt: number,
): Promise<Disposition | "dead-letter"> {
  const now = deps.now ?? Date.now;
  const delivery = context.deliveries.get(contextKey(message.w, message.d));
  if (delivery && delivery.generation > message.g) return { kind: "done", reason: "stale" };
  if (delivery && delivery.generation === message.g && TERMINAL.has(delivery.status)) {
    return { kind: "done", reason: "duplicate" };
  }
  // Another copy of a run that is already under way (an ingest retried after a crash, say):
  // its owner carries on with the schedule; this copy would only start a second one.
  if (
    delivery?.generation === message.g &&
    delivery.status === "retrying" &&
    delivery.owner !== undefined &&
    delivery.owner !== record.messageId
  ) {
    return { kind: "done", reason: "duplicate" };
  }
  const event = context.events.get(contextKey(message.w, message.e));
  const subscription = context.subscriptions.get(contextKey(message.w, message.s));
  const number = (delivery?.attemptCount ?? 0) + 1;
  const attemptInRun = message.a + record.receiveCount;

  const record_ = async (
    status: DeliveryStatus,
    attempt: Omit<Attempt, "number" | "generation">,
    lastError?: string,
  ) => {
    const at = now();
    return deps.store.recordAttempt({
      workspaceId: message.w,
      deliveryId: message.d,
      eventId: message.e,
      event: message.n,
      subscriptionId: message.s,
      generation: message.g,
      status,
      attempt: { ...attempt, number, generation: message.g },
      lastError,
      owner: record.messageId,
      now: new Date(at).toISOString(),
      expiresAt: expiresAt(at, deps.retentionSeconds),
    });
  };
  const skipped = (errorClass: AttemptErrorClass, detail: string) => ({
    startedAt: new Date(now()).toISOString(),
    durationMs: 0,
    url: subscription?.url ?? "",
    outcome: "canceled" as const,
    requestHeaders: {},
    errorClass,
    errorMessage: detail,
  });

  if (!event) {
    const detail = "The event is no longer stored (past retention); nothing to send.";
    await record_("failed", { ...skipped("event_expired", detail), outcome: "failed" }, detail);
    return { kind: "done", reason: "canceled" };
  }
  if (!subscription?.enabled) {
    const errorClass = subscription ? "subscription_disabled" : "subscription_deleted";
    const detail = subscription ? "The subscription is disabled." : "The subscription was deleted.";
    await record_("canceled", skipped(errorClass, detail), detail);
    return { kind: "done", reason: "canceled" };
  }
  if (options.remainingMs() < deps.requestTimeoutMs + WRITE_RESERVE_MS) {
    // Not enough time left for a full request: hand it back for an immediate retry.
    return { kind: "error", reason: "deadline", retryInSeconds: 0 };
  }

  const startedAt = now();
  const headers = deliveryHeaders({
    deliveryId: message.d,
    event: message.n,
    body: event.body,
    timestamp: Math.floor(startedAt / 1000),
    secrets: await signingSecrets(subscription, deps.secrets, startedAt),
  });
  const result = await deps.sender.send({ url: subscription.url, headers, body: event.body });
  const outcome = classify(result, startedAt);
  const decision = outcome.ok
    ? undefined
    : outcome.retryable
      ? nextRetry({
          schedule: deps.schedule,
          attempt: attemptInRun,
          kind: outcome.kind,
          retryAfterSeconds: outcome.retryAfterSeconds,
          heldSeconds: (now() - batchStartedAt) / 1000 + 60,
          ...(deps.random ? { random: deps.random } : {}),
        })
      : { retry: false as const };
  const nextAttemptAt =
    decision?.retry === true
      ? new Date(now() + decision.delaySeconds * 1000).toISOString()
      : undefined;
  const status: DeliveryStatus = outcome.ok ? "succeeded" : decision?.retry ? "retrying" : "failed";

  const written = await record_(
    status,
    {
      startedAt: new Date(startedAt).toISOString(),
      durationMs: result.durationMs,
      url: subscription.url,
      outcome: outcome.ok ? "succeeded" : "failed",
      requestHeaders: headers,
      ...(result.kind === "response"
        ? {
            statusCode: result.status,
            responseHeaders: result.headers,
            responseBody: result.body,
            responseBodyTruncated: result.bodyTruncated,
          }
        : {}),
      ...(outcome.ok ? {} : { errorClass: outcome.errorClass, errorMessage: outcome.message }),
      nextAttemptAt,
    },
    outcome.ok ? undefined : outcome.summary,
  );
  if (written === "stale") return { kind: "done", reason: "stale" };
  await keepHealth(subscription, outcome.ok, startedAt, deps);
  if (outcome.ok) return { kind: "done", reason: "succeeded" };
  if (decision?.retry) return { kind: "retry", delaySeconds: decision.delaySeconds };
  return "dead-letter";
}

/**
 * Endpoint health, written only when it changes: the first failure after a success records
 * since when; a success clears it; failing longer than the window disables the subscription
 * (later messages are then canceled, and re-enabling offers to replay them). Best effort: a
 * failed health write never fails the delivery.
 */
async function keepHealth(subscription: Subscription, ok: boolean, now: number, deps: DeliverDeps) {
  const { workspaceId, id, failingSince } = subscription;
  try {
    if (ok) {
      if (failingSince) await deps.health.markHealthy(workspaceId, id);
    } else if (!failingSince) {
      await deps.health.markFailing(workspaceId, id, new Date(now).toISOString());
    } else if (
      deps.autoDisableAfterMs > 0 &&
      now - Date.parse(failingSince) >= deps.autoDisableAfterMs
    ) {
      const reason = `Disabled automatically: every delivery has failed since ${failingSince}.`;
      if (
        await deps.health.disableFailing(
          workspaceId,
          id,
          failingSince,
          reason,
          new Date(now).toISOString(),
        )
      ) {
        deps.log.warn("subscription disabled after failing too long", {
          workspaceId,
          subscriptionId: id,
          failingSince,
        });
      }
    }
  } catch (error) {
    deps.log.warn("could not record endpoint health", {
      subscriptionId: id,
      ...describeError(error),
    });
  }
}

/** The current secret first, then those still inside a rotation's grace period. */
async function signingSecrets(
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

export type Classification =
  | { ok: true }
  | {
      ok: false;
      retryable: boolean;
      kind: FailureKind;
      errorClass: AttemptErrorClass;
      message: string;
      /** One line for delivery lists. */
      summary: string;
      retryAfterSeconds?: number | undefined;
    };

/** 2xx is success; everything else fails, and only a refused destination is final. */
export function classify(result: SendResult, now: number): Classification {
  if (result.kind === "error") {
    const kind: FailureKind =
      result.errorClass === "timeout" || result.errorClass === "connect_timeout"
        ? "timeout"
        : "other";
    return {
      ok: false,
      retryable: result.errorClass !== "destination_refused",
      kind,
      errorClass: result.errorClass,
      message: result.message,
      summary: `${result.errorClass}: ${result.message}`,
    };
  }
  if (result.status >= 200 && result.status < 300) return { ok: true };
  const kind: FailureKind =
    result.status === 429 ? "rate_limited" : result.status === 503 ? "unavailable" : "other";
  const message =
    result.status >= 300 && result.status < 400
      ? `HTTP ${result.status}: redirects are not followed.`
      : `HTTP ${result.status} from the receiver.`;
  return {
    ok: false,
    retryable: true,
    kind,
    errorClass: "http_status",
    message,
    summary: `HTTP ${result.status}`,
    retryAfterSeconds:
      kind === "other" ? undefined : parseRetryAfter(result.headers["retry-after"], now),
  };
}
