#!/usr/bin/env node
/**
 * `npm run bench:throughput`: how many webhooks one core delivers. Three clients POST the same
 * event body to a local 200-OK receiver at the same concurrency, interleaved round by round:
 *
 *   deliver   the production deliver path — `deliverBatch` on batches of ten queue records:
 *             parse and validate each record, load the subscription and event from a
 *             zero-latency in-memory store, open the sealed secret, sign (both signature
 *             schemes), POST through the SSRF-guarded keep-alive pool, read the capped response,
 *             build the attempt record;
 *   floor     the signed floor: the raw undici loop that also signs each request both ways
 *             (the same two signatures over the same bytes) and sends the same headers —
 *             the least work this contract allows, and what the deliver path is held to;
 *   undici    a raw undici keep-alive POST loop (nothing but HTTP);
 *   fetch     a naive `fetch` loop (what a hand-rolled sender would do).
 *
 * Once over HTTPS (a throwaway self-signed certificate; production delivers over HTTPS only)
 * and once over plain HTTP. The client runs on core 0 and the receiver, a separate process,
 * on core 1 (taskset). Each
 * figure is requests per CPU-second of the client process (user + system): the rate one
 * core sustains, whether or not the receiver is the wall-clock bottleneck. Ratios are taken
 * within each round, against the raw loop, and reported as median (min–max).
 *
 *   THROUGHPUT_ROUNDS=4 THROUGHPUT_SECONDS=3 THROUGHPUT_CONCURRENCY=50 npm run bench:throughput
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { getCACertificates, setDefaultCACertificates } from "node:tls";
import { promisify } from "node:util";
import { Agent, request } from "undici";
import type { Delivery, StoredEvent, Subscription } from "../shared/domain.ts";
import { EndpointGate } from "../shared/endpoint-gate.ts";
import { createHttpSender } from "../shared/http/sender.ts";
import { deliveryIdFor, newUlid } from "../shared/ids.ts";
import { silentLogger } from "../shared/log.ts";
import { contextKey, type DeliveryContext, type DeliveryRef } from "../shared/ports.ts";
import { secretContext } from "../shared/secrets/keyring.ts";
import { FileKeyring, SecretBox } from "../shared/secrets/secret-box.ts";
import { deliveryHeaders, generateSecret } from "../shared/signing.ts";
import {
  type DeliverDeps,
  deliverBatch,
  type QueueRecord,
} from "../shared/use-cases/deliver-batch.ts";
import { canPin, onCore, pinSelf } from "./lib/cores.ts";
import { formatSpread, handOver, median, type Spread, spread } from "./lib/stats.ts";

const run = promisify(execFile);

export interface ThroughputOptions {
  /** Requests in flight, for every client (the deliver path: this many / 10 batches of 10). */
  concurrency: number;
  rounds: number;
  /** Seconds each client runs in each round. */
  seconds: number;
  /** Pin client and receiver to a core each (when taskset and two cores are there). */
  pin: boolean;
}

export type ClientName = "deliver" | "unsigned" | "floor" | "undici" | "fetch";
const CLIENTS: ClientName[] = ["deliver", "unsigned", "floor", "undici", "fetch"];

export interface ThroughputReport {
  options: ThroughputOptions;
  pinned: boolean;
  http: ProtocolResult;
  /** Absent when no certificate could be made (no openssl): see `httpsSkipped`. */
  https?: ProtocolResult | undefined;
  httpsSkipped?: string | undefined;
  /** Every request of every client got a 200 (anything else is a broken benchmark). */
  failures: number;
  /** CPU microseconds: both signatures of one delivery. */
  signingMicros: number;
}

const WORKSPACE = "bench";
/** A realistic CRM event: ~600 bytes of JSON. */
export const EVENT_BODY = JSON.stringify({
  event: "deal.updated",
  data: {
    id: "deal_01JBENCHMARK0000000000000",
    name: "Renewal — Acme Industrial, 3-year enterprise plan",
    stage: "negotiation",
    amount: { value: 48_000, currency: "EUR" },
    owner: { id: "usr_01JBENCH", name: "Dana Fischer", email: "dana@example.com" },
    organizationId: "org_01JBENCHMARK000000000000",
    contactIds: ["con_01JBENCH000000000000000001", "con_01JBENCH000000000000000002"],
    customFields: { region: "DACH", source: "inbound", probability: 0.6 },
    updatedAt: "2026-11-26T10:00:00.000Z",
  },
  timestamp: "2026-11-26T10:00:00.000Z",
});

/** The deliver path's dependencies: the production sender, signer and secret box; a store that answers at once. */
export async function deliverPath(url: string, signed: boolean) {
  const secrets = new SecretBox(new FileKeyring(randomBytes(32)));
  const subscriptionId = `sub_${newUlid()}`;
  const subscription: Subscription = {
    id: subscriptionId,
    workspaceId: WORKSPACE,
    url,
    events: ["deal.updated"],
    enabled: true,
    description: "",
    secret: signed
      ? {
          sealed: await secrets.seal(generateSecret(), secretContext(WORKSPACE, subscriptionId)),
          kind: "whsec",
        }
      : null,
    previousSecrets: [],
    createdAt: "2026-11-26T00:00:00.000Z",
    updatedAt: "2026-11-26T00:00:00.000Z",
  };
  const event: StoredEvent = {
    workspaceId: WORKSPACE,
    id: "evt_bench",
    name: "deal.updated",
    body: EVENT_BODY,
    seq: newUlid(),
    receivedAt: "2026-11-26T10:00:00.000Z",
    targets: [subscriptionId],
    requestHash: "",
  };
  let attempts = 0;
  let failures = 0;
  let deferred = 0;
  const sender = createHttpSender({
    // The https sink listens on loopback, on a port of its own.
    policy: {
      allowLoopbackHttp: true,
      allowedCidrs: [],
      allowedPorts: [Number(new URL(url).port)],
    },
    connectTimeoutMs: 5000,
    requestTimeoutMs: 15_000,
    responseBodyLimit: 4096,
  });
  const deps: DeliverDeps = {
    gate: new EndpointGate({ slowAfterMs: 15_000, onSlow: () => {} }),
    store: {
      // Zero latency: the batch's one read and each attempt's write answer at once.
      async loadContext(refs: readonly DeliveryRef[]): Promise<DeliveryContext> {
        const context: DeliveryContext = {
          subscriptions: new Map(),
          deliveries: new Map(),
          events: new Map(),
        };
        for (const ref of refs) {
          if (ref.subscriptionId === subscriptionId)
            context.subscriptions.set(contextKey(WORKSPACE, subscriptionId), subscription);
          if (ref.eventId === event.id) context.events.set(contextKey(WORKSPACE, event.id), event);
        }
        return context;
      },
      async put(record: Delivery) {
        // A deferral (the endpoint gate had no room: a starved machine answering slowly) is
        // not a delivery and not a failure: counted apart, and not in the rate.
        if (record.status === "pending" && record.deferredUntil) {
          deferred++;
          return true;
        }
        attempts++;
        if (record.status !== "succeeded") failures++;
        return true;
      },
      async get() {
        return undefined;
      },
    },
    queue: {
      async enqueue() {},
      async changeVisibility() {
        return [];
      },
      async sendToSlowLane() {},
      async sendToDeadLetter() {},
    },
    health: {
      async markFailing() {
        return false;
      },
      async countFailure() {
        return false;
      },
      async markHealthy() {
        return false;
      },
      async markSlow() {
        return false;
      },
      async disableGone() {
        return false;
      },
      async disableFailing() {
        return false;
      },
    },
    sender,
    secrets,
    autoDisableAfterMs: 0,
    schedule: [0, 60],
    requestTimeoutMs: 15_000,
    responseBodyLimit: 4096,
    log: silentLogger,
  };
  // Queue records as SQS hands them over, each with its own delivery id.
  const records: QueueRecord[] = Array.from({ length: 1000 }, (_, i) => ({
    messageId: `msg-${i}`,
    receiptHandle: `rh-${i}`,
    receiveCount: 1,
    receivedAt: Date.now(),
    body: JSON.stringify({
      v: 1,
      w: WORKSPACE,
      d: deliveryIdFor(newUlid(), subscriptionId),
      e: event.id,
      n: event.name,
      s: subscriptionId,
      g: 0,
    }),
  }));
  let next = 0;
  return {
    async batch(size: number): Promise<number> {
      const batch: QueueRecord[] = [];
      for (let i = 0; i < size; i++) {
        batch.push(records[next] as QueueRecord);
        next = (next + 1) % records.length;
      }
      const result = await deliverBatch(batch, deps, { remainingMs: () => 900_000 });
      return size - result.failures.length;
    },
    counts: () => ({ attempts, failures, deferred }),
    close: () => sender.close(),
  };
}

/** CPU microseconds to sign one delivery both ways (hex + Standard Webhooks), one secret. */
function signingCost(): number {
  const secret = generateSecret();
  const sign = (i: number) =>
    deliveryHeaders({
      deliveryId: `dlv_${i}`,
      event: "deal.updated",
      body: EVENT_BODY,
      timestamp: 1_764_000_000,
      secrets: [secret],
    });
  for (let i = 0; i < 5000; i++) sign(i);
  const cpu = process.cpuUsage();
  const count = 50_000;
  for (let i = 0; i < count; i++) sign(i);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / count;
}

export type Protocol = "http" | "https";

/** One protocol's rounds: requests per CPU-second and per second of each client, per round. */
export interface ProtocolResult {
  perCpuSecond: Record<ClientName, number[]>;
  perSecond: Record<ClientName, number[]>;
  /** Deliveries the endpoint gate put off (a starved machine): not counted as delivered. */
  deferred: number;
  /**
   * Per-round ratios (requests per CPU-second): the deliver path to the signed floor (the
   * budget), and every client to the raw undici loop.
   */
  ratios: {
    deliverToFloor: Spread;
    deliver: Spread;
    unsigned: Spread;
    floor: Spread;
    fetch: Spread;
  };
  /** CPU microseconds of one raw keep-alive POST (median). */
  rawPostMicros: number;
}

/** A throwaway self-signed certificate for 127.0.0.1, made with openssl (absent: undefined). */
export async function selfSignedCertificate(dir: string) {
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  try {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ]);
  } catch {
    return undefined;
  }
  return { key, cert };
}

export async function startSink(
  pin: boolean,
  tls?: { key: string; cert: string },
): Promise<{ url: string; child: ChildProcess }> {
  const [command, ...args] = onCore(
    1,
    [process.execPath, resolve(import.meta.dirname, "lib/sink.ts")],
    pin,
  );
  const child = spawn(command as string, args, {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, ...(tls ? { SINK_KEY_FILE: tls.key, SINK_CERT_FILE: tls.cert } : {}) },
  });
  const port = await new Promise<number>((done, fail) => {
    child.once("exit", (code) => fail(new Error(`receiver exited with ${code}`)));
    child.stdout?.once("data", (chunk) => done(JSON.parse(String(chunk)).port));
  });
  return { url: `${tls ? "https" : "http"}://127.0.0.1:${port}/hooks/bench`, child };
}

/** Runs `worker` on `lanes` concurrent lanes until `seconds` pass; counts what it completed. */
async function timed(lanes: number, seconds: number, worker: () => Promise<number>) {
  const deadline = performance.now() + seconds * 1000;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() < deadline) {
        // Not `done += await …`: that reads `done` before the await and loses other lanes' counts.
        const completed = await worker();
        done += completed;
      }
    }),
  );
  const wall = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { perSecond: done / wall, perCpuSecond: done / ((used.user + used.system) / 1e6) };
}

/** Interleaved rounds of every client against one receiver; counts non-200 answers. */
async function measure(
  url: string,
  options: ThroughputOptions,
): Promise<ProtocolResult & { failures: number }> {
  const path = await deliverPath(url, true);
  const unsigned = await deliverPath(url, false);
  const pool = new Agent({ keepAliveTimeout: 30_000 });
  const floorSecret = generateSecret();
  let failures = 0;
  const batches = Math.max(1, Math.round(options.concurrency / 10));
  const clients: Record<ClientName, { lanes: number; run: () => Promise<number> }> = {
    deliver: { lanes: batches, run: () => path.batch(10) },
    unsigned: { lanes: batches, run: () => unsigned.batch(10) },
    floor: {
      lanes: options.concurrency,
      run: async () => {
        if ((await signedFloorPost(url, pool, floorSecret)) !== 200) failures++;
        return 1;
      },
    },
    undici: {
      lanes: options.concurrency,
      run: async () => {
        const response = await request(url, {
          method: "POST",
          dispatcher: pool,
          headers: { "content-type": "application/json" },
          body: EVENT_BODY,
        });
        await response.body.text();
        if (response.statusCode !== 200) failures++;
        return 1;
      },
    },
    fetch: {
      lanes: options.concurrency,
      run: async () => {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: EVENT_BODY,
        });
        await response.text();
        if (response.status !== 200) failures++;
        return 1;
      },
    },
  };
  const perCpuSecond: Record<ClientName, number[]> = {
    deliver: [],
    unsigned: [],
    floor: [],
    undici: [],
    fetch: [],
  };
  const perSecond: Record<ClientName, number[]> = structuredClone(perCpuSecond);
  try {
    // Warm-up: JIT, connection pools (and TLS sessions), the data key cache.
    for (const name of CLIENTS) await timed(clients[name].lanes, 2, clients[name].run);
    for (let round = 0; round < options.rounds; round++) {
      // Rotate the order so no client always runs first (or right after the same one).
      const order = CLIENTS.map((_, i) => CLIENTS[(i + round) % CLIENTS.length] as ClientName);
      for (const name of order) {
        const result = await timed(clients[name].lanes, options.seconds, clients[name].run);
        perCpuSecond[name].push(result.perCpuSecond);
        perSecond[name].push(result.perSecond);
      }
    }
  } finally {
    await path.close();
    await unsigned.close();
    await pool.close();
  }
  const ratio = (name: ClientName, to: ClientName = "undici") =>
    spread(perCpuSecond[name].map((value, i) => value / (perCpuSecond[to][i] ?? Number.NaN)));
  return {
    perCpuSecond,
    perSecond,
    ratios: {
      deliverToFloor: ratio("deliver", "floor"),
      deliver: ratio("deliver"),
      unsigned: ratio("unsigned"),
      floor: ratio("floor"),
      fetch: ratio("fetch"),
    },
    rawPostMicros: 1e6 / median(perCpuSecond.undici),
    failures: failures + path.counts().failures + unsigned.counts().failures,
    deferred: path.counts().deferred + unsigned.counts().deferred,
  };
}

/**
 * One request of the signed floor: what the contract asks of any sender — a fresh id, both
 * signatures over the same bytes, the same headers — on a raw undici keep-alive pool. Answers
 * the status. Also profiled by bench/profile.ts.
 */
export async function signedFloorPost(url: string, pool: Agent, secret: string): Promise<number> {
  const response = await request(url, {
    method: "POST",
    dispatcher: pool,
    headers: deliveryHeaders({
      deliveryId: `dlv_${newUlid()}`,
      event: "deal.updated",
      body: EVENT_BODY,
      timestamp: Math.floor(Date.now() / 1000),
      secrets: [secret],
    }),
    body: EVENT_BODY,
  });
  await response.body.text();
  return response.statusCode;
}

export async function runThroughput(options: ThroughputOptions): Promise<ThroughputReport> {
  const pinned = options.pin && canPin();
  if (pinned) pinSelf(0);
  const dir = await mkdtemp(join(tmpdir(), "webhooks-throughput-"));
  let failures = 0;
  const results: Partial<Record<Protocol, ProtocolResult>> = {};
  let httpsSkipped: string | undefined;
  try {
    const tls = await selfSignedCertificate(dir);
    if (tls) {
      // Every client here (undici, fetch, the sender) trusts the throwaway certificate.
      setDefaultCACertificates([...getCACertificates("default"), await readFile(tls.cert, "utf8")]);
    } else {
      httpsSkipped = "openssl is not installed: no certificate for the HTTPS receiver";
    }
    for (const protocol of ["https", "http"] as const) {
      if (protocol === "https" && !tls) continue;
      const sink = await startSink(pinned, protocol === "https" ? tls : undefined);
      try {
        const { failures: failed, ...result } = await measure(sink.url, options);
        failures += failed;
        results[protocol] = result;
      } finally {
        sink.child.stdin?.end();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    options,
    pinned,
    http: results.http as ProtocolResult,
    https: results.https,
    httpsSkipped,
    failures,
    signingMicros: median([0, 1, 2].map(() => signingCost())),
  };
}

export function formatThroughput(report: ThroughputReport): string {
  const { options: o } = report;
  const lines = [
    `Throughput: ${o.rounds} interleaved rounds of ${o.seconds} s per protocol, ${o.concurrency} requests in flight, ${report.pinned ? "client on core 0, receiver on core 1" : "not pinned (no taskset or one core)"}`,
  ];
  for (const protocol of ["https", "http"] as const) {
    const result = report[protocol];
    if (!result) {
      lines.push(`  ${protocol.toUpperCase()}: skipped — ${report.httpsSkipped ?? "not run"}`);
      continue;
    }
    const row = (name: ClientName, label: string) =>
      `  ${label.padEnd(34)}${median(result.perCpuSecond[name]).toFixed(0).padStart(7)}/CPU-s${median(result.perSecond[name]).toFixed(0).padStart(8)}/s`;
    lines.push(
      `  ${(protocol === "https" ? "HTTPS (as in production)" : "plain HTTP").padEnd(34)}${"per core".padStart(13)}${"wall".padStart(10)}   (medians)`,
      row("deliver", "deliver path (batches of 10)"),
      row("unsigned", "  same, unsigned subscription"),
      row("floor", "signed floor (undici + signatures)"),
      row("undici", "raw undici keep-alive loop"),
      row("fetch", "naive fetch loop"),
      `  deliver path ÷ signed floor     ${formatSpread(result.ratios.deliverToFloor)}   (budget ≥ 0.90)`,
      `  signed floor ÷ raw undici       ${formatSpread(result.ratios.floor)}`,
      `  deliver path ÷ raw undici       ${formatSpread(result.ratios.deliver)}`,
      `  unsigned ÷ raw undici           ${formatSpread(result.ratios.unsigned)}`,
      `  naive fetch ÷ raw undici        ${formatSpread(result.ratios.fetch)}`,
      `  signing (both schemes)          ${report.signingMicros.toFixed(1)} µs CPU per delivery = ${((100 * report.signingMicros) / result.rawPostMicros).toFixed(0)}% of a raw POST (${result.rawPostMicros.toFixed(1)} µs)`,
    );
  }
  lines.push(`  non-200 answers                 ${report.failures}`);
  lines.push(
    `  deferred by the endpoint gate   ${(report.https?.deferred ?? 0) + report.http.deferred} (not counted as delivered)`,
  );
  return lines.join("\n");
}

export function throughputOptionsFromEnv(env = process.env): ThroughputOptions {
  return {
    concurrency: Number(env.THROUGHPUT_CONCURRENCY ?? 50),
    rounds: Number(env.THROUGHPUT_ROUNDS ?? 4),
    seconds: Number(env.THROUGHPUT_SECONDS ?? 3),
    pin: env.THROUGHPUT_PIN !== "0",
  };
}

if (import.meta.main) {
  const report = await runThroughput(throughputOptionsFromEnv());
  console.log(formatThroughput(report));
  await handOver(report);
  if (report.failures > 0) process.exitCode = 1;
}
