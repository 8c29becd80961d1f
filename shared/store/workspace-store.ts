import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { ApiKey, EndpointHealth, Subscription } from "../domain.ts";
import type { SubscriptionChanges, SubscriptionHealth, WorkspaceStore } from "../ports.ts";
import { apiKeyToItem, itemToApiKey, itemToSubscription, subscriptionToItem } from "./items.ts";
import {
  type Item,
  isConditionFailure,
  KEY_PREFIX,
  key,
  SUBSCRIPTION_PREFIX,
  type Table,
} from "./table.ts";

/** The health fields, all removed when an endpoint recovers or an admin enables it again. */
const HEALTH_FIELDS = ["failingSince", "lastFailureAt", "recentFailures", "recentSince"];

/** Keys and subscriptions: the small, hot partition of each workspace. */
export class DynamoWorkspaceStore implements WorkspaceStore, SubscriptionHealth {
  readonly #table: Table;

  constructor(table: Table) {
    this.#table = table;
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

  async updateSubscription(
    workspaceId: string,
    id: string,
    changes: SubscriptionChanges,
    updatedAt: string,
    previousUpdatedAt: string,
  ): Promise<boolean> {
    // Only the fields the admin changed: the endpoint's health, written by the deliver
    // function meanwhile, is never overwritten with what this caller read.
    const { resetHealth, ...fields } = changes;
    const stored = subscriptionToItem({
      ...(fields as Subscription),
      workspaceId,
      id,
      previousSecrets: fields.previousSecrets ?? [],
    });
    const set: string[] = ["updatedAt = :updatedAt"];
    const remove: string[] = resetHealth ? [...HEALTH_FIELDS] : [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {
      ":updatedAt": updatedAt,
      ":previous": previousUpdatedAt,
    };
    const columns: Record<keyof typeof fields, string[]> = {
      url: ["url"],
      events: ["events"],
      enabled: ["enabled"],
      description: ["description"],
      secret: ["secret", "secretKind"],
      previousSecrets: ["previousSecrets"],
      disabledReason: ["disabledReason"],
      disabledAt: ["disabledAt"],
    };
    for (const field of Object.keys(fields) as Array<keyof typeof fields>) {
      for (const column of columns[field]) {
        names[`#${column}`] = column;
        const value = stored[column];
        if (value === undefined) remove.push(`#${column}`);
        else {
          set.push(`#${column} = :${column}`);
          values[`:${column}`] = value;
        }
      }
    }
    return this.#conditional(
      new UpdateCommand({
        TableName: this.#table.name,
        Key: { pk: key.workspace(workspaceId), sk: key.subscription(id) },
        UpdateExpression: `SET ${set.join(", ")}${remove.length ? ` REMOVE ${remove.join(", ")}` : ""}`,
        ConditionExpression: "attribute_exists(pk) AND updatedAt = :previous",
        ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: values,
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

  async markFailing(workspaceId: string, id: string, at: string): Promise<boolean> {
    return this.#health(
      workspaceId,
      id,
      "SET failingSince = :at, lastFailureAt = :at, recentFailures = :one, recentSince = :at",
      "attribute_not_exists(failingSince)",
      { ":at": at, ":one": 1 },
    );
  }

  async countFailure(
    workspaceId: string,
    id: string,
    health: Required<Pick<EndpointHealth, "recentFailures" | "recentSince">>,
    at: string,
    countedBefore: string,
  ): Promise<boolean> {
    return this.#health(
      workspaceId,
      id,
      "SET lastFailureAt = :at, recentFailures = :n, recentSince = :since",
      "attribute_exists(failingSince) AND (attribute_not_exists(lastFailureAt) OR lastFailureAt < :before)",
      {
        ":at": at,
        ":n": health.recentFailures,
        ":since": health.recentSince,
        ":before": countedBefore,
      },
    );
  }

  async markHealthy(workspaceId: string, id: string): Promise<boolean> {
    return this.#health(
      workspaceId,
      id,
      `REMOVE ${HEALTH_FIELDS.join(", ")}`,
      "attribute_exists(failingSince)",
      {},
    );
  }

  async markSlow(
    workspaceId: string,
    id: string,
    until: string,
    refreshAfter: string,
  ): Promise<boolean> {
    return this.#health(
      workspaceId,
      id,
      "SET slowUntil = :until",
      "(attribute_not_exists(slowUntil) OR slowUntil < :refresh)",
      { ":until": until, ":refresh": refreshAfter },
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

  async disableGone(workspaceId: string, id: string, reason: string, at: string) {
    return this.#health(
      workspaceId,
      id,
      "SET enabled = :off, disabledReason = :reason, disabledAt = :at",
      "enabled = :on",
      { ":off": false, ":on": true, ":reason": reason, ":at": at },
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
    return this.#conditional(
      new UpdateCommand({
        TableName: this.#table.name,
        Key: { pk: key.workspace(workspaceId), sk: key.subscription(id) },
        UpdateExpression: update,
        ConditionExpression: `attribute_exists(pk) AND ${condition}`,
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
      }),
    );
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
  async #conditional(command: PutCommand | DeleteCommand | UpdateCommand): Promise<boolean> {
    try {
      await this.#table.client.send(command as PutCommand);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
