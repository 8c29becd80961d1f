import { BatchGetCommand, GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { backoffMs, sleep } from "../aws.ts";
import type { EventName } from "../catalog.ts";
import type { Attempt, Delivery, DeliveryStatus, StoredEvent, Subscription } from "../domain.ts";
import { attemptToItem, itemToDelivery, itemToEvent, itemToSubscription } from "./items.ts";
import { EVENT_SK, type Item, key, type Table, TTL_ATTRIBUTE } from "./table.ts";
import { isConditionFailure } from "./workspace-store.ts";

export interface DeliveryRef {
  workspaceId: string;
  deliveryId: string;
  eventId: string;
  subscriptionId: string;
}

/** What one batch of deliveries needs, loaded in one BatchGetItem. Keys: `<ws>/<id>`. */
export interface DeliveryContext {
  subscriptions: Map<string, Subscription>;
  deliveries: Map<string, Delivery>;
  events: Map<string, StoredEvent>;
}

export const contextKey = (workspaceId: string, id: string): string => `${workspaceId}/${id}`;

export interface AttemptRecord {
  workspaceId: string;
  deliveryId: string;
  eventId: string;
  event: EventName;
  subscriptionId: string;
  generation: number;
  status: DeliveryStatus;
  attempt: Attempt;
  lastError?: string | undefined;
  now: string;
  expiresAt: number;
}

export interface DeliveryFilter {
  status?: DeliveryStatus | undefined;
  subscriptionId?: string | undefined;
  event?: EventName | undefined;
}

export interface DeliveryPage {
  items: Delivery[];
  /** The id of the last delivery returned, when there may be more. */
  next?: string | undefined;
}

export interface DeliveryStore {
  loadContext(refs: readonly DeliveryRef[]): Promise<DeliveryContext>;
  /** Appends an attempt; "stale" when a resend has moved the delivery to a newer generation. */
  recordAttempt(record: AttemptRecord): Promise<"recorded" | "stale">;
  get(workspaceId: string, deliveryId: string): Promise<Delivery | undefined>;
  /** Newest first, starting after `after` (a delivery id). */
  list(
    workspaceId: string,
    filter: DeliveryFilter,
    limit: number,
    after?: string,
  ): Promise<DeliveryPage>;
}

const BATCH_GET_LIMIT = 100;
const BATCH_GET_TRIES = 6;
/** A filtered list reads at most this many deliveries per request, then hands back a cursor. */
const LIST_SCAN_BUDGET = 1000;

export class DynamoDeliveryStore implements DeliveryStore {
  readonly #table: Table;

  constructor(table: Table) {
    this.#table = table;
  }

  async loadContext(refs: readonly DeliveryRef[]): Promise<DeliveryContext> {
    const wanted = new Map<string, Item>();
    for (const ref of refs) {
      const { workspaceId: ws } = ref;
      const keys = [
        { pk: key.workspace(ws), sk: key.subscription(ref.subscriptionId) },
        { pk: key.deliveries(ws), sk: ref.deliveryId },
        { pk: key.event(ws, ref.eventId), sk: EVENT_SK },
      ];
      for (const k of keys) wanted.set(`${k.pk}|${k.sk}`, k);
    }
    const items = await this.#batchGet([...wanted.values()]);
    const context: DeliveryContext = {
      subscriptions: new Map(),
      deliveries: new Map(),
      events: new Map(),
    };
    for (const item of items) {
      const pk = item.pk as string;
      const sk = item.sk as string;
      const ws = pk.slice(3).split("#")[0] as string;
      if (sk.startsWith("SUB#")) {
        const subscription = itemToSubscription(ws, item);
        context.subscriptions.set(contextKey(ws, subscription.id), subscription);
      } else if (sk === EVENT_SK) {
        const event = itemToEvent(ws, item);
        context.events.set(contextKey(ws, event.id), event);
      } else {
        const delivery = itemToDelivery(ws, item);
        context.deliveries.set(contextKey(ws, delivery.id), delivery);
      }
    }
    return context;
  }

  async recordAttempt(record: AttemptRecord): Promise<"recorded" | "stale"> {
    const { attempt } = record;
    const set = [
      "#status = :status",
      "attempts = list_append(if_not_exists(attempts, :none), :attempt)",
      "attemptCount = if_not_exists(attemptCount, :zero) + :one",
      "generation = if_not_exists(generation, :g)",
      "eventId = :eventId",
      "#event = :event",
      "subscriptionId = :subscriptionId",
      "createdAt = if_not_exists(createdAt, :now)",
      "updatedAt = :now",
      `${TTL_ATTRIBUTE} = :expiresAt`,
    ];
    const remove: string[] = [];
    const values: Record<string, unknown> = {
      ":status": record.status,
      ":none": [],
      ":attempt": [attemptToItem(attempt)],
      ":zero": 0,
      ":one": 1,
      ":g": record.generation,
      ":eventId": record.eventId,
      ":event": record.event,
      ":subscriptionId": record.subscriptionId,
      ":now": record.now,
      ":expiresAt": record.expiresAt,
    };
    optional("nextAttemptAt", attempt.nextAttemptAt);
    optional("lastError", record.lastError);
    optional("lastStatusCode", attempt.statusCode);

    try {
      await this.#table.client.send(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: { pk: key.deliveries(record.workspaceId), sk: record.deliveryId },
          UpdateExpression: `SET ${set.join(", ")}${remove.length ? ` REMOVE ${remove.join(", ")}` : ""}`,
          ConditionExpression: "attribute_not_exists(pk) OR generation = :g",
          ExpressionAttributeNames: { "#status": "status", "#event": "event" },
          ExpressionAttributeValues: values,
        }),
      );
      return "recorded";
    } catch (error) {
      if (isConditionFailure(error)) return "stale";
      throw error;
    }

    function optional(name: string, value: unknown) {
      if (value === undefined) {
        remove.push(name);
      } else {
        set.push(`${name} = :${name}`);
        values[`:${name}`] = value;
      }
    }
  }

  async get(workspaceId: string, deliveryId: string): Promise<Delivery | undefined> {
    const { Item: item } = await this.#table.client.send(
      new GetCommand({
        TableName: this.#table.name,
        Key: { pk: key.deliveries(workspaceId), sk: deliveryId },
        ConsistentRead: true,
      }),
    );
    return item ? itemToDelivery(workspaceId, item) : undefined;
  }

  async list(
    workspaceId: string,
    filter: DeliveryFilter,
    limit: number,
    after?: string,
  ): Promise<DeliveryPage> {
    const conditions: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ":pk": key.deliveries(workspaceId) };
    const match = (attribute: string, value: string | undefined) => {
      if (value === undefined) return;
      conditions.push(`#${attribute} = :${attribute}`);
      names[`#${attribute}`] = attribute;
      values[`:${attribute}`] = value;
    };
    match("status", filter.status);
    match("subscriptionId", filter.subscriptionId);
    match("event", filter.event);

    const items: Delivery[] = [];
    let start: Record<string, unknown> | undefined = after
      ? { pk: key.deliveries(workspaceId), sk: after }
      : undefined;
    let scanned = 0;
    while (items.length < limit && scanned < LIST_SCAN_BUDGET) {
      const page = await this.#table.client.send(
        new QueryCommand({
          TableName: this.#table.name,
          KeyConditionExpression: "pk = :pk",
          FilterExpression: conditions.length ? conditions.join(" AND ") : undefined,
          ExpressionAttributeNames: conditions.length ? names : undefined,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          ExclusiveStartKey: start,
          Limit: conditions.length
            ? Math.min(LIST_SCAN_BUDGET - scanned, 200)
            : limit - items.length,
        }),
      );
      scanned += page.ScannedCount ?? 0;
      for (const item of page.Items ?? []) {
        // Full with matches left in this page: continue right after the last one handed out.
        if (items.length === limit) return { items, next: items.at(-1)?.id };
        items.push(itemToDelivery(workspaceId, item));
      }
      start = page.LastEvaluatedKey;
      if (!start) return { items };
    }
    // Full, or out of scan budget: the cursor is where reading stopped.
    return { items, next: (start?.sk as string | undefined) ?? items.at(-1)?.id };
  }

  /** BatchGetItem in chunks of 100, retrying unprocessed keys with backoff. */
  async #batchGet(keys: Item[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let offset = 0; offset < keys.length; offset += BATCH_GET_LIMIT) {
      let pending: Item[] = keys.slice(offset, offset + BATCH_GET_LIMIT);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt === BATCH_GET_TRIES) {
          throw new Error(`BatchGetItem left ${pending.length} keys unprocessed after retries`);
        }
        if (attempt > 0) await sleep(backoffMs(attempt));
        const result = await this.#table.client.send(
          new BatchGetCommand({
            RequestItems: { [this.#table.name]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        found.push(...(result.Responses?.[this.#table.name] ?? []));
        pending = (result.UnprocessedKeys?.[this.#table.name]?.Keys ?? []) as Item[];
      }
    }
    return found;
  }
}
