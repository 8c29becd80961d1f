import type {
  ApiKey,
  Attempt,
  Delivery,
  StoredEvent,
  StoredSecret,
  Subscription,
} from "../domain.ts";

import type {
  ApiKeyBody,
  AttemptBody,
  DeliveryBody,
  DeliverySummaryBody,
  SubscriptionBody,
} from "./resources.ts";

/**
 * Domain records as the API shows them, typed by the response schemas (shared/http/resources.ts)
 * so the two cannot drift. Secrets appear only where the call set them (create, rotate).
 */

export function maskSecret(secret: StoredSecret | null): string | null {
  if (secret === null) return null;
  return secret.kind === "whsec" ? "whsec_********" : "********";
}

/** `secret` is the plaintext to reveal, only in the answer of the call that set it. */
export function subscriptionView(
  subscription: Subscription,
  secret: string | null = null,
  now = Date.now(),
): SubscriptionBody {
  const rotationEnds = subscription.previousSecrets
    .map((previous) => previous.expiresAt)
    .filter((expiresAt) => Date.parse(expiresAt) > now)
    .sort()
    .at(-1);
  return {
    id: subscription.id,
    url: subscription.url,
    events: subscription.events,
    enabled: subscription.enabled,
    description: subscription.description,
    secret: secret ?? maskSecret(subscription.secret),
    /** While set, deliveries also carry signatures made with the previous secret(s). */
    rotationEndsAt: rotationEnds ?? null,
    /** Every attempt has failed since then (null: healthy). */
    failingSince: subscription.failingSince ?? null,
    disabledReason: subscription.disabledReason ?? null,
    disabledAt: subscription.disabledAt ?? null,
    createdAt: subscription.createdAt,
    updatedAt: subscription.updatedAt,
  };
}

export function deliverySummaryView(delivery: Delivery): DeliverySummaryBody {
  return {
    id: delivery.id,
    eventId: delivery.eventId,
    event: delivery.event,
    subscriptionId: delivery.subscriptionId,
    status: delivery.status,
    attemptCount: delivery.attemptCount,
    lastError: delivery.lastError ?? null,
    nextAttemptAt: delivery.nextAttemptAt ?? null,
    createdAt: delivery.createdAt,
    updatedAt: delivery.updatedAt,
    test: delivery.test === true,
    reason: delivery.reason ?? null,
  };
}

export function attemptView(attempt: Attempt): AttemptBody {
  return {
    number: attempt.number,
    generation: attempt.generation,
    startedAt: attempt.startedAt,
    durationMs: attempt.durationMs,
    url: attempt.url,
    outcome: attempt.outcome,
    request: { headers: attempt.requestHeaders },
    response:
      attempt.statusCode === undefined
        ? null
        : {
            status: attempt.statusCode,
            headers: attempt.responseHeaders ?? {},
            body: attempt.responseBody ?? "",
            bodyEncoding: attempt.responseBodyEncoding ?? "utf-8",
            bodyTruncated: attempt.responseBodyTruncated ?? false,
          },
    error: attempt.errorClass
      ? { class: attempt.errorClass, message: attempt.errorMessage ?? "" }
      : null,
    nextAttemptAt: attempt.nextAttemptAt ?? null,
    lane: attempt.lane ?? "main",
  };
}

export function deliveryView(delivery: Delivery, event: StoredEvent | undefined): DeliveryBody {
  return {
    ...deliverySummaryView(delivery),
    /** Resends so far: attempts of the same run share it. */
    generation: delivery.generation,
    failedAt: delivery.failedAt ?? null,
    /** Due attempts put off because the endpoint had no room (see README "Isolation"). */
    deferrals: delivery.deferrals ?? 0,
    deferredUntil: delivery.deferredUntil ?? null,
    deferReason: delivery.deferReason ?? null,
    /** Older attempts dropped from a long history (the first attempt is always kept). */
    attemptsOmitted: delivery.attemptCount - delivery.attempts.length,
    /** The exact body sent (null once the event is past retention). */
    payload: event ? event.body : null,
    attempts: delivery.attempts.map(attemptView),
  };
}

export function apiKeyView(apiKey: ApiKey): ApiKeyBody {
  return {
    id: apiKey.id,
    name: apiKey.name,
    role: apiKey.role,
    hint: apiKey.hint,
    createdAt: apiKey.createdAt,
    revokedAt: apiKey.revokedAt ?? null,
  };
}
