import type { Delivery, DeliveryStatus, StoredEvent } from "../domain.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { deliveryIdBound, ID_PATTERNS } from "../ids.ts";
import type { DeliveryStore, EventStore } from "../ports.ts";
import type { DeliveryListQuery } from "../schemas.ts";

export interface DeliveryList {
  items: Delivery[];
  nextCursor: string | null;
}

/** Newest first; the cursor is opaque to clients and scoped to the caller's workspace. */
export async function listDeliveries(
  workspaceId: string,
  input: Omit<DeliveryListQuery, "subscriptionId"> & {
    /** One subscription, or any of several (a portal session's scope). */
    subscriptionId?: string | readonly string[] | undefined;
  },
  store: DeliveryStore,
): Promise<DeliveryList> {
  const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  const page = await store.list(
    workspaceId,
    {
      status: input.status as DeliveryStatus | undefined,
      subscriptionId: input.subscriptionId,
      event: input.event,
      test: input.test,
      // Delivery ids start with their event's acceptance time: a time window is a key range.
      idRange:
        input.from === undefined && input.to === undefined
          ? undefined
          : {
              from: deliveryIdBound(input.from === undefined ? 0 : Date.parse(input.from), "min"),
              // No end: the latest time a ULID can hold (its 48-bit millisecond field).
              to: deliveryIdBound(
                input.to === undefined ? 2 ** 48 - 1 : Date.parse(input.to),
                "max",
              ),
            },
    },
    input.limit ?? 20,
    after,
  );
  return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
}

export async function getDelivery(
  workspaceId: string,
  id: string,
  deps: { deliveries: DeliveryStore; events: EventStore },
): Promise<{ delivery: Delivery; event: StoredEvent | undefined }> {
  const delivery = ID_PATTERNS.delivery.test(id)
    ? await deps.deliveries.get(workspaceId, id)
    : undefined;
  if (!delivery) throw new NotFoundError(`No delivery '${id}' in this workspace.`);
  return { delivery, event: await deps.events.get(workspaceId, delivery.eventId) };
}

const encodeCursor = (deliveryId: string): string => Buffer.from(deliveryId).toString("base64url");

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!ID_PATTERNS.delivery.test(id)) {
    throw new ValidationError([{ field: "cursor", detail: "Is not a cursor this API issued." }]);
  }
  return id;
}
