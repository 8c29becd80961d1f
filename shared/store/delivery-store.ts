import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { backoffMs, sleep } from "../aws.ts";
import type { Delivery } from "../domain.ts";
import type { Guard } from "../lifecycle.ts";
import {
  contextKey,
  type DeadLetterSummary,
  type DeliveryContext,
  type DeliveryFilter,
  type DeliveryRef,
  type DeliveryStore,
  type Page,
} from "../ports.ts";
import {
  deliveryToItem,
  fitToBudget,
  itemToDeadLetter,
  itemToDelivery,
  itemToEvent,
  itemToSubscription,
} from "./items.ts";
import {
  DEAD_LETTER_INDEX,
  EVENT_SK,
  type Item,
  isConditionFailure,
  key,
  SHARDS,
  type Table,
  workspaceOf,
} from "./table.ts";

const BATCH_GET_LIMIT = 100;
const BATCH_GET_TRIES = 6;
/** A filtered list reads at most this many deliveries per request, then hands back a cursor. */
const LIST_SCAN_BUDGET = 1000;

/** The condition a write is made under, from the lifecycle's guard. */
export function guardCondition(guard: Guard): {
  ConditionExpression: string;
  ExpressionAttributeValues?: Record<string, unknown>;
} {
  return guard.kind === "absent"
    ? { ConditionExpression: "attribute_not_exists(pk)" }
    : { ConditionExpression: "rev = :rev", ExpressionAttributeValues: { ":rev": guard.rev } };
}

export class DynamoDeliveryStore implements DeliveryStore {
  readonly #table: Table;
  readonly #retentionSeconds: number;

  constructor(table: Table, options: { retentionSeconds: number }) {
    this.#table = table;
    this.#retentionSeconds = options.retentionSeconds;
  }

  async loadContext(refs: readonly DeliveryRef[]): Promise<DeliveryContext> {
    const wanted = new Map<string, Item>();
    for (const ref of refs) {
      const { workspaceId: ws } = ref;
      const keys = [
        ...(ref.withSubscription === false
          ? []
          : [{ pk: key.workspace(ws), sk: key.subscription(ref.subscriptionId) }]),
        { pk: key.event(ws, ref.eventId), sk: EVENT_SK },
        ...(ref.withRecord ? [key.delivery(ws, ref.deliveryId)] : []),
      ];
      for (const k of keys) wanted.set(`${k.pk}|${k.sk}`, k);
    }
    const context: DeliveryContext = {
      subscriptions: new Map(),
      deliveries: new Map(),
      events: new Map(),
    };
    for (const item of await this.#batchGet([...wanted.values()])) {
      const ws = workspaceOf(item.pk as string);
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

  async get(workspaceId: string, deliveryId: string): Promise<Delivery | undefined> {
    const { Item: item } = await this.#table.client.send(
      new GetCommand({
        TableName: this.#table.name,
        Key: key.delivery(workspaceId, deliveryId),
        ConsistentRead: true,
      }),
    );
    return item ? itemToDelivery(workspaceId, item) : undefined;
  }

  async getMany(refs: ReadonlyArray<{ workspaceId: string; deliveryId: string }>) {
    const keys = new Map(
      refs.map((ref) => [
        contextKey(ref.workspaceId, ref.deliveryId),
        key.delivery(ref.workspaceId, ref.deliveryId),
      ]),
    );
    const found = new Map<string, Delivery>();
    for (const item of await this.#batchGet([...keys.values()])) {
      const delivery = itemToDelivery(workspaceOf(item.pk as string), item);
      found.set(contextKey(delivery.workspaceId, delivery.id), delivery);
    }
    return found;
  }

  async put(next: Delivery, guard: Guard): Promise<boolean> {
    const condition = guardCondition(guard);
    try {
      await this.#table.client.send(
        new PutCommand({
          TableName: this.#table.name,
          Item: deliveryToItem(fitToBudget(next), this.#retentionSeconds),
          ...condition,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async list(
    workspaceId: string,
    filter: DeliveryFilter,
    limit: number,
    after?: string,
  ): Promise<Page<Delivery>> {
    const page = await mergeShards(this.#table, {
      partitions: SHARDS.map((shard) => key.deliveries(workspaceId, shard)),
      keys: { pk: "pk", sk: "sk" },
      order: "newest",
      filter,
      range: filter.idRange,
      limit,
      after,
    });
    return { items: page.items.map((item) => itemToDelivery(workspaceId, item)), next: page.next };
  }

  async listDeadLetters(
    workspaceId: string,
    filter: Pick<DeliveryFilter, "subscriptionId" | "event">,
    limit: number,
    after?: string,
  ): Promise<Page<ReturnType<typeof itemToDeadLetter>>> {
    const page = await mergeShards(this.#table, {
      index: DEAD_LETTER_INDEX,
      partitions: SHARDS.map((shard) => key.deadLetters(workspaceId, shard)),
      keys: { pk: "dlqPk", sk: "dlqSk" },
      order: "oldest",
      filter,
      limit,
      after,
    });
    return { items: page.items.map(itemToDeadLetter), next: page.next };
  }

  /**
   * One pass over the dead-letter index: every shard is read from its oldest entry, at most
   * `budget / SHARDS` entries each (DynamoDB's Limit counts entries read, before the filter),
   * keys and `failedAt` only. The count is what that pass matched — exact when every shard was
   * read to its end — and the oldest is the oldest entry among those counted: the workspace's
   * oldest when unfiltered (every shard's first entry is read), the oldest counted otherwise.
   */
  async summarizeDeadLetters(
    workspaceId: string,
    filter: Pick<DeliveryFilter, "subscriptionId" | "event">,
    budget: number,
  ): Promise<DeadLetterSummary> {
    const perShard = Math.max(1, Math.ceil(budget / SHARDS.length));
    const { conditions, names, values } = filterExpression(filter);
    const shards = await Promise.all(
      SHARDS.map(async (shard) => {
        const page = await this.#table.client.send(
          new QueryCommand({
            TableName: this.#table.name,
            IndexName: DEAD_LETTER_INDEX,
            KeyConditionExpression: "dlqPk = :pk",
            FilterExpression: conditions.length ? conditions.join(" AND ") : undefined,
            ProjectionExpression: "#sk, #failedAt",
            ExpressionAttributeNames: { ...names, "#sk": "sk", "#failedAt": "failedAt" },
            ExpressionAttributeValues: { ":pk": key.deadLetters(workspaceId, shard), ...values },
            Limit: perShard,
          }),
        );
        return {
          count: page.Count ?? 0,
          more: page.LastEvaluatedKey !== undefined,
          first: page.Items?.[0],
        };
      }),
    );
    const oldest = shards
      .flatMap((shard) => (shard.first ? [shard.first] : []))
      .reduce<Item | undefined>(
        (least, item) => (!least || (item.sk as string) < (least.sk as string) ? item : least),
        undefined,
      );
    return {
      count: shards.reduce((sum, shard) => sum + shard.count, 0),
      exact: shards.every((shard) => !shard.more),
      oldest: oldest
        ? { id: oldest.sk as string, failedAt: oldest.failedAt as string | undefined }
        : undefined,
    };
  }

  async listUnqueuedClaims(claimedBefore: string, limit: number) {
    const found: Array<{ workspaceId: string; deliveryId: string }> = [];
    for (const shard of SHARDS) {
      if (found.length >= limit) break;
      const page = await this.#table.client.send(
        new QueryCommand({
          TableName: this.#table.name,
          IndexName: DEAD_LETTER_INDEX,
          KeyConditionExpression: "dlqPk = :pk AND dlqSk < :before",
          ExpressionAttributeValues: { ":pk": key.sweep(shard), ":before": claimedBefore },
          Limit: limit - found.length,
        }),
      );
      for (const item of page.Items ?? []) {
        found.push({ workspaceId: workspaceOf(item.pk as string), deliveryId: item.sk as string });
      }
    }
    return found;
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

function filterExpression(
  filter: Pick<DeliveryFilter, "status" | "subscriptionId" | "event" | "test">,
) {
  const conditions: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
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
  if (filter.test !== undefined) {
    // Only test sends carry the attribute (shared/store/items.ts).
    names["#test"] = "test";
    conditions.push(filter.test ? "attribute_exists(#test)" : "attribute_not_exists(#test)");
  }
  return { conditions, names, values };
}

interface MergeOptions {
  index?: string;
  partitions: readonly string[];
  keys: { pk: string; sk: string };
  /** newest: descending sort keys; oldest: ascending. */
  order: "newest" | "oldest";
  filter: Pick<DeliveryFilter, "status" | "subscriptionId" | "event" | "test">;
  range?: { from: string; to: string } | undefined;
  limit: number;
  /** A position from a previous page: continue strictly past it. */
  after?: string | undefined;
}

interface ShardReader {
  pk: string;
  buffer: Item[];
  start?: Record<string, unknown> | undefined;
  /** The sort key this shard has been read up to (everything before it is in the buffer or handed out). */
  reached?: string | undefined;
  done: boolean;
}

/**
 * One ordered list out of many partitions: a k-way merge that reads each shard lazily (a few
 * items at a time, more where the next item must come from), filters in DynamoDB, and stops
 * after `limit` items or LIST_SCAN_BUDGET items read. The cursor it hands back is a position
 * every shard has been read past, so the next page neither repeats nor skips an item.
 */
async function mergeShards(table: Table, options: MergeOptions): Promise<Page<Item>> {
  const { pk, sk } = options.keys;
  const descending = options.order === "newest";
  const before = (a: string, b: string) => (descending ? a > b : a < b);
  const { conditions, names, values } = filterExpression(options.filter);
  const filtered = conditions.length > 0;
  let scanned = 0;

  // The sort key range, as one key condition: past the cursor, within the id range.
  let low = options.range?.from;
  let high = options.range?.to;
  let exclude: string | undefined;
  if (options.after !== undefined) {
    exclude = options.after;
    if (descending) high = high === undefined || options.after < high ? options.after : high;
    else low = low === undefined || options.after > low ? options.after : low;
  }
  const condition =
    low !== undefined && high !== undefined
      ? `${pk} = :pk AND ${sk} BETWEEN :low AND :high`
      : low !== undefined
        ? `${pk} = :pk AND ${sk} >= :low`
        : high !== undefined
          ? `${pk} = :pk AND ${sk} <= :high`
          : `${pk} = :pk`;
  if (low !== undefined && high !== undefined && low > high) return { items: [] };

  const readers: ShardReader[] = options.partitions.map((partition) => ({
    pk: partition,
    buffer: [],
    done: false,
  }));
  // Filtered: the first round across every shard stays within the scan budget.
  const pageSize = filtered
    ? Math.max(2, Math.floor(LIST_SCAN_BUDGET / options.partitions.length))
    : Math.max(2, Math.ceil((options.limit + 1) / options.partitions.length) + 1);

  async function refill(reader: ShardReader): Promise<void> {
    const input: QueryCommandInput = {
      TableName: table.name,
      IndexName: options.index,
      KeyConditionExpression: condition,
      FilterExpression: filtered ? conditions.join(" AND ") : undefined,
      ExpressionAttributeNames: filtered ? names : undefined,
      ExpressionAttributeValues: {
        ":pk": reader.pk,
        ...(low !== undefined ? { ":low": low } : {}),
        ...(high !== undefined ? { ":high": high } : {}),
        ...values,
      },
      ScanIndexForward: !descending,
      ExclusiveStartKey: reader.start,
      Limit: pageSize,
      ConsistentRead: options.index ? undefined : true,
    };
    const page = await table.client.send(new QueryCommand(input));
    scanned += page.ScannedCount ?? 0;
    for (const item of page.Items ?? []) {
      if (item[sk] !== exclude) reader.buffer.push(item);
    }
    reader.start = page.LastEvaluatedKey;
    reader.reached = (page.LastEvaluatedKey?.[sk] as string | undefined) ?? reader.reached;
    if (!page.LastEvaluatedKey) reader.done = true;
  }

  const items: Item[] = [];
  for (;;) {
    // Every shard that may still hold the next item must have something buffered.
    const empty = readers.filter((reader) => reader.buffer.length === 0 && !reader.done);
    if (empty.length > 0 && scanned >= LIST_SCAN_BUDGET) {
      // Out of budget: every shard not read to its end is known up to where it was read to,
      // whether or not it still holds items, so everything up to the least advanced of them is
      // known: hand that out, and continue from there next time.
      const frontier = readers
        .filter((reader) => !reader.done)
        .map((reader) => reader.reached as string)
        .reduce((least, position) => (before(least, position) ? least : position));
      const safe = readers
        .flatMap((reader) => reader.buffer)
        .filter((item) => !before(frontier, item[sk] as string))
        .sort((a, b) => (before(a[sk] as string, b[sk] as string) ? -1 : 1));
      for (const item of safe) {
        items.push(item);
        if (items.length === options.limit) return { items, next: item[sk] as string };
      }
      return { items, next: frontier };
    }
    if (empty.length > 0) {
      await Promise.all(empty.map(refill));
      continue;
    }
    let best: ShardReader | undefined;
    for (const reader of readers) {
      const head = reader.buffer[0]?.[sk] as string | undefined;
      if (head === undefined) continue;
      if (!best || before(head, best.buffer[0]?.[sk] as string)) best = reader;
    }
    if (!best) return { items };
    items.push(best.buffer.shift() as Item);
    if (items.length === options.limit) {
      const more = readers.some((reader) => reader.buffer.length > 0 || !reader.done);
      return more ? { items, next: items.at(-1)?.[sk] as string } : { items };
    }
  }
}
