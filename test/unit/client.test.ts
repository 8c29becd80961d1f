import { resolve } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { ApiClient, ApiError } from "../../shared/http/client.ts";

const ROOT = resolve(import.meta.dirname, "../..");

describe("the typed API client", () => {
  it("builds the route's URL, query and body, and answers the parsed success body", async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    const client = new ApiClient("https://api.example/", {
      key: "whk_acme_x",
      fetch: async (url, init) => {
        calls.push({ url: String(url), init: init ?? {} });
        return new Response(JSON.stringify({ data: [], nextCursor: null }), { status: 200 });
      },
    });
    const page = await client.call("GET /v1/deliveries", {
      query: { status: "failed", limit: 5, test: "false", cursor: undefined },
    });
    expect(page).toEqual({ data: [], nextCursor: null });
    expect(calls[0]?.url).toBe(
      "https://api.example/v1/deliveries?status=failed&limit=5&test=false",
    );
    expect((calls[0]?.init.headers as Record<string, string> | undefined)?.authorization).toBe(
      "Bearer whk_acme_x",
    );

    await client.call("POST /v1/subscriptions/{id}/test", {
      params: { id: "sub/1" },
      body: { event: "task.created" },
    });
    expect(calls[1]?.url).toBe("https://api.example/v1/subscriptions/sub%2F1/test");
    expect(calls[1]?.init.body).toBe('{"event":"task.created"}');
  });

  it("turns a problem document into an ApiError", async () => {
    const client = new ApiClient("https://api.example", {
      fetch: async () =>
        new Response(JSON.stringify({ status: 404, title: "Not found", detail: "No such." }), {
          status: 404,
        }),
    });
    const failure = client.call("GET /v1/keys");
    await expect(failure).rejects.toThrow(ApiError);
    await expect(failure).rejects.toMatchObject({ status: 404, message: "No such." });
  });

  it("runs in a browser: it and the contract bundle with no Node built-ins", async () => {
    for (const entry of ["shared/http/client.ts", "shared/http/contract.ts"]) {
      const result = await build({
        entryPoints: [resolve(ROOT, entry)],
        bundle: true,
        platform: "browser",
        format: "esm",
        minify: true,
        write: false,
        logLevel: "silent",
      });
      const code = result.outputFiles[0]?.text ?? "";
      expect(code, entry).not.toMatch(/node:|require\(/);
      if (entry.endsWith("client.ts")) expect(code.length).toBeLessThan(4000);
    }
  });
});
