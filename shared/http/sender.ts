import { type LookupAddress, lookup as systemLookup } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import type { buildConnector, Dispatcher } from "undici";
import dispatch from "undici/lib/api/api-request.js";
import build from "undici/lib/core/connect.js";
// By path, not the package root: see types/undici-internals.d.ts.
import Agent from "undici/lib/dispatcher/agent.js";
import { checkAddress, checkUrl, isLoopback, type NetworkPolicy } from "../ssrf.ts";

/** Why an attempt produced no HTTP response. `destination_refused` is never retried. */
export type NetworkErrorClass =
  | "destination_refused"
  | "dns_error"
  | "connect_timeout"
  | "connection_error"
  | "tls_error"
  | "timeout"
  | "network_error";

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
      body: string;
      bodyTruncated: boolean;
      durationMs: number;
    }
  | { kind: "error"; errorClass: NetworkErrorClass; message: string; durationMs: number };

/** The port the deliver use case talks to. */
export interface WebhookSender {
  send(request: SendRequest): Promise<SendResult>;
}

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

  async function send(request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const verdict = checkUrl(request.url, policy);
    if (!verdict.ok) {
      return {
        kind: "error",
        errorClass: "destination_refused",
        message: `Destination refused: ${verdict.reason}.`,
        durationMs: 0,
      };
    }
    try {
      const response = await dispatch.call(agent, {
        ...target(request.url),
        method: "POST",
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      const { text, truncated } = await readCapped(response.body, responseBodyLimit);
      return {
        kind: "response",
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        body: text,
        bodyTruncated: truncated,
        durationMs: elapsed(),
      };
    } catch (error) {
      return { kind: "error", ...classifyError(error), durationMs: elapsed() };
    }
  }

  return { send, close: () => agent.close() };
}

function target(raw: string): { origin: string; path: string } {
  const url = new URL(raw);
  return { origin: url.origin, path: `${url.pathname}${url.search}` };
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

/** DNS lookup that fails when any address of the name is refused (no mixing games). */
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
      for (const { address } of addresses) {
        const refusal = refusalFor(address, policy, protocol);
        if (refusal) {
          refusal.message = refusal.message.replace(
            "Destination refused: ",
            `Destination refused: ${hostname} resolves to a refused address: `,
          );
          return callback(refusal, "", 0);
        }
      }
      if (options.all) {
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}

async function readCapped(
  body: Dispatcher.ResponseData["body"],
  limit: number,
): Promise<{ text: string; truncated: boolean }> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let seen = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (keptBytes < limit) {
      const slice = chunk.subarray(0, limit - keptBytes);
      kept.push(slice);
      keptBytes += slice.length;
    }
    // Reading on keeps the connection reusable; past DRAIN_LIMIT it is cheaper to drop it.
    if (seen > DRAIN_LIMIT) {
      body.destroy();
      break;
    }
  }
  return { text: Buffer.concat(kept).toString("utf8"), truncated: seen > keptBytes };
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
