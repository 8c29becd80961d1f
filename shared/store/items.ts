import type { EventName } from "../catalog.ts";
import type {
  ApiKey,
  Attempt,
  DeadLetter,
  Delivery,
  DeliveryStatus,
  EndReason,
  StoredEvent,
  StoredSecret,
  Subscription,
} from "../domain.ts";
import type { Role } from "../keys.ts";
import { awaitsQueueing, inDeadLetterIndex } from "../lifecycle.ts";
import { DYNAMO_ITEM_LIMIT, itemSize, valueSize } from "./item-size.ts";
import { EVENT_SK, type Item, key, shardOf, TTL_ATTRIBUTE } from "./table.ts";

/**
 * Domain objects ↔ DynamoDB items, in one place. Attempts use short attribute names because
 * they repeat inside delivery items and DynamoDB bills by item size (1 write unit per KB):
 *
 *   n number · g generation · at startedAt · ms durationMs · u url · o outcome ·
 *   rq requestHeaders · sc statusCode · rh responseHeaders · rb responseBody ·
 *   re responseBodyEncoding · rt responseBodyTruncated · ec errorClass · em errorMessage ·
 *   nx nextAttemptAt · dp duplicate · ln lane
 */

/** DynamoDB's TTL attribute: `retentionSeconds` after the item's last change. */
export const expiresAt = (changedAt: string | number, retentionSeconds: number): number =>
  Math.floor(
    (typeof changedAt === "number" ? changedAt : Date.parse(changedAt)) / 1000 + retentionSeconds,
  );

export function apiKeyToItem(apiKey: ApiKey): Item {
  return {
    pk: key.workspace(apiKey.workspaceId),
    sk: key.apiKey(apiKey.hash),
    type: "key",
    id: apiKey.id,
    role: apiKey.role,
    name: apiKey.name,
    hint: apiKey.hint,
    createdAt: apiKey.createdAt,
    revokedAt: apiKey.revokedAt,
  };
}

export function itemToApiKey(workspaceId: string, item: Item): ApiKey {
  return {
    id: item.id as string,
    workspaceId,
    hash: (item.sk as string).slice("KEY#".length),
    role: item.role as Role,
    name: item.name as string,
    hint: item.hint as string,
    createdAt: item.createdAt as string,
    revokedAt: item.revokedAt as string | undefined,
  };
}

export function subscriptionToItem(subscription: Subscription): Item {
  return {
    pk: key.workspace(subscription.workspaceId),
    sk: key.subscription(subscription.id),
    type: "subscription",
    id: subscription.id,
    url: subscription.url,
    events: subscription.events,
    enabled: subscription.enabled,
    description: subscription.description,
    secret: subscription.secret?.sealed,
    secretKind: subscription.secret?.kind,
    previousSecrets: subscription.previousSecrets.length
      ? subscription.previousSecrets.map((p) => ({ s: p.sealed, k: p.kind, x: p.expiresAt }))
      : undefined,
    failingSince: subscription.failingSince,
    lastFailureAt: subscription.lastFailureAt,
    recentFailures: subscription.recentFailures,
    recentSince: subscription.recentSince,
    slowUntil: subscription.slowUntil,
    disabledReason: subscription.disabledReason,
    disabledAt: subscription.disabledAt,
    createdAt: subscription.createdAt,
    updatedAt: subscription.updatedAt,
  };
}

export function itemToSubscription(workspaceId: string, item: Item): Subscription {
  return {
    id: item.id as string,
    workspaceId,
    url: item.url as string,
    events: item.events as EventName[],
    enabled: item.enabled as boolean,
    description: (item.description as string | undefined) ?? "",
    secret: item.secret
      ? {
          sealed: item.secret as string,
          kind: (item.secretKind as StoredSecret["kind"]) ?? "custom",
        }
      : null,
    previousSecrets: ((item.previousSecrets as Item[] | undefined) ?? []).map((p) => ({
      sealed: p.s as string,
      kind: p.k as StoredSecret["kind"],
      expiresAt: p.x as string,
    })),
    failingSince: item.failingSince as string | undefined,
    lastFailureAt: item.lastFailureAt as string | undefined,
    recentFailures: item.recentFailures as number | undefined,
    recentSince: item.recentSince as string | undefined,
    slowUntil: item.slowUntil as string | undefined,
    disabledReason: item.disabledReason as string | undefined,
    disabledAt: item.disabledAt as string | undefined,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}

export function eventToItem(event: StoredEvent, ttl: number): Item {
  return {
    pk: key.event(event.workspaceId, event.id),
    sk: EVENT_SK,
    id: event.id,
    name: event.name,
    body: event.body,
    seq: event.seq,
    receivedAt: event.receivedAt,
    targets: event.targets,
    requestHash: event.requestHash,
    [TTL_ATTRIBUTE]: ttl,
  };
}

export function itemToEvent(workspaceId: string, item: Item): StoredEvent {
  return {
    workspaceId,
    id: item.id as string,
    name: item.name as EventName,
    body: item.body as string,
    seq: item.seq as string,
    receivedAt: item.receivedAt as string,
    targets: item.targets as string[],
    requestHash: item.requestHash as string,
  };
}

export function attemptToItem(attempt: Attempt): Item {
  return {
    n: attempt.number,
    g: attempt.generation,
    at: attempt.startedAt,
    ms: attempt.durationMs,
    u: attempt.url,
    o: attempt.outcome,
    rq: attempt.requestHeaders,
    sc: attempt.statusCode,
    rh: attempt.responseHeaders,
    rb: attempt.responseBody,
    re: attempt.responseBodyEncoding,
    rt: attempt.responseBodyTruncated,
    ec: attempt.errorClass,
    em: attempt.errorMessage,
    nx: attempt.nextAttemptAt,
    dp: attempt.duplicate || undefined,
    ln: attempt.lane,
  };
}

export function itemToAttempt(item: Item): Attempt {
  return {
    number: item.n as number,
    generation: item.g as number,
    startedAt: item.at as string,
    durationMs: item.ms as number,
    url: item.u as string,
    outcome: item.o as Attempt["outcome"],
    requestHeaders: (item.rq as Record<string, string> | undefined) ?? {},
    statusCode: item.sc as number | undefined,
    responseHeaders: item.rh as Record<string, string> | undefined,
    responseBody: item.rb as string | undefined,
    responseBodyEncoding: item.re as Attempt["responseBodyEncoding"],
    responseBodyTruncated: item.rt as boolean | undefined,
    errorClass: item.ec as Attempt["errorClass"],
    errorMessage: item.em as string | undefined,
    nextAttemptAt: item.nx as string | undefined,
    ...(item.dp ? { duplicate: true } : {}),
    ...(item.ln ? { lane: item.ln as Attempt["lane"] } : {}),
  };
}

/**
 * A delivery as stored. Which index partition it sits in follows from its state, by the
 * lifecycle's rules: failed → its workspace's dead letters; a claim awaiting its message → the
 * sweep's watch list; anything else → neither.
 */
export function deliveryToItem(delivery: Delivery, retentionSeconds: number): Item {
  const { pk, sk } = key.delivery(delivery.workspaceId, delivery.id);
  const shard = shardOf(delivery.id);
  return {
    pk,
    sk,
    eventId: delivery.eventId,
    event: delivery.event,
    subscriptionId: delivery.subscriptionId,
    status: delivery.status,
    generation: delivery.generation,
    rev: delivery.rev,
    runAttempts: delivery.runAttempts,
    attemptCount: delivery.attemptCount,
    attempts: delivery.attempts.map(attemptToItem),
    attemptsOmitted: delivery.attemptsOmitted || undefined,
    createdAt: delivery.createdAt,
    updatedAt: delivery.updatedAt,
    nextAttemptAt: delivery.nextAttemptAt,
    lastError: delivery.lastError,
    reason: delivery.reason,
    failedAt: delivery.failedAt,
    runStartedAt: delivery.runStartedAt,
    deferrals: delivery.deferrals,
    deferredUntil: delivery.deferredUntil,
    deferReason: delivery.deferReason,
    claimedAt: delivery.claimedAt,
    queued: delivery.queued,
    owner: delivery.owner,
    test: delivery.test || undefined,
    ...(inDeadLetterIndex(delivery)
      ? { dlqPk: key.deadLetters(delivery.workspaceId, shard), dlqSk: delivery.id }
      : awaitsQueueing(delivery)
        ? // A claim without its time is abandoned (isAbandonedClaim): first in line, as a
          // released one. (DynamoDB refuses an empty string as an index key.)
          { dlqPk: key.sweep(shard), dlqSk: delivery.claimedAt ?? "1970-01-01T00:00:00.000Z" }
        : {}),
    [TTL_ATTRIBUTE]: expiresAt(delivery.updatedAt, retentionSeconds),
  };
}

export function itemToDelivery(workspaceId: string, item: Item): Delivery {
  return {
    id: item.sk as string,
    workspaceId,
    eventId: item.eventId as string,
    event: item.event as EventName,
    subscriptionId: item.subscriptionId as string,
    status: item.status as DeliveryStatus,
    generation: (item.generation as number | undefined) ?? 0,
    rev: (item.rev as number | undefined) ?? 0,
    runAttempts: (item.runAttempts as number | undefined) ?? 0,
    attemptCount: (item.attemptCount as number | undefined) ?? 0,
    attempts: ((item.attempts as Item[] | undefined) ?? []).map(itemToAttempt),
    attemptsOmitted: (item.attemptsOmitted as number | undefined) ?? 0,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    nextAttemptAt: item.nextAttemptAt as string | undefined,
    lastError: item.lastError as string | undefined,
    reason: item.reason as EndReason | undefined,
    failedAt: item.failedAt as string | undefined,
    runStartedAt: item.runStartedAt as string | undefined,
    deferrals: item.deferrals as number | undefined,
    deferredUntil: item.deferredUntil as string | undefined,
    deferReason: item.deferReason as Delivery["deferReason"],
    claimedAt: item.claimedAt as string | undefined,
    queued: item.queued as boolean | undefined,
    owner: item.owner as string | undefined,
    test: item.test as boolean | undefined,
  };
}

export function itemToDeadLetter(item: Item): DeadLetter {
  return {
    id: item.sk as string,
    subscriptionId: item.subscriptionId as string,
    event: item.event as EventName,
    generation: (item.generation as number | undefined) ?? 0,
    failedAt: item.failedAt as string | undefined,
    reason: item.reason as EndReason | undefined,
    lastError: item.lastError as string | undefined,
  };
}

/**
 * How big a delivery record may grow. Far below DynamoDB's 400 KB item limit, because every
 * write of a record costs a write unit per KB of it: a receiver that answers with large bodies
 * makes each retry dearer, never impossible.
 */
export const RECORD_BUDGET = 64 * 1024;

/**
 * The delivery with its history trimmed to RECORD_BUDGET bytes as DynamoDB counts them: the
 * first attempt and as many of the latest as fit, the rest counted in `attemptsOmitted`.
 * Attempts are capped when they are made (shared/records.ts), so the first and the latest
 * always fit; the final check guards that promise.
 */
export function fitToBudget(delivery: Delivery): Delivery {
  if (itemSize(deliveryToItem(delivery, 0)) <= RECORD_BUDGET) return delivery;
  const [first, ...rest] = delivery.attempts;
  const cost = (attempt: Attempt) => valueSize(attemptToItem(attempt)) + 1;
  const firstCost = first && rest.length > 0 ? cost(first) : 0;
  // Room for the attempts: the record without them, less the counter of those left out.
  let room = RECORD_BUDGET - itemSize(deliveryToItem({ ...delivery, attempts: [] }, 0)) - 40;
  const kept: Attempt[] = [];
  for (let i = rest.length - 1; i >= 0; i--) {
    const attempt = rest[i] as Attempt;
    // The newest attempt always stays; older ones only while the first still fits after them.
    if (kept.length > 0 && cost(attempt) + firstCost > room) break;
    kept.unshift(attempt);
    room -= cost(attempt);
  }
  const attempts =
    rest.length === 0
      ? delivery.attempts
      : [...(first && firstCost <= room ? [first] : []), ...kept];
  const trimmed: Delivery = {
    ...delivery,
    attempts,
    attemptsOmitted: delivery.attemptsOmitted + delivery.attempts.length - attempts.length,
  };
  const size = itemSize(deliveryToItem(trimmed, 0));
  if (size > DYNAMO_ITEM_LIMIT) {
    throw new Error(`delivery ${delivery.id} would be ${size} bytes even trimmed`);
  }
  return trimmed;
}
