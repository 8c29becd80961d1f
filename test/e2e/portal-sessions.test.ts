import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { createDocumentClient } from "../../shared/aws.ts";
import { ROUTE_KEYS, ROUTE_TABLE, type RouteKey } from "../../shared/http/contract.ts";
import { newPortalSessionId } from "../../shared/ids.ts";
import { silentLogger } from "../../shared/log.ts";
import { generatePortalToken, hashPortalToken } from "../../shared/portal-tokens.ts";
import { DynamoPortalSessionStore } from "../../shared/store/portal-session-store.ts";
import { api, eventually } from "../helpers/api-client.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

/**
 * Portal sessions end to end on the local stack: the token is shown once and stored as a hash
 * with a TTL; a session may call exactly the routes its capabilities name (403 otherwise, 401
 * once expired); a session limited to some subscriptions sees and acts on only those and their
 * deliveries, and learns nothing of the others.
 */
let stack: LocalStack;
let dataDir: string;
let receiver: TestServer;
const ids: Record<string, string> = {};
const admin = () => ({ key: stack.adminKey });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-portal-"));
  stack = await startLocalStack(
    { PORT: "0", WEBHOOKS_LOCAL_DATA_DIR: dataDir, WEBHOOKS_RETRY_SCHEDULE: "0,1" },
    { log: silentLogger },
  );
  receiver = await startServer();
  for (const name of ["mine", "theirs"]) {
    const created = await api(stack.url, "POST", "/v1/subscriptions", {
      ...admin(),
      body: { url: `${receiver.url}/${name}`, events: ["contact.created"], description: name },
    });
    ids[name] = created.body.id;
  }
  await api(stack.url, "POST", "/v1/events", {
    key: stack.ingestKey,
    body: { event: "contact.created", data: { id: "c_1" } },
  });
  await eventually(async () => {
    const list = await api(stack.url, "GET", "/v1/deliveries?status=succeeded", admin());
    if (list.body.data.length < 2) return undefined;
    for (const d of list.body.data)
      ids[d.subscriptionId === ids.mine ? "myDelivery" : "theirDelivery"] = d.id;
    return true;
  });
});

afterAll(async () => {
  await receiver?.close();
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const session = async (body: Record<string, unknown>) => {
  const created = await api(stack.url, "POST", "/v1/portal-sessions", { ...admin(), body });
  expect(created.status, created.text).toBe(201);
  return created.body as { token: string; expiresAt: string; consolePath: string; id: string };
};

describe("POST /v1/portal-sessions", () => {
  it("answers the token once, stores only its hash, with DynamoDB's TTL attribute", async () => {
    const before = Date.now();
    const created = await session({ capabilities: ["resend", "read"], ttlSeconds: 600 });
    expect(created.token).toMatch(/^whp_demo_[0-9a-f]{64}$/);
    expect(created.consolePath).toBe(`/console#session=${created.token}`);
    expect(created).toMatchObject({ capabilities: ["read", "resend"], subscriptionIds: null });
    const expires = Date.parse(created.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 600_000);

    const items =
      (await createDocumentClient().send(new ScanCommand({ TableName: "webhooks" }))).Items ?? [];
    const stored = items.filter((item) => item.type === "portal-session");
    expect(JSON.stringify(items)).not.toContain(created.token);
    expect(JSON.stringify(items)).not.toContain(created.token.slice(-64));
    expect(stored).toContainEqual(
      expect.objectContaining({
        pk: "WS#demo#PORTAL",
        sk: `SESSION#${hashPortalToken(created.token)}`,
        expiresAt: expires / 1000,
      }),
    );
  });

  it("refuses a session without read, an unknown subscription, a day and a second, and non-admins", async () => {
    const post = (body: unknown, key = stack.adminKey) =>
      api(stack.url, "POST", "/v1/portal-sessions", { key, body });
    const noRead = await post({ capabilities: ["manage"] });
    expect(noRead.status).toBe(422);
    expect(noRead.body.errors[0].field).toBe("capabilities");
    const unknown = await post({
      capabilities: ["read"],
      subscriptionIds: [ids.mine, "sub_01JDX5Z7K3M8Q9RST0VWXYZ0AB"],
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors).toEqual([
      { field: "subscriptionIds.1", detail: expect.stringContaining("No subscription") },
    ]);
    expect((await post({ capabilities: ["read"], ttlSeconds: 86_401 })).status).toBe(422);
    expect((await post({ capabilities: ["read"] }, stack.ingestKey)).status).toBe(403);
  });
});

describe("a session's capabilities", () => {
  it("allow exactly the routes that name them; keys-only routes refuse every session", async () => {
    const readResend = await session({ capabilities: ["read", "resend"] });
    const who = await api(stack.url, "GET", "/v1/whoami", { key: readResend.token });
    expect(who.body).toEqual({
      workspaceId: "demo",
      kind: "portal-session",
      capabilities: ["read", "resend"],
      subscriptionIds: null,
      expiresAt: readResend.expiresAt,
    });
    const adminWho = await api(stack.url, "GET", "/v1/whoami", admin());
    expect(adminWho.body).toMatchObject({
      kind: "key",
      capabilities: ["read", "manage", "resend"],
    });

    const probes: Partial<Record<RouteKey, { path: string; body?: unknown }>> = {
      "POST /v1/events": { path: "/v1/events", body: { event: "task.created", data: { id: "t" } } },
      "POST /v1/events/batch": {
        path: "/v1/events/batch",
        body: { events: [{ event: "task.created", data: { id: "t" } }] },
      },
      "POST /v1/subscriptions": {
        path: "/v1/subscriptions",
        body: { url: `${receiver.url}/new`, events: ["task.created"] },
      },
      "PATCH /v1/subscriptions/{id}": {
        path: `/v1/subscriptions/${ids.mine}`,
        body: { description: "changed" },
      },
      "DELETE /v1/subscriptions/{id}": { path: `/v1/subscriptions/${ids.mine}` },
      "POST /v1/subscriptions/{id}/rotate-secret": {
        path: `/v1/subscriptions/${ids.mine}/rotate-secret`,
        body: {},
      },
      "POST /v1/subscriptions/{id}/test": { path: `/v1/subscriptions/${ids.mine}/test`, body: {} },
      "POST /v1/keys": { path: "/v1/keys", body: { role: "admin" } },
      "GET /v1/keys": { path: "/v1/keys" },
      "POST /v1/portal-sessions": { path: "/v1/portal-sessions", body: { capabilities: ["read"] } },
      "GET /v1/subscriptions": { path: "/v1/subscriptions" },
      "GET /v1/deliveries": { path: "/v1/deliveries" },
      "GET /v1/dlq": { path: "/v1/dlq" },
      "POST /v1/dlq/redrive": { path: "/v1/dlq/redrive", body: {} },
    };
    const before = await api(stack.url, "GET", `/v1/subscriptions/${ids.mine}`, admin());
    for (const [routeKey, probe] of Object.entries(probes) as Array<
      [RouteKey, { path: string; body?: unknown }]
    >) {
      const [method] = routeKey.split(" ") as [string];
      const answer = await api(stack.url, method, probe.path, {
        key: readResend.token,
        ...(probe.body === undefined ? {} : { body: probe.body }),
      });
      const needs = (ROUTE_TABLE[routeKey] as { capability?: string }).capability;
      const allowed = needs === "read" || needs === "resend";
      expect(answer.status < 400, `${routeKey}: ${answer.status} ${answer.text}`).toBe(allowed);
      if (!allowed) {
        expect(answer.status, routeKey).toBe(403);
        expect(answer.body.detail).toMatch(needs ? /needs the 'manage' capability/ : /admin key/);
      }
    }
    // Nothing changed.
    const after = await api(stack.url, "GET", `/v1/subscriptions/${ids.mine}`, admin());
    expect(after.body).toEqual(before.body);
    // Every route says what a session needs; the keys-only ones say none.
    const keysOnly = ROUTE_KEYS.filter(
      (k) => ROUTE_TABLE[k].auth !== "public" && !("capability" in ROUTE_TABLE[k]),
    );
    expect(keysOnly.sort()).toEqual(
      [
        "GET /v1/meta/egress-ips",
        "POST /v1/events",
        "POST /v1/events/batch",
        "POST /v1/keys",
        "GET /v1/keys",
        "DELETE /v1/keys/{id}",
        "POST /v1/portal-sessions",
        "DELETE /v1/portal-sessions/{id}",
      ].sort(),
    );
  });

  it("manage may create, change and delete", async () => {
    const manage = await session({ capabilities: ["read", "manage"] });
    const created = await api(stack.url, "POST", "/v1/subscriptions", {
      key: manage.token,
      body: { url: `${receiver.url}/made`, events: ["task.created"], generateSecret: true },
    });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    const changed = await api(stack.url, "PATCH", `/v1/subscriptions/${created.body.id}`, {
      key: manage.token,
      body: { enabled: false },
    });
    expect(changed.body.enabled).toBe(false);
    const deleted = await api(stack.url, "DELETE", `/v1/subscriptions/${created.body.id}`, {
      key: manage.token,
    });
    expect(deleted.status).toBe(204);
    // ... but not resend.
    const resend = await api(stack.url, "POST", `/v1/deliveries/${ids.myDelivery}/resend`, {
      key: manage.token,
    });
    expect(resend.status).toBe(403);
  });
});

describe("a session limited to some subscriptions", () => {
  it("sees only those and their deliveries; the others answer as if they did not exist", async () => {
    const scoped = await session({
      capabilities: ["read", "manage", "resend"],
      subscriptionIds: [ids.mine],
    });
    const as = { key: scoped.token };
    const list = await api(stack.url, "GET", "/v1/subscriptions", as);
    expect(list.body.data.map((s: { id: string }) => s.id)).toEqual([ids.mine]);
    const theirs = await api(stack.url, "GET", `/v1/subscriptions/${ids.theirs}`, as);
    const never = await api(
      stack.url,
      "GET",
      "/v1/subscriptions/sub_01JDX5Z7K3M8Q9RST0VWXYZ0AB",
      as,
    );
    expect([theirs.status, never.status]).toEqual([404, 404]);
    for (const [method, path, body] of [
      ["PATCH", `/v1/subscriptions/${ids.theirs}`, { description: "x" }],
      ["DELETE", `/v1/subscriptions/${ids.theirs}`, undefined],
      ["POST", `/v1/subscriptions/${ids.theirs}/rotate-secret`, {}],
      ["POST", `/v1/subscriptions/${ids.theirs}/test`, {}],
      ["GET", `/v1/deliveries/${ids.theirDelivery}`, undefined],
      ["POST", `/v1/deliveries/${ids.theirDelivery}/resend`, undefined],
    ] as const) {
      const answer = await api(stack.url, method, path, { ...as, ...(body ? { body } : {}) });
      expect(answer.status, `${method} ${path}`).toBe(404);
    }
    const deliveries = await api(stack.url, "GET", "/v1/deliveries", as);
    expect(deliveries.body.data.map((d: { id: string }) => d.id)).toEqual([ids.myDelivery]);
    const filtered = await api(stack.url, "GET", `/v1/deliveries?subscriptionId=${ids.theirs}`, as);
    expect(filtered.status).toBe(403);
    expect((await api(stack.url, "GET", `/v1/dlq?subscriptionId=${ids.theirs}`, as)).status).toBe(
      403,
    );
    const create = await api(stack.url, "POST", "/v1/subscriptions", {
      ...as,
      body: { url: `${receiver.url}/x`, events: ["task.created"] },
    });
    expect(create.status).toBe(403);
    expect(
      (await api(stack.url, "GET", `/v1/deliveries/${ids.myDelivery}`, as)).body.subscriptionId,
    ).toBe(ids.mine);
    const resent = await api(stack.url, "POST", `/v1/deliveries/${ids.myDelivery}/resend`, as);
    expect(resent.status).toBe(202);
    const patched = await api(stack.url, "PATCH", `/v1/subscriptions/${ids.mine}`, {
      ...as,
      body: { description: "mine, edited in the portal" },
    });
    expect(patched.status).toBe(200);
    const who = await api(stack.url, "GET", "/v1/whoami", as);
    expect(who.body.subscriptionIds).toEqual([ids.mine]);
  });
});

describe("ending a session early", () => {
  it("DELETE /v1/portal-sessions/{id}: refused from the next request on; admin keys only", async () => {
    const created = await session({ capabilities: ["read", "manage"] });
    expect((await api(stack.url, "GET", "/v1/whoami", { key: created.token })).status).toBe(200);
    const bySession = await api(stack.url, "DELETE", `/v1/portal-sessions/${created.id}`, {
      key: created.token,
    });
    expect(bySession.status).toBe(403);
    const ended = await api(stack.url, "DELETE", `/v1/portal-sessions/${created.id}`, admin());
    expect(ended.status).toBe(204);
    expect((await api(stack.url, "GET", "/v1/whoami", { key: created.token })).status).toBe(401);
    const again = await api(stack.url, "DELETE", `/v1/portal-sessions/${created.id}`, admin());
    expect(again.status).toBe(404);
    const nonsense = await api(stack.url, "DELETE", "/v1/portal-sessions/nope", admin());
    expect(nonsense.status).toBe(404);
  });
});

describe("expiry and bad tokens", () => {
  it("an expired session is refused with 401, an unknown token too", async () => {
    const store = new DynamoPortalSessionStore({
      client: createDocumentClient(),
      name: "webhooks",
    });
    const token = generatePortalToken("demo");
    await store.put({
      id: newPortalSessionId(),
      workspaceId: "demo",
      hash: hashPortalToken(token),
      capabilities: ["read"],
      subscriptionIds: null,
      createdAt: "2026-01-01T00:00:00.000Z",
      expiresAt: "2026-01-01T01:00:00.000Z",
    });
    const expired = await api(stack.url, "GET", "/v1/subscriptions", { key: token });
    expect(expired.status).toBe(401);
    expect(expired.body.detail).toMatch(/expired/);
    const unknown = await api(stack.url, "GET", "/v1/subscriptions", {
      key: generatePortalToken("demo"),
    });
    expect(unknown.status).toBe(401);
    const malformed = await api(stack.url, "GET", "/v1/subscriptions", { key: "whp_demo_nothex" });
    expect(malformed.status).toBe(401);
  });
});

describe("GET /v1/deliveries?from&to", () => {
  it("keeps deliveries of events accepted in the window", async () => {
    const all = await api(stack.url, "GET", "/v1/deliveries?test=false", admin());
    expect(all.body.data.length).toBeGreaterThanOrEqual(2);
    const future = await api(stack.url, "GET", "/v1/deliveries?from=2099-01-01T00:00:00Z", admin());
    expect(future.body.data).toEqual([]);
    const past = await api(stack.url, "GET", "/v1/deliveries?to=2020-01-01T00:00:00Z", admin());
    expect(past.body.data).toEqual([]);
    const window = await api(
      stack.url,
      "GET",
      `/v1/deliveries?test=false&from=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`,
      admin(),
    );
    expect(window.body.data.map((d: { id: string }) => d.id)).toEqual(
      all.body.data.map((d: { id: string }) => d.id),
    );
    expect((await api(stack.url, "GET", "/v1/deliveries?from=yesterday", admin())).status).toBe(
      422,
    );
  });
});
