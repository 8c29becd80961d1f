import { type LookupAddress, lookup as systemLookup } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import type { buildConnector, Dispatcher } from "undici";
import build from "undici/lib/core/connect.js";
// By path, not the package root: see types/undici-internals.d.ts.
import Agent from "undici/lib/dispatcher/agent.js";
import type { NetworkErrorClass } from "../domain.ts";
import type { SendRequest, SendResult, WebhookSender } from "../ports.ts";
import { checkAddress, checkUrl, isLoopback, type NetworkPolicy } from "../ssrf.ts";

export interface HttpSenderOptions {
  policy: NetworkPolicy;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Bytes of response body kept for the attempt record. */
  responseBodyLimit: number;
  /** DNS resolver; tests pass one that maps names to chosen addresses. */
  lookup?: typeof systemLookup;
}

/** Raised from inside the connector; carries the reason to the attempt record. */
export class DestinationRefusedError extends Error {
  readonly code = "WEBHOOK_DESTINATION_REFUSED";
}

/** Beyond this many bytes we stop reading a response and drop the connection. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * Sends webhooks over a keep-alive undici pool. Redirects are never followed (undici does not
 * by default): a 3xx is just a failed attempt. Every connection goes through `guardedConnector`.
 */
export function createHttpSender(options: HttpSenderOptions): WebhookSender & {
  close(): Promise<void>;
} {
  const { policy, requestTimeoutMs, responseBodyLimit } = options;
  const agent = new Agent({
    connect: guardedConnector(policy, options.connectTimeoutMs, options.lookup ?? systemLookup),
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
    keepAliveTimeout: 30_000,
  });

  const plans = new BoundedCache<string, Plan>(PLANS_KEPT);
  const deadlines = new Deadlines(requestTimeoutMs);

  function send(request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    let plan = plans.get(request.url);
    if (!plan) {
      plan = planFor(request.url, policy);
      plans.set(request.url, plan);
    }
    if (!plan.ok) {
      return Promise.resolve({
        kind: "error",
        errorClass: "destination_refused",
        message: `Destination refused: ${plan.reason}.`,
        durationMs: 0,
      });
    }
    const { origin, path } = plan;
    return new Promise((resolve) => {
      const exchange = new Exchange(responseBodyLimit, started, resolve);
      deadlines.watch(exchange);
      agent.dispatch(
        { origin, path, method: "POST", headers: request.headers, body: request.body },
        exchange,
      );
    });
  }

  return { send, close: () => agent.close() };
}

/** What a destination URL comes to: refused, or where to send. Pure, so kept per URL. */
type Plan = { ok: false; reason: string } | { ok: true; origin: string; path: string };
const PLANS_KEPT = 1000;

function planFor(raw: string, policy: NetworkPolicy): Plan {
  const verdict = checkUrl(raw, policy);
  if (!verdict.ok) return verdict;
  const url = new URL(raw);
  return { ok: true, origin: url.origin, path: `${url.pathname}${url.search}` };
}

/** A Map that forgets its oldest entry past `limit`. */
class BoundedCache<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #limit: number;
  constructor(limit: number) {
    this.#limit = limit;
  }
  get(key: K): V | undefined {
    return this.#entries.get(key);
  }
  set(key: K, value: V): void {
    if (this.#entries.size >= this.#limit) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, value);
  }
}

/** Requests that start within this many ms of each other share one deadline timer. */
const DEADLINE_BUCKET_MS = 100;

/**
 * The whole-request deadline (connect, headers, body): requests that start in the same 100 ms
 * share one timer, so each gets between `timeoutMs` and `timeoutMs` + 100 ms. An AbortSignal
 * per request costs more CPU than all the rest of the request's bookkeeping together (see
 * BENCHMARKS.md, delivery throughput); a timer per bucket costs nothing.
 */
class Deadlines {
  readonly #timeoutMs: number;
  #bucketEnds = 0;
  #bucket: Set<Exchange> | undefined;
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }
  watch(exchange: Exchange): void {
    const now = performance.now();
    if (!this.#bucket || now >= this.#bucketEnds) {
      const bucket = new Set<Exchange>();
      this.#bucket = bucket;
      this.#bucketEnds = now + DEADLINE_BUCKET_MS;
      setTimeout(() => {
        for (const late of bucket) late.timeOut();
      }, this.#timeoutMs + DEADLINE_BUCKET_MS).unref();
    }
    exchange.watchedBy(this.#bucket);
  }
}

/** Past DRAIN_LIMIT the response is abandoned: the attempt keeps what was read. */
class DrainLimitReached extends Error {}

type DispatchHandler = Dispatcher.DispatchHandler;
type DispatchController = Parameters<NonNullable<DispatchHandler["onRequestStart"]>>[0];

/**
 * One POST and its response, on undici's handler API: the body is kept up to the attempt's
 * limit and read on to DRAIN_LIMIT (which keeps the connection reusable), without the streams
 * a `request()` response would build.
 */
class Exchange implements DispatchHandler {
  readonly #limit: number;
  readonly #started: number;
  readonly #resolve: (result: SendResult) => void;
  #controller: DispatchController | undefined;
  #bucket: Set<Exchange> | undefined;
  #settled = false;
  #status = 0;
  #headers: Record<string, string | string[]> = {};
  readonly #kept: Buffer[] = [];
  #keptBytes = 0;
  #seen = 0;

  constructor(limit: number, started: number, resolve: (result: SendResult) => void) {
    this.#limit = limit;
    this.#started = started;
    this.#resolve = resolve;
  }

  watchedBy(bucket: Set<Exchange>): void {
    this.#bucket = bucket;
    bucket.add(this);
  }

  /** The deadline passed: whatever is still under way is abandoned. */
  timeOut(): void {
    if (this.#settled) return;
    this.#settle({
      kind: "error",
      errorClass: "timeout",
      message: "The receiver did not answer in time.",
      durationMs: this.#elapsed(),
    });
    this.#controller?.abort(new DOMException("deadline passed", "TimeoutError"));
  }

  onRequestStart(controller: DispatchController): void {
    this.#controller = controller;
    if (this.#settled) controller.abort(new DOMException("deadline passed", "TimeoutError"));
  }

  onResponseStart(
    _controller: DispatchController,
    statusCode: number,
    headers: Record<string, string | string[]>,
  ): void {
    if (statusCode < 200) return; // 1xx: the real answer follows
    this.#status = statusCode;
    this.#headers = headers;
  }

  onResponseData(controller: DispatchController, chunk: Buffer): void {
    this.#seen += chunk.length;
    if (this.#keptBytes < this.#limit) {
      const slice = chunk.subarray(0, this.#limit - this.#keptBytes);
      this.#kept.push(slice);
      this.#keptBytes += slice.length;
    }
    if (this.#seen > DRAIN_LIMIT) {
      this.#settleResponse();
      controller.abort(new DrainLimitReached());
    }
  }

  onResponseEnd(): void {
    this.#settleResponse();
  }

  onResponseError(_controller: DispatchController | undefined, error: Error): void {
    if (this.#settled) return;
    this.#settle({ kind: "error", ...classifyError(error), durationMs: this.#elapsed() });
  }

  #settleResponse(): void {
    if (this.#settled) return;
    this.#settle({
      kind: "response",
      status: this.#status,
      headers: flattenHeaders(this.#headers),
      body: Buffer.concat(this.#kept),
      bodyTruncated: this.#seen > this.#keptBytes,
      durationMs: this.#elapsed(),
    });
  }

  #settle(result: SendResult): void {
    this.#settled = true;
    this.#bucket?.delete(this);
    this.#resolve(result);
  }

  #elapsed(): number {
    return Math.round(performance.now() - this.#started);
  }
}

/**
 * Wraps undici's connector so that no socket is ever opened to a refused address:
 * literal IPs are checked before connecting (Node skips DNS for them), names are resolved
 * through `guardedLookup`, and the connected socket's peer address is checked once more.
 * Plain http is only ever allowed to loopback, and only when the policy says so.
 */
function guardedConnector(
  policy: NetworkPolicy,
  timeout: number,
  resolve: typeof systemLookup,
): buildConnector.connector {
  const https = build({ timeout, lookup: guardedLookup(policy, "https:", resolve) });
  const http = build({ timeout, lookup: guardedLookup(policy, "http:", resolve) });
  return (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) !== 0) {
      const refusal = refusalFor(host, policy, opts.protocol);
      if (refusal) return callback(refusal, null);
    }
    const connect = opts.protocol === "http:" ? http : https;
    connect(opts, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error("no socket"), null);
      const refusal = socket.remoteAddress
        ? refusalFor(socket.remoteAddress, policy, opts.protocol)
        : new DestinationRefusedError("Destination refused: unknown peer address.");
      if (refusal) {
        socket.destroy();
        return callback(refusal, null);
      }
      callback(null, socket);
    });
  };
}

function refusalFor(
  address: string,
  policy: NetworkPolicy,
  protocol: string,
): DestinationRefusedError | undefined {
  if (protocol === "http:" && !(policy.allowLoopbackHttp && isLoopback(address))) {
    return new DestinationRefusedError(`Destination refused: plain http to ${address}.`);
  }
  const verdict = checkAddress(address, policy);
  return verdict.ok
    ? undefined
    : new DestinationRefusedError(`Destination refused: ${verdict.reason}.`);
}

/**
 * DNS lookup that fails when any address of the name is refused (no mixing games). The refusal
 * does not name the address: attempts are shown to the workspace, and what the service's
 * resolver answers for internal names is not theirs to learn.
 */
function guardedLookup(
  policy: NetworkPolicy,
  protocol: string,
  resolve: typeof systemLookup,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} has no addresses`), "", 0);
      if (addresses.some(({ address }) => refusalFor(address, policy, protocol))) {
        const refusal = new DestinationRefusedError(
          `Destination refused: ${hostname} resolves to a non-public address.`,
        );
        return callback(refusal, "", 0);
      }
      if (options.all) {
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>) {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

const TLS_CODES = /^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|HOSTNAME_MISMATCH)/;

function classifyError(error: unknown): { errorClass: NetworkErrorClass; message: string } {
  const chain: Array<{ name?: string; code?: string; message?: string }> = [];
  for (let e = error as { cause?: unknown } | undefined; e && chain.length < 5; ) {
    chain.push(e as { name?: string; code?: string; message?: string });
    e = e.cause as typeof e;
  }
  const has = (test: (e: { name?: string; code?: string }) => boolean) => chain.find(test);
  const message = (chain[0]?.message ?? String(error)).slice(0, 500);
  const refused = has((e) => e instanceof DestinationRefusedError);
  if (refused) return { errorClass: "destination_refused", message: refused.message ?? message };
  if (has((e) => e.code === "UND_ERR_CONNECT_TIMEOUT")) {
    return { errorClass: "connect_timeout", message };
  }
  if (
    has(
      (e) =>
        e.name === "TimeoutError" ||
        e.code === "UND_ERR_HEADERS_TIMEOUT" ||
        e.code === "UND_ERR_BODY_TIMEOUT",
    )
  ) {
    return { errorClass: "timeout", message: "The receiver did not answer in time." };
  }
  if (has((e) => e.code === "ENOTFOUND" || e.code === "EAI_AGAIN" || e.code === "ENODATA")) {
    return { errorClass: "dns_error", message };
  }
  if (has((e) => TLS_CODES.test(e.code ?? ""))) return { errorClass: "tls_error", message };
  if (
    has((e) =>
      [
        "ECONNREFUSED",
        "ECONNRESET",
        "EPIPE",
        "EHOSTUNREACH",
        "ENETUNREACH",
        "UND_ERR_SOCKET",
      ].includes(e.code ?? ""),
    )
  ) {
    return { errorClass: "connection_error", message };
  }
  return { errorClass: "network_error", message };
}
