import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { StoredEvent } from "../domain.ts";
import type { EventStore } from "../ports.ts";
import { eventToItem, expiresAt, itemToEvent } from "./items.ts";
import { EVENT_SK, isConditionFailure, key, type Table, TTL_ATTRIBUTE } from "./table.ts";

/** Events: one item each, written once at ingest, kept for the retention period. */
export class DynamoEventStore implements EventStore {
  readonly #table: Table;
  readonly #retentionSeconds: number;

  constructor(table: Table, options: { retentionSeconds: number }) {
    this.#table = table;
    this.#retentionSeconds = options.retentionSeconds;
  }

  async create(event: StoredEvent) {
    try {
      await this.#table.client.send(
        new PutCommand({
          TableName: this.#table.name,
          Item: eventToItem(event, expiresAt(event.receivedAt, this.#retentionSeconds)),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return { created: true } as const;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    // The id was taken: answer with what is stored (an idempotent repeat, or a conflict).
    const existing = await this.get(event.workspaceId, event.id);
    if (!existing) throw new Error(`event ${event.id} vanished while being read`);
    return { created: false, existing } as const;
  }

  async get(workspaceId: string, eventId: string): Promise<StoredEvent | undefined> {
    const { Item: item } = await this.#table.client.send(
      new GetCommand({
        TableName: this.#table.name,
        Key: { pk: key.event(workspaceId, eventId), sk: EVENT_SK },
        ConsistentRead: true,
      }),
    );
    return item ? itemToEvent(workspaceId, item) : undefined;
  }

  async extend(workspaceId: string, eventId: string, now: number): Promise<void> {
    try {
      await this.#table.client.send(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: { pk: key.event(workspaceId, eventId), sk: EVENT_SK },
          UpdateExpression: `SET ${TTL_ATTRIBUTE} = :expiresAt`,
          ConditionExpression: `attribute_exists(pk) AND ${TTL_ATTRIBUTE} < :expiresAt`,
          ExpressionAttributeValues: { ":expiresAt": expiresAt(now, this.#retentionSeconds) },
        }),
      );
    } catch (error) {
      // Already expiring later, or gone: either way there is nothing to extend.
      if (!isConditionFailure(error)) throw error;
    }
  }
}
