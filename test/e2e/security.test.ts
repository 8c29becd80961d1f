import { createHmac } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { createDocumentClient } from "../../shared/aws.ts";
import { ROUTE_KEYS, ROUTES, type RouteKey } from "../../shared/http/routes.ts";
import { generateApiKey, hashApiKey } from "../../shared/keys.ts";
import { DynamoWorkspaceStore } from "../../shared/store/workspace-store.ts";
import { createKey } from "../../shared/use-cases/keys.ts";
import { api, eventually } from "../helpers/api-client.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";

/**
 * What SECURITY.md promises, tried end to end on the local stack: secrets never show up in
 * logs, queue messages, API answers or the table; rotation keeps both secrets working for the
 * grace period; and no key but the right one reaches a workspace's data.
 */
let stack: LocalStack;
let dataDir: string;
const output: string[] = [];
const sqsBodies: string[] = [];
let healthy: TestServer;
let failing: TestServer;
const restore: Array<() => void> = [];

beforeAll(async () => {
  // Everything written to stdout/stderr (all logs) and every message sent to SQS.
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      output.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = write;
    });
  }
  const send = SQSClient.prototype.send;
  SQSClient.prototype.send = function (
    this: SQSClient,
    command: { input: { Entries?: Array<{ MessageBody?: string }>; MessageBody?: string } },
    ...rest: unknown[]
  ) {
    for (const entry of command.input?.Entries ?? [])
      if (entry.MessageBody) sqsBodies.push(entry.MessageBody);
    if (command.input?.MessageBody) sqsBodies.push(command.input.MessageBody);
    return (send as (...a: unknown[]) => unknown).call(this, command, ...rest);
  } as typeof send;
  restore.push(() => {
    SQSClient.prototype.send = send;
  });

  dataDir = await mkdtemp(join(tmpdir(), "webhooks-security-"));
  stack = await startLocalStack({
    PORT: "0",
    WEBHOOKS_LOCAL_DATA_DIR: dataDir,
    WEBHOOKS_RETRY_SCHEDULE: "0,1",
  });
  healthy = await startServer();
  failing = await startServer((_r, res) => {
    res.writeHead(500);
    res.end("no");
  });
});

afterAll(async () => {
  for (const undo of restore) undo();
  await healthy?.close();
  await failing?.close();
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const scanTable = async () =>
  (
    await createDocumentClient().send(
      new ScanCommand({ TableName: "webhooks", ConsistentRead: true }),
    )
  ).Items ?? [];

describe("secrets", () => {
  const plaintexts: string[] = [];
  const ids: Record<string, string> = {};

  it("rotation: both secrets verify during the grace period; the new one alone in X-Webhook-Signature", async () => {
    const create = async (name: string, body: Record<string, unknown>, url: string) => {
      const answer = await api(stack.url, "POST", "/v1/subscriptions", {
        key: stack.adminKey,
        body: { url, events: ["contact.created"], ...body },
      });
      expect(answer.status).toBe(201);
      ids[name] = answer.body.id;
      plaintexts.push(answer.body.secret);
      return answer.body.secret as string;
    };
    const old = await create("generated", { generateSecret: true }, `${healthy.url}/a`);
    plaintexts.push(
      await create("custom", { secret: "correct horse battery staple 42" }, `${healthy.url}/b`),
    );
    await create("failing", { generateSecret: true }, `${failing.url}/c`);

    const rotated = await api(
      stack.url,
      "POST",
      `/v1/subscriptions/${ids.generated}/rotate-secret`,
      {
        key: stack.adminKey,
        body: { gracePeriodSeconds: 3600 },
      },
    );
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    plaintexts.push(fresh);
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    expect(Date.parse(rotated.body.rotationEndsAt) - Date.now()).toBeGreaterThan(3500_000);

    const posted = await api(stack.url, "POST", "/v1/events", {
      key: stack.ingestKey,
      body: { event: "contact.created", data: { id: "c_secret_test" } },
    });
    expect(posted.body.deliveries).toBe(3);
    const received = await healthy.waitFor(2);
    const toGenerated = received.find((r) => r.url === "/a");
    const body = toGenerated?.body.toString("utf8") ?? "";
    expect(toGenerated?.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(new Webhook(fresh).verify(body, toGenerated?.headers ?? {})).toBeTruthy();
    expect(new Webhook(old).verify(body, toGenerated?.headers ?? {})).toBeTruthy();
    // Computed here as a receiver would (README "Verifying deliveries"), not with the code under
    // test: HMAC-SHA256 of the raw body, keyed with the secret's bytes, `whsec_` included.
    expect(toGenerated?.headers["x-webhook-signature"]).toBe(
      createHmac("sha256", Buffer.from(fresh, "utf8")).update(body).digest("hex"),
    );
    await eventually(async () => {
      const list = await api(stack.url, "GET", "/v1/deliveries?status=failed", {
        key: stack.adminKey,
      });
      return list.body.data.length === 1 ? true : undefined;
    });
  });

  it("never appear in logs, queue messages, API answers or the table (a table export reveals none)", async () => {
    expect(plaintexts).toHaveLength(5);
    const answers = [
      (await api(stack.url, "GET", "/v1/subscriptions", { key: stack.adminKey })).text,
      (await api(stack.url, "GET", "/v1/deliveries", { key: stack.adminKey })).text,
      (await api(stack.url, "GET", "/v1/dlq", { key: stack.adminKey })).text,
      (await api(stack.url, "GET", "/v1/keys", { key: stack.adminKey })).text,
    ];
    for (const id of Object.values(ids)) {
      answers.push(
        (await api(stack.url, "GET", `/v1/subscriptions/${id}`, { key: stack.adminKey })).text,
      );
    }
    const deliveries = (await api(stack.url, "GET", "/v1/deliveries", { key: stack.adminKey })).body
      .data;
    for (const d of deliveries) {
      answers.push(
        (await api(stack.url, "GET", `/v1/deliveries/${d.id}`, { key: stack.adminKey })).text,
      );
    }
    const places = {
      logs: output.join(""),
      "queue messages": sqsBodies.join("\n"),
      "API answers": answers.join("\n"),
      "the table": JSON.stringify(await scanTable()),
    };
    expect(sqsBodies.length).toBeGreaterThan(3);
    expect(deliveries.length).toBe(3);
    for (const secret of plaintexts) {
      // The secret, and the key inside a whsec_ secret, on its own.
      const needles = [secret, secret.replace(/^whsec_/, "")];
      for (const [place, haystack] of Object.entries(places)) {
        for (const needle of needles)
          expect(haystack.includes(needle), `${place} contain a secret`).toBe(false);
      }
    }
    // Nor do the keys (only their hashes are stored).
    expect(places["the table"]).not.toContain(stack.adminKey);
    expect(places["the table"]).toContain(hashApiKey(stack.adminKey));
  });
});

describe("destinations", () => {
  it.each([
    ["http://169.254.169.254/latest/meta-data/", "must use https"],
    ["https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"],
    ["https://[fd00:ec2::254]/", "cloud metadata"],
    ["http://10.0.0.1/", "plain http is allowed only to loopback"],
    ["https://10.0.0.1/", "private"],
    ["https://192.168.0.10:8443/", "private"],
    ["https://100.64.1.1/", "carrier-grade NAT"],
    ["https://[fe80::1]/", "link-local"],
    ["https://0x0a000001/", "10.0.0.1 is a private"],
    ["https://user:pass@hooks.example.com/", "credentials"],
    ["https://hooks.example.com:22/", "port 22 is not allowed"],
    ["https://93.184.215.14:6379/", "port 6379 is not allowed"],
    ["https://hooks.example.com:25/", "WEBHOOKS_ALLOWED_PORTS"],
    ["https://127.0.0.1:8443/", "port 8443 is not allowed"],
    ["https://169.254.170.23/", "169.254.170.23 is a cloud metadata address"],
    ["https://[fd00:ec2::23]/", "cloud metadata"],
  ])("refuses %s up front with a 422 that says why", async (url, why) => {
    const answer = await api(stack.url, "POST", "/v1/subscriptions", {
      key: stack.adminKey,
      body: { url, events: ["deal.created"] },
    });
    expect(answer.status).toBe(422);
    expect(answer.body.errors[0].field).toBe("url");
    expect(answer.body.errors[0].detail).toContain(why);
  });

  it("the local stack's loopback allowance covers loopback spellings only", async () => {
    for (const url of [
      `http://[::ffff:127.0.0.1]:${healthy.port}/`,
      `http://2130706433:${healthy.port}/`,
    ]) {
      const answer = await api(stack.url, "POST", "/v1/subscriptions", {
        key: stack.adminKey,
        body: { url, events: ["deal.deleted"] },
      });
      expect(answer.status).toBe(201);
      await api(stack.url, "DELETE", `/v1/subscriptions/${answer.body.id}`, {
        key: stack.adminKey,
      });
    }
  });
});

describe("keys and workspaces: every route × every wrong key", () => {
  it("each gets the right answer and nothing of the workspace changes", async () => {
    const store = new DynamoWorkspaceStore({ client: createDocumentClient(), name: "webhooks" });
    const otherAdmin = (await createKey("other", { role: "admin" }, store)).plaintext;
    const old = await createKey("demo", { role: "admin", name: "old" }, store);
    const revoked = old.plaintext;
    await store.revokeKey("demo", old.apiKey.id, new Date().toISOString());

    const subscriptions = await api(stack.url, "GET", "/v1/subscriptions", { key: stack.adminKey });
    const deliveries = await api(stack.url, "GET", "/v1/deliveries", { key: stack.adminKey });
    const keys = await api(stack.url, "GET", "/v1/keys", { key: stack.adminKey });
    const session = await api(stack.url, "POST", "/v1/portal-sessions", {
      key: stack.adminKey,
      body: { capabilities: ["read"] },
    });
    const ours = {
      id: subscriptions.body.data[0].id as string,
      delivery: deliveries.body.data[0].id as string,
      key: keys.body.data[0].id as string,
      session: session.body.id as string,
    };
    // `other`: the answer to another workspace's admin key; `ingest`: to this workspace's
    // ingest key, on the routes that role may use.
    const requests: Record<
      RouteKey,
      { path: string; body?: unknown; other: number; ingest?: number }
    > = {
      "GET /health": { path: "/health", other: 200 },
      "GET /v1/openapi.json": { path: "/v1/openapi.json", other: 200 },
      "GET /v1/meta/egress-ips": { path: "/v1/meta/egress-ips", other: 200, ingest: 200 },
      "POST /v1/events": {
        path: "/v1/events",
        body: { event: "task.deleted", data: { id: "t" } },
        other: 202,
        ingest: 202,
      },
      "POST /v1/events/batch": {
        path: "/v1/events/batch",
        body: { events: [{ event: "task.deleted", data: { id: "t" } }] },
        other: 200,
        ingest: 200,
      },
      "GET /v1/event-types": { path: "/v1/event-types", other: 200 },
      "POST /v1/subscriptions": {
        path: "/v1/subscriptions",
        body: { url: "https://a.example.com/", events: ["task.created"] },
        other: 201,
      },
      "GET /v1/subscriptions": { path: "/v1/subscriptions", other: 200 },
      "GET /v1/subscriptions/{id}": { path: `/v1/subscriptions/${ours.id}`, other: 404 },
      "PATCH /v1/subscriptions/{id}": {
        path: `/v1/subscriptions/${ours.id}`,
        body: { enabled: false },
        other: 404,
      },
      "DELETE /v1/subscriptions/{id}": { path: `/v1/subscriptions/${ours.id}`, other: 404 },
      "POST /v1/subscriptions/{id}/rotate-secret": {
        path: `/v1/subscriptions/${ours.id}/rotate-secret`,
        body: {},
        other: 404,
      },
      "POST /v1/subscriptions/{id}/test": {
        path: `/v1/subscriptions/${ours.id}/test`,
        body: {},
        other: 404,
      },
      "GET /v1/subscriptions/{id}/stats": {
        path: `/v1/subscriptions/${ours.id}/stats`,
        other: 404,
      },
      "GET /v1/deliveries": { path: "/v1/deliveries", other: 200 },
      "GET /v1/deliveries/{id}": { path: `/v1/deliveries/${ours.delivery}`, other: 404 },
      "POST /v1/deliveries/{id}/resend": {
        path: `/v1/deliveries/${ours.delivery}/resend`,
        other: 404,
      },
      "POST /v1/deliveries/replay": {
        path: "/v1/deliveries/replay",
        body: { from: "2020-01-01T00:00:00Z", to: "2030-01-01T00:00:00Z" },
        other: 200,
      },
      "GET /v1/dlq": { path: "/v1/dlq", other: 200 },
      "POST /v1/dlq/redrive": { path: "/v1/dlq/redrive", body: {}, other: 200 },
      "POST /v1/portal-sessions": {
        path: "/v1/portal-sessions",
        body: { capabilities: ["read"] },
        other: 201,
      },
      "GET /v1/whoami": { path: "/v1/whoami", other: 200 },
      "DELETE /v1/portal-sessions/{id}": {
        path: `/v1/portal-sessions/${ours.session}`,
        other: 404,
      },
      "POST /v1/keys": { path: "/v1/keys", body: { role: "admin" }, other: 201 },
      "GET /v1/keys": { path: "/v1/keys", other: 200 },
      "DELETE /v1/keys/{id}": { path: `/v1/keys/${ours.key}`, other: 404 },
    };
    expect(Object.keys(requests).sort()).toEqual([...ROUTE_KEYS].sort());

    const demoItems = async () =>
      JSON.stringify(
        (await scanTable()).filter(
          // Events are counted below; statistics are the deliver function's own writes, made
          // up to a second after earlier deliveries, whatever this test does.
          (i) =>
            String(i.pk).startsWith("WS#demo") &&
            !String(i.pk).includes("#EVT#") &&
            !String(i.pk).includes("#STATS#"),
        ),
      );
    const demoEvents = async () =>
      (await scanTable()).filter((i) => String(i.pk).startsWith("WS#demo#EVT#")).length;
    const [before, eventsBefore] = [await demoItems(), await demoEvents()];

    // A portal session of the other workspace, with every capability.
    const otherSession = await api(stack.url, "POST", "/v1/portal-sessions", {
      key: otherAdmin,
      body: { capabilities: ["read", "manage", "resend"] },
    });
    expect(otherSession.status).toBe(201);
    const credentials = {
      "no key": undefined,
      "a bad key": generateApiKey("demo"),
      "a revoked key": revoked,
      "the ingest key": stack.ingestKey,
      "another workspace's admin key": otherAdmin,
      "a made-up portal token": `whp_demo_${"ab".repeat(32)}`,
      "another workspace's portal session": otherSession.body.token as string,
    };
    const seen: string[] = [];
    for (const routeKey of ROUTE_KEYS) {
      const [method] = routeKey.split(" ") as [string];
      const { path, body, other, ingest } = requests[routeKey];
      for (const [who, key] of Object.entries(credentials)) {
        const answer = await api(stack.url, method, path, {
          ...(key ? { key } : {}),
          ...(body === undefined ? {} : { body }),
        });
        const expected =
          ROUTES[routeKey].auth === "public"
            ? 200
            : who === "another workspace's portal session"
              ? (ROUTES[routeKey] as { capability?: string }).capability
                ? other
                : 403
              : who === "another workspace's admin key"
                ? other
                : who === "the ingest key"
                  ? (ingest ?? 403)
                  : 401;
        seen.push(`${routeKey} with ${who}: ${answer.status}`);
        expect(answer.status, `${routeKey} with ${who}`).toBe(expected);
        if (expected >= 400)
          expect(answer.headers.get("content-type")).toBe("application/problem+json");
        if (who.startsWith("another workspace's")) {
          // Nothing of ours shows, beyond an id the caller sent itself ...
          for (const id of Object.values(ours).filter((id) => !path.includes(id))) {
            expect(answer.text, `${routeKey} leaks an id`).not.toContain(id);
          }
          // ... and our ids answer exactly as ids that never existed: nothing to infer.
          const id = Object.values(ours).find((id) => path.includes(id));
          if (id) {
            const fake = id.slice(0, -6) + (id.endsWith("ZZZZZZ") ? "YYYYYY" : "ZZZZZZ");
            const control = await api(stack.url, method, path.replace(id, fake), {
              key,
              ...(body === undefined ? {} : { body }),
            });
            expect(control.status).toBe(answer.status);
            expect(control.text.replaceAll(fake, id)).toBe(answer.text);
          }
        }
      }
    }
    expect(seen).toHaveLength(ROUTE_KEYS.length * Object.keys(credentials).length);
    expect(await demoItems()).toBe(before);
    // The writes any of these keys may do in this workspace: the ingest key posting an event,
    // and a batch of one.
    expect(await demoEvents()).toBe(eventsBefore + 2);
  });
});
