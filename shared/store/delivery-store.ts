import {
  BatchGetCommand,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { backoffMs, sleep } from "../aws.ts";
import type { EventName } from "../catalog.ts";
import type {
  Attempt,
  DeadLetter,
  Delivery,
  DeliveryStatus,
  StoredEvent,
  Subscription,
} from "../domain.ts";
import {
  attemptToItem,
  itemToDeadLetter,
  itemToDelivery,
  itemToEvent,
  itemToSubscription,
} from "./items.ts";
import { DEAD_LETTER_INDEX, EVENT_SK, type Item, key, type Table, TTL_ATTRIBUTE } from "./table.ts";
import { isConditionFailure } from "./workspace-store.ts";

export interface DeliveryRef {
  workspaceId: string;
  deliveryId: string;
  eventId: string;
  subscriptionId: string;
  /**
   * Read the delivery's record as well. Not needed for a first-generation message on its first
   * receive, which normally has no record yet: skipping it saves a read unit per delivery (a
   * consistent read of a missing item still costs one).
   */
  withRecord: boolean;
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
  /** The queue message that made this attempt: it owns the run from now on. */
  owner: string;
  now: string;
  expiresAt: number;
}

/** Moves a delivery to a new generation, claimed by a resend (status `pending`). */
export interface PendingClaim {
  workspaceId: string;
  deliveryId: string;
  eventId: string;
  event: EventName;
  subscriptionId: string;
  /** The generation the caller saw; undefined when it saw no record at all. */
  fromGeneration: number | undefined;
  toGeneration: number;
  /** Attempts to drop from the stored history (indices), so the item stays bounded. */
  trimAttempts: readonly number[];
  now: string;
  expiresAt: number;
}

export interface DeliveryFilter {
  status?: DeliveryStatus | readonly DeliveryStatus[] | undefined;
  subscriptionId?: string | undefined;
  event?: EventName | undefined;
  /** Only deliveries whose ids (that is, event acceptance times) fall in [from, to]. */
  idRange?: { from: string; to: string } | undefined;
}

export interface DeliveryPage {
  items: Delivery[];
  /** The id of the last delivery returned, when there may be more. */
  next?: string | undefined;
}

export interface DeadLetterPage {
  items: DeadLetter[];
  next?: string | undefined;
}

export interface DeliveryStore {
  loadContext(refs: readonly DeliveryRef[]): Promise<DeliveryContext>;
  /** Delivery records by id, in one BatchGetItem per hundred. Keys: `<ws>/<id>`. */
  getMany(
    refs: ReadonlyArray<{ workspaceId: string; deliveryId: string }>,
  ): Promise<Map<string, Delivery>>;
  /** Appends an attempt; "stale" when a resend has moved the delivery to a newer generation. */
  recordAttempt(record: AttemptRecord): Promise<"recorded" | "stale">;
  /** Claims the delivery for a resend; false if its generation moved since the caller looked. */
  claimForResend(claim: PendingClaim): Promise<boolean>;
  /** Gives a claim up at once (the resend could not queue its message). */
  releaseClaim(workspaceId: string, deliveryId: string, generation: number): Promise<void>;
  get(workspaceId: string, deliveryId: string): Promise<Delivery | undefined>;
  /** Newest first, starting after `after` (a delivery id). */
  list(
    workspaceId: string,
    filter: DeliveryFilter,
    limit: number,
    after?: string,
  ): Promise<DeliveryPage>;
  /** The workspace's dead letters, oldest event first. */
  listDeadLetters(
    workspaceId: string,
    filter: Pick<DeliveryFilter, "subscriptionId" | "event">,
    limit: number,
    after?: string,
  ): Promise<DeadLetterPage>;
}

const BATCH_GET_LIMIT = 100;
const BATCH_GET_TRIES = 6;
/** A filtered list reads at most this many deliveries per request, then hands back a cursor. */
const LIST_SCAN_BUDGET = 1000;
const EPOCH = "1970-01-01T00:00:00.000Z";

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
        { pk: key.event(ws, ref.eventId), sk: EVENT_SK },
        ...(ref.withRecord ? [{ pk: key.deliveries(ws), sk: ref.deliveryId }] : []),
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
      const ws = workspaceOf(item);
      const sk = item.sk as string;
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

  async getMany(refs: ReadonlyArray<{ workspaceId: string; deliveryId: string }>) {
    const keys = new Map(
      refs.map((ref) => [
        contextKey(ref.workspaceId, ref.deliveryId),
        { pk: key.deliveries(ref.workspaceId), sk: ref.deliveryId },
      ]),
    );
    const found = new Map<string, Delivery>();
    for (const item of await this.#batchGet([...keys.values()])) {
      const delivery = itemToDelivery(workspaceOf(item), item);
      found.set(contextKey(delivery.workspaceId, delivery.id), delivery);
    }
    return found;
  }

  async recordAttempt(record: AttemptRecord): Promise<"recorded" | "stale"> {
    const { attempt } = record;
    const update = new Update()
      .set("#status = :status", { ":status": record.status })
      .set("attempts = list_append(if_not_exists(attempts, :none), :attempt)", {
        ":none": [],
        ":attempt": [attemptToItem(attempt)],
      })
      .set("attemptCount = if_not_exists(attemptCount, :zero) + :one", { ":zero": 0, ":one": 1 })
      .set("generation = :g", { ":g": record.generation })
      .set("eventId = :eventId", { ":eventId": record.eventId })
      .set("#event = :event", { ":event": record.event })
      .set("subscriptionId = :subscriptionId", { ":subscriptionId": record.subscriptionId })
      .set("#owner = :owner", { ":owner": record.owner })
      .set("createdAt = if_not_exists(createdAt, :now)", { ":now": record.now })
      .set("updatedAt = :now")
      .set(`${TTL_ATTRIBUTE} = :expiresAt`, { ":expiresAt": record.expiresAt })
      .optional("nextAttemptAt", attempt.nextAttemptAt)
      .optional("lastError", record.lastError)
      .optional("lastStatusCode", attempt.statusCode)
      .remove("pendingSince");
    if (record.status === "failed") {
      // Into the workspace's dead-letter index.
      update.set("dlqPk = :dlqPk, dlqSk = :dlqSk, failedAt = :now", {
        ":dlqPk": key.deadLetters(record.workspaceId),
        ":dlqSk": record.deliveryId,
      });
    } else {
      update.remove("dlqPk", "dlqSk", "failedAt");
    }
    try {
      await this.#table.client.send(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: { pk: key.deliveries(record.workspaceId), sk: record.deliveryId },
          // A message may carry a newer generation than the record (a resend whose claim
          // was never written); never one older.
          ConditionExpression: "attribute_not_exists(pk) OR generation <= :g",
          ...update.build(),
        }),
      );
      return "recorded";
    } catch (error) {
      if (isConditionFailure(error)) return "stale";
      throw error;
    }
  }

  async claimForResend(claim: PendingClaim): Promise<boolean> {
    const update = new Update()
      .set("generation = :next, #status = :pending, pendingSince = :now, updatedAt = :now", {
        ":next": claim.toGeneration,
        ":pending": "pending",
        ":now": claim.now,
      })
      .set("dlqPk = :dlqPk, dlqSk = :dlqSk", {
        ":dlqPk": key.deadLetters(claim.workspaceId),
        ":dlqSk": claim.deliveryId,
      })
      .set("eventId = if_not_exists(eventId, :eventId)", { ":eventId": claim.eventId })
      .set("#event = if_not_exists(#event, :event)", { ":event": claim.event })
      .set("subscriptionId = if_not_exists(subscriptionId, :sub)", { ":sub": claim.subscriptionId })
      .set("createdAt = if_not_exists(createdAt, :now)")
      .set("attempts = if_not_exists(attempts, :none)", { ":none": [] })
      .set("attemptCount = if_not_exists(attemptCount, :zero)", { ":zero": 0 })
      .set(`${TTL_ATTRIBUTE} = :expiresAt`, { ":expiresAt": claim.expiresAt })
      .remove(
        "nextAttemptAt",
        "failedAt",
        "#owner",
        ...claim.trimAttempts.map((index) => `attempts[${index}]`),
      );
    const condition =
      claim.fromGeneration === undefined ? "attribute_not_exists(pk)" : "generation = :from";
    try {
      await this.#table.client.send(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: { pk: key.deliveries(claim.workspaceId), sk: claim.deliveryId },
          ConditionExpression: condition,
          ...update.build(
            claim.fromGeneration === undefined ? {} : { ":from": claim.fromGeneration },
          ),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async releaseClaim(workspaceId: string, deliveryId: string, generation: number) {
    try {
      await this.#table.client.send(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: { pk: key.deliveries(workspaceId), sk: deliveryId },
          UpdateExpression: "SET pendingSince = :epoch",
          ConditionExpression: "generation = :g AND #status = :pending",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":epoch": EPOCH, ":g": generation, ":pending": "pending" },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
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
    const base = { pk: key.deliveries(workspaceId) };
    const page = await this.#filteredQuery(
      {
        KeyConditionExpression: filter.idRange
          ? "pk = :pk AND sk BETWEEN :from AND :to"
          : "pk = :pk",
        ExpressionAttributeValues: {
          ":pk": base.pk,
          ...(filter.idRange ? { ":from": filter.idRange.from, ":to": filter.idRange.to } : {}),
        },
        ScanIndexForward: false,
        ExclusiveStartKey: after ? { ...base, sk: after } : undefined,
        ConsistentRead: true,
      },
      filter,
      limit,
    );
    return {
      items: page.items.map((item) => itemToDelivery(workspaceId, item)),
      next: page.next?.sk as string | undefined,
    };
  }

  async listDeadLetters(
    workspaceId: string,
    filter: Pick<DeliveryFilter, "subscriptionId" | "event">,
    limit: number,
    after?: string,
  ): Promise<DeadLetterPage> {
    const dlqPk = key.deadLetters(workspaceId);
    const page = await this.#filteredQuery(
      {
        IndexName: DEAD_LETTER_INDEX,
        KeyConditionExpression: "dlqPk = :dlqPk",
        ExpressionAttributeValues: { ":dlqPk": dlqPk },
        ScanIndexForward: true,
        ExclusiveStartKey: after
          ? { dlqPk, dlqSk: after, pk: key.deliveries(workspaceId), sk: after }
          : undefined,
      },
      filter,
      limit,
    );
    return { items: page.items.map(itemToDeadLetter), next: page.next?.sk as string | undefined };
  }

  /**
   * Runs a query with optional filters until `limit` items match or the scan budget is spent.
   * DynamoDB applies `Limit` before filters, so a filtered page can come back short or empty.
   */
  async #filteredQuery(
    input: Omit<QueryCommandInput, "TableName">,
    filter: Pick<DeliveryFilter, "status" | "subscriptionId" | "event">,
    limit: number,
  ): Promise<{ items: Item[]; next?: Item | undefined }> {
    const conditions: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ...input.ExpressionAttributeValues };
    const match = (attribute: string, value: string | readonly string[] | undefined) => {
      if (value === undefined) return;
      const options = typeof value === "string" ? [value] : value;
      names[`#${attribute}`] = attribute;
      const placeholders = options.map((option, index) => {
        values[`:${attribute}${index}`] = option;
        return `:${attribute}${index}`;
      });
      conditions.push(`#${attribute} IN (${placeholders.join(", ")})`);
    };
    match("status", filter.status);
    match("subscriptionId", filter.subscriptionId);
    match("event", filter.event);

    const items: Item[] = [];
    let start = input.ExclusiveStartKey;
    let scanned = 0;
    while (items.length < limit && scanned < LIST_SCAN_BUDGET) {
      const page = await this.#table.client.send(
        new QueryCommand({
          ...input,
          TableName: this.#table.name,
          FilterExpression: conditions.length ? conditions.join(" AND ") : undefined,
          ExpressionAttributeNames: conditions.length ? names : undefined,
          ExpressionAttributeValues: values,
          ExclusiveStartKey: start,
          Limit: conditions.length
            ? Math.min(LIST_SCAN_BUDGET - scanned, 200)
            : limit - items.length,
        }),
      );
      scanned += page.ScannedCount ?? 0;
      for (const item of page.Items ?? []) {
        // Full with matches left in this page: continue right after the last one handed out.
        if (items.length === limit) return { items, next: items.at(-1) };
        items.push(item);
      }
      start = page.LastEvaluatedKey;
      if (!start) return { items };
    }
    // Full, or out of scan budget: the cursor is where reading stopped.
    return { items, next: start ?? items.at(-1) };
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

/** `WS#<ws>…` → `<ws>` */
const workspaceOf = (item: Item): string => (item.pk as string).slice(3).split("#")[0] as string;

/** Builds an UpdateExpression from SET and REMOVE clauses and their placeholders. */
class Update {
  readonly #set: string[] = [];
  readonly #remove: string[] = [];
  readonly #values: Record<string, unknown> = {};
  readonly #names: Record<string, string> = {
    "#status": "status",
    "#event": "event",
    "#owner": "owner",
  };

  set(clause: string, values: Record<string, unknown> = {}): this {
    this.#set.push(clause);
    Object.assign(this.#values, values);
    return this;
  }

  /** SET the attribute when there is a value, REMOVE it otherwise. */
  optional(name: string, value: unknown): this {
    return value === undefined
      ? this.remove(name)
      : this.set(`${name} = :${name}`, { [`:${name}`]: value });
  }

  remove(...names: string[]): this {
    this.#remove.push(...names);
    return this;
  }

  build(extraValues: Record<string, unknown> = {}) {
    const expression = [
      this.#set.length ? `SET ${this.#set.join(", ")}` : "",
      this.#remove.length ? `REMOVE ${this.#remove.join(", ")}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    const names = Object.entries(this.#names).filter(([name]) => expression.includes(name));
    return {
      UpdateExpression: expression,
      ...(names.length ? { ExpressionAttributeNames: Object.fromEntries(names) } : {}),
      ExpressionAttributeValues: { ...this.#values, ...extraValues },
    };
  }
}
