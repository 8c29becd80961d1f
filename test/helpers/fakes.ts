/**
 * Small in-memory stand-ins for the ports, for use-case tests. They keep no rules of their
 * own: the delivery store stores the very items the DynamoDB store would write (the shared
 * mapping in shared/store/items.ts, trimmed to the same budget) and decides its conditional
 * writes with the lifecycle's `guardHolds`, so the fake cannot drift from the real store —
 * and the model-based suite (test/model) runs the same sequences against both.
 */
import type {
  ApiKey,
  DeliveryMessage,
  EndpointHealth,
  StoredEvent,
  Subscription,
} from "../../shared/domain.ts";
import { type Guard, guardHolds } from "../../shared/lifecycle.ts";
import type { LogFields, Logger } from "../../shared/log.ts";
import {
  contextKey,
  type DeliveryContext,
  type DeliveryFilter,
  type DeliveryQueue,
  type DeliveryRef,
  type DeliveryStore,
  type EventStore,
  type FanOutQueue,
  type SendRequest,
  type SendResult,
  type SubscriptionChanges,
  type SubscriptionHealth,
  type VisibilityChange,
  type WebhookSender,
  type WorkspaceStore,
} from "../../shared/ports.ts";
import {
  deliveryToItem,
  fitToBudget,
  itemToDeadLetter,
  itemToDelivery,
} from "../../shared/store/items.ts";
import { type Item, key, SHARDS, workspaceOf } from "../../shared/store/table.ts";

export class FakeQueue implements DeliveryQueue, FanOutQueue {
  sent: DeliveryMessage[] = [];
  deadLetters: string[] = [];
  visibility: VisibilityChange[] = [];
  failEnqueue = 0;
  failDeadLetter = false;
  /** Receipt handles whose visibility change fails (as entries failing inside a 200 do). */
  refuseVisibility = new Set<string>();

  async enqueue(messages: readonly DeliveryMessage[]) {
    if (this.failEnqueue > 0) {
      this.failEnqueue--;
      throw new Error("SQS is down");
    }
    this.sent.push(...messages);
  }
  /** Calls of enqueueEach that fail, counted down (each fails its whole call). */
  failEnqueueEach = 0;
  async enqueueEach(messages: readonly DeliveryMessage[]) {
    const failed = new Set<number>();
    for (let offset = 0; offset < messages.length; offset += 10) {
      const chunk = messages.slice(offset, offset + 10);
      if (this.failEnqueueEach > 0) {
        this.failEnqueueEach--;
        for (let i = 0; i < chunk.length; i++) failed.add(offset + i);
      } else {
        this.sent.push(...chunk);
      }
    }
    return failed;
  }
  async changeVisibility(changes: readonly VisibilityChange[]) {
    this.visibility.push(...changes.filter((c) => !this.refuseVisibility.has(c.receiptHandle)));
    return changes
      .filter((c) => this.refuseVisibility.has(c.receiptHandle))
      .map((c) => c.receiptHandle);
  }
  async sendToDeadLetter(bodies: readonly string[]) {
    if (this.failDeadLetter) throw new Error("DLQ is down");
    this.deadLetters.push(...bodies);
  }
  slowLane: string[] = [];
  failSlowLane = false;
  async sendToSlowLane(bodies: readonly string[]) {
    if (this.failSlowLane) throw new Error("the slow lane queue is down");
    this.slowLane.push(...bodies);
  }
}

export class FakeEventStore implements EventStore {
  events = new Map<string, StoredEvent>();
  extended: string[] = [];

  async create(event: StoredEvent) {
    const key = contextKey(event.workspaceId, event.id);
    const existing = this.events.get(key);
    if (existing) return { created: false, existing } as const;
    this.events.set(key, event);
    return { created: true } as const;
  }
  async get(workspaceId: string, eventId: string) {
    return this.events.get(contextKey(workspaceId, eventId));
  }
  async extend(workspaceId: string, eventId: string) {
    this.extended.push(contextKey(workspaceId, eventId));
  }
}

/** Keys and subscriptions in memory, with the optimistic lock and the health writes the real store has. */
export class FakeWorkspaceStore implements WorkspaceStore, SubscriptionHealth {
  keys: ApiKey[] = [];
  subscriptions = new Map<string, Subscription>();

  async getKey(workspaceId: string, hash: string) {
    return this.keys.find((k) => k.workspaceId === workspaceId && k.hash === hash);
  }
  async listKeys(workspaceId: string) {
    return this.keys.filter((k) => k.workspaceId === workspaceId);
  }
  // The limits, as the DynamoDB store keeps them: checked and changed in one step (this fake
  // runs one call at a time, which is what the limits item's conditional writes achieve).
  async putKey(apiKey: ApiKey, maxActive = Number.POSITIVE_INFINITY) {
    if (this.keys.some((k) => k.hash === apiKey.hash)) return "exists" as const;
    const active = this.keys.filter((k) => k.workspaceId === apiKey.workspaceId && !k.revokedAt);
    if (active.length >= maxActive) return "limit" as const;
    this.keys.push(apiKey);
    return "created" as const;
  }
  async revokeKey(workspaceId: string, keyId: string, at: string) {
    const key = this.keys.find((k) => k.workspaceId === workspaceId && k.id === keyId);
    if (!key) return undefined;
    if (key.revokedAt) return { outcome: "already-revoked" as const, key };
    const admins = this.keys.filter(
      (k) => k.workspaceId === workspaceId && k.role === "admin" && !k.revokedAt,
    );
    if (key.role === "admin" && admins.length === 1) return { outcome: "last-admin" as const, key };
    key.revokedAt = at;
    return { outcome: "revoked" as const, key };
  }
  async listSubscriptions(workspaceId: string) {
    return [...this.subscriptions.values()]
      .filter((s) => s.workspaceId === workspaceId)
      .map((s) => structuredClone(s));
  }
  async getSubscription(workspaceId: string, id: string) {
    const found = this.subscriptions.get(id);
    return found?.workspaceId === workspaceId ? structuredClone(found) : undefined;
  }
  async createSubscription(subscription: Subscription, max = Number.POSITIVE_INFINITY) {
    if ((await this.listSubscriptions(subscription.workspaceId)).length >= max) {
      return "limit" as const;
    }
    this.subscriptions.set(subscription.id, structuredClone(subscription));
    return "created" as const;
  }
  async updateSubscription(
    workspaceId: string,
    id: string,
    changes: SubscriptionChanges,
    updatedAt: string,
    previousUpdatedAt: string,
  ) {
    const current = this.subscriptions.get(id);
    if (current?.workspaceId !== workspaceId || current.updatedAt !== previousUpdatedAt) {
      return false;
    }
    const { resetHealth, ...fields } = changes;
    const next: Subscription = { ...current, ...structuredClone(fields), updatedAt };
    if (resetHealth) {
      for (const field of HEALTH) delete next[field];
    }
    this.subscriptions.set(id, next);
    return true;
  }
  async deleteSubscription(workspaceId: string, id: string) {
    const current = this.subscriptions.get(id);
    if (current?.workspaceId !== workspaceId) return false;
    return this.subscriptions.delete(id);
  }

  // Endpoint health, under the same conditions as the DynamoDB store.
  async markFailing(_workspaceId: string, id: string, at: string) {
    return this.#health(id, (s) => !s.failingSince, {
      failingSince: at,
      lastFailureAt: at,
      recentFailures: 1,
      recentSince: at,
    });
  }
  async countFailure(
    _workspaceId: string,
    id: string,
    health: Required<Pick<EndpointHealth, "recentFailures" | "recentSince">>,
    at: string,
    countedBefore: string,
  ) {
    return this.#health(
      id,
      (s) => s.failingSince !== undefined && (!s.lastFailureAt || s.lastFailureAt < countedBefore),
      { lastFailureAt: at, ...health },
    );
  }
  async markHealthy(_workspaceId: string, id: string) {
    const current = this.subscriptions.get(id);
    if (!current?.failingSince) return false;
    for (const field of HEALTH) delete current[field];
    return true;
  }
  async markSlow(_workspaceId: string, id: string, until: string, refreshAfter: string) {
    return this.#health(id, (s) => !s.slowUntil || s.slowUntil < refreshAfter, {
      slowUntil: until,
    });
  }
  async disableFailing(
    _workspaceId: string,
    id: string,
    failingSince: string,
    reason: string,
    at: string,
  ) {
    return this.#health(id, (s) => s.enabled && s.failingSince === failingSince, {
      enabled: false,
      disabledReason: reason,
      disabledAt: at,
    });
  }
  async disableGone(_workspaceId: string, id: string, reason: string, at: string) {
    return this.#health(id, (s) => s.enabled, {
      enabled: false,
      disabledReason: reason,
      disabledAt: at,
    });
  }
  #health(id: string, when: (s: Subscription) => boolean, set: Partial<Subscription>) {
    const current = this.subscriptions.get(id);
    if (!current || !when(current)) return Promise.resolve(false);
    Object.assign(current, set);
    return Promise.resolve(true);
  }
}

const HEALTH = ["failingSince", "lastFailureAt", "recentFailures", "recentSince"] as const;

/**
 * Delivery records as the DynamoDB store keeps them: items from the shared mapping, written
 * under the lifecycle's guards; the dead-letter index and the sweep's watch list are read off
 * the items' index attributes, exactly as DynamoDB's sparse index would hold them.
 */
export class FakeDeliveryStore implements DeliveryStore {
  readonly items = new Map<string, Item>();
  readonly workspaces: FakeWorkspaceStore;
  readonly eventStore: FakeEventStore;
  failLoad = false;

  readonly retentionSeconds: number;

  constructor(
    workspaces = new FakeWorkspaceStore(),
    events = new FakeEventStore(),
    retentionSeconds = 30 * 86_400,
  ) {
    this.workspaces = workspaces;
    this.eventStore = events;
    this.retentionSeconds = retentionSeconds;
  }

  async loadContext(refs: readonly DeliveryRef[]): Promise<DeliveryContext> {
    if (this.failLoad) throw new Error("DynamoDB is down");
    const context: DeliveryContext = {
      subscriptions: new Map(),
      deliveries: new Map(),
      events: new Map(),
    };
    for (const ref of refs) {
      const sub =
        ref.withSubscription === false
          ? undefined
          : await this.workspaces.getSubscription(ref.workspaceId, ref.subscriptionId);
      const event = await this.eventStore.get(ref.workspaceId, ref.eventId);
      const delivery = ref.withRecord ? await this.get(ref.workspaceId, ref.deliveryId) : undefined;
      if (sub) context.subscriptions.set(contextKey(ref.workspaceId, sub.id), sub);
      if (event) context.events.set(contextKey(ref.workspaceId, event.id), event);
      if (delivery) context.deliveries.set(contextKey(ref.workspaceId, delivery.id), delivery);
    }
    return context;
  }

  async get(workspaceId: string, deliveryId: string) {
    const item = this.items.get(itemKey(workspaceId, deliveryId));
    return item ? itemToDelivery(workspaceId, structuredClone(item)) : undefined;
  }

  async getMany(refs: ReadonlyArray<{ workspaceId: string; deliveryId: string }>) {
    const found = new Map<string, Awaited<ReturnType<FakeDeliveryStore["get"]>> & object>();
    for (const ref of refs) {
      const delivery = await this.get(ref.workspaceId, ref.deliveryId);
      if (delivery) found.set(contextKey(ref.workspaceId, ref.deliveryId), delivery);
    }
    return found;
  }

  async put(next: Parameters<DeliveryStore["put"]>[0], guard: Guard) {
    const stored = await this.get(next.workspaceId, next.id);
    if (!guardHolds(guard, stored)) return false;
    this.items.set(
      itemKey(next.workspaceId, next.id),
      structuredClone(deliveryToItem(fitToBudget(next), this.retentionSeconds)),
    );
    return true;
  }

  async list(workspaceId: string, filter: DeliveryFilter, limit: number, after?: string) {
    const statuses = filter.status === undefined ? undefined : [filter.status].flat();
    const all = [...this.items.values()]
      .filter((item) => workspaceOf(item.pk as string) === workspaceId)
      .map((item) => itemToDelivery(workspaceId, structuredClone(item)))
      .filter((d) => !statuses || statuses.includes(d.status))
      .filter((d) => inSubscriptions(filter.subscriptionId, d.subscriptionId))
      .filter((d) => !filter.event || d.event === filter.event)
      .filter((d) => filter.test === undefined || (d.test === true) === filter.test)
      .filter((d) => !filter.idRange || (d.id >= filter.idRange.from && d.id <= filter.idRange.to))
      .filter((d) => after === undefined || d.id < after)
      .sort((a, b) => (a.id < b.id ? 1 : -1));
    const items = all.slice(0, limit);
    return { items, next: all.length > limit ? items.at(-1)?.id : undefined };
  }

  #deadLetterItems(workspaceId: string, filter: Pick<DeliveryFilter, "subscriptionId" | "event">) {
    return [...this.items.values()]
      .filter((item) => (item.dlqPk as string | undefined)?.startsWith(`WS#${workspaceId}#DEAD#`))
      .filter((item) => inSubscriptions(filter.subscriptionId, item.subscriptionId as string))
      .filter((item) => !filter.event || item.event === filter.event)
      .sort((a, b) => ((a.dlqSk as string) < (b.dlqSk as string) ? -1 : 1));
  }

  async listDeadLetters(
    workspaceId: string,
    filter: Pick<DeliveryFilter, "subscriptionId" | "event">,
    limit: number,
    after?: string,
  ) {
    const all = this.#deadLetterItems(workspaceId, filter).filter(
      (item) => after === undefined || (item.dlqSk as string) > after,
    );
    const items = all.slice(0, limit).map((item) => itemToDeadLetter(structuredClone(item)));
    return { items, next: all.length > limit ? items.at(-1)?.id : undefined };
  }

  /**
   * As the store counts: each shard of the index read up to its share of the budget, the filter
   * applied to what was read, and "not exact" wherever a shard's read stopped at its share
   * (DynamoDB then hands back a LastEvaluatedKey, whether or not more follow).
   */
  async summarizeDeadLetters(
    workspaceId: string,
    filter: Pick<DeliveryFilter, "subscriptionId" | "event">,
    budget: number,
  ) {
    const perShard = Math.max(1, Math.ceil(budget / SHARDS.length));
    const everything = this.#deadLetterItems(workspaceId, {});
    const matching = new Set(this.#deadLetterItems(workspaceId, filter));
    const shards = SHARDS.map((shard) => {
      const read = everything
        .filter((item) => item.dlqPk === key.deadLetters(workspaceId, shard))
        .slice(0, perShard);
      return {
        count: read.filter((item) => matching.has(item)).length,
        more: read.length >= perShard,
      };
    });
    const first = [...matching][0];
    return {
      count: shards.reduce((sum, shard) => sum + shard.count, 0),
      exact: shards.every((shard) => !shard.more),
      oldest: first
        ? { id: first.sk as string, failedAt: first.failedAt as string | undefined }
        : undefined,
    };
  }

  async listUnqueuedClaims(claimedBefore: string, limit: number) {
    return [...this.items.values()]
      .filter((item) => (item.dlqPk as string | undefined)?.startsWith("SWEEP#"))
      .filter((item) => (item.dlqSk as string) < claimedBefore)
      .slice(0, limit)
      .map((item) => ({
        workspaceId: workspaceOf(item.pk as string),
        deliveryId: item.sk as string,
      }));
  }
}

const itemKey = (workspaceId: string, deliveryId: string): string => {
  const { pk, sk } = key.delivery(workspaceId, deliveryId);
  return `${pk}|${sk}`;
};

/** Answers from a script keyed by URL; records every request and when it started and ended. */
export class ScriptedSender implements WebhookSender {
  requests: Array<SendRequest & { startedAt: number; endedAt?: number }> = [];
  readonly answer: (request: SendRequest) => SendResult | Promise<SendResult>;
  constructor(answer: (request: SendRequest) => SendResult | Promise<SendResult>) {
    this.answer = answer;
  }
  async send(request: SendRequest): Promise<SendResult> {
    const entry = { ...request, startedAt: performance.now() } as SendRequest & {
      startedAt: number;
      endedAt?: number;
    };
    this.requests.push(entry);
    const result = await this.answer(request);
    entry.endedAt = performance.now();
    return result;
  }
}

export const ok = (
  status = 200,
  headers: Record<string, string> = {},
  body = "ok",
): SendResult => ({
  kind: "response",
  status,
  headers,
  body: Buffer.from(body),
  bodyTruncated: false,
  durationMs: 3,
});

/** A filter's subscription: none (any), one id, or any of several. */
function inSubscriptions(wanted: string | readonly string[] | undefined, id: string): boolean {
  return wanted === undefined || [wanted].flat().includes(id);
}

/** A logger that keeps what it is told: what an operator reads in the logs. */
export class RecordingLogger implements Logger {
  lines: Array<{ level: string; message: string; fields?: LogFields | undefined }> = [];
  info(message: string, fields?: LogFields) {
    this.lines.push({ level: "info", message, fields });
  }
  warn(message: string, fields?: LogFields) {
    this.lines.push({ level: "warn", message, fields });
  }
  error(message: string, fields?: LogFields) {
    this.lines.push({ level: "error", message, fields });
  }
}

/** Subscription number `n` of workspace `acme`: enabled, no secret, `contact.created`. */
export const testSubscription = (n: number, patch: Partial<Subscription> = {}): Subscription => ({
  id: `sub_01JTESTSUB00000000000000${String(n).padStart(2, "0")}`,
  workspaceId: "acme",
  url: `https://s${n}.example.com/`,
  events: ["contact.created"],
  enabled: true,
  description: "",
  secret: null,
  previousSecrets: [],
  createdAt: "2026-11-26T09:00:00.000Z",
  updatedAt: "2026-11-26T09:00:00.000Z",
  ...patch,
});
