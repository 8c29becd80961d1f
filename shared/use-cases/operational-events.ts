import type { OperationalEventName } from "../catalog.ts";
import type { Delivery, Subscription } from "../domain.ts";
import { describeError, type Logger } from "../log.ts";
import type { DeliveryQueue, EventStore, WorkspaceStore } from "../ports.ts";
import { ingestEvent } from "./ingest-event.ts";

export interface OperationalDeps {
  subscriptions: Pick<WorkspaceStore, "listSubscriptions">;
  events: EventStore;
  queue: DeliveryQueue;
  log: Logger;
}

type SubscriptionFacts = Pick<Subscription, "workspaceId" | "id" | "url">;

/**
 * The service's own events (`webhook.*`): sent, signed and retried like CRM events, to the
 * subscriptions of the workspace that ask for them — never to the subscription they are about
 * (no loops), and a delivery of an operational event that fails for good raises nothing. They
 * are raised only on changes of state (an endpoint starts failing, is disabled, recovers; a
 * delivery fails for good), so a delivery that succeeds costs nothing more, and nothing at all
 * is written when nobody subscribes. Each has an id made of what it is about and when, so
 * raising it twice (a retried batch) is an idempotent repeat, not a second event.
 *
 * Raising is best effort: a failure is logged and never fails the delivery that caused it.
 */
export class OperationalEvents {
  readonly #deps: OperationalDeps;

  constructor(deps: OperationalDeps) {
    this.#deps = deps;
  }

  /** `webhook.delivery.exhausted`: a CRM event's delivery failed for good (one per run). */
  exhausted(record: Delivery, subscription: Pick<Subscription, "url"> | undefined) {
    const at = record.failedAt ?? record.updatedAt;
    return this.#raise(record.workspaceId, "webhook.delivery.exhausted", {
      about: record.subscriptionId,
      key: `${record.id}:g${record.generation}`,
      at,
      data: {
        deliveryId: record.id,
        eventId: record.eventId,
        event: record.event,
        subscriptionId: record.subscriptionId,
        url: subscription?.url ?? "",
        attempts: record.attemptCount,
        reason: record.reason ?? "exhausted",
        lastError: record.lastError ?? null,
        failedAt: at,
      },
    });
  }

  /** `webhook.subscription.failing`: the first failure after a success. */
  failing(subscription: SubscriptionFacts, at: string, lastError: string | undefined) {
    return this.#raise(subscription.workspaceId, "webhook.subscription.failing", {
      about: subscription.id,
      key: `${subscription.id}:${at}`,
      at,
      data: {
        subscriptionId: subscription.id,
        url: subscription.url,
        failingSince: at,
        lastError: lastError ?? null,
      },
    });
  }

  /** `webhook.subscription.disabled`: failing too long, or its endpoint answered 410 Gone. */
  disabled(subscription: SubscriptionFacts, at: string, reason: string) {
    return this.#raise(subscription.workspaceId, "webhook.subscription.disabled", {
      about: subscription.id,
      key: `${subscription.id}:${at}`,
      at,
      data: { subscriptionId: subscription.id, url: subscription.url, reason, disabledAt: at },
    });
  }

  /** `webhook.subscription.recovered`: a success after failing since `failingSince`. */
  recovered(subscription: SubscriptionFacts, failingSince: string, at: string) {
    return this.#raise(subscription.workspaceId, "webhook.subscription.recovered", {
      about: subscription.id,
      key: `${subscription.id}:${at}`,
      at,
      data: {
        subscriptionId: subscription.id,
        url: subscription.url,
        failingSince,
        recoveredAt: at,
      },
    });
  }

  /** Sends `event` to the workspace's subscribers to it but `about`; resolves with how many. */
  async #raise(
    workspaceId: string,
    event: OperationalEventName,
    input: { about: string; key: string; at: string; data: Record<string, unknown> },
  ): Promise<number> {
    try {
      const subscribers = (await this.#deps.subscriptions.listSubscriptions(workspaceId)).filter(
        (s) => s.id !== input.about && s.events.includes(event),
      );
      if (subscribers.length === 0) return 0;
      const result = await ingestEvent(
        {
          workspaceId,
          subscriptions: subscribers,
          event,
          data: input.data,
          timestamp: input.at,
          id: operationalEventId(event, input.key),
        },
        { events: this.#deps.events, queue: this.#deps.queue },
      );
      return result.deliveries;
    } catch (error) {
      this.#deps.log.error("could not raise an operational event", {
        workspaceId,
        event,
        about: input.about,
        ...describeError(error),
      });
      return 0;
    }
  }
}

/** An operational event's id: its name and what it is about, within event ids' alphabet. */
export function operationalEventId(event: OperationalEventName, key: string): string {
  return `${event}:${key}`.replace(/[^A-Za-z0-9._:-]/g, "-").slice(0, 128);
}
