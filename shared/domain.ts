import type { EventName } from "./catalog.ts";
import type { NetworkErrorClass } from "./http/sender.ts";
import type { Role } from "./keys.ts";

export interface ApiKey {
  id: string;
  workspaceId: string;
  /** SHA-256 of the key; the key itself is never stored. */
  hash: string;
  role: Role;
  name: string;
  /** Non-secret prefix for recognising a key in a list (`whk_demo_1a2b…`). */
  hint: string;
  createdAt: string;
  revokedAt?: string | undefined;
}

/** A signing secret as stored: sealed (shared/secrets), never in clear. */
export interface StoredSecret {
  sealed: string;
  /** `whsec` for generated (Standard Webhooks) secrets, `custom` for a user's own: for masking. */
  kind: "whsec" | "custom";
}

/** A replaced secret that still signs deliveries until its grace period ends. */
export interface RotatingSecret extends StoredSecret {
  expiresAt: string;
}

export interface Subscription {
  id: string;
  workspaceId: string;
  url: string;
  events: EventName[];
  enabled: boolean;
  description: string;
  /** Signing secret, or null when deliveries are unsigned. Shown in clear only when set. */
  secret: StoredSecret | null;
  /** Secrets replaced by a rotation, still signing until they expire (newest first). */
  previousSecrets: RotatingSecret[];
  /** Since when every attempt to this endpoint has failed (unset after any success). */
  failingSince?: string | undefined;
  /** Why and when it was last disabled (by an admin, or automatically after failing too long). */
  disabledReason?: string | undefined;
  disabledAt?: string | undefined;
  createdAt: string;
  updatedAt: string;
}

/** A CRM event as accepted: the exact bytes every subscriber receives, and who they are. */
export interface StoredEvent {
  workspaceId: string;
  id: string;
  name: EventName;
  /** `{"event":…,"data":…,"timestamp":…}`: serialized once, signed and sent byte for byte. */
  body: string;
  /** ULID minted at acceptance; delivery ids start with it. */
  seq: string;
  receivedAt: string;
  /** Subscriptions matched at acceptance; the fan-out sends exactly one message to each. */
  targets: string[];
  /** SHA-256 of the request, to refuse an idempotency key reused for a different event. */
  requestHash: string;
}

export type DeliveryStatus = "pending" | "retrying" | "succeeded" | "failed" | "canceled";
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  "pending",
  "retrying",
  "succeeded",
  "failed",
  "canceled",
];

export type AttemptErrorClass =
  | NetworkErrorClass
  | "http_status"
  | "subscription_deleted"
  | "subscription_disabled"
  | "event_expired";

export interface Attempt {
  /** 1-based, counting every attempt this delivery ever had. */
  number: number;
  /** Bumped by each resend: attempts of one run share it. */
  generation: number;
  startedAt: string;
  durationMs: number;
  url: string;
  outcome: "succeeded" | "failed" | "canceled";
  /** Exactly what was sent, minus nothing secret (signatures are not secrets). */
  requestHeaders: Record<string, string>;
  statusCode?: number | undefined;
  responseHeaders?: Record<string, string> | undefined;
  responseBody?: string | undefined;
  responseBodyTruncated?: boolean | undefined;
  errorClass?: AttemptErrorClass | undefined;
  errorMessage?: string | undefined;
  /** When the next attempt is due, if one is scheduled. */
  nextAttemptAt?: string | undefined;
}

export interface Delivery {
  id: string;
  workspaceId: string;
  eventId: string;
  event: EventName;
  subscriptionId: string;
  status: DeliveryStatus;
  generation: number;
  attemptCount: number;
  attempts: Attempt[];
  createdAt: string;
  updatedAt: string;
  nextAttemptAt?: string | undefined;
  /** Why the latest attempt failed, in one line, for lists. */
  lastError?: string | undefined;
  /** When the delivery last failed for good (it is in the dead-letter queue). */
  failedAt?: string | undefined;
  /** When a resend claimed it; a claim older than the lease is treated as abandoned. */
  pendingSince?: string | undefined;
  /** The queue message driving the current run; another copy of the same run is dropped. */
  owner?: string | undefined;
}

/** A delivery in a workspace's dead-letter index: failed, or claimed by a resend. */
export interface DeadLetter {
  id: string;
  subscriptionId: string;
  event: EventName;
  status: DeliveryStatus;
  generation: number;
  failedAt?: string | undefined;
  pendingSince?: string | undefined;
}

/**
 * The body of one SQS message: ids, never payloads or secrets. The deliver function loads the
 * rest, so a changed URL, secret or enabled flag applies to the very next attempt.
 */
export interface DeliveryMessage {
  v: 1;
  /** workspace */
  w: string;
  /** delivery id (also the `webhook-id`) */
  d: string;
  /** event id */
  e: string;
  /** event name, so a DLQ redrive can filter without reading the table */
  n: EventName;
  /** subscription id */
  s: string;
  /** delivery generation; a message older than the stored generation is stale */
  g: number;
  /** attempts already made in this generation before this message was sent */
  a: number;
  /**
   * 1 when a retried ingest sent the message again (it cannot know which of its first sends
   * arrived): the deliver function then checks the delivery's record even on the first receive,
   * so the copy of a delivery already made or under way is dropped.
   */
  r?: 1;
}
