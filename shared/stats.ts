import type { AttemptErrorClass } from "./domain.ts";

/**
 * Per-subscription delivery statistics: attempts, successes, failures by error class and a
 * latency histogram, per hour.
 *
 * Counted where the attempts are made (the deliver function), in memory, and written at most
 * once per `flushMs` per instance as one additive update per (subscription, hour) — so the
 * cost does not grow with the deliveries: a busy endpoint costs each instance one write every
 * few seconds, whatever its traffic. What that allows: an instance's latest counts reach the
 * stats within `flushMs` (at its next batch), and the counts of an instance that stops before
 * writing them are lost (at most `flushMs` of its attempts).
 */

/** Upper bounds (ms) of the latency histogram's buckets; the last one takes the rest. */
export const LATENCY_BOUNDS_MS = [
  25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 15_000,
] as const;
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

export interface StatsCounts {
  attempts: number;
  succeeded: number;
  failed: number;
  /** Failed attempts by error class. */
  failedByClass: Partial<Record<AttemptErrorClass, number>>;
  /** Attempts per latency bucket (LATENCY_BOUNDS_MS). */
  latency: number[];
  lastSuccessAt?: string | undefined;
  lastFailureAt?: string | undefined;
}

export interface StatsBucket extends StatsCounts {
  workspaceId: string;
  subscriptionId: string;
  /** The hour, `2026-11-30T07` (UTC). */
  hour: string;
}

export interface StatsStore {
  /** Adds the counts to the stored hour (created if new). */
  add(bucket: StatsBucket): Promise<void>;
  /** The stored hours from `fromHour` to `toHour`, both included. */
  read(
    workspaceId: string,
    subscriptionId: string,
    fromHour: string,
    toHour: string,
  ): Promise<StatsBucket[]>;
}

export const hourOf = (ms: number): string => new Date(ms).toISOString().slice(0, 13);

export const emptyCounts = (): StatsCounts => ({
  attempts: 0,
  succeeded: 0,
  failed: 0,
  failedByClass: {},
  latency: Array.from({ length: LATENCY_BUCKETS }, () => 0),
});

export function latencyBucket(ms: number): number {
  const index = LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? LATENCY_BOUNDS_MS.length : index;
}

/** Adds `more` into `into` (counts add up; the latest times win). */
export function addCounts(into: StatsCounts, more: StatsCounts): StatsCounts {
  into.attempts += more.attempts;
  into.succeeded += more.succeeded;
  into.failed += more.failed;
  for (const [name, n] of Object.entries(more.failedByClass)) {
    const key = name as AttemptErrorClass;
    into.failedByClass[key] = (into.failedByClass[key] ?? 0) + (n ?? 0);
  }
  more.latency.forEach((n, i) => {
    into.latency[i] = (into.latency[i] ?? 0) + n;
  });
  const later = (a?: string, b?: string) =>
    a === undefined ? b : b === undefined || a > b ? a : b;
  into.lastSuccessAt = later(into.lastSuccessAt, more.lastSuccessAt);
  into.lastFailureAt = later(into.lastFailureAt, more.lastFailureAt);
  return into;
}

/**
 * The latency below which `p` percent of attempts answered, from the histogram: the upper
 * bound of the bucket the percentile falls in (an estimate, never under the truth); null with
 * no attempts, and the last bound for the open bucket above it.
 */
export function percentileMs(latency: readonly number[], p: number): number | null {
  const total = latency.reduce((sum, n) => sum + n, 0);
  if (total === 0) return null;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let i = 0; i < latency.length; i++) {
    seen += latency[i] ?? 0;
    if (seen >= rank) return LATENCY_BOUNDS_MS[Math.min(i, LATENCY_BOUNDS_MS.length - 1)] ?? null;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1] ?? null;
}

export interface AttemptFacts {
  workspaceId: string;
  subscriptionId: string;
  ok: boolean;
  errorClass?: AttemptErrorClass | undefined;
  durationMs: number;
  /** When the attempt started (ms). */
  at: number;
}

/** The deliver instance's counts not yet written, and when to write them. */
export class StatsRecorder {
  readonly #store: StatsStore;
  readonly #flushMs: number;
  #pending = new Map<string, StatsBucket>();
  /** When the oldest unwritten count was made (undefined: nothing pending). */
  #since: number | undefined;
  /** Writes the counts when they are due even if no batch comes (a quiet instance). */
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(store: StatsStore, options: { flushMs: number }) {
    this.#store = store;
    this.#flushMs = options.flushMs;
  }

  record(attempt: AttemptFacts): void {
    const hour = hourOf(attempt.at);
    const key = `${attempt.workspaceId}/${attempt.subscriptionId}/${hour}`;
    let bucket = this.#pending.get(key);
    if (!bucket) {
      bucket = {
        workspaceId: attempt.workspaceId,
        subscriptionId: attempt.subscriptionId,
        hour,
        ...emptyCounts(),
      };
      this.#pending.set(key, bucket);
    }
    const at = new Date(attempt.at).toISOString();
    bucket.attempts++;
    if (attempt.ok) {
      bucket.succeeded++;
      bucket.lastSuccessAt = at;
    } else {
      bucket.failed++;
      bucket.lastFailureAt = at;
      const errorClass = attempt.errorClass ?? "network_error";
      bucket.failedByClass[errorClass] = (bucket.failedByClass[errorClass] ?? 0) + 1;
    }
    const index = latencyBucket(attempt.durationMs);
    bucket.latency[index] = (bucket.latency[index] ?? 0) + 1;
    this.#since ??= attempt.at;
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush({ force: true });
      }, this.#flushMs);
      this.#timer.unref?.();
    }
  }

  /** Writes what is pending when its oldest count is `flushMs` old (or `force`). */
  async flush(options: { force?: boolean; now?: number } = {}): Promise<number> {
    const now = options.now ?? Date.now();
    if (this.#since === undefined) return 0;
    if (!options.force && now - this.#since < this.#flushMs) return 0;
    const buckets = [...this.#pending.values()];
    this.#pending = new Map();
    this.#since = undefined;
    const failed: StatsBucket[] = [];
    await Promise.all(
      buckets.map((bucket) =>
        this.#store.add(bucket).catch(() => {
          failed.push(bucket);
        }),
      ),
    );
    // What could not be written is kept, and tried again with the next flush.
    for (const bucket of failed) {
      const key = `${bucket.workspaceId}/${bucket.subscriptionId}/${bucket.hour}`;
      const pending = this.#pending.get(key);
      this.#pending.set(key, pending ? { ...bucket, ...addCounts(pending, bucket) } : bucket);
    }
    if (failed.length > 0) this.#since ??= now - this.#flushMs;
    return buckets.length - failed.length;
  }

  /** Buckets waiting to be written (tests, metrics). */
  get pending(): number {
    return this.#pending.size;
  }
}
