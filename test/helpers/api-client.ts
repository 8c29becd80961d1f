/* biome-ignore-all lint/suspicious/noExplicitAny: test answers are inspected loosely */
import { assertContract } from "./contract.ts";

/**
 * A tiny fetch wrapper for end-to-end tests against the local API. Every answer is checked
 * against the OpenAPI document (test/helpers/contract.ts): a status the route does not document,
 * or a body that does not match its schema, fails the test that made the call.
 */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export async function api(
  base: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  assertContract(method, path, {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: parsed,
  });
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
