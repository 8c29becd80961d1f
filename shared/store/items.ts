import type { EventName } from "../catalog.ts";
import type {
  ApiKey,
  Attempt,
  DeadLetter,
  Delivery,
  DeliveryStatus,
  StoredEvent,
  StoredSecret,
  Subscription,
} from "../domain.ts";
import type { Role } from "../keys.ts";
import { EVENT_SK, type Item, key, TTL_ATTRIBUTE } from "./table.ts";

/**
 * Domain objects ↔ DynamoDB items, in one place. Attempts use short attribute names because
 * they repeat inside delivery items and DynamoDB bills by item size (1 write unit per KB):
 *
 *   n number · g generation · at startedAt · ms durationMs · u url · o outcome ·
 *   rq requestHeaders · sc statusCode · rh responseHeaders · rb responseBody ·
 *   rt responseBodyTruncated · ec errorClass · em errorMessage · nx nextAttemptAt
 */
export const expiresAt = (now: number, retentionSeconds: number): number =>
  Math.floor(now / 1000) + retentionSeconds;

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
    rt: attempt.responseBodyTruncated,
    ec: attempt.errorClass,
    em: attempt.errorMessage,
    nx: attempt.nextAttemptAt,
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
    responseBodyTruncated: item.rt as boolean | undefined,
    errorClass: item.ec as Attempt["errorClass"],
    errorMessage: item.em as string | undefined,
    nextAttemptAt: item.nx as string | undefined,
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
    attemptCount: (item.attemptCount as number | undefined) ?? 0,
    attempts: ((item.attempts as Item[] | undefined) ?? []).map(itemToAttempt),
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
    nextAttemptAt: item.nextAttemptAt as string | undefined,
    lastError: item.lastError as string | undefined,
    failedAt: item.failedAt as string | undefined,
    pendingSince: item.pendingSince as string | undefined,
    owner: item.owner as string | undefined,
  };
}

export function itemToDeadLetter(item: Item): DeadLetter {
  return {
    id: item.sk as string,
    subscriptionId: item.subscriptionId as string,
    event: item.event as EventName,
    status: item.status as DeliveryStatus,
    generation: (item.generation as number | undefined) ?? 0,
    failedAt: item.failedAt as string | undefined,
    pendingSince: item.pendingSince as string | undefined,
  };
}
