import type { ApiKey, Subscription } from "./domain.ts";

/**
 * A short-lived copy of what a read returned, by key: younger than `ttlMs`, it is used instead
 * of reading again. Concurrent requests share one read; a failed read is not kept, nor a value
 * `keep` refuses. The most recently used `maxEntries` are kept.
 */
export class Snapshots<V> {
  readonly #load: (key: string) => Promise<V>;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #keep: (value: V) => boolean;
  readonly #now: () => number;
  readonly #entries = new Map<string, { at: number; value: Promise<V> }>();
  /** How many reads of the store it made: what the capacity model counts. */
  reads = 0;

  constructor(
    load: (key: string) => Promise<V>,
    options: {
      ttlMs: number;
      maxEntries?: number;
      keep?: (value: V) => boolean;
      now?: () => number;
    },
  ) {
    this.#load = load;
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#keep = options.keep ?? (() => true);
    this.#now = options.now ?? Date.now;
  }

  get(key: string): Promise<V> {
    const now = this.#now();
    const entry = this.#entries.get(key);
    if (entry && now - entry.at < this.#ttlMs) {
      // Most recently used last: the oldest entry is the one dropped when the map is full.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      return entry.value;
    }
    this.reads++;
    const value = this.#load(key);
    if (this.#ttlMs <= 0) return value;
    const fresh = { at: now, value };
    this.#entries.delete(key);
    this.#entries.set(key, fresh);
    const forget = () => {
      if (this.#entries.get(key) === fresh) this.#entries.delete(key);
    };
    value.then((read) => {
      if (!this.#keep(read)) forget();
    }, forget);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return value;
  }

  /** Read this key again next time. */
  invalidate(key: string): void {
    this.#entries.delete(key);
  }

  /** Read every key again next time. */
  clear(): void {
    this.#entries.clear();
  }
}

/**
 * The API function's short-lived copy of each workspace's subscription set, for ingest.
 *
 * Ingest needs every subscription of the workspace to fan an event out; reading the set on
 * every event (one Query of ~73 read units at 100 subscriptions) would cap a workspace near 40
 * events per second by its partition's read limit. A copy younger than `ttlMs` is used instead,
 * so a function instance reads each workspace's set at most once per `ttlMs`, however many
 * events it accepts. Concurrent requests share one read; a failed read is not kept.
 *
 * What the copy allows (stated in the README): a subscription created, deleted, or given other
 * events reaches the ingest of *other* instances within `ttlMs`; the instance that made the
 * change forgets its copy at once. Nothing else is stale: the deliver function reads the
 * subscription itself (URL, secret, enabled) when it sends.
 */
export class SubscriptionSnapshots extends Snapshots<Subscription[]> {
  constructor(
    load: (workspaceId: string) => Promise<Subscription[]>,
    options: { ttlMs: number; maxWorkspaces?: number; now?: () => number },
  ) {
    super(load, {
      ttlMs: options.ttlMs,
      ...(options.maxWorkspaces === undefined ? {} : { maxEntries: options.maxWorkspaces }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }
}

/**
 * The API function's short-lived copy of the keys that posted events, so that ingest reads a
 * key once per `ttlMs` per instance rather than once per event (one read unit each, from the
 * workspace's partition).
 *
 * Only a valid key is kept: a missing or revoked one is read again every time, so forged keys
 * still cost one read each and a key is never refused from a copy. Used for the ingest routes
 * only (`POST /v1/events`, `/v1/events/batch`, the egress IPs); every other route reads the
 * key each time. What it allows (stated in the README and SECURITY.md): a key revoked through
 * another API instance, or straight in the table, may still post events to this instance for
 * up to `ttlMs` (5 s by default); the instance that revokes a key forgets its copies at once.
 */
export class KeySnapshots extends Snapshots<ApiKey | undefined> {
  constructor(
    load: (workspaceId: string, hash: string) => Promise<ApiKey | undefined>,
    options: { ttlMs: number; now?: () => number },
  ) {
    super(
      (id) => {
        const [workspaceId, hash] = id.split("/") as [string, string];
        return load(workspaceId, hash);
      },
      {
        ttlMs: options.ttlMs,
        maxEntries: 1000,
        keep: (key) => key !== undefined && !key.revokedAt,
        ...(options.now === undefined ? {} : { now: options.now }),
      },
    );
  }

  key(workspaceId: string, hash: string): Promise<ApiKey | undefined> {
    return this.get(`${workspaceId}/${hash}`);
  }
}
