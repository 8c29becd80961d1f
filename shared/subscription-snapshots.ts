import type { Subscription } from "./domain.ts";

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
export class SubscriptionSnapshots {
  readonly #load: (workspaceId: string) => Promise<Subscription[]>;
  readonly #ttlMs: number;
  readonly #maxWorkspaces: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { at: number; value: Promise<Subscription[]> }>();
  /** How many reads of the store it made: what the capacity model counts. */
  reads = 0;

  constructor(
    load: (workspaceId: string) => Promise<Subscription[]>,
    options: { ttlMs: number; maxWorkspaces?: number; now?: () => number },
  ) {
    this.#load = load;
    this.#ttlMs = options.ttlMs;
    this.#maxWorkspaces = options.maxWorkspaces ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  get(workspaceId: string): Promise<Subscription[]> {
    const now = this.#now();
    const entry = this.#entries.get(workspaceId);
    if (entry && now - entry.at < this.#ttlMs) {
      // Most recently used last: the oldest entry is the one dropped when the map is full.
      this.#entries.delete(workspaceId);
      this.#entries.set(workspaceId, entry);
      return entry.value;
    }
    this.reads++;
    const value = this.#load(workspaceId);
    if (this.#ttlMs <= 0) return value;
    const fresh = { at: now, value };
    this.#entries.delete(workspaceId);
    this.#entries.set(workspaceId, fresh);
    value.catch(() => {
      if (this.#entries.get(workspaceId) === fresh) this.#entries.delete(workspaceId);
    });
    while (this.#entries.size > this.#maxWorkspaces) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return value;
  }

  /** After this instance changed the workspace's subscriptions: read them again next time. */
  invalidate(workspaceId: string): void {
    this.#entries.delete(workspaceId);
  }
}
