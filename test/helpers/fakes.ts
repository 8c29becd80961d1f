/**
 * Small in-memory stand-ins for the ports, for use-case unit tests only. The adapters behind
 * these ports are tested against dynalite and fauxqs in test/integration.
 */
import type {
  ApiKey,
  Delivery,
  DeliveryMessage,
  StoredEvent,
  Subscription,
} from "../../shared/domain.ts";
import type { SendRequest, SendResult, WebhookSender } from "../../shared/http/sender.ts";
import type { DeliveryQueue, VisibilityChange } from "../../shared/queue/delivery-queue.ts";
import {
  type AttemptRecord,
  contextKey,
  type DeliveryContext,
  type DeliveryFilter,
  type DeliveryRef,
  type DeliveryStore,
  type PendingClaim,
} from "../../shared/store/delivery-store.ts";
import type { CreateEventResult, EventStore } from "../../shared/store/event-store.ts";
import type { SubscriptionHealth, WorkspaceStore } from "../../shared/store/workspace-store.ts";

export class FakeQueue implements DeliveryQueue {
  sent: DeliveryMessage[] = [];
  deadLetters: string[] = [];
  visibility: VisibilityChange[] = [];
  failEnqueue = 0;
  failDeadLetter = false;

  async enqueue(messages: readonly DeliveryMessage[]) {
    if (this.failEnqueue > 0) {
      this.failEnqueue--;
      throw new Error("SQS is down");
    }
    this.sent.push(...messages);
  }
  async changeVisibility(changes: readonly VisibilityChange[]) {
    this.visibility.push(...changes);
  }
  async sendToDeadLetter(bodies: readonly string[]) {
    if (this.failDeadLetter) throw new Error("DLQ is down");
    this.deadLetters.push(...bodies);
  }
}

export class FakeEventStore implements EventStore {
  events = new Map<string, StoredEvent>();
  fannedOut = new Set<string>();

  async create(event: StoredEvent): Promise<CreateEventResult> {
    const key = `${event.workspaceId}/${event.id}`;
    const existing = this.events.get(key);
    if (existing) return { created: false, existing, fannedOut: this.fannedOut.has(key) };
    this.events.set(key, event);
    return { created: true };
  }
  async markFannedOut(workspaceId: string, eventId: string) {
    this.fannedOut.add(`${workspaceId}/${eventId}`);
  }
  async get(workspaceId: string, eventId: string) {
    return this.events.get(`${workspaceId}/${eventId}`);
  }
  extended: string[] = [];
  async extend(workspaceId: string, eventId: string) {
    this.extended.push(`${workspaceId}/${eventId}`);
  }
}

export class FakeDeliveryStore implements DeliveryStore {
  subscriptions = new Map<string, Subscription>();
  deliveries = new Map<string, Delivery>();
  events = new Map<string, StoredEvent>();
  records: AttemptRecord[] = [];
  failLoad = false;

  async loadContext(refs: readonly DeliveryRef[]): Promise<DeliveryContext> {
    if (this.failLoad) throw new Error("DynamoDB is down");
    const context: DeliveryContext = {
      subscriptions: new Map(),
      deliveries: new Map(),
      events: new Map(),
    };
    for (const ref of refs) {
      const sub = this.subscriptions.get(contextKey(ref.workspaceId, ref.subscriptionId));
      const delivery = ref.withRecord
        ? this.deliveries.get(contextKey(ref.workspaceId, ref.deliveryId))
        : undefined;
      const event = this.events.get(contextKey(ref.workspaceId, ref.eventId));
      if (sub) context.subscriptions.set(contextKey(ref.workspaceId, sub.id), structuredClone(sub));
      if (delivery)
        context.deliveries.set(contextKey(ref.workspaceId, delivery.id), structuredClone(delivery));
      if (event) context.events.set(contextKey(ref.workspaceId, event.id), event);
    }
    return context;
  }

  async getMany(refs: ReadonlyArray<{ workspaceId: string; deliveryId: string }>) {
    const found = new Map<string, Delivery>();
    for (const ref of refs) {
      const delivery = this.deliveries.get(contextKey(ref.workspaceId, ref.deliveryId));
      if (delivery)
        found.set(contextKey(ref.workspaceId, ref.deliveryId), structuredClone(delivery));
    }
    return found;
  }

  async claimForResend(claim: PendingClaim) {
    const key = contextKey(claim.workspaceId, claim.deliveryId);
    const current = this.deliveries.get(key);
    if (
      claim.fromGeneration === undefined ? current : current?.generation !== claim.fromGeneration
    ) {
      return false;
    }
    this.deliveries.set(key, {
      id: claim.deliveryId,
      workspaceId: claim.workspaceId,
      eventId: claim.eventId,
      event: claim.event,
      subscriptionId: claim.subscriptionId,
      attemptCount: current?.attemptCount ?? 0,
      attempts: (current?.attempts ?? []).filter(
        (_a, index) => !claim.trimAttempts.includes(index),
      ),
      createdAt: current?.createdAt ?? claim.now,
      lastError: current?.lastError,
      status: "pending",
      generation: claim.toGeneration,
      pendingSince: claim.now,
      updatedAt: claim.now,
    });
    return true;
  }

  async releaseClaim(workspaceId: string, deliveryId: string, generation: number) {
    const current = this.deliveries.get(contextKey(workspaceId, deliveryId));
    if (current?.generation === generation && current.status === "pending") {
      current.pendingSince = "1970-01-01T00:00:00.000Z";
    }
  }

  async listDeadLetters(
    workspaceId: string,
    filter: Pick<DeliveryFilter, "subscriptionId" | "event">,
  ) {
    const items = [...this.deliveries.values()]
      .filter(
        (d) => d.workspaceId === workspaceId && (d.status === "failed" || d.status === "pending"),
      )
      .filter((d) => !filter.subscriptionId || d.subscriptionId === filter.subscriptionId)
      .filter((d) => !filter.event || d.event === filter.event)
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((d) => ({
        id: d.id,
        subscriptionId: d.subscriptionId,
        event: d.event,
        status: d.status,
        generation: d.generation,
        failedAt: d.failedAt,
        pendingSince: d.pendingSince,
      }));
    return { items };
  }

  async recordAttempt(record: AttemptRecord): Promise<"recorded" | "stale"> {
    const key = contextKey(record.workspaceId, record.deliveryId);
    const current = this.deliveries.get(key);
    if (current && current.generation > record.generation) return "stale";
    this.records.push(record);
    this.deliveries.set(key, {
      id: record.deliveryId,
      workspaceId: record.workspaceId,
      eventId: record.eventId,
      event: record.event,
      subscriptionId: record.subscriptionId,
      status: record.status,
      generation: record.generation,
      attemptCount: (current?.attemptCount ?? 0) + 1,
      attempts: [...(current?.attempts ?? []), record.attempt],
      createdAt: current?.createdAt ?? record.now,
      updatedAt: record.now,
      nextAttemptAt: record.attempt.nextAttemptAt,
      lastError: record.lastError,
      failedAt: record.status === "failed" ? record.now : undefined,
      owner: record.owner,
    });
    return "recorded";
  }

  async get(workspaceId: string, deliveryId: string) {
    return this.deliveries.get(contextKey(workspaceId, deliveryId));
  }
  async list() {
    return { items: [...this.deliveries.values()] };
  }
}

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

export const ok = (status = 200, headers: Record<string, string> = {}): SendResult => ({
  kind: "response",
  status,
  headers,
  body: "ok",
  bodyTruncated: false,
  durationMs: 3,
});

/** Records what the deliver function says about endpoint health. */
export class FakeHealth implements SubscriptionHealth {
  calls: string[] = [];
  async markFailing(_workspaceId: string, id: string, since: string) {
    this.calls.push(`failing ${id} since ${since}`);
  }
  async markHealthy(_workspaceId: string, id: string) {
    this.calls.push(`healthy ${id}`);
  }
  async disableFailing(_workspaceId: string, id: string, failingSince: string) {
    this.calls.push(`disable ${id} failing since ${failingSince}`);
    return true;
  }
}

/** Keys and subscriptions in memory, with the optimistic lock the real store has. */
export class FakeWorkspaceStore implements WorkspaceStore {
  keys: ApiKey[] = [];
  subscriptions = new Map<string, Subscription>();

  async load(workspaceId: string) {
    return {
      keys: this.keys.filter((k) => k.workspaceId === workspaceId),
      subscriptions: await this.listSubscriptions(workspaceId),
    };
  }
  async getKey(workspaceId: string, hash: string) {
    return this.keys.find((k) => k.workspaceId === workspaceId && k.hash === hash);
  }
  async listKeys(workspaceId: string) {
    return this.keys.filter((k) => k.workspaceId === workspaceId);
  }
  async putKey(apiKey: ApiKey) {
    if (this.keys.some((k) => k.hash === apiKey.hash)) return false;
    this.keys.push(apiKey);
    return true;
  }
  async revokeKey(workspaceId: string, keyId: string, at: string) {
    const key = this.keys.find((k) => k.workspaceId === workspaceId && k.id === keyId);
    if (key) key.revokedAt ??= at;
    return key;
  }
  async listSubscriptions(workspaceId: string) {
    return [...this.subscriptions.values()].filter((s) => s.workspaceId === workspaceId);
  }
  async getSubscription(workspaceId: string, id: string) {
    const found = this.subscriptions.get(id);
    return found?.workspaceId === workspaceId ? structuredClone(found) : undefined;
  }
  async createSubscription(subscription: Subscription) {
    this.subscriptions.set(subscription.id, structuredClone(subscription));
  }
  async replaceSubscription(subscription: Subscription, previousUpdatedAt: string) {
    const current = this.subscriptions.get(subscription.id);
    if (!current || current.updatedAt !== previousUpdatedAt) return false;
    this.subscriptions.set(subscription.id, structuredClone(subscription));
    return true;
  }
  async deleteSubscription(workspaceId: string, id: string) {
    const current = this.subscriptions.get(id);
    if (current?.workspaceId !== workspaceId) return false;
    return this.subscriptions.delete(id);
  }
}
