import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { StoredEvent } from "../domain.ts";
import { eventToItem, itemToEvent } from "./items.ts";
import { EVENT_SK, FANOUT_SK, key, type Table, TTL_ATTRIBUTE } from "./table.ts";
import { isConditionFailure } from "./workspace-store.ts";

export type CreateEventResult =
  | { created: true }
  | { created: false; existing: StoredEvent; fannedOut: boolean };

export interface EventStore {
  /** Stores the event unless its id is taken; then returns what is stored (idempotency). */
  create(event: StoredEvent, expiresAt: number): Promise<CreateEventResult>;
  /** Records that every target has its queue message (only needed for client-chosen ids). */
  markFannedOut(workspaceId: string, eventId: string, expiresAt: number): Promise<void>;
  get(workspaceId: string, eventId: string): Promise<StoredEvent | undefined>;
  /** Pushes the event's expiry out (a resend must not outlive its payload). */
  extend(workspaceId: string, eventId: string, expiresAt: number): Promise<void>;
}

export class DynamoEventStore implements EventStore {
  readonly #table: Table;

  constructor(table: Table) {
    this.#table = table;
  }

  async create(event: StoredEvent, expiresAt: number): Promise<CreateEventResult> {
    try {
      await this.#table.client.send(
        new PutCommand({
          TableName: this.#table.name,
          Item: eventToItem(event, expiresAt),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return { created: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    // The id was taken: read the event and its fan-out marker together (one query).
    const { Items: items = [] } = await this.#table.client.send(
      new QueryCommand({
        TableName: this.#table.name,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": key.event(event.workspaceId, event.id) },
        ConsistentRead: true,
      }),
    );
    const stored = items.find((item) => item.sk === EVENT_SK);
    if (!stored) throw new Error(`event ${event.id} vanished while being read`);
    return {
      created: false,
      existing: itemToEvent(event.workspaceId, stored),
      fannedOut: items.some((item) => item.sk === FANOUT_SK),
    };
  }

  async markFannedOut(workspaceId: string, eventId: string, expiresAt: number): Promise<void> {
    await this.#table.client.send(
      new PutCommand({
        TableName: this.#table.name,
        Item: { pk: key.event(workspaceId, eventId), sk: FANOUT_SK, [TTL_ATTRIBUTE]: expiresAt },
      }),
    );
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

  async extend(workspaceId: string, eventId: string, expiresAt: number): Promise<void> {
    try {
      await this.#table.client.send(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: { pk: key.event(workspaceId, eventId), sk: EVENT_SK },
          UpdateExpression: `SET ${TTL_ATTRIBUTE} = :expiresAt`,
          ConditionExpression: `attribute_exists(pk) AND ${TTL_ATTRIBUTE} < :expiresAt`,
          ExpressionAttributeValues: { ":expiresAt": expiresAt },
        }),
      );
    } catch (error) {
      // Already expiring later, or gone: either way there is nothing to extend.
      if (!isConditionFailure(error)) throw error;
    }
  }
}
