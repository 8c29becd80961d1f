import { createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { silentLogger } from "../../shared/log.ts";
import { api, eventually } from "../helpers/api-client.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

/**
 * Operating it, end to end on the local stack: operational webhooks reach the subscriptions
 * that ask for them, signed and verifiable; a 410 disables at once; a subscription's stats
 * match the deliveries made.
 */
let stack: LocalStack;
let dataDir: string;
let watcher: TestServer;
let broken: TestServer;
let gone: TestServer;
let flaky: TestServer;
let watcherSecret = "";
const ids: Record<string, string> = {};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-operations-"));
  stack = await startLocalStack(
    { PORT: "0", WEBHOOKS_LOCAL_DATA_DIR: dataDir, WEBHOOKS_RETRY_SCHEDULE: "0,1" },
    { log: silentLogger },
  );
  watcher = await startServer();
  broken = await startServer((_r, res) => {
    res.writeHead(500);
    res.end("down");
  });
  gone = await startServer((_r, res) => {
    res.writeHead(410);
    res.end("this endpoint is gone");
  });
  // Fails each delivery's first attempt, then succeeds.
  const seen = new Set<string>();
  flaky = await startServer((request, res) => {
    const id = request.headers["webhook-id"] ?? "";
    res.writeHead(seen.has(id) ? 200 : 503);
    seen.add(id);
    res.end();
  });
});

afterAll(async () => {
  for (const server of [watcher, broken, gone, flaky]) await server?.close();
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const admin = () => ({ key: stack.adminKey });
const subscribe = async (url: string, events: string[]) => {
  const created = await api(stack.url, "POST", "/v1/subscriptions", {
    ...admin(),
    body: { url: `${url}/hook`, events, generateSecret: true },
  });
  expect(created.status).toBe(201);
  return created.body as { id: string; secret: string };
};
const post = (event: string, id: string) =>
  api(stack.url, "POST", "/v1/events", {
    key: stack.ingestKey,
    body: { id, event, data: { id: `r_${id}` } },
  });
/** What the watcher got, verified with the Standard Webhooks library and a plain HMAC. */
const watched = () =>
  watcher.requests.map((request) => {
    const body = request.body.toString("utf8");
    const verified = new Webhook(watcherSecret).verify(body, request.headers) as {
      event: string;
      data: Record<string, unknown>;
    };
    const hex = createHmac("sha256", watcherSecret).update(body).digest("hex");
    expect(request.headers["x-webhook-signature"]).toBe(hex);
    return verified;
  });

describe("operating it", () => {
  beforeAll(async () => {
    const w = await subscribe(watcher.url, [
      "webhook.delivery.exhausted",
      "webhook.subscription.failing",
      "webhook.subscription.disabled",
      "webhook.subscription.recovered",
    ]);
    watcherSecret = w.secret;
    ids.watcher = w.id;
    ids.broken = (await subscribe(broken.url, ["deal.updated"])).id;
  });

  it("a delivery that fails for good raises webhook.delivery.exhausted, signed, to the subscriber of it", async () => {
    expect((await post("deal.updated", "ops-1")).status).toBe(202);
    const exhausted = await eventually(async () =>
      watched().find((w) => w.event === "webhook.delivery.exhausted"),
    );
    expect(exhausted.data).toMatchObject({
      eventId: "ops-1",
      event: "deal.updated",
      subscriptionId: ids.broken,
      url: `${broken.url}/hook`,
      attempts: 2,
      reason: "exhausted",
      lastError: "HTTP 500",
    });
    // The first failure raised webhook.subscription.failing too; nothing went to the broken one.
    expect(watched().map((w) => w.event)).toContain("webhook.subscription.failing");
    expect(broken.requests.every((r) => !r.body.toString().includes("webhook."))).toBe(true);
  });

  it("a 410 disables the subscription at once and raises webhook.subscription.disabled", async () => {
    ids.gone = (await subscribe(gone.url, ["deal.created"])).id;
    expect((await post("deal.created", "ops-2")).status).toBe(202);
    const disabled = await eventually(async () =>
      watched().find(
        (w) => w.event === "webhook.subscription.disabled" && w.data.subscriptionId === ids.gone,
      ),
    );
    expect(disabled.data.reason).toMatch(/410 Gone/);
    expect(gone.requests).toHaveLength(1);
    const subscription = await api(stack.url, "GET", `/v1/subscriptions/${ids.gone}`, admin());
    expect(subscription.body).toMatchObject({
      enabled: false,
      disabledReason: expect.stringMatching(/410/),
    });
    const listed = await api(stack.url, "GET", "/v1/deliveries?event=deal.created", admin());
    const delivery = await api(
      stack.url,
      "GET",
      `/v1/deliveries/${listed.body.data[0].id}`,
      admin(),
    );
    expect(delivery.body).toMatchObject({ status: "failed", reason: "gone", attemptCount: 1 });
  });

  it("a subscription's stats match the deliveries made", async () => {
    ids.flaky = (await subscribe(flaky.url, ["task.created"])).id;
    for (let i = 0; i < 5; i++)
      expect((await post("task.created", `ops-stat-${i}`)).status).toBe(202);
    const deliveries = await eventually(async () => {
      const list = await api(
        stack.url,
        "GET",
        `/v1/deliveries?subscriptionId=${ids.flaky}&limit=100`,
        admin(),
      );
      const all = list.body.data as Array<{ status: string; attemptCount: number }>;
      return all.length === 5 && all.every((d) => d.status === "succeeded") ? all : undefined;
    }, 30_000);
    const attempts = deliveries.reduce((sum, d) => sum + d.attemptCount, 0);
    expect(attempts).toBe(10);
    const stats = await eventually(async () => {
      const answer = await api(stack.url, "GET", `/v1/subscriptions/${ids.flaky}/stats`, admin());
      return answer.body.attempts === attempts ? answer.body : undefined;
    });
    expect(stats).toMatchObject({
      window: "24h",
      attempts: 10,
      succeeded: 5,
      failed: 5,
      failedByClass: { http_status: 5 },
      health: { enabled: true },
    });
    expect(stats.latencyMs.p50).toBeGreaterThan(0);
    expect(stats.hours).toHaveLength(24);
    expect(stats.hours.reduce((n: number, h: { attempts: number }) => n + h.attempts, 0)).toBe(10);
    const week = await api(
      stack.url,
      "GET",
      `/v1/subscriptions/${ids.flaky}/stats?window=7d`,
      admin(),
    );
    expect(week.body).toMatchObject({ window: "7d", attempts: 10 });
    expect(week.body.hours).toHaveLength(168);
    // The flaky endpoint failed, then answered: it recovered.
    await eventually(async () =>
      watched().find(
        (w) => w.event === "webhook.subscription.recovered" && w.data.subscriptionId === ids.flaky,
      ),
    );
  });
});
