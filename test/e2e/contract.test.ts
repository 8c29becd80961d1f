import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { ROUTE_KEYS } from "../../shared/http/contract.ts";
import { silentLogger } from "../../shared/log.ts";
import { api, eventually } from "../helpers/api-client.ts";
import { webhooks } from "../helpers/cli.ts";
import { checkedRoutes } from "../helpers/contract.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

/**
 * The contract, end to end: every route of the table is called on the local stack and every
 * answer is checked against the OpenAPI document (test/helpers/api-client.ts does that for
 * each call), test sends included — signed, recorded with `test: true`, never retried, never
 * dead-lettered — and the CLI prints a receiver's answer without its control characters.
 */
const ROOT = resolve(import.meta.dirname, "../..");
let stack: LocalStack;
let dataDir: string;
let healthy: TestServer;
let failing: TestServer;
const ids: Record<string, string> = {};
let secret = "";

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-contract-"));
  stack = await startLocalStack(
    { PORT: "0", WEBHOOKS_LOCAL_DATA_DIR: dataDir, WEBHOOKS_RETRY_SCHEDULE: "0,1" },
    { log: silentLogger },
  );
  healthy = await startServer((_request, res) => {
    res.writeHead(200, { "content-type": "text/plain", "x-receiver": "healthy" });
    res.end("thanks");
  });
  failing = await startServer((_request, res) => {
    res.writeHead(500, { "content-type": "text/plain" });
    // A receiver trying to write into the operator's terminal: colour, a title, a bell.
    res.end("\u001b[31mdatabase down\u001b[0m\u001b]0;owned\u0007\u0007\r\n");
  });
});

afterAll(async () => {
  await healthy?.close();
  await failing?.close();
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const admin = () => ({ key: stack.adminKey });

describe("the API, against its OpenAPI document", () => {
  it("serves the document without a key: the committed docs/openapi.json", async () => {
    expect((await api(stack.url, "GET", "/health")).status).toBe(200);
    const served = await api(stack.url, "GET", "/v1/openapi.json");
    expect(served.status).toBe(200);
    const committed = JSON.parse(await readFile(join(ROOT, "docs/openapi.json"), "utf8"));
    expect(served.body).toEqual(committed);
  });

  it("tells both roles where deliveries come from: nowhere fixed on a stack without the VPC option", async () => {
    for (const key of [stack.adminKey, stack.ingestKey]) {
      const answer = await api(stack.url, "GET", "/v1/meta/egress-ips", { key });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ egressIps: [], static: false });
    }
  });

  it("lists the catalog: fifteen events, each with a schema its example matches", async () => {
    const catalog = await api(stack.url, "GET", "/v1/event-types", admin());
    expect(catalog.status).toBe(200);
    expect(catalog.body.data).toHaveLength(15);
    const ajv = new Ajv2020({ strict: false });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    for (const entry of catalog.body.data) {
      expect(Object.keys(entry)).toEqual(
        expect.arrayContaining(["name", "entity", "action", "description"]),
      );
      const validate = ajv.compile(entry.schema);
      expect(validate(entry.example), `${entry.name}: ${ajv.errorsText(validate.errors)}`).toBe(
        true,
      );
      // The envelope is strict: exactly event, data and timestamp.
      expect(validate({ ...entry.example, extra: 1 })).toBe(false);
      expect(validate({ ...entry.example, data: { name: "no id" } })).toBe(false);
    }
    const operational = await api(
      stack.url,
      "GET",
      "/v1/event-types?category=operational",
      admin(),
    );
    expect(operational.body.data.map((e: { name: string }) => e.name)).toEqual([
      "webhook.delivery.exhausted",
      "webhook.subscription.failing",
      "webhook.subscription.disabled",
      "webhook.subscription.recovered",
    ]);
    for (const entry of operational.body.data) {
      const validate = ajv.compile(entry.schema);
      expect(validate(entry.example), entry.name).toBe(true);
    }
    const bad = await api(stack.url, "GET", "/v1/event-types?category=nope", admin());
    expect(bad.status).toBe(422);
  });

  it("subscriptions: create, list, read, change, rotate", async () => {
    const created = await api(stack.url, "POST", "/v1/subscriptions", {
      ...admin(),
      body: { url: `${healthy.url}/in`, events: ["contact.created"], generateSecret: true },
    });
    expect(created.status).toBe(201);
    ids.healthy = created.body.id;
    const broken = await api(stack.url, "POST", "/v1/subscriptions", {
      ...admin(),
      body: { url: `${failing.url}/in`, events: ["deal.deleted"], enabled: false },
    });
    ids.failing = broken.body.id;
    expect((await api(stack.url, "GET", "/v1/subscriptions", admin())).body.data).toHaveLength(2);
    expect((await api(stack.url, "GET", `/v1/subscriptions/${ids.healthy}`, admin())).status).toBe(
      200,
    );
    const patched = await api(stack.url, "PATCH", `/v1/subscriptions/${ids.healthy}`, {
      ...admin(),
      body: { description: "contract test" },
    });
    expect(patched.body.description).toBe("contract test");
    const rotated = await api(stack.url, "POST", `/v1/subscriptions/${ids.healthy}/rotate-secret`, {
      ...admin(),
      body: { gracePeriodSeconds: 0 },
    });
    expect(rotated.status).toBe(200);
    secret = rotated.body.secret;
    const stats = await api(
      stack.url,
      "GET",
      `/v1/subscriptions/${ids.healthy}/stats?window=7d`,
      admin(),
    );
    expect(stats.body).toMatchObject({ subscriptionId: ids.healthy, window: "7d", attempts: 0 });
    expect(
      (await api(stack.url, "GET", `/v1/subscriptions/${ids.healthy}/stats?window=1y`, admin()))
        .status,
    ).toBe(422);
    expect(secret).toMatch(/^whsec_/);
  });

  it("a test send goes out now, signed, and answers what the receiver said", async () => {
    const sent = await api(stack.url, "POST", `/v1/subscriptions/${ids.healthy}/test`, {
      ...admin(),
      body: {},
    });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({
      event: "contact.created",
      status: "succeeded",
      response: { status: 200, body: "thanks", headers: { "x-receiver": "healthy" } },
      error: null,
    });
    expect(sent.body.eventId).toMatch(/^test_/);
    ids.testDelivery = sent.body.deliveryId;
    const [got] = healthy.requests;
    expect(got?.headers["webhook-id"]).toBe(sent.body.deliveryId);
    expect(got?.headers["x-webhook-event"]).toBe("contact.created");
    const body = new Webhook(secret).verify(got?.body ?? "", got?.headers ?? {});
    expect(body).toMatchObject({ event: "contact.created", data: { id: "c_42" } });

    // Recorded, with its payload, marked as a test.
    const detail = await api(stack.url, "GET", `/v1/deliveries/${ids.testDelivery}`, admin());
    expect(detail.body).toMatchObject({ test: true, status: "succeeded", attemptCount: 1 });
    expect(detail.body.payload).toBe(got?.body.toString("utf8"));
    // Never resent.
    const resend = await api(
      stack.url,
      "POST",
      `/v1/deliveries/${ids.testDelivery}/resend`,
      admin(),
    );
    expect(resend.status).toBe(409);
  });

  it("a failing test send is recorded failed, never retried, never dead-lettered (even disabled)", async () => {
    const sent = await api(stack.url, "POST", `/v1/subscriptions/${ids.failing}/test`, {
      ...admin(),
      body: { event: "deal.deleted" },
    });
    expect(sent.body).toMatchObject({
      event: "deal.deleted",
      status: "failed",
      response: { status: 500 },
      error: { class: "http_status" },
    });
    ids.failedTest = sent.body.deliveryId;
    const unknown = await api(stack.url, "POST", `/v1/subscriptions/${ids.failing}/test`, {
      ...admin(),
      body: { event: "contact.merged" },
    });
    expect(unknown.status).toBe(422);
    await new Promise((done) => setTimeout(done, 2500));
    expect(failing.requests).toHaveLength(1);
    const dlq = await api(stack.url, "GET", "/v1/dlq", admin());
    expect(dlq.body).toMatchObject({ depth: 0, depthExact: true });
    const tests = await api(stack.url, "GET", "/v1/deliveries?test=true", admin());
    expect(tests.body.data.map((d: { id: string }) => d.id).sort()).toEqual(
      [ids.testDelivery, ids.failedTest].sort(),
    );
  });

  it("events, deliveries, replays and dead letters", async () => {
    const accepted = await api(stack.url, "POST", "/v1/events", {
      key: stack.ingestKey,
      body: { event: "contact.created", data: { id: 12345, name: "Ada" } },
    });
    expect(accepted.status).toBe(202);
    const noId = await api(stack.url, "POST", "/v1/events", {
      key: stack.ingestKey,
      body: { event: "contact.created", data: { name: "no id" } },
    });
    expect(noId.status).toBe(422);
    expect(noId.body.errors.map((e: { field: string }) => e.field)).toEqual(["data.id"]);

    const real = await eventually(async () => {
      const list = await api(stack.url, "GET", "/v1/deliveries?test=false", admin());
      const found = list.body.data.find((d: { status: string }) => d.status === "succeeded");
      return found as { id: string } | undefined;
    });
    expect(real).toMatchObject({ test: false });
    const resend = await api(stack.url, "POST", `/v1/deliveries/${real.id}/resend`, admin());
    expect(resend.status).toBe(202);
    const replay = await api(stack.url, "POST", "/v1/deliveries/replay", {
      ...admin(),
      body: { from: "2020-01-01T00:00:00Z", to: "2030-01-01T00:00:00Z", status: ["failed"] },
    });
    expect(replay.status).toBe(200);
    const redrive = await api(stack.url, "POST", "/v1/dlq/redrive", { ...admin(), body: {} });
    expect(redrive.body).toMatchObject({ moved: 0, left: 0 });
  });

  it("a batch of events: each accepted or refused on its own; the CLI sends a file of them", async () => {
    const batch = await api(stack.url, "POST", "/v1/events/batch", {
      key: stack.ingestKey,
      body: {
        events: [
          { id: "batch-1", event: "contact.created", data: { id: "c_b1" } },
          { id: "batch-2", event: "contact.created", data: { name: "no id" } },
          { id: "batch-3", event: "deal.deleted", data: { id: "d_3" } },
        ],
      },
    });
    expect(batch.status).toBe(200);
    expect(batch.body).toMatchObject({ accepted: 2, failed: 1 });
    expect(batch.body.results.map((r: { status: number }) => r.status)).toEqual([202, 422, 202]);
    const again = await api(stack.url, "POST", "/v1/events/batch", {
      key: stack.ingestKey,
      body: { events: [{ id: "batch-1", event: "contact.created", data: { id: "c_b1" } }] },
    });
    expect(again.body.results[0]).toMatchObject({ status: 202, replayed: true });
    // The healthy subscription got batch-1, exactly once.
    await eventually(async () =>
      healthy.requests.some((r) => r.body.toString("utf8").includes('"c_b1"')) ? true : undefined,
    );

    const file = join(dataDir, "events.ndjson");
    await writeFile(
      file,
      [
        '{"id":"file-1","event":"contact.created","data":{"id":98765432109876543210}}',
        "",
        '{"id":"file-2","event":"contact.created","data":{}}',
        "not json",
        '{"id":"file-3","event":"task.created","data":{"id":"t_1"}}',
      ].join("\n"),
    );
    const run = await webhooks(
      ["events", "send", "--file", file, "--api-url", stack.url, "--json"],
      { WEBHOOKS_API_KEY: stack.ingestKey },
    );
    expect(run.code).toBe(1);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ accepted: 2, failed: 2 });
    expect(
      summary.failures.map((f: { line: number; status: number }) => [f.line, f.status]),
    ).toEqual([
      [3, 422],
      [4, 0],
    ]);
    // The record's 20-digit id went through as written.
    await eventually(async () =>
      healthy.requests.some((r) => r.body.toString("utf8").includes("98765432109876543210"))
        ? true
        : undefined,
    );
  });

  it("keys, portal sessions, and deleting a subscription", async () => {
    const key = await api(stack.url, "POST", "/v1/keys", {
      ...admin(),
      body: { role: "ingest", name: "contract" },
    });
    expect(key.status).toBe(201);
    expect((await api(stack.url, "GET", "/v1/keys", admin())).status).toBe(200);
    expect((await api(stack.url, "DELETE", `/v1/keys/${key.body.id}`, admin())).status).toBe(204);
    const portal = await api(stack.url, "POST", "/v1/portal-sessions", {
      ...admin(),
      body: { capabilities: ["read"], subscriptionIds: [ids.healthy] },
    });
    expect(portal.status).toBe(201);
    const who = await api(stack.url, "GET", "/v1/whoami", { key: portal.body.token });
    expect(who.body).toMatchObject({ kind: "portal-session", subscriptionIds: [ids.healthy] });
    const ended = await api(stack.url, "DELETE", `/v1/portal-sessions/${portal.body.id}`, admin());
    expect(ended.status).toBe(204);
    expect(
      (await api(stack.url, "DELETE", `/v1/subscriptions/${ids.failing}`, admin())).status,
    ).toBe(204);
  });

  it("checked an answer of every route in the table against the document", () => {
    expect([...checkedRoutes].sort()).toEqual([...ROUTE_KEYS].sort());
  });
});

describe("the CLI's test sends and what it prints of receivers", () => {
  it("`subscriptions test` shows the answer; a receiver's control characters never reach the terminal", async () => {
    const env = { WEBHOOKS_API_URL: stack.url, WEBHOOKS_API_KEY: stack.adminKey };
    const ok = await webhooks(
      ["subscriptions", "test", ids.healthy ?? "", "--event", "contact.updated"],
      env,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/result +succeeded/);
    expect(ok.stdout).toContain("thanks");

    const shown = await webhooks(["deliveries", "show", ids.failedTest ?? ""], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("database down");
    expect(shown.stdout).toContain("a test send");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them is the point
    expect(shown.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    const listed = await webhooks(["deliveries", "list", "--test", "true", "--json"], env);
    expect(JSON.parse(listed.stdout).data.length).toBeGreaterThanOrEqual(3);
  });
});
