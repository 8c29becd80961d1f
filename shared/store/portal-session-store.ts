import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
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
