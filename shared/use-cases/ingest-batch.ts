import type { EventName } from "../catalog.ts";
import type { DeliveryMessage, StoredEvent, Subscription } from "../domain.ts";
import { type AppError, ConflictError, ServiceUnavailableError } from "../errors.ts";
import { asAppError } from "../http/problem.ts";
import type { EventStore, FanOutQueue } from "../ports.ts";
import { messagesFor, storedEventOf, storeEvent } from "./ingest-event.ts";

export interface BatchEvent {
  /** Its position in the request. */
  index: number;
  event: EventName;
  data: Record<string, unknown>;
  timestamp?: string | undefined;
  id?: string | undefined;
}

export type BatchOutcome =
  | {
      index: number;
      kind: "accepted";
      id: string;
      event: EventName;
      deliveries: number;
      replayed: boolean;
    }
  | {
      index: number;
      kind: "refused";
      id: string | null;
      error: AppError;
      /** What went wrong, when the client is told less (a 5xx). */
      cause?: unknown;
    };

/** How many events of a batch are written at once. */
const WRITES_IN_FLIGHT = 25;

/**
 * Accepts many events at once (`POST /v1/events/batch`). Each event is what `ingestEvent`
 * makes of it — stored once under its id (a repeat is an idempotent replay, a different event
 * under a used id a 409) — and then the fan-out of every stored event goes to the queue
 * together, in full calls of ten messages, instead of a call or more per event. Each event's
 * outcome is its own: one that could not be stored, or whose messages were not all queued,
 * answers 503 (retry it with the same id; the repeat re-sends its fan-out, marked, and the copies
 * are dropped), and the others are accepted all the same.
 */
export async function ingestBatch(
  workspaceId: string,
  subscriptions: readonly Subscription[],
  items: readonly BatchEvent[],
  deps: { events: EventStore; queue: FanOutQueue; now?: () => number },
): Promise<BatchOutcome[]> {
  const now = (deps.now ?? Date.now)();
  const outcomes = new Map<number, BatchOutcome>();
  /** Later items with an id seen earlier in the batch answer as that first one does. */
  const repeats = new Map<number, number>();
  const firstWithId = new Map<string, number>();
  const stored = new Map<number, StoredEvent & { replayed: boolean }>();
  const candidates: Array<{ index: number; event: StoredEvent }> = [];

  for (const item of items) {
    const candidate = storedEventOf({ ...item, workspaceId, subscriptions }, now);
    if (item.id !== undefined) {
      const first = firstWithId.get(item.id);
      if (first !== undefined) {
        repeats.set(item.index, first);
        candidates.push({ index: item.index, event: candidate });
        continue;
      }
      firstWithId.set(item.id, item.index);
    }
    candidates.push({ index: item.index, event: candidate });
  }

  // Store each event (the first of each id), a few at a time.
  const firsts = candidates.filter((c) => !repeats.has(c.index));
  for (let next = 0; next < firsts.length; next += WRITES_IN_FLIGHT) {
    await Promise.all(
      firsts.slice(next, next + WRITES_IN_FLIGHT).map(async ({ index, event }) => {
        try {
          stored.set(index, await storeEvent(event, deps.events));
        } catch (error) {
          const clientChosen = items.find((item) => item.index === index)?.id !== undefined;
          outcomes.set(index, {
            index,
            kind: "refused",
            id: event.id,
            error: notStored(error, clientChosen),
            cause: error,
          });
        }
      }),
    );
  }

  // Every stored event's fan-out, in full calls; a repeat re-sends, marked.
  const messages: DeliveryMessage[] = [];
  const owners: number[] = [];
  for (const [index, event] of stored) {
    for (const message of messagesFor(event, 0, event.replayed)) {
      messages.push(message);
      owners.push(index);
    }
  }
  const unqueued = await deps.queue.enqueueEach(messages);
  const notQueued = new Set([...unqueued].map((position) => owners[position]));

  for (const [index, event] of stored) {
    if (notQueued.has(index)) {
      outcomes.set(
        index,
        refusal(
          index,
          event.id,
          new ServiceUnavailableError(
            "The event was stored but not yet queued for every subscriber; retry it with the same id.",
          ),
        ),
      );
    } else {
      outcomes.set(index, {
        index,
        kind: "accepted",
        id: event.id,
        event: event.name,
        deliveries: event.targets.length,
        replayed: event.replayed,
      });
    }
  }

  // A repeated id within the batch answers as its first item, as a replay — or a 409 when it
  // carries a different event.
  for (const { index, event } of candidates) {
    const first = repeats.get(index);
    if (first === undefined) continue;
    const original = stored.get(first);
    const answer = outcomes.get(first);
    if (original && original.requestHash !== event.requestHash) {
      outcomes.set(index, refusal(index, event.id, conflict(event.id)));
    } else if (answer?.kind === "accepted") {
      outcomes.set(index, { ...answer, index, replayed: true });
    } else if (answer) {
      outcomes.set(index, { ...answer, index });
    }
  }
  return items.map(
    (item) =>
      outcomes.get(item.index) ??
      refusal(item.index, item.id ?? null, new ServiceUnavailableError("Not processed; retry.")),
  );
}

function refusal(index: number, id: string | null, error: AppError): BatchOutcome {
  return { index, kind: "refused", id, error };
}

function conflict(id: string): AppError {
  return new ConflictError(
    `Event id '${id}' was already used for a different event; use a new id.`,
  );
}

/**
 * Why an event could not be stored: its own 409, a retryable 503 when DynamoDB failed or
 * throttled (retry the item, with its id), or a 500 that reveals nothing.
 */
function notStored(error: unknown, clientChosen: boolean): AppError {
  const known = asAppError(error);
  if (known.status !== 503) return known;
  return new ServiceUnavailableError(
    clientChosen
      ? "The event could not be stored; retry it with the same id."
      : "The event could not be stored; retry it (send an `id` to make retries idempotent).",
  );
}
