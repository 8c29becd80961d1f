import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { ApiKey, EndpointHealth, Subscription } from "../domain.ts";
import type {
  KeyRevocation,
  SubscriptionChanges,
  SubscriptionHealth,
  WorkspaceStore,
} from "../ports.ts";
import { apiKeyToItem, itemToApiKey, itemToSubscription, subscriptionToItem } from "./items.ts";
import { LIMIT_SETS, type LimitSet, type Limits, recount, sameLimits } from "./limits.ts";
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

  /**
   * Creates the key, counted against the workspace's limits first (shared/store/limits.ts):
   * "limit" when it already has `maxActive` active keys, "exists" when the hash is taken.
   */
  async putKey(apiKey: ApiKey, maxActive?: number): Promise<"created" | "exists" | "limit"> {
    const { workspaceId, id } = apiKey;
    const sets: LimitSet[] = apiKey.role === "admin" ? ["keys", "admins"] : ["keys"];
    if (
      !(await this.#reserve(
        workspaceId,
        id,
        sets,
        maxActive === undefined ? undefined : { set: "keys", max: maxActive },
      ))
    ) {
      return "limit";
    }
    let created: boolean;
    try {
      created = await this.#conditional(
        new PutCommand({
          TableName: this.#table.name,
          Item: apiKeyToItem(apiKey),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (error) {
      await this.#release(workspaceId, id, sets).catch(() => {});
      throw error;
    }
    if (!created) await this.#release(workspaceId, id, sets).catch(() => {});
    return created ? "created" : "exists";
  }

  /**
   * Revokes a key at once. Never the workspace's last active admin key, however many revokes
   * run at once: an admin key leaves the limits item's admin set first, on the condition that
   * another stays, and only then is it revoked.
   */
  async revokeKey(
    workspaceId: string,
    keyId: string,
    at: string,
  ): Promise<KeyRevocation | undefined> {
    const found = (await this.listKeys(workspaceId)).find((candidate) => candidate.id === keyId);
    if (!found) return undefined;
    if (found.revokedAt) return { outcome: "already-revoked", key: found };
    const admin = found.role === "admin";
    if (admin && !(await this.#leaveAdmins(workspaceId, keyId))) {
      return { outcome: "last-admin", key: found };
    }
    try {
      await this.#table.client.send(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: { pk: key.workspace(workspaceId), sk: key.apiKey(found.hash) },
          UpdateExpression: "SET revokedAt = if_not_exists(revokedAt, :at)",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: { ":at": at },
        }),
      );
    } catch (error) {
      // Not revoked: it counts again. If this fails too, the key stays out of the admin count
      // (a recount never adds an admin key back): the safe way round, as a later revoke of
      // another admin key may then be refused although this one is still active.
      if (admin) await this.#rejoin(workspaceId, keyId).catch(() => {});
      throw error;
    }
    // An ingest key's place is given back after it is revoked (a failure here holds a place
    // until the next recount: the safe way round).
    if (!admin) await this.#release(workspaceId, keyId, ["keys"]).catch(() => {});
    return { outcome: "revoked", key: { ...found, revokedAt: found.revokedAt ?? at } };
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

  /**
   * Creates the subscription, counted against the workspace's limit first: "limit" when it
   * already has `max` subscriptions (shared/store/limits.ts).
   */
  async createSubscription(subscription: Subscription, max?: number): Promise<"created" | "limit"> {
    const { workspaceId, id } = subscription;
    const limit = max === undefined ? undefined : { set: "subscriptions" as const, max };
    if (!(await this.#reserve(workspaceId, id, ["subscriptions"], limit))) return "limit";
    try {
      await this.#table.client.send(
        new PutCommand({
          TableName: this.#table.name,
          Item: subscriptionToItem(subscription),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (error) {
      await this.#release(workspaceId, id, ["subscriptions"]).catch(() => {});
      throw error;
    }
    return "created";
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
    const deleted = await this.#conditional(
      new DeleteCommand({
        TableName: this.#table.name,
        Key: { pk: key.workspace(workspaceId), sk: key.subscription(id) },
        ConditionExpression: "attribute_exists(pk)",
      }),
    );
    // Its place is given back after it is gone (a failure holds it until the next recount).
    if (deleted) await this.#release(workspaceId, id, ["subscriptions"]).catch(() => {});
    return deleted;
  }

  // ——— Limits (shared/store/limits.ts) ———————————————————————————————————————————————————

  /** The workspace's limits item; undefined for a workspace from before they were kept. */
  async limits(workspaceId: string): Promise<Limits | undefined> {
    const { Item: item } = await this.#table.client.send(
      new GetCommand({
        TableName: this.#table.name,
        Key: key.limits(workspaceId),
        ConsistentRead: true,
      }),
    );
    if (!item) return undefined;
    const set = (name: LimitSet) => new Set((item[name] as Set<string> | undefined) ?? []);
    return {
      rev: (item.rev as number | undefined) ?? 0,
      keys: set("keys"),
      admins: set("admins"),
      subscriptions: set("subscriptions"),
    };
  }

  /**
   * Recounts the limits item from the keys and subscriptions the workspace holds, keeping the
   * creates still in flight (it creates the item for a workspace that has none). Idempotent,
   * and safe beside concurrent requests: it writes only if the item has not changed since it
   * read it. True if it changed anything.
   */
  async repairLimits(workspaceId: string, now = Date.now()): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.limits(workspaceId);
      const [keys, subscriptions] = await Promise.all([
        this.listKeys(workspaceId),
        this.listSubscriptions(workspaceId),
      ]);
      const next = recount(current, { keys, subscriptions }, now);
      if (current && sameLimits(current, next)) return false;
      const sets = Object.fromEntries(
        LIMIT_SETS.filter((name) => next[name].size > 0).map((name) => [name, next[name]]),
      );
      const written = current
        ? await this.#conditional(
            new PutCommand({
              TableName: this.#table.name,
              Item: { ...key.limits(workspaceId), type: "limits", rev: current.rev + 1, ...sets },
              ConditionExpression: "rev = :rev",
              ExpressionAttributeValues: { ":rev": current.rev },
            }),
          )
        : await this.#conditional(
            new PutCommand({
              TableName: this.#table.name,
              Item: { ...key.limits(workspaceId), type: "limits", rev: 0, ...sets },
              ConditionExpression: "attribute_not_exists(pk)",
            }),
          );
      if (written) return true;
    }
    throw new Error(`the limits of workspace ${workspaceId} kept changing while being recounted`);
  }

  /**
   * Counts `id` in `sets`, if `limit.set` holds fewer than `limit.max` ids. When refused (at
   * the limit, or no limits item yet) it recounts once and tries again: a leaked place never
   * refuses for good.
   */
  async #reserve(
    workspaceId: string,
    id: string,
    sets: readonly LimitSet[],
    limit: { set: LimitSet; max: number } | undefined,
  ): Promise<boolean> {
    const names: Record<string, string> = {};
    for (const set of sets) names[`#${set}`] = set;
    const values: Record<string, unknown> = { ":id": new Set([id]), ":one": 1 };
    let condition = "attribute_exists(pk)";
    if (limit) {
      names[`#${limit.set}`] = limit.set;
      values[":max"] = limit.max;
      condition += ` AND (attribute_not_exists(#${limit.set}) OR size(#${limit.set}) < :max)`;
    }
    const reserve = () =>
      this.#conditional(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: key.limits(workspaceId),
          UpdateExpression: `ADD ${sets.map((set) => `#${set} :id`).join(", ")}, rev :one`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    if (await reserve()) return true;
    return (await this.repairLimits(workspaceId)) && (await reserve());
  }

  /** Gives `id`'s places back (nothing to do without a limits item). */
  async #release(workspaceId: string, id: string, sets: readonly LimitSet[]): Promise<void> {
    await this.#conditional(
      new UpdateCommand({
        TableName: this.#table.name,
        Key: key.limits(workspaceId),
        UpdateExpression: `DELETE ${sets.map((set) => `#${set} :id`).join(", ")} ADD rev :one`,
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeNames: Object.fromEntries(sets.map((set) => [`#${set}`, set])),
        ExpressionAttributeValues: { ":id": new Set([id]), ":one": 1 },
      }),
    );
  }

  /**
   * Takes an admin key out of the counted admin keys (and keys) if another admin key stays
   * counted: false when it is the last. One it was not counting (a revoke whose key write
   * failed, and whose compensation failed too) may go if any other is counted.
   */
  async #leaveAdmins(workspaceId: string, keyId: string): Promise<boolean> {
    const leave = () =>
      this.#conditional(
        new UpdateCommand({
          TableName: this.#table.name,
          Key: key.limits(workspaceId),
          UpdateExpression: "DELETE #admins :ids, #keys :ids ADD rev :one",
          ConditionExpression:
            "attribute_exists(pk) AND ((contains(#admins, :id) AND size(#admins) > :one) OR (NOT contains(#admins, :id) AND size(#admins) >= :one))",
          ExpressionAttributeNames: { "#admins": "admins", "#keys": "keys" },
          ExpressionAttributeValues: { ":ids": new Set([keyId]), ":id": keyId, ":one": 1 },
        }),
      );
    if (await leave()) return true;
    return (await this.repairLimits(workspaceId)) && (await leave());
  }

  /** Counts an admin key again (the compensation of a revoke that did not happen). */
  async #rejoin(workspaceId: string, keyId: string): Promise<void> {
    await this.#conditional(
      new UpdateCommand({
        TableName: this.#table.name,
        Key: key.limits(workspaceId),
        UpdateExpression: "ADD #admins :ids, #keys :ids, rev :one",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeNames: { "#admins": "admins", "#keys": "keys" },
        ExpressionAttributeValues: { ":ids": new Set([keyId]), ":one": 1 },
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
