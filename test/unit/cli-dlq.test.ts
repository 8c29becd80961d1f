import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Io } from "../../cli/output.ts";
import { createProgram } from "../../cli/program.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

/**
 * `webhooks dlq redrive` follows the API's cursor to the end. When GET /v1/dlq says its depth
 * is only a floor (more than the count's budget), the CLI must not stop at that number: an
 * endpoint down for days leaves far more than 10,000 dead letters.
 */
const TOTAL = 25_000;
let api: TestServer;
let pages = 0;

beforeAll(async () => {
  api = await startServer((request, res) => {
    res.setHeader("content-type", "application/json");
    if (request.method === "GET" && request.url.startsWith("/v1/dlq")) {
      res.end(
        JSON.stringify({
          depth: 10_000,
          depthExact: false,
          oldestFailedAt: null,
          oldestAgeSeconds: null,
        }),
      );
      return;
    }
    const body = JSON.parse(request.body.toString("utf8") || "{}");
    const at =
      body.cursor === undefined ? 0 : Number(Buffer.from(body.cursor, "base64url").toString());
    const moved = Math.min(body.limit ?? 100, TOTAL - at);
    const next = at + moved;
    pages++;
    res.end(
      JSON.stringify({
        moved,
        skipped: 0,
        errors: [],
        left: Math.min(1000, TOTAL - next),
        leftExact: TOTAL - next <= 1000,
        nextCursor: next < TOTAL ? Buffer.from(String(next)).toString("base64url") : null,
      }),
    );
  });
});
afterAll(() => api.close());

async function run(args: string[]) {
  const out: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => out.push(t), interactive: false };
  await createProgram(io, {})
    .exitOverride()
    .parseAsync(["node", "webhooks", "--api-url", api.url, "--key", "whk_demo_x", ...args]);
  return out.join("\n");
}

describe("webhooks dlq redrive", () => {
  it("goes past a capped depth, page after page, to the end of the cursor", async () => {
    pages = 0;
    const answer = JSON.parse(await run(["dlq", "redrive", "--json"]));
    expect(answer).toMatchObject({ moved: TOTAL, left: 0, leftExact: true });
    expect(pages).toBe(TOTAL / 100);
  });

  it("still stops at --limit", async () => {
    pages = 0;
    const answer = JSON.parse(await run(["dlq", "redrive", "--limit", "12345", "--json"]));
    expect(answer.moved).toBe(12_345);
  });
});
