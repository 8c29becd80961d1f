import type { Subscription } from "./domain.ts";

/**
 * What the deliver function read of each subscription in the last `ttlMs` — or that it was not
 * there — so that a busy endpoint's subscription is read once per instance per `ttlMs`, not
 * once per batch.
 *
 * Why: every batch read the subscription of each of its deliveries from the workspace's
 * partition, so a workspace's deliveries were capped by that one partition's read limit
 * (3,000 units a second) whatever the sharding of their records. With this, the reads are
 * bounded by instances × subscriptions ÷ `ttlMs` instead, however many deliveries go out.
 * What it allows (the README says it): a change to a subscription (URL, secret, disabled,
 * deleted) reaches the deliver function within `ttlMs` (one second by default) rather than at
 * the very next attempt. Health written by this instance forgets the copy at once.
 */
export class RecentSubscriptions {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { at: number; value: Subscription | undefined }>();

  constructor(options: { ttlMs: number; maxEntries?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** The copy read within `ttlMs` (`value` undefined: the subscription did not exist), or none. */
  get(key: string, now: number): { value: Subscription | undefined } | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (now - entry.at >= this.#ttlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return { value: entry.value };
  }

  put(key: string, value: Subscription | undefined, now: number): void {
    if (this.#ttlMs <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { at: now, value });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }
}
