#!/usr/bin/env node
/**
 * `npm run bench:cost`: every AWS call the pipeline makes, counted by operation while events
 * flow through the local stack (in this process, so the SDK clients of the real handlers can
 * be counted), with DynamoDB's consumed capacity (ReturnConsumedCapacity on every call), Lambda
 * invocations and billed durations; then priced per million deliveries with the list prices
 * in bench/aws-prices.ts.
 *
 * Scenarios: fan-out 1, 10 and 50 with an endpoint that answers 200; fan-out 10 with an
 * endpoint that fails each delivery's first attempt (the cost of one retry); fan-out 10 with
 * an endpoint that is down (every attempt fails, then the dead-letter queue). The receiver
 * answers after COST_RECEIVER_MS (100 ms: a typical webhook endpoint), which is most of what
 * the deliver function is billed for.
 *
 *   COST_RATE=10 COST_RECEIVER_MS=100 COST_SCALE=1 npm run bench:cost
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import Table from "cli-table3";
import { Agent, request } from "undici";
import { FUNCTION_MEMORY_MB } from "../infra/house-function.ts";
import { startLocalStack } from "../local/stack.ts";
import { silentLogger } from "../shared/log.ts";
import { itemSize } from "../shared/store/item-size.ts";
import { AWS_PRICES, PRICES_RECORDED } from "./aws-prices.ts";
import { handOver } from "./lib/stats.ts";

type ReceiverMode = "ok" | "fail-once" | "down";

export interface Scenario {
  name: string;
  fanOut: number;
  events: number;
  receiver: ReceiverMode;
  /** Events per request (`POST /v1/events/batch`); one (`POST /v1/events`) when left out. */
  batch?: number;
  /** How long the receiver takes to answer, when not the run's `receiverMs`. */
  receiverMs?: number;
  /** Events per second, when not the run's `rate`. */
  rate?: number;
}

export interface CostOptions {
  /** Events per second, open loop. */
  rate: number;
  /** How long the receiver takes to answer. */
  receiverMs: number;
  /** Multiplies the number of events of every scenario. */
  scale: number;
}

/** What one scenario used, in total. */
export interface Usage {
  events: number;
  deliveries: number;
  /** Receiver requests (attempts), including failed ones. */
  attempts: number;
  /** "DynamoDB PutItem" → calls, "SQS SendMessageBatch" → calls … */
  calls: Record<string, number>;
  writeUnits: number;
  readUnits: number;
  /** ReceiveMessage calls that came back empty: polling, whatever the traffic. */
  emptyReceives: number;
  invocations: { api: number; deliver: number };
  /** Billed milliseconds (each invocation rounded up to 1 ms). */
  billedMs: { api: number; deliver: number };
  /** Each deliver invocation's duration (ms): a batch lasts its slowest receiver and the rest. */
  batchMs: number[];
  /**
   * The busiest partition keys: each key's highest consumed capacity in any one second of the
   * run (table keys, and `dead-letters:` keys of the index), against DynamoDB's per-partition
   * limits of 1,000 write and 3,000 read units per second.
   */
  partitions: PartitionPeak[];
}

export interface PartitionPeak {
  /** The partition key, the workspace id replaced by `<ws>` (shards keep their number). */
  key: string;
  peakWriteUnits: number;
  peakReadUnits: number;
  /** Share of the run's units (reads and writes) spent on this key. */
  share: number;
}

export interface PerDelivery {
  sqsRequests: number;
  writeUnits: number;
  readUnits: number;
  readCalls: number;
  lambdaInvocations: number;
  gbSeconds: number;
  /** USD per million deliveries, by service. */
  cost: {
    httpApi: number;
    lambdaRequests: number;
    lambdaCompute: number;
    sqs: number;
    dynamoWrites: number;
    dynamoReads: number;
    total: number;
  };
}

export interface CostReport {
  options: CostOptions;
  scenarios: Array<{ scenario: Scenario; usage: Usage; perDelivery: PerDelivery }>;
}

const SCENARIOS: Scenario[] = [
  { name: "fan-out 1", fanOut: 1, events: 100, receiver: "ok" },
  { name: "fan-out 1, 100 events/s", fanOut: 1, events: 500, receiver: "ok", rate: 100 },
  { name: "fan-out 1, batches of 100", fanOut: 1, events: 1000, receiver: "ok", batch: 100 },
  { name: "fan-out 10", fanOut: 10, events: 60, receiver: "ok" },
  { name: "fan-out 50", fanOut: 50, events: 12, receiver: "ok" },
  { name: "fan-out 100", fanOut: 100, events: 6, receiver: "ok" },
  {
    name: "fan-out 10, receivers answer in 1 s",
    fanOut: 10,
    events: 30,
    receiver: "ok",
    receiverMs: 1000,
  },
  { name: "fan-out 10, first attempt fails", fanOut: 10, events: 60, receiver: "fail-once" },
  { name: "fan-out 10, endpoint down", fanOut: 10, events: 20, receiver: "down" },
];
/** Five attempts, a second apart: the "down" scenario dead-letters within seconds. */
const SCHEDULE = "0,1,1,1,1";
const ATTEMPTS = SCHEDULE.split(",").length;

const READ_OPERATIONS = new Set(["GetItem", "BatchGetItem", "Query"]);

// ——— Counting: every SDK call of every client in this process ———————————————————————————

let window: Usage | undefined;
let deliverInFlight = 0;

const newUsage = (): Usage => ({
  events: 0,
  deliveries: 0,
  attempts: 0,
  calls: {},
  writeUnits: 0,
  readUnits: 0,
  emptyReceives: 0,
  invocations: { api: 0, deliver: 0 },
  billedMs: { api: 0, deliver: 0 },
  batchMs: [],
  partitions: [],
});

/** Consumed units by second and partition key, while a window is open. */
let bySecond = new Map<number, Map<string, { read: number; write: number }>>();

function addToPartition(pk: unknown, read: number, write: number) {
  if (!window || typeof pk !== "string" || (read === 0 && write === 0)) return;
  const second = Math.floor(performance.now() / 1000);
  const keys = bySecond.get(second) ?? new Map<string, { read: number; write: number }>();
  bySecond.set(second, keys);
  const entry = keys.get(pk) ?? { read: 0, write: 0 };
  entry.read += read;
  entry.write += write;
  keys.set(pk, entry);
}

/** The ten keys with the highest one-second peaks, and each key's share of all units. */
function partitionPeaks(): PartitionPeak[] {
  const peaks = new Map<string, PartitionPeak>();
  let all = 0;
  const totals = new Map<string, number>();
  for (const keys of bySecond.values()) {
    for (const [pk, units] of keys) {
      const key = pk.replace(/^(dead-letters:)?WS#[^#]+/, "$1WS#<ws>");
      const peak = peaks.get(key) ?? { key, peakWriteUnits: 0, peakReadUnits: 0, share: 0 };
      peak.peakWriteUnits = Math.max(peak.peakWriteUnits, units.write);
      peak.peakReadUnits = Math.max(peak.peakReadUnits, units.read);
      peaks.set(key, peak);
      totals.set(key, (totals.get(key) ?? 0) + units.read + units.write);
      all += units.read + units.write;
    }
  }
  for (const peak of peaks.values()) peak.share = (totals.get(peak.key) ?? 0) / Math.max(1, all);
  return [...peaks.values()]
    .sort(
      (a, b) =>
        Math.max(b.peakWriteUnits, b.peakReadUnits / 3) -
        Math.max(a.peakWriteUnits, a.peakReadUnits / 3),
    )
    .slice(0, 10);
}

/** Read units of one item as DynamoDB counts them (4 KB steps; half for eventually consistent). */
const readUnitsOf = (item: Record<string, unknown>, consistent: boolean) =>
  Math.ceil(itemSize(item) / 4096) / (consistent ? 1 : 2);

/** Attributes a call's consumed capacity to the partition key(s) it touched. */
function attribute(
  operation: string,
  input: Record<string, unknown>,
  result: { ConsumedCapacity?: Capacity | Capacity[]; Responses?: Record<string, unknown[]> },
) {
  const consumed = [result.ConsumedCapacity ?? []].flat();
  const units = consumed.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
  const item = input.Item as Record<string, unknown> | undefined;
  const key = input.Key as Record<string, unknown> | undefined;
  switch (operation) {
    case "PutItem":
      addToPartition(item?.pk, 0, units);
      // The dead-letter index is written too when the item carries its key.
      if (item?.dlqPk)
        addToPartition(`dead-letters:${item.dlqPk}`, 0, Math.ceil(itemSize(item) / 1024));
      return;
    case "UpdateItem":
    case "DeleteItem":
      addToPartition(key?.pk, 0, units);
      return;
    case "GetItem":
      addToPartition(key?.pk, units, 0);
      return;
    case "Query": {
      const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
      const pk = values[":pk"] ?? Object.values(values)[0];
      addToPartition(input.IndexName ? `${input.IndexName}:${String(pk)}` : pk, units, 0);
      return;
    }
    case "BatchGetItem": {
      const requests = (input.RequestItems ?? {}) as Record<string, { ConsistentRead?: boolean }>;
      for (const [table, items] of Object.entries(result.Responses ?? {})) {
        const consistent = requests[table]?.ConsistentRead === true;
        for (const found of items as Array<Record<string, unknown>>) {
          addToPartition(found.pk, readUnitsOf(found, consistent), 0);
        }
      }
      return;
    }
  }
}

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

function countCall(service: string, operation: string) {
  if (!window) return;
  const name = `${service} ${operation}`;
  window.calls[name] = (window.calls[name] ?? 0) + 1;
}

function addCapacity(operation: string, consumed: Capacity | Capacity[] | undefined) {
  if (!window || !consumed) return;
  for (const c of Array.isArray(consumed) ? consumed : [consumed]) {
    const units = c.CapacityUnits ?? 0;
    const read = c.ReadCapacityUnits ?? (READ_OPERATIONS.has(operation) ? units : 0);
    const write = c.WriteCapacityUnits ?? (READ_OPERATIONS.has(operation) ? 0 : units);
    window.readUnits += read;
    window.writeUnits += write;
  }
}

type Send = (command: { input: Record<string, unknown> }, ...rest: unknown[]) => Promise<unknown>;
const operationOf = (command: object) => command.constructor.name.replace(/Command$/, "");

function instrument(): void {
  const dynamoSend = DynamoDBDocumentClient.prototype.send as unknown as Send;
  DynamoDBDocumentClient.prototype.send = async function countedSend(
    this: DynamoDBDocumentClient,
    command: { input: Record<string, unknown> },
    ...rest: unknown[]
  ) {
    // Document-client commands are named after the operation without "Item": Put, BatchGet …
    const operation = dynamoOperation(operationOf(command));
    // The TTL sweeper's scans are a local stand-in for DynamoDB TTL, which is free on AWS.
    const counted = operation !== "Scan" && operation !== "BatchWriteItem";
    command.input.ReturnConsumedCapacity = "TOTAL";
    try {
      const result = (await dynamoSend.call(this, command, ...rest)) as {
        ConsumedCapacity?: Capacity | Capacity[];
        Responses?: Record<string, unknown[]>;
      };
      if (counted) {
        addCapacity(operation, result.ConsumedCapacity);
        attribute(operation, command.input, result);
      }
      return result;
    } finally {
      if (counted) countCall("DynamoDB", operation);
    }
  } as unknown as typeof DynamoDBDocumentClient.prototype.send;

  const sqsSend = SQSClient.prototype.send as unknown as Send;
  SQSClient.prototype.send = async function countedSend(
    this: SQSClient,
    command: { input: Record<string, unknown> },
    ...rest: unknown[]
  ) {
    const operation = operationOf(command);
    const result = (await sqsSend.call(this, command, ...rest)) as { Messages?: unknown[] };
    if (operation === "ReceiveMessage" && !result.Messages?.length) {
      if (window) window.emptyReceives++;
    } else {
      countCall("SQS", operation);
    }
    return result;
  } as unknown as typeof SQSClient.prototype.send;
}

function dynamoOperation(command: string): string {
  const names: Record<string, string> = {
    Put: "PutItem",
    Get: "GetItem",
    Update: "UpdateItem",
    Delete: "DeleteItem",
    BatchGet: "BatchGetItem",
    BatchWrite: "BatchWriteItem",
    TransactWrite: "TransactWriteItems",
    TransactGet: "TransactGetItems",
  };
  return names[command] ?? command;
}

/** Wraps a handler: counts its invocations and billed milliseconds while a window is open. */
function metered<A extends unknown[], R>(
  kind: "api" | "deliver",
  handler: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const started = performance.now();
    if (kind === "deliver") deliverInFlight++;
    try {
      return await handler(...args);
    } finally {
      if (kind === "deliver") deliverInFlight--;
      if (window) {
        window.invocations[kind]++;
        window.billedMs[kind] += Math.ceil(performance.now() - started);
        if (kind === "deliver") window.batchMs.push(performance.now() - started);
      }
    }
  };
}

// ——— The workload ———————————————————————————————————————————————————————————————————————

export async function runCost(options: CostOptions): Promise<CostReport> {
  instrument();
  const dataDir = await mkdtemp(join(tmpdir(), "webhooks-cost-"));
  let mode: ReceiverMode = "ok";
  let receiverMs = options.receiverMs;
  const seen = new Map<string, number>();
  let requests = 0;
  const receiver = createServer((req, res) => {
    const id = String(req.headers["webhook-id"]);
    req.resume();
    req.on("end", () => {
      requests++;
      const attempt = (seen.get(id) ?? 0) + 1;
      seen.set(id, attempt);
      const fail = mode === "down" || (mode === "fail-once" && attempt === 1);
      setTimeout(() => {
        res.writeHead(fail ? 500 : 200, {
          "content-type": "application/json",
          "x-request-id": `req_${requests}`,
        });
        res.end(fail ? '{"error":"internal"}' : '{"received":true}');
      }, receiverMs);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const stack = await startLocalStack(
    {
      PORT: "0",
      WEBHOOKS_LOCAL_DATA_DIR: dataDir,
      WEBHOOKS_RETRY_SCHEDULE: SCHEDULE,
      // The sweep is a fixed cost of a deployment (every 5 minutes on AWS), not of a delivery:
      // left out of the runs, priced on its own in BENCHMARKS.md.
      WEBHOOKS_LOCAL_SWEEP_SECONDS: "3600",
      // Statistics written as often as on AWS (the local stack's default is every second).
      WEBHOOKS_STATS_FLUSH_SECONDS: "10",
      WEBHOOKS_LOCAL_ADMIN_KEY: undefined,
      WEBHOOKS_LOCAL_INGEST_KEY: undefined,
    },
    {
      log: silentLogger,
      wrapApi: (handler) => metered("api", handler),
      wrapDeliver: (handler) => metered("deliver", handler),
    },
  );
  const pool = new Agent({ connections: 32 });
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const response = await request(`${stack.url}${path}`, {
      method: method as "POST",
      dispatcher: pool,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) {
      throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
    }
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };

  const results: CostReport["scenarios"] = [];
  try {
    for (const base of SCENARIOS) {
      const scenario = { ...base, events: Math.max(1, Math.round(base.events * options.scale)) };
      mode = scenario.receiver;
      receiverMs = scenario.receiverMs ?? options.receiverMs;
      seen.clear();
      requests = 0;
      const ids: string[] = [];
      for (let i = 0; i < scenario.fanOut; i++) {
        const created = await call("POST", "/v1/subscriptions", stack.adminKey, {
          url: `${receiverUrl}/hooks/${i}`,
          events: ["deal.updated"],
          generateSecret: true,
        });
        ids.push(String(created.id));
      }

      const event = (i: number | "warm-up") => ({
        id: `${scenario.name}-${i}`.replace(/[^A-Za-z0-9._:-]/g, "-"),
        event: "deal.updated",
        data: { id: `deal_${i}`, stage: "negotiation", amount: 48_000, currency: "EUR" },
      });
      // One event first, answered 200 and not counted: the deliver side meets the new endpoints
      // (its gate lets one request of an endpoint it has not heard from yet go at a time, so a
      // second event in the same tenth of a second would be deferred once) and the API reads
      // the key and the subscriptions it then reuses. The counts are of the steady state after.
      mode = "ok";
      await call("POST", "/v1/events", stack.ingestKey, event("warm-up"));
      window = newUsage();
      await settle(() => requests >= scenario.fanOut, window);
      mode = scenario.receiver;
      seen.clear();
      requests = 0;

      const usage = newUsage();
      bySecond = new Map();
      window = usage;
      const start = performance.now();
      const sends: Array<Promise<unknown>> = [];
      const perRequest = scenario.batch ?? 1;
      for (let i = 0; i < scenario.events; i += perRequest) {
        // Single events at the rate; batches one a second.
        const rate = scenario.rate ?? options.rate;
        const wait =
          start +
          (perRequest > 1 ? (i / perRequest) * 1000 : (i * 1000) / rate) -
          performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        sends.push(
          perRequest > 1
            ? call("POST", "/v1/events/batch", stack.ingestKey, {
                events: Array.from({ length: Math.min(perRequest, scenario.events - i) }, (_, k) =>
                  event(i + k),
                ),
              })
            : call("POST", "/v1/events", stack.ingestKey, event(i)),
        );
      }
      await Promise.all(sends);
      const deliveries = scenario.events * scenario.fanOut;
      const attempts =
        deliveries *
        (scenario.receiver === "ok" ? 1 : scenario.receiver === "fail-once" ? 2 : ATTEMPTS);
      await settle(() => requests >= attempts, usage);
      window = undefined;
      usage.partitions = partitionPeaks();
      usage.events = scenario.events;
      usage.deliveries = deliveries;
      usage.attempts = requests;
      results.push({ scenario, usage, perDelivery: perDelivery(usage) });

      for (const id of ids) await call("DELETE", `/v1/subscriptions/${id}`, stack.adminKey);
    }
  } finally {
    window = undefined;
    await pool.close();
    await stack.stop();
    receiver.close();
    receiver.closeAllConnections();
    await rm(dataDir, { recursive: true, force: true });
  }
  return { options, scenarios: results };
}

/**
 * Waits until the receiver has had every attempt, then until the pipeline is quiet: no deliver
 * invocation running and no counted call for a second (the last deletes, the dead-letter sends).
 */
async function settle(received: () => boolean, usage: Usage): Promise<void> {
  const deadline = Date.now() + 180_000;
  const total = () => Object.values(usage.calls).reduce((sum, n) => sum + n, 0);
  while (!received()) {
    if (Date.now() > deadline) throw new Error("the receiver did not get every attempt in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let last = total();
  let quietSince = Date.now();
  while (Date.now() - quietSince < 1000 || deliverInFlight > 0) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (total() !== last || deliverInFlight > 0) {
      last = total();
      quietSince = Date.now();
    }
    if (Date.now() > deadline) throw new Error("the pipeline did not settle in time");
  }
}

export function perDelivery(usage: Usage): PerDelivery {
  const d = usage.deliveries;
  const sum = (prefix: string, filter: (op: string) => boolean = () => true) =>
    Object.entries(usage.calls)
      .filter(([name]) => name.startsWith(prefix) && filter(name.slice(prefix.length)))
      .reduce((total, [, n]) => total + n, 0);
  const sqsRequests = sum("SQS ");
  const readCalls = sum("DynamoDB ", (op) => READ_OPERATIONS.has(op));
  const gbSeconds =
    ((usage.billedMs.api + usage.billedMs.deliver) / 1000) * (FUNCTION_MEMORY_MB / 1024);
  const invocations = usage.invocations.api + usage.invocations.deliver;
  const perMillion = 1_000_000 / d;
  const cost = {
    // Every API function invocation is one HTTP API request.
    httpApi: (usage.invocations.api / 1e6) * AWS_PRICES.httpApiPerMillionRequests.usd * perMillion,
    lambdaRequests: (invocations / 1e6) * AWS_PRICES.lambdaPerMillionRequests.usd * perMillion,
    lambdaCompute: gbSeconds * AWS_PRICES.lambdaArmPerGbSecond.usd * perMillion,
    sqs: (sqsRequests / 1e6) * AWS_PRICES.sqsPerMillionRequests.usd * perMillion,
    dynamoWrites: (usage.writeUnits / 1e6) * AWS_PRICES.dynamoPerMillionWriteUnits.usd * perMillion,
    dynamoReads: (usage.readUnits / 1e6) * AWS_PRICES.dynamoPerMillionReadUnits.usd * perMillion,
    total: 0,
  };
  cost.total =
    cost.httpApi +
    cost.lambdaRequests +
    cost.lambdaCompute +
    cost.sqs +
    cost.dynamoWrites +
    cost.dynamoReads;
  return {
    sqsRequests: sqsRequests / d,
    writeUnits: usage.writeUnits / d,
    readUnits: usage.readUnits / d,
    readCalls: readCalls / d,
    lambdaInvocations: invocations / d,
    gbSeconds: gbSeconds / d,
    cost,
  };
}

export function formatCost(report: CostReport): string {
  const { options: o } = report;
  const head = ["per delivery", ...report.scenarios.map((s) => s.scenario.name)];
  const table = new Table({ head, style: { head: [], border: [] } });
  const row = (label: string, pick: (p: PerDelivery, u: Usage) => string) =>
    table.push([label, ...report.scenarios.map((s) => pick(s.perDelivery, s.usage))]);
  row("events × subscribers", (_p, u) => `${u.events} × ${u.deliveries / u.events}`);
  row("attempts", (_p, u) => (u.attempts / u.deliveries).toFixed(1));
  row("SQS requests", (p) => p.sqsRequests.toFixed(2));
  row("DynamoDB write units", (p) => p.writeUnits.toFixed(2));
  row("DynamoDB read units", (p) => p.readUnits.toFixed(2));
  row("DynamoDB read calls", (p) => p.readCalls.toFixed(2));
  row("Lambda invocations", (p) => p.lambdaInvocations.toFixed(2));
  row("Lambda GB-s (×1000)", (p) => (p.gbSeconds * 1000).toFixed(3));
  row("deliver batch p50 (receiver + rest)", (_p, u) => {
    const sorted = [...u.batchMs].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)] ?? 0;
    return `${p50.toFixed(0)} ms`;
  });
  row("$ per million: HTTP API", (p) => p.cost.httpApi.toFixed(3));
  row("  Lambda requests", (p) => p.cost.lambdaRequests.toFixed(3));
  row("  Lambda compute", (p) => p.cost.lambdaCompute.toFixed(3));
  row("  SQS", (p) => p.cost.sqs.toFixed(3));
  row("  DynamoDB writes", (p) => p.cost.dynamoWrites.toFixed(3));
  row("  DynamoDB reads", (p) => p.cost.dynamoReads.toFixed(3));
  row("  total", (p) => p.cost.total.toFixed(2));

  const calls = new Table({
    head: ["calls per delivery", ...report.scenarios.map((s) => s.scenario.name)],
    style: { head: [], border: [] },
  });
  const names = [...new Set(report.scenarios.flatMap((s) => Object.keys(s.usage.calls)))].sort();
  for (const name of names) {
    calls.push([
      name,
      ...report.scenarios.map((s) => ((s.usage.calls[name] ?? 0) / s.usage.deliveries).toFixed(2)),
    ]);
  }
  calls.push([
    "(SQS empty receives, not priced)",
    ...report.scenarios.map((s) => String(s.usage.emptyReceives)),
  ]);
  const partitions = report.scenarios
    .filter((s) => ["fan-out 10", "fan-out 100"].includes(s.scenario.name))
    .map((s) => {
      const t = new Table({
        head: [
          `busiest partitions, ${s.scenario.name} (${o.rate} events/s)`,
          "peak WCU/s",
          "peak RCU/s",
          "share of units",
        ],
        style: { head: [], border: [] },
      });
      for (const p of s.usage.partitions.slice(0, 6)) {
        t.push([
          p.key,
          p.peakWriteUnits.toFixed(1),
          p.peakReadUnits.toFixed(1),
          `${(p.share * 100).toFixed(1)} %`,
        ]);
      }
      return t.toString();
    });
  return [
    `AWS usage and cost: local stack, ${o.rate} events/s, receiver answers in ${o.receiverMs} ms, ${FUNCTION_MEMORY_MB} MB functions, us-east-1 list prices recorded ${PRICES_RECORDED} (bench/aws-prices.ts)`,
    table.toString(),
    calls.toString(),
    ...partitions,
  ].join("\n");
}

export function costOptionsFromEnv(env = process.env): CostOptions {
  return {
    rate: Number(env.COST_RATE ?? 10),
    receiverMs: Number(env.COST_RECEIVER_MS ?? 100),
    scale: Number(env.COST_SCALE ?? 1),
  };
}

if (import.meta.main) {
  const report = await runCost(costOptionsFromEnv());
  console.log(formatCost(report));
  await handOver(report);
}
