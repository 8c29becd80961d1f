#!/usr/bin/env node
/**
 * `npm run bench:latency` (also `npm run test:load`): sustained event ingest against the
 * local stack — a separate process, as `npm start` runs it — at a fixed rate, open loop, for
 * a fixed time after a warm-up. Reports accepted/s, delivered/s, end-to-end latency (the CRM posts the
 * event → the receiver has the webhook) with the milestones in between, and the account:
 * nothing may be lost.
 *
 *   LOAD_RATE=100 LOAD_SECONDS=20 LOAD_WARMUP_SECONDS=3 LOAD_SUBSCRIBERS=1 npm run bench:latency
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startLocalProcess } from "../test/helpers/local-process.ts";
import { handOver, percentile } from "./lib/stats.ts";

export interface LoadOptions {
  /** Events per second, sent on schedule whether or not earlier ones were answered. */
  rate: number;
  /** Measured seconds. */
  seconds: number;
  /** Seconds at the same rate before measuring: JIT, connection pools, first queue polls. */
  warmupSeconds: number;
  subscribers: number;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LoadReport {
  options: LoadOptions;
  accepted: number;
  acceptedPerSecond: number;
  delivered: number;
  deliveredPerSecond: number;
  duplicates: number;
  lost: number;
  /** Per measured delivery, in ms: the CRM posts the event → the receiver has the webhook. */
  latency: Percentiles;
  /** Milestones of the same deliveries, in ms after the CRM posted the event. */
  milestones: {
    /** The API answered 202 (the event is stored and its messages are queued). */
    accepted: Percentiles;
    /** The deliver function started the POST (recorded in the attempt). */
    attemptStarted: Percentiles;
  };
  /** Every measured end-to-end latency, for the chart. */
  samples: number[];
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? 0,
  };
}

/** Wall-clock milliseconds with sub-millisecond precision (attempts carry wall-clock times). */
const wallClock = () => performance.timeOrigin + performance.now();

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const dataDir = await mkdtemp(join(tmpdir(), "webhooks-load-"));
  /** Event id → when the CRM sent it, and when the 202 came back. */
  const sentAt = new Map<string, number>();
  const answeredAt = new Map<string, number>();
  /** Delivery id (the webhook-id header) → when the receiver had the whole request. */
  const receivedAt = new Map<string, number>();
  let duplicates = 0;
  const receiver = createServer((req, res) => {
    const id = String(req.headers["webhook-id"]);
    req.resume();
    req.on("end", () => {
      if (receivedAt.has(id)) duplicates++;
      else receivedAt.set(id, wallClock());
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const stack = await startLocalProcess({
    WEBHOOKS_LOCAL_DATA_DIR: dataDir,
    WEBHOOKS_RETRY_SCHEDULE: "0,1,2",
  });
  const pool = new Agent({ connections: 64 });
  const call = async <T>(path: string, key: string, body?: unknown) => {
    const response = await request(`${stack.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      dispatcher: pool,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.statusCode, body: (await response.body.json()) as T };
  };
  try {
    for (let i = 0; i < options.subscribers; i++) {
      await call("/v1/subscriptions", stack.adminKey, {
        url: `${receiverUrl}/s${i}`,
        events: ["contact.updated"],
      });
    }
    const warmup = Math.round(options.rate * options.warmupSeconds);
    const total = warmup + Math.round(options.rate * options.seconds);
    const start = performance.now();
    let measuredStart = wallClock();
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / options.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (i === warmup) measuredStart = wallClock();
      const id = `${i < warmup ? "warmup" : "load"}-${i}`;
      sends.push(
        (async () => {
          const sent = wallClock();
          const answer = await call("/v1/events", stack.ingestKey, {
            id,
            event: "contact.updated",
            data: { id: `c_${i}`, seq: i },
          });
          if (answer.status !== 202) throw new Error(`event ${i}: ${answer.status}`);
          sentAt.set(id, sent);
          answeredAt.set(id, wallClock());
        })(),
      );
    }
    await Promise.all(sends);
    const sendSeconds = (wallClock() - measuredStart) / 1000;
    const expected = total * options.subscribers;
    const drainDeadline = Date.now() + 60_000;
    while (receivedAt.size < expected && Date.now() < drainDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Every delivery's event and first attempt, from the API.
    const deliveries: Array<{ id: string; eventId: string }> = [];
    let cursor: string | null | undefined;
    do {
      const page = await call<{
        data: Array<{ id: string; eventId: string }>;
        nextCursor?: string | null;
      }>(`/v1/deliveries?limit=100${cursor ? `&cursor=${cursor}` : ""}`, stack.adminKey);
      deliveries.push(...page.body.data);
      cursor = page.body.nextCursor;
    } while (cursor);
    const measured = deliveries.filter((d) => d.eventId.startsWith("load-"));
    const attemptStartedAt = new Map<string, number>();
    for (let next = 0; next < measured.length; ) {
      const slice = measured.slice(next, next + 16);
      next += slice.length;
      await Promise.all(
        slice.map(async (d) => {
          const detail = await call<{ attempts: Array<{ startedAt: string }> }>(
            `/v1/deliveries/${d.id}`,
            stack.adminKey,
          );
          const started = Date.parse(detail.body.attempts[0]?.startedAt ?? "");
          if (!Number.isNaN(started)) attemptStartedAt.set(d.id, started);
        }),
      );
    }

    const endToEnd: number[] = [];
    const accepted: number[] = [];
    const attemptStarted: number[] = [];
    let lastReceived = measuredStart;
    for (const d of measured) {
      const sent = sentAt.get(d.eventId);
      const received = receivedAt.get(d.id);
      if (sent === undefined || received === undefined) continue;
      lastReceived = Math.max(lastReceived, received);
      endToEnd.push(received - sent);
      accepted.push((answeredAt.get(d.eventId) ?? sent) - sent);
      const started = attemptStartedAt.get(d.id);
      if (started !== undefined) attemptStarted.push(started - sent);
    }
    const measuredEvents = [...sentAt.keys()].filter((id) => id.startsWith("load-")).length;
    return {
      options,
      accepted: measuredEvents,
      acceptedPerSecond: measuredEvents / sendSeconds,
      delivered: endToEnd.length,
      deliveredPerSecond: endToEnd.length / ((lastReceived - measuredStart) / 1000),
      duplicates,
      lost: expected - receivedAt.size,
      latency: percentiles(endToEnd),
      milestones: { accepted: percentiles(accepted), attemptStarted: percentiles(attemptStarted) },
      samples: endToEnd,
    };
  } finally {
    await pool.close();
    await stack.stop();
    receiver.close();
    receiver.closeAllConnections();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function formatLoad(report: LoadReport): string {
  const { options: o, latency: l, milestones: m } = report;
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  const row = (p: Percentiles) =>
    `p50 ${ms(p.p50)}, p95 ${ms(p.p95)}, p99 ${ms(p.p99)}, max ${ms(p.max)}`;
  return [
    `Latency: ${o.rate} events/s for ${o.seconds} s after ${o.warmupSeconds} s of warm-up, ${o.subscribers} subscriber(s) each, local stack`,
    `  accepted          ${report.accepted} (${report.acceptedPerSecond.toFixed(1)}/s)`,
    `  delivered         ${report.delivered} (${report.deliveredPerSecond.toFixed(1)}/s)`,
    `  lost              ${report.lost} (warm-up included)`,
    `  duplicates        ${report.duplicates}`,
    `  end to end        ${row(l)}`,
    "  after the CRM posted the event:",
    `    API answered    ${row(m.accepted)}`,
    `    POST started    ${row(m.attemptStarted)}`,
    `    receiver had it ${row(l)}`,
  ].join("\n");
}

export function loadOptionsFromEnv(env = process.env): LoadOptions {
  return {
    rate: Number(env.LOAD_RATE ?? 100),
    seconds: Number(env.LOAD_SECONDS ?? 20),
    warmupSeconds: Number(env.LOAD_WARMUP_SECONDS ?? 3),
    subscribers: Number(env.LOAD_SUBSCRIBERS ?? 1),
  };
}

if (import.meta.main) {
  const report = await runLoad(loadOptionsFromEnv());
  console.log(formatLoad(report));
  await handOver(report);
  if (report.lost > 0) process.exitCode = 1;
}
