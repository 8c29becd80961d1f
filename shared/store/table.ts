import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * Single-table layout (docs/data-model.md explains the costs behind it):
 *
 * | item          | pk                    | sk              |
 * |---------------|-----------------------|-----------------|
 * | API key       | WS#<ws>               | KEY#<sha256>    |
 * | subscription  | WS#<ws>               | SUB#<id>        |
 * | event         | WS#<ws>#EVT#<eventId> | EVENT           |
 * | fan-out done  | WS#<ws>#EVT#<eventId> | FANOUT          |
 * | delivery      | WS#<ws>#DLV           | <deliveryId>    |
 *
 * Every key starts with the workspace, so no query can reach across workspaces. One sparse
 * index, `dead-letters` (dlqPk = WS#<ws>#DEAD, dlqSk = <deliveryId>), holds only deliveries
 * that failed or are being resent: a first-try success never writes to it, so it costs the
 * delivery path nothing.
 */
export const key = {
  workspace: (workspaceId: string) => `WS#${workspaceId}`,
  apiKey: (hash: string) => `KEY#${hash}`,
  subscription: (id: string) => `SUB#${id}`,
  event: (workspaceId: string, eventId: string) => `WS#${workspaceId}#EVT#${eventId}`,
  deliveries: (workspaceId: string) => `WS#${workspaceId}#DLV`,
  deadLetters: (workspaceId: string) => `WS#${workspaceId}#DEAD`,
} as const;

export const DEAD_LETTER_INDEX = "dead-letters";
/** Attributes the dead-letter index carries besides its keys. */
export const DEAD_LETTER_PROJECTION = [
  "subscriptionId",
  "event",
  "status",
  "generation",
  "failedAt",
  "pendingSince",
];

export const EVENT_SK = "EVENT";
export const FANOUT_SK = "FANOUT";
export const KEY_PREFIX = "KEY#";
export const SUBSCRIPTION_PREFIX = "SUB#";

/** The attribute DynamoDB's TTL deletes expired items by (epoch seconds). */
export const TTL_ATTRIBUTE = "expiresAt";

export interface Table {
  client: DynamoDBDocumentClient;
  name: string;
}

export type Item = Record<string, unknown>;
