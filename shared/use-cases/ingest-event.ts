import { createHash } from "node:crypto";
import type { EventName } from "../catalog.ts";
import type { DeliveryMessage, StoredEvent, Subscription } from "../domain.ts";
import { ConflictError, ServiceUnavailableError } from "../errors.ts";
import { deliveryIdFor, newEventId, newUlid } from "../ids.ts";
import type { DeliveryQueue, EventStore } from "../ports.ts";

export interface IngestDeps {
  events: EventStore;
  queue: DeliveryQueue;
  now?: () => number;
}

export interface IngestInput {
  workspaceId: string;
  /** The workspace's subscriptions, read together with the caller's key. */
  subscriptions: readonly Subscription[];
  event: EventName;
  data: Record<string, unknown>;
  timestamp?: string | undefined;
  /** Client-chosen event id (body `id` or `Idempotency-Key`): makes retries safe. */
  id?: string | undefined;
}

export interface IngestResult {
  id: string;
  event: EventName;
  deliveries: number;
  /** True when this answer repeats the first one for the same id. */
  replayed: boolean;
}

/**
 * Accepts one CRM event: stores it — once, with the subscriptions it goes to — then sends one
 * queue message per subscription (a disabled one's delivery is then recorded as canceled, so
 * that enabling it again can replay it). Safe to retry with the same id at any point: a repeat
 * returns the first answer and sends the fan-out again, marked, to the targets chosen the
 * first time; the deliver function drops the copies of deliveries already made or under way.
 */
export async function ingestEvent(input: IngestInput, deps: IngestDeps): Promise<IngestResult> {
  const now = (deps.now ?? Date.now)();
  const timestamp = input.timestamp ?? new Date(now).toISOString();
  const clientChosen = input.id !== undefined;
  const candidate: StoredEvent = {
    workspaceId: input.workspaceId,
    id: input.id ?? newEventId(),
    name: input.event,
    body: JSON.stringify({ event: input.event, data: input.data, timestamp }),
    seq: newUlid(now),
    receivedAt: new Date(now).toISOString(),
    targets: input.subscriptions
      .filter((subscription) => subscription.events.includes(input.event))
      .map((subscription) => subscription.id),
    requestHash: requestHash(input),
  };

  const created = await deps.events.create(candidate);
  const event = created.created ? candidate : created.existing;
  if (!created.created && event.requestHash !== candidate.requestHash) {
    throw new ConflictError(
      `Event id '${event.id}' was already used for a different event; use a new id.`,
    );
  }
  // Whether an earlier attempt's fan-out finished is not recorded (that would be a second
  // write per event): a repeat sends it again, marked, and the copies are dropped.
  try {
    await deps.queue.enqueue(messagesFor(event, 0, !created.created));
  } catch (error) {
    throw new ServiceUnavailableError(
      clientChosen
        ? "The event was stored but not yet queued for every subscriber; retry with the same id."
        : "The event could not be queued; retry (send an `id` to make retries idempotent).",
      { cause: error },
    );
  }
  return {
    id: event.id,
    event: event.name,
    deliveries: event.targets.length,
    replayed: !created.created,
  };
}

export function messagesFor(event: StoredEvent, generation = 0, resent = false): DeliveryMessage[] {
  return event.targets.map((subscriptionId) => ({
    v: 1,
    w: event.workspaceId,
    d: deliveryIdFor(event.seq, subscriptionId),
    e: event.id,
    n: event.name,
    s: subscriptionId,
    g: generation,
    ...(resent ? { r: 1 as const } : {}),
  }));
}

/** What the client sent (not what we defaulted), so an honest retry always matches. */
function requestHash(input: IngestInput): string {
  return createHash("sha256")
    .update(JSON.stringify([input.event, input.data, input.timestamp ?? null]))
    .digest("base64url");
}
