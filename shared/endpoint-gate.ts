/**
 * Per-endpoint limits on requests in flight, kept by each deliver process (one Lambda
 * execution environment; locally, the whole stack), so that a slow or hanging endpoint cannot
 * take the delivery capacity other endpoints need.
 *
 * An endpoint starts with one request in flight allowed. Each answer that comes back fast
 * (before `slowAfterMs`) doubles its allowance, up to MAX_IN_FLIGHT; a slow answer or a timeout
 * drops it back to one. A healthy endpoint reaches full speed within a few answers; a hanging
 * one never holds more than one request of this process. A request still in flight after
 * `slowAfterMs` reports its endpoint slow (`onSlow`), once, at once: the deliver path then
 * routes the endpoint's deliveries to the slow lane rather than let them wait here.
 *
 * A message over the allowance may wait for a place a little — only while the endpoint's
 * requests in flight are young (it is answering quickly); otherwise it is deferred: handed back
 * to the queue, without an attempt, and recorded as a deferral.
 */
export const MAX_IN_FLIGHT = 256;
/** How long a request may be in flight before a waiting message stops waiting for it. */
export const PATIENCE_MS = 100;
/** How often in-flight requests are checked against `slowAfterMs`. */
const WATCH_EVERY_MS = 100;

interface Endpoint {
  allowed: number;
  /** Start times of the requests in flight. */
  inFlight: Set<Permit>;
  /** Reported slow, and not since answered fast. */
  slow: boolean;
}

export interface Permit {
  readonly endpoint: string;
  readonly startedAt: number;
}

export class EndpointGate {
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #slowAfterMs: number;
  readonly #onSlow: (endpoint: string) => void;
  readonly #now: () => number;
  #watch: ReturnType<typeof setInterval> | undefined;

  constructor(options: {
    slowAfterMs: number;
    onSlow: (endpoint: string) => void;
    now?: () => number;
  }) {
    this.#slowAfterMs = options.slowAfterMs;
    this.#onSlow = options.onSlow;
    this.#now = options.now ?? (() => performance.now());
  }

  #endpoint(key: string): Endpoint {
    let endpoint = this.#endpoints.get(key);
    if (!endpoint) {
      endpoint = { allowed: 1, inFlight: new Set(), slow: false };
      this.#endpoints.set(key, endpoint);
    }
    return endpoint;
  }

  /** A place for one request, or undefined when the endpoint is at its allowance. */
  tryStart(key: string): Permit | undefined {
    const endpoint = this.#endpoint(key);
    if (endpoint.inFlight.size >= endpoint.allowed) return undefined;
    const permit = { endpoint: key, startedAt: this.#now() };
    endpoint.inFlight.add(permit);
    this.#watchSoon();
    return permit;
  }

  /** Whether a message over the allowance should wait for a place (the endpoint answers fast). */
  worthWaiting(key: string): boolean {
    const endpoint = this.#endpoint(key);
    if (endpoint.slow) return false;
    const now = this.#now();
    for (const permit of endpoint.inFlight) {
      if (now - permit.startedAt > PATIENCE_MS) return false;
    }
    return true;
  }

  /**
   * The request is over; `fast`: it answered before `slowAfterMs` (any status). With
   * `onlyIfHeld`, a permit already finished is left alone (a safety net after a throw).
   */
  finish(permit: Permit, fast: boolean, onlyIfHeld = false): void {
    const endpoint = this.#endpoint(permit.endpoint);
    if (!endpoint.inFlight.delete(permit) && onlyIfHeld) return;
    if (fast) {
      endpoint.slow = false;
      endpoint.allowed = Math.min(MAX_IN_FLIGHT, endpoint.allowed * 2);
    } else {
      endpoint.allowed = 1;
    }
  }

  /** Answered within `slowAfterMs`? */
  isFast(permit: Permit): boolean {
    return this.#now() - permit.startedAt < this.#slowAfterMs;
  }

  /** Reported slow by this process, and not since answered fast. */
  isSlow(key: string): boolean {
    return this.#endpoints.get(key)?.slow ?? false;
  }

  /** Requests in flight to the endpoint (for tests and metrics). */
  inFlight(key: string): number {
    return this.#endpoints.get(key)?.inFlight.size ?? 0;
  }

  allowed(key: string): number {
    return this.#endpoints.get(key)?.allowed ?? 1;
  }

  /** Checks in-flight requests against `slowAfterMs` while there are any. */
  #watchSoon(): void {
    if (this.#watch) return;
    this.#watch = setInterval(() => this.check(), WATCH_EVERY_MS);
    this.#watch.unref?.();
  }

  /** Reports endpoints with a request in flight for too long (also called by the watch). */
  check(): void {
    const now = this.#now();
    let busy = false;
    for (const [key, endpoint] of this.#endpoints) {
      if (endpoint.inFlight.size === 0) continue;
      busy = true;
      if (endpoint.slow) continue;
      for (const permit of endpoint.inFlight) {
        if (now - permit.startedAt >= this.#slowAfterMs) {
          endpoint.slow = true;
          endpoint.allowed = 1;
          this.#onSlow(key);
          break;
        }
      }
    }
    if (!busy && this.#watch) {
      clearInterval(this.#watch);
      this.#watch = undefined;
    }
  }
}
