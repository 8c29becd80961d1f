import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { currentInvocation, killCurrentInvocation } from "../../local/invocation.ts";
import type { SqsHandler } from "../../local/sqs-poller.ts";
import { startLocalStack } from "../../local/stack.ts";
import { createDocumentClient } from "../../shared/aws.ts";
import { deliveryIdFor } from "../../shared/ids.ts";
import { silentLogger } from "../../shared/log.ts";
import { DEFAULT_SCHEDULE } from "../../shared/retry.ts";
import { DynamoDeliveryStore } from "../../shared/store/delivery-store.ts";

/**
 * The fault-injection run: the whole local stack, with the production handlers, the local
 * event source mapping and the emulators, under every fault the delivery lifecycle claims to
 * survive — then healed, redriven, and accounted for per (event, subscription) pair.
 *
 * Injected: receivers that fail at random (5xx, 429 and 503 with Retry-After, timeouts,
 * resets, slow and oversized answers, hostile headers and binary bodies); AWS calls that fail
 * before they apply, and writes that apply and lose their answer; deliver invocations that
 * crash at start, between a POST and its record, or after finishing but before the event
 * source mapping acknowledges; invocations killed at their deadline (slow calls); receives
 * the function never gets (Lambda throttled); poisoned messages that crash every invocation
 * carrying them until SQS gives up on them. Meanwhile an admin resends, replays, rotates a
 * secret, changes a URL, and disables and re-enables a subscription. The run uses the default
 * eight-step schedule scaled down in time, and a visibility timeout six times the function's
 * timeout, as on AWS.
 */
export interface FaultOptions {
  events: number;
  subscribers: number;
  seed: number;
  /** Share of AWS SDK calls that fail before they are sent. */
  awsErrorRate: number;
  /** Share of AWS writes that apply, then lose their answer. */
  lostAnswerRate: number;
  /** Share of deliver invocations that crash (at start, between a POST and its record, before reporting). */
  crashRate: number;
  /** How long the storm goes on after the last event, before healing. */
  stormMs: number;
  /** Gives up waiting for the pipeline to settle after this long. */
  settleTimeoutMs: number;
}

export interface Account {
  /** Accepted (event, subscription) pairs. */
  expected: number;
  /** Pairs whose delivery succeeded and whose receiver answered 2xx for its webhook-id. */
  delivered: number;
  /** Before healing: pairs that had failed for good and were listed as dead letters. */
  failedListed: number;
  /** Pairs left pending or retrying with nothing to drive them, or with no record at all. */
  stuck: number;
  /** Pairs failed but not in the dead-letter index (invisible to operators). */
  failedInvisible: number;
  /** Pairs succeeded without a receiver ever answering 2xx for them. */
  unconfirmed: number;
  /** Pairs canceled (a subscription disabled when their turn came) before the replay. */
  canceledBeforeReplay: number;
  /** Pairs whose delivery a receiver answered 2xx more than once (at-least-once). */
  duplicates: number;
  /** Up to ten pairs that ended wrong, with what became of them. */
  wrong: Array<{ id: string; status: string; detail: string }>;
  requests: number;
  answers: Record<string, number>;
  injected: Record<string, number>;
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
  ["http-500", 0.1],
  ["http-429-retry-after", 0.07],
  ["http-503-retry-after", 0.05],
  ["timeout", 0.06],
  ["connection-reset", 0.06],
  ["slow-ok", 0.06],
  ["oversized-ok", 0.04],
  ["hostile-500", 0.06],
];

function choose(roll: number): string {
  let sum = 0;
  for (const [behaviour, share] of BEHAVIOURS) {
    sum += share;
    if (roll < sum) return behaviour;
  }
  return "ok";
}

/** The default schedule, a thousand times faster (whole seconds: SQS's granularity). */
export const SCALED_SCHEDULE = DEFAULT_SCHEDULE.map((step) => Math.round(step / 3600));

/** A receiver that misbehaves at random while `chaos()` says so; remembers 2xx answers per webhook-id. */
async function receiver(
  pick: () => number,
  chaos: () => boolean,
  answers: Record<string, number>,
  successes: Map<string, number>,
) {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const behaviour = chaos() ? choose(pick()) : "ok";
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
        case "hostile-500": {
          // ~190 headers and a binary body: the record must stay bounded however often this repeats.
          const headers = Object.fromEntries(
            Array.from({ length: 190 }, (_, i) => [`x-hostile-${i}`, "\u00ff".repeat(60)]),
          );
          res.writeHead(500, { "content-type": "application/octet-stream", ...headers });
          return res.end(Buffer.from(Array.from({ length: 16 * 1024 }, (_, i) => (i * 37) % 256)));
        }
        default:
          return succeed(204, "");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const WRITES = new Set([
  "PutCommand",
  "UpdateCommand",
  "DeleteCommand",
  "SendMessageBatchCommand",
  "ChangeMessageVisibilityBatchCommand",
  "DeleteMessageBatchCommand",
]);

export async function runFaults(options: FaultOptions): Promise<Account> {
  const started = Date.now();
  const pick = random(options.seed);
  const answers: Record<string, number> = {};
  const successes = new Map<string, number>();
  const injected: Record<string, number> = {};
  const note = (what: string) => {
    injected[what] = (injected[what] ?? 0) + 1;
  };
  // Faults run during the storm; healing turns them off. Each kind of crash happens once for
  // sure, the first time its moment comes in the storm (then at random), so that even a short
  // run on a busy machine exercises every kind.
  let storm = false;
  const owed = new Set(["start", "before-reporting", "after-post", "deadline"]);
  const certain = (kind: string) => storm && owed.delete(kind);
  const poisoned = new Set<string>();

  // AWS calls fail at random before they are sent, or are sent and lose their answer; inside
  // a deliver invocation, a delivery record's write may find the invocation crashed (after
  // its POST) or slow enough to be killed at its deadline.
  const restore: Array<() => void> = [];
  for (const client of [DynamoDBDocumentClient, SQSClient] as Array<{
    prototype: { send: (...a: unknown[]) => Promise<unknown> };
  }>) {
    const send = client.prototype.send;
    client.prototype.send = async function faultySend(this: unknown, ...args: unknown[]) {
      const command = args[0] as {
        constructor: { name: string };
        input?: { Item?: { pk?: string } };
      };
      const name = command.constructor.name;
      const inDeliver = currentInvocation() === "deliver";
      if (storm && inDeliver) {
        const record = name === "PutCommand" && String(command.input?.Item?.pk).includes("#DLV#");
        if (record && (certain("after-post") || pick() < options.crashRate / 3)) {
          note("crash between a POST and its record");
          killCurrentInvocation();
          throw new Error("Injected: the invocation died after its POST");
        }
        if (name === "BatchGetCommand" && (certain("deadline") || pick() < options.crashRate / 4)) {
          note("invocation killed at its deadline");
          await new Promise((resolve) => setTimeout(resolve, 7_000));
        }
      }
      if (storm && pick() < options.awsErrorRate) {
        note("AWS call failed");
        throw Object.assign(new Error("Injected: Rate exceeded"), {
          name: "ThrottlingException",
          $metadata: { httpStatusCode: 400 },
          $fault: "client",
          $retryable: { throttling: true },
        });
      }
      const result = await send.apply(this, args);
      if (storm && WRITES.has(name) && pick() < options.lostAnswerRate) {
        note("AWS write applied, answer lost");
        throw Object.assign(new Error("Injected: the answer was lost"), { name: "TimeoutError" });
      }
      return result;
    };
    restore.push(() => {
      client.prototype.send = send;
    });
  }

  // Deliver invocations crash at random: at start, or after doing it all but before
  // reporting; a poisoned message crashes every invocation that carries it.
  const wrapDeliver =
    (handler: SqsHandler): SqsHandler =>
    async (event, context) => {
      if (storm) {
        const carriesPoison = event.Records.some((r) =>
          poisoned.has((JSON.parse(r.body) as { d?: string }).d ?? ""),
        );
        if (carriesPoison) {
          note("poisoned invocation");
          throw new Error("Injected: a poisoned message crashed the invocation");
        }
        if (certain("start") || pick() < options.crashRate / 3) {
          note("crash at start");
          throw new Error("Injected: invocation crashed at start");
        }
      }
      const result = await handler(event, context);
      if (certain("before-reporting") || (storm && pick() < options.crashRate / 3)) {
        note("crash before reporting");
        throw new Error("Injected: invocation crashed before reporting");
      }
      return result;
    };
  let receives = 0;
  const shouldInvoke = () => {
    if (storm) receives++;
    if ((storm && receives === 3) || (storm && pick() < 0.03)) {
      note("throttled receive");
      return false;
    }
    return true;
  };

  const dataDir = await mkdtemp(join(tmpdir(), "webhooks-faults-"));
  // Short timeouts, so a run takes minutes: the functions read these at import. The function
  // timeout is the request timeout and five seconds; the visibility six times that, as on AWS.
  Object.assign(process.env, {
    WEBHOOKS_REQUEST_TIMEOUT_MS: "1000",
    WEBHOOKS_CONNECT_TIMEOUT_MS: "1000",
  });
  const stack = await startLocalStack(
    {
      PORT: "0",
      WEBHOOKS_LOCAL_DATA_DIR: dataDir,
      WEBHOOKS_RETRY_SCHEDULE: SCALED_SCHEDULE.join(","),
      WEBHOOKS_LOCAL_VISIBILITY_SECONDS: String(6 * 6),
      WEBHOOKS_LOCAL_POLLERS: "6",
      WEBHOOKS_LOCAL_SWEEP_SECONDS: "3",
      WEBHOOKS_LOCAL_MAX_RECEIVES: "10",
    },
    { wrapDeliver, shouldInvoke, log: silentLogger },
  );
  const receivers = await Promise.all(
    Array.from({ length: options.subscribers }, () =>
      receiver(pick, () => storm, answers, successes),
    ),
  );

  /** The CRM's and the admin's side: retried until the API answers (same id, so safe). */
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
      note("API call retried");
      if (attempt > 60) throw new Error(`${method} ${path} kept failing`);
      await new Promise((resolve) => setTimeout(resolve, 50 * Math.min(attempt + 1, 10)));
    }
  }
  const admin = stack.adminKey;

  /** Every delivery of the workspace, as the API lists them. */
  async function allDeliveries() {
    const found = new Map<string, { status: string; lastError: string | null }>();
    let cursor: string | null = null;
    do {
      const page = await call(
        "GET",
        `/v1/deliveries?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
        admin,
      );
      for (const d of page.body.data) found.set(d.id, d);
      cursor = page.body.nextCursor;
    } while (cursor);
    return found;
  }

  /** The workspace's dead-letter index, by identity (what GET /v1/dlq counts). */
  const index = new DynamoDeliveryStore(
    {
      client: createDocumentClient({
        endpoint: stack.dynamoEndpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }),
      name: "webhooks",
    },
    { retentionSeconds: 30 * 86_400 },
  );
  async function deadLetters() {
    const ids = new Set<string>();
    let after: string | undefined;
    do {
      const page = await index.listDeadLetters("demo", {}, 100, after);
      for (const item of page.items) ids.add(item.id);
      after = page.next;
    } while (after);
    return ids;
  }

  try {
    const subscriptions: Array<{ id: string }> = [];
    for (const receiver_ of receivers) {
      const created = await call("POST", "/v1/subscriptions", admin, {
        url: `${receiver_.url}/hook`,
        events: ["deal.updated"],
        generateSecret: true,
      });
      if (created.status !== 201) throw new Error(`subscription: ${JSON.stringify(created.body)}`);
      subscriptions.push(created.body);
    }
    storm = true;

    // Events, ten at a time, each retried until accepted; the pairs they were accepted for.
    const expected = new Map<string, string>();
    const accepted = new Set<string>();
    for (let offset = 0; offset < options.events; offset += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, options.events - offset) }, async (_, i) => {
          const id = `fault-${options.seed}-${offset + i}`;
          const answer = await call("POST", "/v1/events", stack.ingestKey, {
            id,
            event: "deal.updated",
            data: { id: `d_${offset + i}`, amount: offset + i },
          });
          if (answer.status !== 202) {
            throw new Error(`event ${id}: ${answer.status} ${JSON.stringify(answer.body)}`);
          }
          accepted.add(id);
        }),
      );
      // Meanwhile, an admin at work: resends, a replay, subscription changes, a poisoned message.
      const round = offset / 10;
      const target = subscriptions[round % subscriptions.length]?.id ?? "";
      if (round % 3 === 1) {
        await call("POST", `/v1/subscriptions/${target}/rotate-secret`, admin, {});
        note("secret rotated");
      }
      if (round % 4 === 2) {
        await call("PATCH", `/v1/subscriptions/${target}`, admin, { enabled: false });
        await new Promise((resolve) => setTimeout(resolve, 300));
        await call("PATCH", `/v1/subscriptions/${target}`, admin, { enabled: true });
        note("subscription disabled and enabled again");
      }
      // One page of the newest deliveries is enough to pick one from.
      const page = await call("GET", "/v1/deliveries?limit=100", admin);
      const listed = (page.body.data as Array<{ id: string }>).map((d) => d.id);
      const some = listed[Math.floor(pick() * listed.length)];
      if (some) {
        await call("POST", `/v1/deliveries/${some}/resend`, admin);
        note("resend");
        if (round % 2 === 0) {
          poisoned.add(some);
          note("message poisoned");
        }
      }
      if (round % 3 === 0) {
        await call("POST", "/v1/deliveries/replay", admin, {
          from: new Date(started).toISOString(),
          to: new Date().toISOString(),
          limit: 5,
        });
        note("replay");
      }
    }

    // Let the storm play out for a while: runs retry, fail for good, strand, get swept.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(45_000, options.settleTimeoutMs / 4)),
    );

    // Then heal: no more faults. Runs still under way end (succeeded, or failed for good and
    // listed as dead letters: checked now, by identity); then every subscription is enabled,
    // every dead letter redriven and every canceled delivery replayed, until nothing is left.
    storm = false;
    poisoned.clear();
    const deadline = Date.now() + options.settleTimeoutMs;
    await until(deadline, async () => {
      const all = await allDeliveries();
      return ![...all.values()].some((d) => d.status === "pending" || d.status === "retrying");
    });
    const beforeHealing = await allDeliveries();
    const listedBefore = await deadLetters();
    let failedListed = 0;
    let failedInvisible = 0;
    for (const [id, d] of beforeHealing) {
      if (d.status !== "failed") continue;
      if (listedBefore.has(id)) failedListed++;
      else failedInvisible++;
    }
    const canceledBeforeReplay = [...beforeHealing.values()].filter(
      (d) => d.status === "canceled",
    ).length;

    for (const subscription of subscriptions) {
      await call("PATCH", `/v1/subscriptions/${subscription.id}`, admin, { enabled: true });
    }
    let cursor: string | null = null;
    do {
      const page = await call("POST", "/v1/dlq/redrive", admin, {
        limit: 100,
        ...(cursor ? { cursor } : {}),
      });
      cursor = page.body.nextCursor;
    } while (cursor);
    do {
      const page = await call("POST", "/v1/deliveries/replay", admin, {
        from: new Date(started - 60_000).toISOString(),
        to: new Date().toISOString(),
        status: ["canceled"],
        limit: 100,
        ...(cursor ? { cursor } : {}),
      });
      cursor = page.body.nextCursor;
    } while (cursor);
    let final = await allDeliveries();
    await until(deadline, async () => {
      final = await allDeliveries();
      return [...final.values()].every((d) => d.status === "succeeded");
    });

    // The account, pair by pair.
    const listedAtEnd = await deadLetters();
    let delivered = 0;
    let stuck = 0;
    let unconfirmed = 0;
    const wrong: Account["wrong"] = [];
    const pairs = await expectedPairs(call, admin, [...accepted], subscriptions);
    for (const pair of pairs) {
      expected.set(pair, pair);
      const d = final.get(pair);
      const status = d?.status ?? "missing";
      if (status === "succeeded" && successes.has(pair)) delivered++;
      else if (status === "succeeded") unconfirmed++;
      else if (status === "failed" && !listedAtEnd.has(pair)) failedInvisible++;
      else if (status === "missing" || status === "pending" || status === "retrying") stuck++;
      if (status !== "succeeded" && wrong.length < 10) {
        wrong.push({ id: pair, status, detail: d?.lastError ?? "" });
      }
    }
    return {
      expected: expected.size,
      delivered,
      failedListed,
      stuck,
      failedInvisible,
      unconfirmed,
      canceledBeforeReplay,
      duplicates: [...successes.values()].filter((n) => n > 1).length,
      wrong,
      requests: Object.values(answers).reduce((a, b) => a + b, 0),
      answers,
      injected,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    storm = false;
    for (const undo of restore) undo();
    for (const { server } of receivers) {
      server.close();
      server.closeAllConnections();
    }
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Polls `done` once a second until it holds or the deadline passes. */
async function until(deadline: number, done: () => Promise<boolean>): Promise<void> {
  while (Date.now() < deadline && !(await done())) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * The pairs each accepted event was accepted for: its delivery ids, derived from the event's
 * sequence and each subscription (as the service derives them), read off a delivery of it.
 */
async function expectedPairs(
  // biome-ignore lint/suspicious/noExplicitAny: the test reads a few fields of API answers
  call: (method: string, path: string, key: string) => Promise<{ status: number; body: any }>,
  admin: string,
  eventIds: string[],
  subscriptions: Array<{ id: string }>,
): Promise<string[]> {
  const seqOf = new Map<string, string>();
  let cursor: string | null = null;
  do {
    const page = await call(
      "GET",
      `/v1/deliveries?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
      admin,
    );
    for (const d of page.body.data as Array<{ id: string; eventId: string }>) {
      // dlv_ + the event's 26-character sequence + the subscription's last 16.
      seqOf.set(d.eventId, d.id.slice(4, 30));
    }
    cursor = page.body.nextCursor;
  } while (cursor);
  const pairs: string[] = [];
  for (const eventId of eventIds) {
    const seq = seqOf.get(eventId);
    if (!seq) {
      // No delivery of it at all: every one of its pairs is missing.
      for (const subscription of subscriptions) pairs.push(`missing:${eventId}:${subscription.id}`);
      continue;
    }
    for (const subscription of subscriptions) pairs.push(deliveryIdFor(seq, subscription.id));
  }
  return pairs;
}

export function formatAccount(account: Account, options: FaultOptions): string {
  const lines = [
    `Fault injection: ${options.events} events × ${options.subscribers} subscribers (seed ${options.seed}, AWS errors ${options.awsErrorRate * 100}%, lost answers ${options.lostAnswerRate * 100}%, crashes ${options.crashRate * 100}%)`,
    `  expected          ${account.expected}   (event, subscription) pairs accepted`,
    `  delivered         ${account.delivered}   succeeded, with a 2xx at the receiver for that webhook-id`,
    `  stuck             ${account.stuck}   pending, retrying or without a record at the end`,
    `  failed, invisible ${account.failedInvisible}   failed but not listed as a dead letter`,
    `  unconfirmed       ${account.unconfirmed}   succeeded without a 2xx at a receiver`,
    `  before healing    ${account.failedListed} failed (listed as dead letters), ${account.canceledBeforeReplay} canceled; then redriven and replayed`,
    `  duplicates        ${account.duplicates}   deliveries a receiver answered 2xx more than once (at-least-once)`,
    `  receiver answers: ${Object.entries(account.answers)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")} (${account.requests} requests)`,
    `  injected: ${Object.entries(account.injected)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    `  took ${account.seconds}s`,
    ...(account.wrong.length > 0
      ? ["  ended wrong:", ...account.wrong.map((d) => `    ${d.id} ${d.status} ${d.detail}`)]
      : []),
  ];
  return lines.join("\n");
}
