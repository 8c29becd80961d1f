import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * Single-table layout (docs/data-model.md explains the costs behind it):
 *
 * | item          | pk                     | sk             |
 * |---------------|------------------------|----------------|
 * | API key       | WS#<ws>                | KEY#<sha256>   |
 * | subscription  | WS#<ws>                | SUB#<id>       |
 * | event         | WS#<ws>#EVT#<eventId>  | EVENT          |
 * | delivery      | WS#<ws>#DLV#<shard>    | <deliveryId>   |
 * | portal session| WS#<ws>#PORTAL         | SESSION#<sha256>|
 * | limits        | WS#<ws>#LIMITS         | LIMITS         |
 *
 * Every key starts with the workspace, so no query can reach across workspaces. A workspace's
 * deliveries are spread over DELIVERY_SHARDS partitions by a hash of their id, so one busy
 * workspace is not held to one partition's write limit; a list merges the shards, newest first.
 *
 * One sparse index, `dead-letters` (dlqPk, dlqSk), holds only what needs an operator or the
 * sweep: failed deliveries (`WS#<ws>#DEAD#<shard>`, by delivery id) and resend claims whose
 * message is not yet known to be sent (`SWEEP#<shard>`, by claim time). A first-try success
 * never writes to it, so it costs the delivery path nothing.
 */
export const DELIVERY_SHARDS = 32;

/** FNV-1a of the id: cheap, and even enough over ULID-based ids. */
export function shardOf(deliveryId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < deliveryId.length; i++) {
    hash ^= deliveryId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % DELIVERY_SHARDS;
}

const two = (n: number): string => String(n).padStart(2, "0");
export const SHARDS: readonly number[] = Array.from({ length: DELIVERY_SHARDS }, (_, i) => i);

export const key = {
  workspace: (workspaceId: string) => `WS#${workspaceId}`,
  apiKey: (hash: string) => `KEY#${hash}`,
  subscription: (id: string) => `SUB#${id}`,
  event: (workspaceId: string, eventId: string) => `WS#${workspaceId}#EVT#${eventId}`,
  deliveries: (workspaceId: string, shard: number) => `WS#${workspaceId}#DLV#${two(shard)}`,
  delivery: (workspaceId: string, deliveryId: string) => ({
    pk: key.deliveries(workspaceId, shardOf(deliveryId)),
    sk: deliveryId,
  }),
  /** The workspace's limits item: which keys and subscriptions count against its limits. */
  limits: (workspaceId: string) => ({ pk: `WS#${workspaceId}#LIMITS`, sk: "LIMITS" }),
  deadLetters: (workspaceId: string, shard: number) => `WS#${workspaceId}#DEAD#${two(shard)}`,
  sweep: (shard: number) => `SWEEP#${two(shard)}`,
  /** A subscription's delivery statistics, one item per hour. */
  stats: (workspaceId: string, subscriptionId: string) =>
    `WS#${workspaceId}#STATS#${subscriptionId}`,
  /** Outside the `WS#<ws>` partition, so ingest's read of keys and subscriptions never loads them. */
  portalSession: (workspaceId: string, hash: string) => ({
    pk: `WS#${workspaceId}#PORTAL`,
    sk: `SESSION#${hash}`,
  }),
} as const;

/** `WS#<ws>…` → `<ws>` (workspace ids have no `#`). */
export const workspaceOf = (pk: string): string => pk.split("#")[1] ?? "";

export const DEAD_LETTER_INDEX = "dead-letters";
/** Attributes the dead-letter index carries besides its keys. */
export const DEAD_LETTER_PROJECTION = [
  "subscriptionId",
  "event",
  "status",
  "generation",
  "failedAt",
  "reason",
  "lastError",
];

export const EVENT_SK = "EVENT";
export const KEY_PREFIX = "KEY#";
export const SUBSCRIPTION_PREFIX = "SUB#";

/** The attribute DynamoDB's TTL deletes expired items by (epoch seconds). */
export const TTL_ATTRIBUTE = "expiresAt";

export interface Table {
  client: DynamoDBDocumentClient;
  name: string;
}

export type Item = Record<string, unknown>;

export const isConditionFailure = (error: unknown): boolean =>
  (error as { name?: string }).name === "ConditionalCheckFailedException";
