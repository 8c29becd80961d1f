import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { SQSEvent } from "aws-lambda";
import type { SqsHandler } from "../../local/sqs-poller.ts";
import { startLocalStack } from "../../local/stack.ts";
import { silentLogger } from "../../shared/log.ts";

/**
 * The fault-injection run: the local stack, receivers that fail at random, AWS calls that
 * fail at random, and deliver invocations that crash before or after doing their work. N
 * events × M subscribers go in; the account says what came out.
 */
export interface FaultOptions {
  events: number;
  subscribers: number;
  seed: number;
  /** Share of AWS SDK calls (DynamoDB, SQS) that fail before being sent. */
  awsErrorRate: number;
  /** Share of deliver invocations that crash (before starting, or after finishing). */
  crashRate: number;
  /** Gives up waiting for the pipeline to settle after this long. */
  settleTimeoutMs: number;
}

export interface Account {
  expected: number;
  /** Deliveries whose final status is succeeded. */
  delivered: number;
  /** Deliveries whose final status is failed (their messages are in the dead-letter queue). */
  failedInDlq: number;
  /** Deliveries a receiver answered 2xx more than once (same webhook-id seen twice). */
  duplicates: number;
  /** Deliveries with no final status, or none at all. */
  lost: number;
  /** When something is lost: the deliveries left without a final status (up to ten). */
  unsettled: Array<{ id: string; status: string; attempts: string; lastError: string | null }>;
  /** …and how many deliveries have no record at all. */
  missing: number;
  /** Succeeded deliveries no receiver ever answered 2xx (must be 0). */
  unconfirmed: number;
  requests: number;
  answers: Record<string, number>;
  injected: {
    awsErrors: number;
    crashesBefore: number;
    crashesAfter: number;
    ingestRetries: number;
  };
  seconds: number;
}

/** A small seeded generator (mulberry32), so a run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const BEHAVIOURS: Array<[string, number]> = [
  ["ok", 0.5],
  ["http-500", 0.12],
  ["http-429-retry-after", 0.08],
  ["http-503-retry-after", 0.05],
  ["timeout", 0.07],
  ["connection-reset", 0.07],
  ["slow-ok", 0.06],
  ["oversized-ok", 0.05],
];

function choose(roll: number): string {
  let sum = 0;
  for (const [behaviour, share] of BEHAVIOURS) {
    sum += share;
    if (roll < sum) return behaviour;
  }
  return "ok";
}

/** A receiver that misbehaves at random; remembers which deliveries it answered 2xx. */
async function chaosReceiver(
  pick: () => number,
  answers: Record<string, number>,
  successes: Map<string, number>,
) {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const behaviour = choose(pick());
      answers[behaviour] = (answers[behaviour] ?? 0) + 1;
      const id = String(req.headers["webhook-id"]);
      const succeed = (status: number, body: string) => {
        successes.set(id, (successes.get(id) ?? 0) + 1);
        res.writeHead(status, { "content-type": "text/plain" });
        res.end(body);
      };
      switch (behaviour) {
        case "http-500":
          res.writeHead(500);
          return res.end("broken");
        case "http-429-retry-after":
          res.writeHead(429, { "retry-after": "1" });
          return res.end("slow down");
        case "http-503-retry-after":
          res.writeHead(503, { "retry-after": "1" });
          return res.end("maintenance");
        case "timeout":
          return setTimeout(() => res.destroy(), 2500);
        case "connection-reset":
          return req.socket.destroy();
        case "slow-ok":
          return setTimeout(() => succeed(200, "ok, eventually"), 300);
        case "oversized-ok":
          return succeed(200, "x".repeat(256 * 1024));
        default:
          return succeed(204, "");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

export async function runFaults(options: FaultOptions): Promise<Account> {
  const started = Date.now();
  const pick = random(options.seed);
  const answers: Record<string, number> = {};
  const successes = new Map<string, number>();
  const injected = { awsErrors: 0, crashesBefore: 0, crashesAfter: 0, ingestRetries: 0 };
  // Faults start once the stack is up: provisioning is not what is under test.
  let injecting = false;

  // AWS calls fail at random, before they are sent (as a throttle or an outage would).
  const restore: Array<() => void> = [];
  for (const client of [DynamoDBDocumentClient, SQSClient] as Array<{
    prototype: { send: (...a: unknown[]) => unknown };
  }>) {
    const send = client.prototype.send;
    client.prototype.send = function (this: unknown, ...args: unknown[]) {
      if (injecting && pick() < options.awsErrorRate) {
        injected.awsErrors++;
        const error = Object.assign(new Error("Injected: Rate exceeded"), {
          name: "ThrottlingException",
          $metadata: { httpStatusCode: 400 },
          $fault: "client",
          $retryable: { throttling: true },
        });
        return Promise.reject(error);
      }
      return send.apply(this, args);
    };
    restore.push(() => {
      client.prototype.send = send;
    });
  }

  // Deliver invocations crash at random: before doing anything, or after doing it all but
  // before reporting (the event source mapping then sees the whole batch as failed).
  // The second and fourth invocations always crash, so every run exercises both kinds.
  let invocations = 0;
  const wrapDeliver =
    (handler: SqsHandler): SqsHandler =>
    async (event: SQSEvent, context) => {
      const n = injecting ? ++invocations : 0;
      if (injecting && (n === 2 || pick() < options.crashRate / 2)) {
        injected.crashesBefore++;
        throw new Error("Injected: invocation crashed at start");
      }
      const result = await handler(event, context);
      if (injecting && (n === 4 || pick() < options.crashRate / 2)) {
        injected.crashesAfter++;
        throw new Error("Injected: invocation crashed before reporting");
      }
      return result;
    };

  const dataDir = await mkdtemp(join(tmpdir(), "webhooks-faults-"));
  // Short timeouts, so a run takes seconds: the functions read these at import.
  Object.assign(process.env, {
    WEBHOOKS_REQUEST_TIMEOUT_MS: "1000",
    WEBHOOKS_CONNECT_TIMEOUT_MS: "1000",
  });
  const stack = await startLocalStack(
    {
      PORT: "0",
      WEBHOOKS_LOCAL_DATA_DIR: dataDir,
      WEBHOOKS_RETRY_SCHEDULE: "0,1,1,2",
      WEBHOOKS_LOCAL_VISIBILITY_SECONDS: "3",
      WEBHOOKS_LOCAL_POLLERS: "6",
    },
    { wrapDeliver, log: silentLogger },
  );
  const receivers = await Promise.all(
    Array.from({ length: options.subscribers }, () => chaosReceiver(pick, answers, successes)),
  );
  injecting = true;

  /** The CRM's side: retry until the API accepts (same id, so retries are safe). */
  async function call(
    method: string,
    path: string,
    key: string,
    body?: unknown,
    // biome-ignore lint/suspicious/noExplicitAny: the test reads a few fields of API answers
  ): Promise<{ status: number; body: any }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(`${stack.url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            ...(body ? { "content-type": "application/json" } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        if (response.status < 500)
          return { status: response.status, body: await response.json().catch(() => null) };
      } catch {
        // connection trouble: retry as well
      }
      injected.ingestRetries++;
      if (attempt > 50) throw new Error(`${method} ${path} kept failing`);
      await new Promise((resolve) => setTimeout(resolve, 50 * Math.min(attempt + 1, 10)));
    }
  }

  try {
    for (const receiver of receivers) {
      const created = await call("POST", "/v1/subscriptions", stack.adminKey, {
        url: `${receiver.url}/hook`,
        events: ["deal.updated"],
        generateSecret: true,
      });
      if (created.status !== 201) throw new Error(`subscription: ${JSON.stringify(created.body)}`);
    }
    // Events, ten at a time, each retried until accepted.
    for (let offset = 0; offset < options.events; offset += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, options.events - offset) }, async (_, i) => {
          const accepted = await call("POST", "/v1/events", stack.ingestKey, {
            id: `fault-${options.seed}-${offset + i}`,
            event: "deal.updated",
            data: { id: `d_${offset + i}`, amount: offset + i },
          });
          if (accepted.status !== 202) throw new Error(`event: ${JSON.stringify(accepted.body)}`);
        }),
      );
    }

    const expected = options.events * options.subscribers;
    const statuses = new Map<string, string>();
    const deadline = Date.now() + options.settleTimeoutMs;
    for (;;) {
      statuses.clear();
      let cursor: string | null = null;
      do {
        const page = await call(
          "GET",
          `/v1/deliveries?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
          stack.adminKey,
        );
        for (const d of page.body.data) statuses.set(d.id, d.status);
        cursor = page.body.nextCursor;
      } while (cursor);
      const settled = [...statuses.values()].filter(
        (s) => s === "succeeded" || s === "failed",
      ).length;
      if (settled === expected || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    injecting = false;

    // Anything left without a final status: what became of it, for whoever reads the account.
    const unsettled: Account["unsettled"] = [];
    for (const [id, status] of statuses) {
      if (status === "succeeded" || status === "failed" || unsettled.length === 10) continue;
      const detail = (await call("GET", `/v1/deliveries/${id}`, stack.adminKey)).body;
      unsettled.push({
        id,
        status,
        attempts: (detail?.attempts ?? [])
          .map(
            (a: { startedAt: string; outcome: string; response: { status: number } | null }) =>
              `${a.startedAt.slice(11, 23)} ${a.outcome}${a.response ? ` ${a.response.status}` : ""}`,
          )
          .join(", "),
        lastError: detail?.lastError ?? null,
      });
    }

    const delivered = [...statuses.values()].filter((s) => s === "succeeded").length;
    const failedInDlq = [...statuses.values()].filter((s) => s === "failed").length;
    return {
      expected,
      delivered,
      failedInDlq,
      duplicates: [...successes.values()].filter((n) => n > 1).length,
      lost: expected - delivered - failedInDlq,
      unsettled,
      missing: expected - statuses.size,
      unconfirmed: [...statuses].filter(([id, s]) => s === "succeeded" && !successes.has(id))
        .length,
      requests: Object.values(answers).reduce((a, b) => a + b, 0),
      answers,
      injected,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    injecting = false;
    for (const undo of restore) undo();
    for (const { server } of receivers) {
      server.close();
      server.closeAllConnections();
    }
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function formatAccount(account: Account, options: FaultOptions): string {
  const lines = [
    `Fault injection: ${options.events} events × ${options.subscribers} subscribers (seed ${options.seed}, AWS errors ${options.awsErrorRate * 100}%, crashes ${options.crashRate * 100}%)`,
    `  expected        ${account.expected}`,
    `  delivered       ${account.delivered}`,
    `  failed (DLQ)    ${account.failedInDlq}`,
    `  duplicates      ${account.duplicates}   (same webhook-id answered 2xx twice)`,
    `  lost            ${account.lost}`,
    `  unconfirmed     ${account.unconfirmed}   (succeeded without a 2xx at a receiver)`,
    `  receiver answers: ${Object.entries(account.answers)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")} (${account.requests} requests)`,
    `  injected: ${account.injected.awsErrors} AWS errors, ${account.injected.crashesBefore} crashes at start, ${account.injected.crashesAfter} crashes before reporting, ${account.injected.ingestRetries} CRM retries`,
    `  took ${account.seconds}s`,
    ...(account.lost > 0
      ? [
          `  without a record: ${account.missing}; without a final status:`,
          ...account.unsettled.map(
            (d) => `    ${d.id} ${d.status} [${d.attempts}] ${d.lastError ?? ""}`,
          ),
        ]
      : []),
  ];
  return lines.join("\n");
}
