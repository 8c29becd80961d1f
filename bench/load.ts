#!/usr/bin/env node
/**
 * `npm run test:load`: sustained event ingest against the local stack (a separate process,
 * as `npm start` runs it) for a fixed time, at a fixed rate, open loop. Reports accepted/s,
 * delivered/s, end-to-end latency (event accepted → receiver got it) with where the time goes,
 * and the account: nothing may be lost.
 *
 *   LOAD_RATE=100 LOAD_SECONDS=20 LOAD_SUBSCRIBERS=2 npm run test:load
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startLocalProcess } from "../test/helpers/local-process.ts";

export interface LoadOptions {
  rate: number;
  seconds: number;
  subscribers: number;
}

export interface LoadReport {
  options: LoadOptions;
  accepted: number;
  acceptedPerSecond: number;
  delivered: number;
  deliveredPerSecond: number;
  duplicates: number;
  lost: number;
  /** End to end, per delivery, in milliseconds: event accepted → receiver got it. */
  latency: { p50: number; p95: number; p99: number; max: number };
  /** Medians of a sample: the API answering, waiting in the queue, the POST itself. */
  breakdown: { ingestMs: number; queueMs: number; deliveryMs: number };
  /** Every end-to-end latency, for a chart. */
  samples: number[];
}

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0)
    : 0;

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const dataDir = await mkdtemp(join(tmpdir(), "webhooks-load-"));
  const acceptedAt = new Map<string, number>();
  const ingestMs: number[] = [];
  const receivedAt = new Map<string, number>();
  let duplicates = 0;
  const receiver = createServer((req, res) => {
    const id = String(req.headers["webhook-id"]);
    const at = performance.now() + performance.timeOrigin;
    req.resume();
    req.on("end", () => {
      if (receivedAt.has(id)) duplicates++;
      else receivedAt.set(id, at);
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
  const post = async (path: string, key: string, body: unknown) => {
    const response = await request(`${stack.url}${path}`, {
      method: "POST",
      dispatcher: pool,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return {
      status: response.statusCode,
      body: (await response.body.json()) as Record<string, unknown>,
    };
  };
  try {
    for (let i = 0; i < options.subscribers; i++) {
      await post("/v1/subscriptions", stack.adminKey, {
        url: `${receiverUrl}/s${i}`,
        events: ["contact.updated"],
      });
    }
    // Open loop: events leave on schedule whether or not earlier ones have been answered.
    const total = Math.round(options.rate * options.seconds);
    const start = performance.now();
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / options.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      sends.push(
        (async () => {
          const sent = performance.now();
          const answer = await post("/v1/events", stack.ingestKey, {
            id: `load-${i}`,
            event: "contact.updated",
            data: { id: `c_${i}`, seq: i },
          });
          const now = performance.now();
          if (answer.status !== 202) throw new Error(`event ${i}: ${answer.status}`);
          ingestMs.push(now - sent);
          acceptedAt.set(`load-${i}`, now + performance.timeOrigin);
        })(),
      );
    }
    await Promise.all(sends);
    const sendSeconds = (performance.now() - start) / 1000;
    const expected = total * options.subscribers;
    const drainDeadline = Date.now() + 60_000;
    while (receivedAt.size < expected && Date.now() < drainDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const deliverySeconds =
      (Math.max(...receivedAt.values()) - (start + performance.timeOrigin)) / 1000;

    // Which event each delivery belongs to, and when its attempt started: from the API.
    const latencies: number[] = [];
    const queueMs: number[] = [];
    const deliveryMs: number[] = [];
    let cursor: string | null = null;
    do {
      const response = await request(
        `${stack.url}/v1/deliveries?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
        {
          dispatcher: pool,
          headers: { authorization: `Bearer ${stack.adminKey}` },
        },
      );
      const page = (await response.body.json()) as {
        data: Array<{ id: string; eventId: string }>;
        nextCursor: string | null;
      };
      for (const d of page.data) {
        const accepted = acceptedAt.get(d.eventId);
        const received = receivedAt.get(d.id);
        if (accepted !== undefined && received !== undefined)
          latencies.push(Math.max(0, received - accepted));
      }
      cursor = page.nextCursor;
    } while (cursor);
    // A sample of attempts, for where the time goes.
    for (const [id, received] of [...receivedAt].slice(0, 200)) {
      const response = await request(`${stack.url}/v1/deliveries/${id}`, {
        dispatcher: pool,
        headers: { authorization: `Bearer ${stack.adminKey}` },
      });
      const detail = (await response.body.json()) as {
        eventId: string;
        attempts: Array<{ startedAt: string }>;
      };
      const accepted = acceptedAt.get(detail.eventId);
      const started = Date.parse(detail.attempts[0]?.startedAt ?? "");
      if (accepted !== undefined && !Number.isNaN(started)) {
        queueMs.push(Math.max(0, started - accepted));
        deliveryMs.push(Math.max(0, received - started));
      }
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const median = (values: number[]) =>
      percentile(
        [...values].sort((a, b) => a - b),
        50,
      );
    return {
      options,
      accepted: acceptedAt.size,
      acceptedPerSecond: acceptedAt.size / sendSeconds,
      delivered: receivedAt.size,
      deliveredPerSecond: receivedAt.size / deliverySeconds,
      duplicates,
      lost: expected - receivedAt.size,
      latency: {
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        max: sorted.at(-1) ?? 0,
      },
      breakdown: {
        ingestMs: median(ingestMs),
        queueMs: median(queueMs),
        deliveryMs: median(deliveryMs),
      },
      samples: latencies,
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
  const { options: o, latency: l, breakdown: b } = report;
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  return [
    `Load: ${o.rate} events/s for ${o.seconds} s, ${o.subscribers} subscriber(s) each (local stack, ${new Date().toISOString().slice(0, 10)})`,
    `  accepted        ${report.accepted} (${report.acceptedPerSecond.toFixed(1)}/s)`,
    `  delivered       ${report.delivered} (${report.deliveredPerSecond.toFixed(1)}/s)`,
    `  lost            ${report.lost}`,
    `  duplicates      ${report.duplicates}`,
    `  end to end      p50 ${ms(l.p50)}, p95 ${ms(l.p95)}, p99 ${ms(l.p99)}, max ${ms(l.max)}`,
    `  where it goes   ingest ${ms(b.ingestMs)}, queue wait ${ms(b.queueMs)}, delivery ${ms(b.deliveryMs)} (medians)`,
  ].join("\n");
}

if (import.meta.main) {
  const report = await runLoad({
    rate: Number(process.env.LOAD_RATE ?? 100),
    seconds: Number(process.env.LOAD_SECONDS ?? 20),
    subscribers: Number(process.env.LOAD_SUBSCRIBERS ?? 1),
  });
  console.log(formatLoad(report));
  if (report.lost > 0) process.exitCode = 1;
}
