/**
 * The deliver function's floor (bench/floor/deliver.ts) plus the two things this project's
 * delivery cannot do without: the configuration read through its zod schema at cold start
 * (shared/config.ts), and the POST made with undici from npm — whose `Agent` is what lets
 * the sender check each address at connect time (the SSRF guard) and what the throughput
 * budget is measured against — instead of Node's built-in fetch (whose own copy of undici is
 * compiled into Node). No signing, no guard, no lifecycle, no stores of this project.
 *
 * Measured by `COLDSTART_VARIANT=validated-floor npm run bench:coldstart`: what any delivery
 * with this contract's guarantees adds to the floor.
 */
import type { SQSEvent } from "aws-lambda";
// As the sender imports it (shared/http/sender.ts): the pool, not the package root.
import Agent from "undici/lib/dispatcher/agent.js";
import { loadConfig } from "../../shared/config.ts";
import { handler as floor } from "../floor/deliver.ts";

export const config = loadConfig();
const agent = new Agent();

interface Init {
  method: string;
  headers: Record<string, string>;
  body: string;
}

/** The floor's one `fetch`, made on an undici pool with its handler API, as the sender does. */
const post = (url: string, init: Init) =>
  new Promise((resolve, reject) => {
    const { origin, pathname, search } = new URL(url);
    const chunks: Buffer[] = [];
    let status = 0;
    agent.dispatch(
      {
        origin,
        path: pathname + search,
        method: init.method,
        headers: init.headers,
        body: init.body,
      },
      {
        onRequestStart: () => {},
        onResponseStart: (_controller: unknown, statusCode: number) => {
          status = statusCode;
        },
        onResponseData: (_controller: unknown, chunk: Buffer) => {
          chunks.push(chunk);
        },
        onResponseEnd: () =>
          resolve({
            ok: status >= 200 && status < 300,
            status,
            text: async () => Buffer.concat(chunks).toString("utf8"),
          }),
        onResponseError: (_controller: unknown, error: Error) => reject(error),
      },
    );
  });

export function handler(event: SQSEvent) {
  globalThis.fetch = post as unknown as typeof fetch;
  return floor(event);
}
