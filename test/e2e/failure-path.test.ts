import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { createSqsClient } from "../../shared/aws.ts";
import { silentLogger } from "../../shared/log.ts";
import { SqsHoldingQueue } from "../../shared/queue/holding-queue.ts";
import { api, eventually } from "../helpers/api-client.ts";
import { webhooks } from "../helpers/cli.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";
import { deliveryQueuesIdle } from "../helpers/queues.ts";

/**
 * The failure path as an operator lives it, through the `webhooks` CLI: a receiver answers
 * 500, attempts back off, the delivery ends failed in the dead-letter queue, the receiver is
 * fixed, a redrive delivers it once with the same webhook-id, and its history is whole.
 */
let stack: LocalStack;
let dataDir: string;
let receiver: TestServer;
let answer = 500;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-failure-"));
  stack = await startLocalStack(
    { PORT: "0", WEBHOOKS_LOCAL_DATA_DIR: dataDir, WEBHOOKS_RETRY_SCHEDULE: "0,1,2" },
    { log: silentLogger },
  );
  receiver = await startServer((_request, res) => {
    res.writeHead(answer, { "content-type": "text/plain" });
    res.end(answer === 200 ? "thanks" : "database is down");
  });
  env = { WEBHOOKS_API_URL: stack.url, WEBHOOKS_API_KEY: stack.adminKey };
});
afterAll(async () => {
  await receiver?.close();
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const sqsDeadLetters = () =>
  new SqsHoldingQueue(createSqsClient(), process.env.WEBHOOKS_DLQ_URL ?? "").depth();

describe("failure path through the CLI", () => {
  let deliveryId: string;

  it("a failing receiver gets attempts with growing delays, then the delivery fails into the DLQ", async () => {
    const created = await webhooks(
      [
        "subscriptions",
        "create",
        "--url",
        `${receiver.url}/crm`,
        "--events",
        "contact.updated",
        "--generate-secret",
        "--json",
      ],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    const subscription = JSON.parse(created.stdout);
    expect(subscription.secret).toMatch(/^whsec_/);

    const sent = await webhooks(
      [
        "events",
        "send",
        "contact.updated",
        "--data",
        '{"id":"c_7","name":"Grace Hopper"}',
        "--id",
        "crm-upd-7",
        "--key",
        stack.ingestKey,
      ],
      env,
    );
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toContain("Accepted crm-upd-7 (contact.updated): 1 deliveries queued.");

    const failed = await eventually(async () => {
      const list = await api(stack.url, "GET", "/v1/deliveries?status=failed", {
        key: stack.adminKey,
      });
      return list.body.data[0];
    }, 20_000);
    deliveryId = failed.id;
    expect(failed).toMatchObject({
      attemptCount: 3,
      lastError: "HTTP 500",
      subscriptionId: subscription.id,
    });

    const detail = await api(stack.url, "GET", `/v1/deliveries/${deliveryId}`, {
      key: stack.adminKey,
    });
    const starts = detail.body.attempts.map((a: { startedAt: string }) => Date.parse(a.startedAt));
    const [gap1, gap2] = [starts[1] - starts[0], starts[2] - starts[1]];
    expect(gap1).toBeGreaterThanOrEqual(700);
    expect(gap2).toBeGreaterThan(gap1);
    expect(receiver.requests).toHaveLength(3);
    expect(new Set(receiver.requests.map((r) => r.headers["webhook-id"]))).toEqual(
      new Set([deliveryId]),
    );

    expect((await sqsDeadLetters()).visible).toBe(1);
    const status = await webhooks(["dlq", "status", "--json"], env);
    expect(JSON.parse(status.stdout)).toMatchObject({ depth: 1, depthExact: true });
  });

  it("`webhooks deliveries show` says why", async () => {
    const shown = await webhooks(["deliveries", "show", deliveryId], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("status        failed");
    expect(shown.stdout, shown.stdout).toMatch(/1 +0 .* HTTP 500 +database is down/);
    expect(shown.stdout).toContain("Last response (HTTP 500):\ndatabase is down");
  });

  it("after the receiver is fixed, `webhooks dlq redrive` delivers it once, same webhook-id, whole history", async () => {
    answer = 200;
    const redrive = await webhooks(["dlq", "redrive"], env);
    expect(redrive.code, redrive.stderr).toBe(0);
    expect(redrive.stdout).toContain("Redrove 1; skipped 0");

    await receiver.waitFor(4);
    const delivered = await eventually(async () => {
      const detail = await api(stack.url, "GET", `/v1/deliveries/${deliveryId}`, {
        key: stack.adminKey,
      });
      return detail.body.status === "succeeded" ? detail.body : undefined;
    });
    expect(
      delivered.attempts.map((a: { generation: number; outcome: string }) => [
        a.generation,
        a.outcome,
      ]),
    ).toEqual([
      [0, "failed"],
      [0, "failed"],
      [0, "failed"],
      [1, "succeeded"],
    ]);
    expect(receiver.requests[3]?.headers["webhook-id"]).toBe(deliveryId);
    // Nothing left in the queues, so nothing more can arrive: still four.
    await deliveryQueuesIdle();
    expect(receiver.requests).toHaveLength(4);
    expect(JSON.parse((await webhooks(["dlq", "status", "--json"], env)).stdout)).toMatchObject({
      depth: 0,
      depthExact: true,
    });
  });

  it("the operator's drain drops the stale SQS copy instead of delivering it again", async () => {
    // The invoke token from the data directory the stack keeps it in, as `npm start` leaves it.
    const drained = await webhooks(["dlq", "drain", "--json"], {
      ...env,
      WEBHOOKS_LOCAL_DATA_DIR: dataDir,
    });
    expect(drained.code, drained.stderr).toBe(0);
    expect(JSON.parse(drained.stdout)).toEqual({
      action: "drain",
      moved: 0,
      dropped: 1,
      skipped: 0,
      errors: [],
      left: 0,
    });
    expect(await sqsDeadLetters()).toEqual({ visible: 0, inFlight: 0 });
    await deliveryQueuesIdle();
    expect(receiver.requests).toHaveLength(4);
  });

  it("resends a succeeded delivery on request (a replay), same id, one more run", async () => {
    const resent = await webhooks(["deliveries", "resend", deliveryId], env);
    expect(resent.stdout).toContain(`Queued ${deliveryId} again (run 2).`);
    const [, , , , fifth] = await receiver.waitFor(5);
    expect(fifth?.headers["webhook-id"]).toBe(deliveryId);
  });
});

describe("the CLI, otherwise", () => {
  it("replays a window of deliveries, with a status filter", async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    await eventually(async () => {
      const list = await api(stack.url, "GET", "/v1/deliveries?status=succeeded", {
        key: stack.adminKey,
      });
      return list.body.data.length === 1 ? true : undefined;
    });
    const before = receiver.requests.length;
    const replay = await webhooks(
      ["deliveries", "replay", "--from", from, "--to", to, "--status", "succeeded", "--json"],
      env,
    );
    expect(replay.code, replay.stderr).toBe(0);
    expect(JSON.parse(replay.stdout)).toEqual({ queued: 1, skipped: 0, errors: [] });
    await receiver.waitFor(before + 1);
    const none = await webhooks(
      ["deliveries", "replay", "--from", from, "--to", to, "--status", "canceled", "--json"],
      env,
    );
    expect(JSON.parse(none.stdout)).toEqual({ queued: 0, skipped: 0, errors: [] });
  });

  it("manages keys through the API: create (shown once), list (never shown), revoke", async () => {
    const created = await webhooks(
      ["keys", "create", "--role", "ingest", "--name", "crm-prod", "--json"],
      env,
    );
    const key = JSON.parse(created.stdout);
    expect(key.key).toMatch(/^whk_demo_[0-9a-f]{64}$/);
    const listed = await webhooks(["keys", "list"], env);
    expect(listed.stdout).toContain("crm-prod");
    expect(listed.stdout).not.toContain(key.key);
    expect(
      (
        await api(stack.url, "POST", "/v1/events", {
          key: key.key,
          body: { event: "task.created", data: { id: "t_1" } },
        })
      ).status,
    ).toBe(202);
    expect((await webhooks(["keys", "revoke", key.id], env)).code).toBe(0);
    expect(
      (
        await api(stack.url, "POST", "/v1/events", {
          key: key.key,
          body: { event: "task.created", data: { id: "t_1" } },
        })
      ).status,
    ).toBe(401);
  });

  it("creates a new workspace's first admin key straight in the table", async () => {
    const created = await webhooks(
      ["keys", "create", "--role", "admin", "--table", "webhooks", "--workspace", "acme", "--json"],
      {
        AWS_ENDPOINT_URL_DYNAMODB: stack.dynamoEndpoint,
        AWS_ACCESS_KEY_ID: "",
        AWS_SECRET_ACCESS_KEY: "",
      },
    );
    expect(created.code, created.stderr).toBe(0);
    const { key } = JSON.parse(created.stdout);
    expect(key).toMatch(/^whk_acme_/);
    const theirs = await webhooks(["subscriptions", "list", "--json"], {
      ...env,
      WEBHOOKS_API_KEY: key,
    });
    expect(JSON.parse(theirs.stdout)).toEqual({ data: [] });
  });

  it("fails with a non-zero exit and the API's reasons", async () => {
    const bad = await webhooks(
      ["subscriptions", "create", "--url", "https://10.0.0.1/x", "--events", "deal.created"],
      env,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: The request is not valid (HTTP 422)");
    expect(bad.stderr).toContain("url: The URL's host 10.0.0.1 is a private address.");
    const unauthorized = await webhooks(["deliveries", "list"], {
      ...env,
      WEBHOOKS_API_KEY: "whk_demo_00000000000000000000000000000000",
    });
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toContain("HTTP 401");
    const usage = await webhooks(["deliveries", "list", "--limit", "0"], env);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain("must be a whole number from 1 to 100");
    const unreachable = await webhooks(["dlq", "status"], {
      ...env,
      WEBHOOKS_API_URL: "http://127.0.0.1:9",
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("Cannot reach the API");
  });

  it("the resend function refuses a malformed job, naming the field", async () => {
    const response = await fetch(invokeUrl(), {
      method: "POST",
      headers: { "x-webhooks-invoke-token": stack.invokeToken },
      body: JSON.stringify({ action: "resend", workspaceId: "demo" }),
    });
    expect(response.headers.get("x-amz-function-error")).toBe("Unhandled");
    const payload = (await response.json()) as { errorMessage: string };
    expect(payload.errorMessage).toContain("deliveryId:");
  });

  it("the local Invoke API runs nothing without the invoke token, nor for a web page", async () => {
    const job = JSON.stringify({ action: "drain", limit: 1 });
    // What a web page can send without a CORS preflight: a text/plain POST, with its Origin.
    const attempts: Array<Record<string, string>> = [
      { "content-type": "text/plain" },
      { "content-type": "text/plain", origin: "https://evil.example" },
      { "x-webhooks-invoke-token": "0".repeat(64) },
      { "x-webhooks-invoke-token": stack.invokeToken, origin: "https://evil.example" },
      { "x-webhooks-invoke-token": stack.invokeToken, origin: "null" },
    ];
    for (const headers of attempts) {
      const response = await fetch(invokeUrl(), { method: "POST", headers, body: job });
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(await response.text()).not.toContain(stack.invokeToken);
    }
    const preflight = await fetch(invokeUrl(), {
      method: "OPTIONS",
      headers: {
        origin: "https://evil.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-webhooks-invoke-token",
      },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(preflight.headers.get("access-control-allow-headers")).toBeNull();
    const allowed = await fetch(invokeUrl(), {
      method: "POST",
      headers: { "x-webhooks-invoke-token": stack.invokeToken },
      body: job,
    });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toMatchObject({ action: "drain" });
  });

  it("`webhooks dlq drain` takes the token from WEBHOOKS_LOCAL_INVOKE_TOKEN, and says when it has none", async () => {
    const empty = await mkdtemp(join(tmpdir(), "webhooks-no-token-"));
    try {
      const withEnv = await webhooks(["dlq", "drain", "--json"], {
        ...env,
        WEBHOOKS_LOCAL_DATA_DIR: empty,
        WEBHOOKS_LOCAL_INVOKE_TOKEN: stack.invokeToken,
      });
      expect(withEnv.code, withEnv.stderr).toBe(0);
      expect(JSON.parse(withEnv.stdout)).toMatchObject({ action: "drain" });
      const without = await webhooks(["dlq", "drain"], {
        ...env,
        WEBHOOKS_LOCAL_DATA_DIR: empty,
        WEBHOOKS_LOCAL_INVOKE_TOKEN: "",
      });
      expect(without.code).toBe(1);
      expect(without.stderr).toContain("WEBHOOKS_LOCAL_INVOKE_TOKEN");
      const wrong = await webhooks(["dlq", "drain"], {
        ...env,
        WEBHOOKS_LOCAL_INVOKE_TOKEN: "f".repeat(64),
      });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain("invoke token");
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

const invokeUrl = () => `${stack.url}/2015-03-31/functions/webhooks-resend/invocations`;
