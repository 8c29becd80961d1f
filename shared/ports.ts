import type { EventName } from "./catalog.ts";
import type {
  ApiKey,
  DeadLetter,
  Delivery,
  DeliveryMessage,
  DeliveryStatus,
  EndpointHealth,
  Lane,
  NetworkErrorClass,
  PortalSession,
  StoredEvent,
  Subscription,
} from "./domain.ts";
import type { Guard } from "./lifecycle.ts";

/**
 * The ports the use cases talk to. Adapters (shared/store, shared/queue, shared/http) implement
 * them against DynamoDB, SQS and undici; the unit tests' fakes implement them in memory. Keys
 * of the maps below are `<workspace>/<id>` (`contextKey`).
 */
export const contextKey = (workspaceId: string, id: string): string => `${workspaceId}/${id}`;

// ——— Deliveries ——————————————————————————————————————————————————————————————————————————

export interface DeliveryRef {
  workspaceId: string;
  deliveryId: string;
  eventId: string;
  subscriptionId: string;
  /**
   * Read the delivery's record as well. Not needed for a first-generation message on its first
   * receive, which normally has no record yet: skipping it saves a read unit per delivery (a
   * consistent read of a missing item still costs one). The write then expects no record.
   */
  withRecord: boolean;
  /** Read the subscription as well (default): not when the caller has a fresh copy. */
  withSubscription?: boolean;
}

/** What one batch of deliveries needs, loaded in one BatchGetItem. */
export interface DeliveryContext {
  subscriptions: Map<string, Subscription>;
  deliveries: Map<string, Delivery>;
  events: Map<string, StoredEvent>;
}

export interface DeliveryFilter {
  status?: DeliveryStatus | readonly DeliveryStatus[] | undefined;
  /** One subscription, or any of several (a portal session's scope). */
  subscriptionId?: string | readonly string[] | undefined;
  event?: EventName | undefined;
  /** Only test sends (true), or none of them (false). */
  test?: boolean | undefined;
  /** Only deliveries whose ids (that is, event acceptance times) fall in [from, to]. */
  idRange?: { from: string; to: string } | undefined;
}

export interface Page<T> {
  items: T[];
  /** Where to continue (a position, opaque to callers), when there may be more. */
  next?: string | undefined;
}

export interface DeadLetterSummary {
  /** Failed deliveries counted (all of them when `exact`, else at least this many). */
  count: number;
  exact: boolean;
  /**
   * The dead letter of the oldest event among those counted: the oldest of all when `exact`
   * or unfiltered (every shard's oldest entry is read first).
   */
  oldest?: Pick<DeadLetter, "id" | "failedAt"> | undefined;
}

export interface DeliveryStore {
  loadContext(refs: readonly DeliveryRef[]): Promise<DeliveryContext>;
  get(workspaceId: string, deliveryId: string): Promise<Delivery | undefined>;
  /** Delivery records by id, in BatchGetItem calls of a hundred. */
  getMany(
    refs: ReadonlyArray<{ workspaceId: string; deliveryId: string }>,
  ): Promise<Map<string, Delivery>>;
  /**
   * Writes the delivery's next state if the stored one is still what `guard` says (false if
   * not). The history is trimmed to the record's size budget first (first attempt and the
   * latest ones), counted in bytes as DynamoDB counts them.
   */
  put(next: Delivery, guard: Guard): Promise<boolean>;
  /** Newest first, starting after the position `after`. */
  list(
    workspaceId: string,
    filter: DeliveryFilter,
    limit: number,
    after?: string,
  ): Promise<Page<Delivery>>;
  /** The workspace's dead letters (failed deliveries), oldest event first. */
  listDeadLetters(
    workspaceId: string,
    filter: Pick<DeliveryFilter, "subscriptionId" | "event">,
    limit: number,
    after?: string,
  ): Promise<Page<DeadLetter>>;
  /** Counts dead letters and finds the oldest, reading at most about `budget` index entries. */
  summarizeDeadLetters(
    workspaceId: string,
    filter: Pick<DeliveryFilter, "subscriptionId" | "event">,
    budget: number,
  ): Promise<DeadLetterSummary>;
  /** Resend claims whose message was never confirmed sent, claimed before `claimedBefore`. */
  listUnqueuedClaims(
    claimedBefore: string,
    limit: number,
  ): Promise<Array<{ workspaceId: string; deliveryId: string }>>;
}

export interface EventStore {
  /** Stores the event unless its id is taken; then returns what is stored (idempotency). */
  create(
    event: StoredEvent,
  ): Promise<{ created: true } | { created: false; existing: StoredEvent }>;
  get(workspaceId: string, eventId: string): Promise<StoredEvent | undefined>;
  /** Pushes the event's expiry out to `retention` from now (a resend must not outlive it). */
  extend(workspaceId: string, eventId: string, now: number): Promise<void>;
}

// ——— Workspaces: keys, subscriptions, endpoint health ————————————————————————————————————

/** The fields an admin may change, written without touching the endpoint's health. */
export type SubscriptionChanges = Partial<
  Pick<
    Subscription,
    | "url"
    | "events"
    | "enabled"
    | "description"
    | "secret"
    | "previousSecrets"
    | "disabledReason"
    | "disabledAt"
  >
> & {
  /** Enabling again forgets the old outage. */
  resetHealth?: boolean;
};

export interface KeyRevocation {
  outcome: "revoked" | "already-revoked" | "last-admin";
  /** The key as it is now. */
  key: ApiKey;
}

export interface WorkspaceStore {
  getKey(workspaceId: string, hash: string): Promise<ApiKey | undefined>;
  listKeys(workspaceId: string): Promise<ApiKey[]>;
  /**
   * Creates the key: "limit" if the workspace already has `maxActive` active keys (checked
   * and counted in one conditional write, so concurrent creates cannot pass it together),
   * "exists" if a key with that hash already exists.
   */
  putKey(apiKey: ApiKey, maxActive?: number): Promise<"created" | "exists" | "limit">;
  /**
   * Revokes a key (undefined: no such key). Refuses ("last-admin") the workspace's last
   * active admin key, however many revokes run at once.
   */
  revokeKey(workspaceId: string, keyId: string, at: string): Promise<KeyRevocation | undefined>;
  listSubscriptions(workspaceId: string): Promise<Subscription[]>;
  getSubscription(workspaceId: string, id: string): Promise<Subscription | undefined>;
  /** Creates the subscription: "limit" if the workspace already has `max` (as for keys). */
  createSubscription(subscription: Subscription, max?: number): Promise<"created" | "limit">;
  /**
   * Writes the changed fields only, if nobody else changed the subscription since
   * `previousUpdatedAt`; false otherwise. Health fields are never written here.
   */
  updateSubscription(
    workspaceId: string,
    id: string,
    changes: SubscriptionChanges,
    updatedAt: string,
    previousUpdatedAt: string,
  ): Promise<boolean>;
  deleteSubscription(workspaceId: string, id: string): Promise<boolean>;
}

/**
 * An endpoint's health, as the deliver function keeps it: each call writes only its own
 * fields, conditioned so that a stale caller changes nothing (shared/health.ts decides).
 */
export interface SubscriptionHealth {
  /** The first failure after a success. No-op (false) if it is already failing. */
  markFailing(workspaceId: string, id: string, at: string): Promise<boolean>;
  /** A failure while failing, counted if the last one counted is older than `countedBefore`. */
  countFailure(
    workspaceId: string,
    id: string,
    health: Required<Pick<EndpointHealth, "recentFailures" | "recentSince">>,
    at: string,
    countedBefore: string,
  ): Promise<boolean>;
  /** A success after failing: failing no more. */
  markHealthy(workspaceId: string, id: string): Promise<boolean>;
  /**
   * Records the endpoint slow until `until` (its deliveries go through the slow lane), unless
   * it already is until after `refreshAfter` (one write per half period, however busy).
   */
  markSlow(workspaceId: string, id: string, until: string, refreshAfter: string): Promise<boolean>;
  /** Disables an enabled subscription at once (its endpoint answered 410 Gone); false if it was not enabled. */
  disableGone(workspaceId: string, id: string, reason: string, at: string): Promise<boolean>;
  /** Disables a subscription still failing since `failingSince`; false if that changed. */
  disableFailing(
    workspaceId: string,
    id: string,
    failingSince: string,
    reason: string,
    at: string,
  ): Promise<boolean>;
}

// ——— Queues ——————————————————————————————————————————————————————————————————————————————

export interface VisibilityChange {
  receiptHandle: string;
  seconds: number;
  /** The queue the message was received from (default: the main lane). */
  lane?: Lane | undefined;
}

/** The deliveries queue and where failures go, as the use cases see them. */
export interface DeliveryQueue {
  /** One message per delivery, ten per call. Resolves only when every message is accepted. */
  enqueue(messages: readonly DeliveryMessage[]): Promise<void>;
  /**
   * Backs off messages: each reappears after its `seconds`. Resolves with the receipt handles
   * whose change failed (they reappear after the queue's own visibility timeout).
   */
  changeVisibility(changes: readonly VisibilityChange[]): Promise<string[]>;
  /** Puts message bodies on the dead-letter queue (exhausted or undeliverable). */
  sendToDeadLetter(bodies: readonly string[]): Promise<void>;
  /** Puts message bodies on the slow lane's queue (endpoints that answer slowly). */
  sendToSlowLane(bodies: readonly string[]): Promise<void>;
}

/** Batch ingest's side of the deliveries queue. */
export interface FanOutQueue {
  /**
   * Queues the messages of many events at once: every call full, and a call that keeps
   * failing does not stop the others. Resolves with the positions of the messages not queued.
   */
  enqueueEach(messages: readonly DeliveryMessage[]): Promise<ReadonlySet<number>>;
}

export interface HeldMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  receiveCount: number;
}

/** A queue read by an operator's job (the dead-letter queue, the stranded queue). */
export interface HoldingQueue {
  /** Up to ten messages, hidden from other readers for `visibilitySeconds`. */
  receive(visibilitySeconds: number): Promise<HeldMessage[]>;
  remove(receiptHandles: readonly string[]): Promise<void>;
  /** Makes held messages visible again at once. */
  release(receiptHandles: readonly string[]): Promise<void>;
  /** Approximate counts: waiting, and held by a reader. */
  depth(): Promise<{ visible: number; inFlight: number }>;
}

// ——— Receivers ———————————————————————————————————————————————————————————————————————————

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type SendResult =
  | {
      kind: "response";
      status: number;
      headers: Record<string, string>;
      /** The first bytes of the body, up to the sender's limit. */
      body: Uint8Array;
      bodyTruncated: boolean;
      durationMs: number;
    }
  | { kind: "error"; errorClass: NetworkErrorClass; message: string; durationMs: number };

export interface WebhookSender {
  send(request: SendRequest): Promise<SendResult>;
}

// ——— Portal sessions: short-lived tokens for the web console ————————————————————————————————

export interface PortalSessionStore {
  /** Stores a new session (by its token's hash), expiring by TTL. */
  put(session: PortalSession): Promise<void>;
  /** The session with this token hash, expired or not (TTL removes items late). */
  get(workspaceId: string, hash: string): Promise<PortalSession | undefined>;
  /** Ends the session with this id at once; false when the workspace has none by that id. */
  revoke(workspaceId: string, id: string): Promise<boolean>;
}
