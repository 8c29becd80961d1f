import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { ApiKey, Subscription } from "../domain.ts";
import { apiKeyToItem, itemToApiKey, itemToSubscription, subscriptionToItem } from "./items.ts";
import { type Item, KEY_PREFIX, key, SUBSCRIPTION_PREFIX, type Table } from "./table.ts";

export interface WorkspaceSnapshot {
  keys: ApiKey[];
  subscriptions: Subscription[];
}

/** Keys and subscriptions: the small, hot partition of each workspace. */
export interface WorkspaceStore {
  /** Everything in the workspace partition, in one consistent read (the ingest path). */
  load(workspaceId: string): Promise<WorkspaceSnapshot>;
  getKey(workspaceId: string, hash: string): Promise<ApiKey | undefined>;
  listKeys(workspaceId: string): Promise<ApiKey[]>;
  /** Creates the key; false if a key with that hash already exists. */
  putKey(apiKey: ApiKey): Promise<boolean>;
  revokeKey(workspaceId: string, keyId: string, at: string): Promise<ApiKey | undefined>;
  listSubscriptions(workspaceId: string): Promise<Subscription[]>;
  getSubscription(workspaceId: string, id: string): Promise<Subscription | undefined>;
  createSubscription(subscription: Subscription): Promise<void>;
  /** Replaces the subscription if nobody else changed it since `previousUpdatedAt`. */
  replaceSubscription(subscription: Subscription, previousUpdatedAt: string): Promise<boolean>;
  deleteSubscription(workspaceId: string, id: string): Promise<boolean>;
}

/**
 * An endpoint's health, as the deliver function keeps it: written only when it changes (first
 * failure, first success after failing, disabling), so a healthy endpoint costs nothing.
 */
export interface SubscriptionHealth {
  /** The first failure after a success: remember since when (a no-op if already failing). */
  markFailing(workspaceId: string, id: string, since: string): Promise<void>;
  /** A success after failing: failing no more. */
  markHealthy(workspaceId: string, id: string): Promise<void>;
  /** Disables a subscription still failing since `failingSince`; false if that changed. */
  disableFailing(
    workspaceId: string,
    id: string,
    failingSince: string,
    reason: string,
    at: string,
  ): Promise<boolean>;
}

export class DynamoWorkspaceStore implements WorkspaceStore, SubscriptionHealth {
  readonly #table: Table;

  constructor(table: Table) {
    this.#table = table;
  }

  async load(workspaceId: string): Promise<WorkspaceSnapshot> {
    const items = await this.#query(workspaceId);
    return {
      keys: items
        .filter((item) => (item.sk as string).startsWith(KEY_PREFIX))
        .map((item) => itemToApiKey(workspaceId, item)),
      subscriptions: items
        .filter((item) => (item.sk as string).startsWith(SUBSCRIPTION_PREFIX))
        .map((item) => itemToSubscription(workspaceId, item)),
    };
  }

  async getKey(workspaceId: string, hash: string): Promise<ApiKey | undefined> {
    const { Item: item } = await this.#table.client.send(
      new GetCommand({
        TableName: this.#table.name,
        Key: { pk: key.workspace(workspaceId), sk: key.apiKey(hash) },
        ConsistentRead: true,
      }),
    );
    return item ? itemToApiKey(workspaceId, item) : undefined;
  }

  async listKeys(workspaceId: string): Promise<ApiKey[]> {
    const items = await this.#query(workspaceId, KEY_PREFIX);
    return items.map((item) => itemToApiKey(workspaceId, item));
  }

  async putKey(apiKey: ApiKey): Promise<boolean> {
    return this.#conditional(
      new PutCommand({
        TableName: this.#table.name,
        Item: apiKeyToItem(apiKey),
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  async revokeKey(workspaceId: string, keyId: string, at: string): Promise<ApiKey | undefined> {
    const found = (await this.listKeys(workspaceId)).find((candidate) => candidate.id === keyId);
    if (!found) return undefined;
    if (found.revokedAt) return found;
    await this.#table.client.send(
      new UpdateCommand({
        TableName: this.#table.name,
        Key: { pk: key.workspace(workspaceId), sk: key.apiKey(found.hash) },
        UpdateExpression: "SET revokedAt = :at",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":at": at },
      }),
    );
    return { ...found, revokedAt: at };
  }

  async listSubscriptions(workspaceId: string): Promise<Subscription[]> {
    const items = await this.#query(workspaceId, SUBSCRIPTION_PREFIX);
    return items.map((item) => itemToSubscription(workspaceId, item));
  }

  async getSubscription(workspaceId: string, id: string): Promise<Subscription | undefined> {
    const { Item: item } = await this.#table.client.send(
      new GetCommand({
        TableName: this.#table.name,
        Key: { pk: key.workspace(workspaceId), sk: key.subscription(id) },
        ConsistentRead: true,
      }),
    );
    return item ? itemToSubscription(workspaceId, item) : undefined;
  }

  async createSubscription(subscription: Subscription): Promise<void> {
    await this.#table.client.send(
      new PutCommand({
        TableName: this.#table.name,
        Item: subscriptionToItem(subscription),
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  async replaceSubscription(subscription: Subscription, previousUpdatedAt: string) {
    return this.#conditional(
      new PutCommand({
        TableName: this.#table.name,
        Item: subscriptionToItem(subscription),
        ConditionExpression: "attribute_exists(pk) AND updatedAt = :previous",
        ExpressionAttributeValues: { ":previous": previousUpdatedAt },
      }),
    );
  }

  async deleteSubscription(workspaceId: string, id: string): Promise<boolean> {
    return this.#conditional(
      new DeleteCommand({
        TableName: this.#table.name,
        Key: { pk: key.workspace(workspaceId), sk: key.subscription(id) },
        ConditionExpression: "attribute_exists(pk)",
      }),
    );
  }

  async markFailing(workspaceId: string, id: string, since: string): Promise<void> {
    await this.#health(
      workspaceId,
      id,
      "SET failingSince = :since",
      "attribute_not_exists(failingSince)",
      {
        ":since": since,
      },
    );
  }

  async markHealthy(workspaceId: string, id: string): Promise<void> {
    await this.#health(
      workspaceId,
      id,
      "REMOVE failingSince",
      "attribute_exists(failingSince)",
      {},
    );
  }

  async disableFailing(
    workspaceId: string,
    id: string,
    failingSince: string,
    reason: string,
    at: string,
  ) {
    return this.#health(
      workspaceId,
      id,
      "SET enabled = :off, disabledReason = :reason, disabledAt = :at",
      "enabled = :on AND failingSince = :since",
      { ":off": false, ":on": true, ":reason": reason, ":at": at, ":since": failingSince },
    );
  }

  /** A conditional update of a subscription's health; a failed condition means "no change". */
  async #health(
    workspaceId: string,
    id: string,
    update: string,
    condition: string,
    values: Record<string, unknown>,
  ): Promise<boolean> {
    try {
      await this.#table.client.send(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: { pk: key.workspace(workspaceId), sk: key.subscription(id) },
          UpdateExpression: update,
          ConditionExpression: `attribute_exists(pk) AND ${condition}`,
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async #query(workspaceId: string, prefix?: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#table.client.send(
        new QueryCommand({
          TableName: this.#table.name,
          KeyConditionExpression: prefix ? "pk = :pk AND begins_with(sk, :prefix)" : "pk = :pk",
          ExpressionAttributeValues: {
            ":pk": key.workspace(workspaceId),
            ...(prefix ? { ":prefix": prefix } : {}),
          },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** Runs a conditional write; a failed condition is an answer (false), not an error. */
  async #conditional(command: PutCommand | DeleteCommand): Promise<boolean> {
    try {
      await this.#table.client.send(command as PutCommand);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

export const isConditionFailure = (error: unknown): boolean =>
  (error as { name?: string }).name === "ConditionalCheckFailedException";
