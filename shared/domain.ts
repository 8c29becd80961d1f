import type { EventName } from "./catalog.ts";
import type { Role } from "./keys.ts";
import type { Capability } from "./roles.ts";

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

/**
 * An endpoint's health, kept by the deliver function field by field (never written by an
 * admin's change, so a PATCH cannot bring back an old value). See shared/health.ts.
 */
export interface EndpointHealth {
  /** Since when every attempt to this endpoint has failed (unset after any success). */
  failingSince?: string | undefined;
  /** The latest failure that was counted (failures are counted at most once a minute). */
  lastFailureAt?: string | undefined;
  /** Minutes with a failure since `recentSince` (a window of a day). */
  recentFailures?: number | undefined;
  recentSince?: string | undefined;
  /** Until when its deliveries go through the slow lane (it had a request in flight too long). */
  slowUntil?: string | undefined;
}

export interface Subscription extends EndpointHealth {
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
  /**
   * Subscriptions matched at acceptance, enabled or not: the fan-out sends exactly one message
   * to each (a disabled one's delivery is recorded as canceled, so it can be replayed).
   */
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

/** Why an attempt produced no HTTP response. `destination_refused` is never retried. */
export type NetworkErrorClass =
  | "destination_refused"
  | "dns_error"
  | "connect_timeout"
  | "connection_error"
  | "tls_error"
  | "timeout"
  | "network_error";

export type AttemptErrorClass = NetworkErrorClass | "http_status";

/** Why a run ended without success (`failed`) or without an attempt (`canceled`). */
export type EndReason =
  /** Every attempt of the schedule failed. */
  | "exhausted"
  /** The destination is refused (SSRF guard): retrying cannot help. */
  | "refused"
  /** The receiver answered 410 Gone: its subscription is disabled, nothing more is sent. */
  | "gone"
  /** SQS moved its message to the stranded queue: received too often without finishing. */
  | "stranded"
  | "subscription_deleted"
  | "subscription_disabled"
  /** The event is past retention: there is nothing to send. */
  | "event_expired"
  /**
   * Deferred past the end its schedule allows: the endpoint never had room for it (it kept
   * its requests hanging). It waits in the dead-letter queue like any failure.
   */
  | "unavailable";

/** Why a due attempt was put off without being made (a deferral costs no step). */
export type DeferReason =
  /** The endpoint already had as many requests in flight as it is allowed. */
  "endpoint-busy";

/** The deliveries queue's two lanes: endpoints that answer slowly have their own. */
export type Lane = "main" | "slow";

export interface Attempt {
  /** 1-based, counting every attempt this delivery ever had. */
  number: number;
  /** Bumped by each resend: attempts of one run share it. */
  generation: number;
  startedAt: string;
  durationMs: number;
  url: string;
  outcome: "succeeded" | "failed";
  /** Exactly what was sent, minus nothing secret (signatures are not secrets). */
  requestHeaders: Record<string, string>;
  statusCode?: number | undefined;
  /** Capped (shared/records.ts): at most ~2 KB, each value at most 256 characters. */
  responseHeaders?: Record<string, string> | undefined;
  /** Capped by bytes; a body that is not UTF-8 text is kept as base64 (`responseBodyEncoding`). */
  responseBody?: string | undefined;
  responseBodyEncoding?: "base64" | undefined;
  responseBodyTruncated?: boolean | undefined;
  errorClass?: AttemptErrorClass | undefined;
  errorMessage?: string | undefined;
  /** When the next attempt is due, if one is scheduled. */
  nextAttemptAt?: string | undefined;
  /**
   * Made by a duplicate of the run's message (SQS delivers at least once): recorded, because
   * the receiver got it, but it did not move the run along its schedule.
   */
  duplicate?: boolean | undefined;
  /** Made in the slow lane (the endpoint had answered slowly). */
  lane?: "slow" | undefined;
}

/**
 * One event for one subscription: the record of its runs. Its lifecycle — which message may
 * send, what a resend claims, what is terminal — is shared/lifecycle.ts, and nothing else.
 */
export interface Delivery {
  id: string;
  workspaceId: string;
  eventId: string;
  event: EventName;
  subscriptionId: string;
  status: DeliveryStatus;
  /** The run: 0 for the first, bumped by each resend. */
  generation: number;
  /** Bumped by every write: each write is conditioned on the revision it read. */
  rev: number;
  /** Attempts made in this generation: the schedule's step comes from it. */
  runAttempts: number;
  /** Attempts ever made, in every generation. */
  attemptCount: number;
  /** The first attempt and the latest ones, within the record's size budget. */
  attempts: Attempt[];
  /** Attempts left out of `attempts` to keep the record small. */
  attemptsOmitted: number;
  createdAt: string;
  updatedAt: string;
  nextAttemptAt?: string | undefined;
  /** Why the latest attempt failed, in one line, for lists. */
  lastError?: string | undefined;
  /** Why the run ended (failed or canceled). */
  reason?: EndReason | undefined;
  /** When the delivery last failed for good (it is in the dead-letter queue). */
  failedAt?: string | undefined;
  /** When this run started (its first write, or its claim): its schedule's end counts from it. */
  runStartedAt?: string | undefined;
  /** Due attempts put off without being made, in all; the latest until when, and why. */
  deferrals?: number | undefined;
  deferredUntil?: string | undefined;
  deferReason?: DeferReason | undefined;
  /** Pending: when a resend claimed it, and whether its queue message is known to be sent. */
  claimedAt?: string | undefined;
  queued?: boolean | undefined;
  /** The queue message driving the current run; another message for the same run is a copy. */
  owner?: string | undefined;
  /** A test send (`POST /v1/subscriptions/{id}/test`): never retried, never dead-lettered. */
  test?: boolean | undefined;
}

/** A delivery in a workspace's dead-letter index (failed). */
export interface DeadLetter {
  id: string;
  subscriptionId: string;
  event: EventName;
  generation: number;
  failedAt?: string | undefined;
  reason?: EndReason | undefined;
  lastError?: string | undefined;
}

/**
 * The body of one SQS message: ids, never payloads or secrets. The deliver function loads the
 * rest, so a changed URL, secret or enabled flag applies to the very next attempt. Which
 * attempt of the schedule comes next is read from the delivery's record, never from the
 * message or its receive count.
 */
export interface DeliveryMessage {
  v: 1;
  /** workspace */
  w: string;
  /** delivery id (also the `webhook-id`) */
  d: string;
  /** event id */
  e: string;
  /** event name, so a dead-letter drain can filter without reading the table */
  n: EventName;
  /** subscription id */
  s: string;
  /** delivery generation; a message older than the stored generation is stale */
  g: number;
  /**
   * The id of the message this one was moved from (to the slow lane): a run's owner stays the
   * message that first drove it, wherever it moves.
   */
  o?: string;
  /**
   * 1 when a retried ingest sent the message again (it cannot know which of its first sends
   * arrived): the deliver function then reads the delivery's record even on the first
   * receive, so the copy of a delivery already made or under way is dropped.
   */
  r?: 1;
}

/**
 * A portal session: a short-lived bearer token an admin hands to a browser (the web console,
 * embedded in the CRM) instead of a key. Only its SHA-256 is stored; the item expires by TTL.
 */
export interface PortalSession {
  id: string;
  workspaceId: string;
  /** SHA-256 of the token; the token itself is never stored. */
  hash: string;
  capabilities: Capability[];
  /** The subscriptions it may see and act on; null: all of the workspace's. */
  subscriptionIds: string[] | null;
  createdAt: string;
  expiresAt: string;
}
