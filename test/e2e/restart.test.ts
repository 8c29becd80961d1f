import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, eventually } from "../helpers/api-client.ts";
import { startServer, type TestServer } from "../helpers/http-server.ts";
import { startLocalProcess } from "../helpers/local-process.ts";

/**
 * `npm start` killed with SIGKILL mid-flight and started again: every event it accepted is
 * still delivered. dynalite (LevelDB) and fauxqs (SQLite) keep their state on disk; messages
 * that were in flight come back after the visibility timeout.
 */
let dataDir: string;
let receiver: TestServer;
const delivered = new Map<string, number>();

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-restart-"));
  receiver = await startServer((request, res) => {
    // Slow enough that the kill lands while deliveries are in flight.
    setTimeout(() => {
      const id = request.headers["webhook-id"] ?? "";
      delivered.set(id, (delivered.get(id) ?? 0) + 1);
      res.writeHead(200);
      res.end("ok");
    }, 300);
  });
});
afterAll(async () => {
  await receiver.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("killing the local stack mid-flight", () => {
  it("loses no accepted event", async () => {
    const env = {
      WEBHOOKS_LOCAL_DATA_DIR: dataDir,
      WEBHOOKS_LOCAL_VISIBILITY_SECONDS: "3",
      WEBHOOKS_RETRY_SCHEDULE: "0,1,2",
      WEBHOOKS_LOCAL_POLLERS: "2",
    };
    const first = await startLocalProcess(env);
    for (const path of ["/a", "/b"]) {
      const created = await api(first.url, "POST", "/v1/subscriptions", {
        key: first.adminKey,
        body: { url: `${receiver.url}${path}`, events: ["organization.updated"] },
      });
      expect(created.status).toBe(201);
    }
    const accepted: string[] = [];
    for (let i = 0; i < 40; i++) {
      const answer = await api(first.url, "POST", "/v1/events", {
        key: first.ingestKey,
        body: { id: `org-${i}`, event: "organization.updated", data: { id: `o_${i}` } },
      });
      expect(answer.status).toBe(202);
      accepted.push(answer.body.id);
    }
    await receiver.waitFor(4);
    await first.kill();
    const before = receiver.requests.length;
    expect(before).toBeLessThan(80);

    const second = await startLocalProcess(env);
    try {
      const list = await eventually(async () => {
        const answer = await api(second.url, "GET", "/v1/deliveries?status=succeeded&limit=100", {
          key: second.adminKey,
        });
        return answer.body.data.length === 80 ? answer : undefined;
      }, 60_000);
      expect(new Set(list.body.data.map((d: { eventId: string }) => d.eventId))).toEqual(
        new Set(accepted),
      );
      expect(delivered.size).toBe(80);
    } finally {
      await second.stop();
    }
  }, 120_000);
});
