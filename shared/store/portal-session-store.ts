import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { PortalSession } from "../domain.ts";
import type { PortalSessionStore } from "../ports.ts";
import type { Capability } from "../roles.ts";
import { type Item, key, type Table, TTL_ATTRIBUTE } from "./table.ts";

/**
 * Portal sessions, one item each, keyed by the SHA-256 of the token (the token is never
 * stored) in a partition of their own beside the workspace's, so the router finds one with a
 * single GetItem and ingest's read of the workspace never loads them. DynamoDB's TTL removes
 * an item after it expires (locally the TTL sweeper does); until then the router refuses it by
 * its expiry.
 */
export class DynamoPortalSessionStore implements PortalSessionStore {
  readonly #table: Table;

  constructor(table: Table) {
    this.#table = table;
  }

  async put(session: PortalSession): Promise<void> {
    await this.#table.client.send(
      new PutCommand({
        TableName: this.#table.name,
        Item: portalSessionToItem(session),
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  async get(workspaceId: string, hash: string): Promise<PortalSession | undefined> {
    const { Item: item } = await this.#table.client.send(
      new GetCommand({
        TableName: this.#table.name,
        Key: key.portalSession(workspaceId, hash),
        // A session is used the moment the CRM has it: read what was just written.
        ConsistentRead: true,
      }),
    );
    return item ? itemToPortalSession(workspaceId, item) : undefined;
  }

  async revoke(workspaceId: string, id: string): Promise<boolean> {
    // Items are keyed by the token's hash: find the one with this id in the workspace's
    // sessions (only the live ones and those TTL has not removed yet), then delete it.
    const { pk } = key.portalSession(workspaceId, "");
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#table.client.send(
        new QueryCommand({
          TableName: this.#table.name,
          KeyConditionExpression: "pk = :pk",
          FilterExpression: "id = :id",
          ExpressionAttributeValues: { ":pk": pk, ":id": id },
          ProjectionExpression: "pk, sk",
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      const found = page.Items?.[0];
      if (found) {
        await this.#table.client.send(
          new DeleteCommand({ TableName: this.#table.name, Key: { pk: found.pk, sk: found.sk } }),
        );
        return true;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return false;
  }
}

export function portalSessionToItem(session: PortalSession): Item {
  return {
    ...key.portalSession(session.workspaceId, session.hash),
    type: "portal-session",
    id: session.id,
    capabilities: session.capabilities,
    ...(session.subscriptionIds ? { subscriptionIds: session.subscriptionIds } : {}),
    createdAt: session.createdAt,
    [TTL_ATTRIBUTE]: Math.ceil(Date.parse(session.expiresAt) / 1000),
  };
}

export function itemToPortalSession(workspaceId: string, item: Item): PortalSession {
  return {
    id: item.id as string,
    workspaceId,
    hash: (item.sk as string).slice("SESSION#".length),
    capabilities: item.capabilities as Capability[],
    subscriptionIds: (item.subscriptionIds as string[] | undefined) ?? null,
    createdAt: item.createdAt as string,
    expiresAt: new Date((item[TTL_ATTRIBUTE] as number) * 1000).toISOString(),
  };
}
