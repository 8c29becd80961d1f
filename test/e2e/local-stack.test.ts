import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "../../shared/keys.ts";
import { api, eventually } from "../helpers/api-client.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";
import { runLocalProcessToExit, startLocalProcess } from "../helpers/local-process.ts";

/** `npm start` as a user runs it: a separate process, its banner, its data directory. */
let dataDir: string;
let receiver: TestServer;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-local-"));
  receiver = await startServer();
});
afterAll(async () => {
  await receiver.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("npm start (bin/local.ts)", () => {
  it("serves /health, prints working keys, and keeps data and keys across a restart", async () => {
    const first = await startLocalProcess({ WEBHOOKS_LOCAL_DATA_DIR: dataDir });
    let subscriptionId: string;
    try {
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(first.adminKey).toMatch(/^whk_demo_[0-9a-f]{64}$/);
      expect((await api(first.url, "GET", "/health")).body).toEqual({ status: "ok" });
      // The web console, built by npm start when needed, on the API's origin.
      expect(first.output()).toContain(`Console      ${first.url}/console`);
      const page = await fetch(`${first.url}/console`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
      const asset = await fetch(`${first.url}${script}`);
      expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      expect(asset.headers.get("cache-control")).toContain("immutable");
      for (const outside of [
        "/console/../.data/local-keys.json",
        "/console/assets/..%2f..%2f.data%2flocal-keys.json",
      ]) {
        expect((await fetch(`${first.url}${outside}`)).status, outside).toBe(404);
      }
      expect((await fetch(`${first.url}/console/assets/nope.js`)).status).toBe(404);
      const created = await api(first.url, "POST", "/v1/subscriptions", {
        key: first.adminKey,
        body: { url: `${receiver.url}/in`, events: ["task.created"] },
      });
      expect(created.status).toBe(201);
      subscriptionId = created.body.id;
      const posted = await api(first.url, "POST", "/v1/events", {
        key: first.ingestKey,
        body: { event: "task.created", data: { id: "t_1" } },
      });
      expect(posted.body.deliveries).toBe(1);
      await receiver.waitFor(1);
      await eventually(async () => {
        const list = await api(first.url, "GET", "/v1/deliveries", { key: first.adminKey });
        return list.body.data.length === 1 ? list : undefined;
      });
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const keysFile = join(dataDir, "local-keys.json");
    expect((await stat(keysFile)).mode & 0o777).toBe(0o600);
    // The local Invoke API's token: printed for export, kept beside the keys, owner-only.
    const token = /export WEBHOOKS_LOCAL_INVOKE_TOKEN=([0-9a-f]{64})\n/.exec(first.output())?.[1];
    expect(token, first.output()).toBeDefined();
    const tokenFile = join(dataDir, "local-invoke-token");
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(tokenFile, "utf8")).trim()).toBe(token);
    expect(JSON.parse(await readFile(keysFile, "utf8"))).toEqual({
      admin: first.adminKey,
      ingest: first.ingestKey,
    });

    const second = await startLocalProcess({ WEBHOOKS_LOCAL_DATA_DIR: dataDir });
    try {
      expect(second.adminKey).toBe(first.adminKey);
      expect(second.output()).toContain(`export WEBHOOKS_LOCAL_INVOKE_TOKEN=${token}\n`);
      const subscription = await api(second.url, "GET", `/v1/subscriptions/${subscriptionId}`, {
        key: second.adminKey,
      });
      expect(subscription.status).toBe(200);
      const deliveries = await api(second.url, "GET", "/v1/deliveries", { key: second.adminKey });
      expect(deliveries.body.data).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });

  it("uses the keys from WEBHOOKS_LOCAL_*_KEY and revokes the ones it generated before", async () => {
    const admin = generateApiKey("demo");
    const ingest = generateApiKey("demo");
    const stack = await startLocalProcess({
      WEBHOOKS_LOCAL_DATA_DIR: dataDir,
      WEBHOOKS_LOCAL_ADMIN_KEY: admin,
      WEBHOOKS_LOCAL_INGEST_KEY: ingest,
    });
    try {
      expect(stack.adminKey).toBe(admin);
      expect((await api(stack.url, "GET", "/v1/subscriptions", { key: admin })).status).toBe(200);
      const saved = JSON.parse(await readFile(join(dataDir, "local-keys.json"), "utf8"));
      expect((await api(stack.url, "GET", "/v1/subscriptions", { key: saved.admin })).status).toBe(
        401,
      );
    } finally {
      await stack.stop();
    }
  });

  it("refuses a key that is not a demo workspace key, saying what it should look like", async () => {
    const result = await runLocalProcessToExit({
      WEBHOOKS_LOCAL_DATA_DIR: dataDir,
      WEBHOOKS_LOCAL_ADMIN_KEY: "admin-secret",
      WEBHOOKS_LOCAL_INGEST_KEY: "ingest-secret",
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain(
      "WEBHOOKS_LOCAL_ADMIN_KEY must be set to a key of the demo workspace",
    );
  });

  it("refuses a bad setting at start", async () => {
    const result = await runLocalProcessToExit({ WEBHOOKS_LOCAL_DATA_DIR: dataDir, PORT: "http" });
    expect(result.code).toBe(1);
    expect(result.output).toContain("PORT: must be a port number");
  });
});
