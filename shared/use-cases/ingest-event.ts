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
  const clientChosen = input.id !== undefined;
  const candidate = storedEventOf(input, now);
  const event = await storeEvent(candidate, deps.events);
  // Whether an earlier attempt's fan-out finished is not recorded (that would be a second
  // write per event): a repeat sends it again, marked, and the copies are dropped.
  try {
    await deps.queue.enqueue(messagesFor(event, 0, event.replayed));
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
    replayed: event.replayed,
  };
}

/** The event as it will be stored: its body serialized once, its subscribers chosen now. */
export function storedEventOf(input: IngestInput, now: number): StoredEvent {
  const timestamp = input.timestamp ?? new Date(now).toISOString();
  return {
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
}

/**
 * Stores the event unless its id is taken; then the stored one is the event (an idempotent
 * repeat) — or, for a different event under the same id, a 409.
 */
export async function storeEvent(
  candidate: StoredEvent,
  events: EventStore,
): Promise<StoredEvent & { replayed: boolean }> {
  const created = await events.create(candidate);
  if (created.created) return { ...candidate, replayed: false };
  if (created.existing.requestHash !== candidate.requestHash) {
    throw new ConflictError(
      `Event id '${candidate.id}' was already used for a different event; use a new id.`,
    );
  }
  return { ...created.existing, replayed: true };
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
