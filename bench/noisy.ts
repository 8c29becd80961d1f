#!/usr/bin/env node
/**
 * `npm run bench:noisy`: the noisy-neighbour benchmark. One healthy endpoint and three bad ones
 * subscribed to the same event, on the local stack (a separate process, as `npm start` runs
 * it, with its default pollers and timeouts); events at a fixed rate. Three runs:
 *
 *   clean    — the healthy endpoint alone (the baseline);
 *   hanging  — three endpoints that accept the connection and never answer;
 *   failing  — three endpoints answering 500, 429 (Retry-After: 1) and a slow 500.
 *
 * Reports the healthy endpoint's latency (the CRM posts the event → the receiver has it) in
 * each, whether every healthy delivery was made, and, per bad endpoint, whether every delivery
 * has a record showing its attempts or its deferrals.
 *
 *   NOISY_RATE=10 NOISY_SECONDS=10 NOISY_ROUNDS=1 npm run bench:noisy
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { startLocalProcess } from "../test/helpers/local-process.ts";
import { type Percentiles, percentiles } from "./latency.ts";
import { handOver } from "./lib/stats.ts";

export type Scenario = "clean" | "hanging" | "failing";

export interface NoisyOptions {
  rate: number;
  seconds: number;
}

export interface ScenarioReport {
  scenario: Scenario;
  events: number;
  /** The healthy endpoint: deliveries made, and their latency. */
  healthy: { delivered: number; duplicates: number; latency: Percentiles };
  /** Each bad endpoint: its deliveries with a record (attempts or deferrals), of `events`. */
  bad: Array<{
    behaviour: string;
    recorded: number;
    attempts: number;
    deferrals: number;
    slowLaneAttempts: number;
  }>;
  seconds: number;
}

export interface NoisyReport {
  options: NoisyOptions;
  scenarios: ScenarioReport[];
}

const wallClock = () => performance.timeOrigin + performance.now();

type Behaviour = "hang" | "500" | "429" | "slow-500";
const BAD: Record<Exclude<Scenario, "clean">, Behaviour[]> = {
  hanging: ["hang", "hang", "hang"],
  failing: ["500", "429", "500"],
};

/** A receiver; the healthy one remembers when each webhook-id first arrived. */
async function receiver(behaviour: Behaviour | "ok", arrived: Map<string, number>) {
  let duplicates = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = String(req.headers["webhook-id"]);
      switch (behaviour) {
        case "ok":
          if (arrived.has(id)) duplicates++;
          else arrived.set(id, wallClock());
          res.writeHead(204);
          return res.end();
        case "hang":
          return; // accepted, never answered: the sender's timeout ends it
        case "500":
          res.writeHead(500);
          return res.end("broken");
        case "429":
          res.writeHead(429, { "retry-after": "1" });
          return res.end("slow down");
        case "slow-500":
          return setTimeout(() => {
            res.writeHead(500);
            res.end("broken, slowly");
          }, 300);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    duplicates: () => duplicates,
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

async function until(deadline: number, done: () => boolean | Promise<boolean>) {
  while (Date.now() < deadline && !(await done())) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function runScenario(
  scenario: Scenario,
  options: NoisyOptions,
): Promise<ScenarioReport> {
  const started = Date.now();
  const dataDir = await mkdtemp(join(tmpdir(), "webhooks-noisy-"));
  const arrived = new Map<string, number>();
  const healthy = await receiver("ok", arrived);
  const behaviours = scenario === "clean" ? [] : BAD[scenario];
  const bad = await Promise.all(behaviours.map((b) => receiver(b, new Map())));
  const stack = await startLocalProcess({ WEBHOOKS_LOCAL_DATA_DIR: dataDir });
  const pool = new Agent({ connections: 32 });
  // biome-ignore lint/suspicious/noExplicitAny: the benchmark reads a few fields of API answers
  const call = async (method: string, path: string, key: string, body?: unknown): Promise<any> => {
    const response = await request(`${stack.url}${path}`, {
      method,
      dispatcher: pool,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300)
      throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
    return JSON.parse(text);
  };
  try {
    const subscribe = async (url: string) =>
      (
        await call("POST", "/v1/subscriptions", stack.adminKey, {
          url: `${url}/hook`,
          events: ["deal.updated"],
        })
      ).id as string;
    const healthyId = await subscribe(healthy.url);
    const badIds: string[] = [];
    for (const b of bad) badIds.push(await subscribe(b.url));

    // Events on schedule (open loop): the sending does not wait for the answers.
    const total = Math.round(options.rate * options.seconds);
    const sentAt = new Map<string, number>();
    const begin = performance.now();
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < total; i++) {
      const wait = begin + (i * 1000) / options.rate - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const id = `noisy-${i}`;
      sends.push(
        (async () => {
          sentAt.set(id, wallClock());
          await call("POST", "/v1/events", stack.ingestKey, {
            id,
            event: "deal.updated",
            data: { id: `d_${i}`, amount: i },
          });
        })(),
      );
    }
    await Promise.all(sends);

    // The healthy endpoint's deliveries (a minute at most), then the bad ones' records.
    await until(Date.now() + 60_000, () => arrived.size >= total);
    const listed = async (subscriptionId: string) => {
      const found: Array<{ id: string; eventId: string }> = [];
      let cursor: string | null = null;
      do {
        const page = await call(
          "GET",
          `/v1/deliveries?limit=100&subscriptionId=${subscriptionId}${cursor ? `&cursor=${cursor}` : ""}`,
          stack.adminKey,
        );
        found.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      return found;
    };
    const healthyDeliveries = await listed(healthyId);
    const latencies: number[] = [];
    for (const d of healthyDeliveries) {
      const sent = sentAt.get(d.eventId);
      const got = arrived.get(d.id);
      if (sent !== undefined && got !== undefined) latencies.push(got - sent);
    }

    const badReports: ScenarioReport["bad"] = [];
    for (const [index, subscriptionId] of badIds.entries()) {
      let report = {
        behaviour: behaviours[index] ?? "",
        recorded: 0,
        attempts: 0,
        deferrals: 0,
        slowLaneAttempts: 0,
      };
      await until(Date.now() + 90_000, async () => {
        const deliveries = await listed(subscriptionId);
        const details = [];
        for (let next = 0; next < deliveries.length; next += 16) {
          details.push(
            ...(await Promise.all(
              deliveries
                .slice(next, next + 16)
                .map((d) => call("GET", `/v1/deliveries/${d.id}`, stack.adminKey)),
            )),
          );
        }
        const shown = details.filter((d) => d.attempts.length > 0 || d.deferrals > 0);
        report = {
          behaviour: behaviours[index] ?? "",
          recorded: shown.length,
          attempts: details.reduce((n, d) => n + d.attemptCount, 0),
          deferrals: details.reduce((n, d) => n + d.deferrals, 0),
          slowLaneAttempts: details.reduce(
            (n, d) => n + d.attempts.filter((a: { lane: string }) => a.lane === "slow").length,
            0,
          ),
        };
        return shown.length >= total;
      });
      badReports.push(report);
    }
    return {
      scenario,
      events: total,
      healthy: {
        delivered: latencies.length,
        duplicates: healthy.duplicates(),
        latency: percentiles(latencies),
      },
      bad: badReports,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await pool.close();
    await stack.stop();
    healthy.close();
    for (const b of bad) b.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function runNoisy(options: NoisyOptions): Promise<NoisyReport> {
  const scenarios: ScenarioReport[] = [];
  for (const scenario of ["clean", "hanging", "failing"] as const) {
    const report = await runScenario(scenario, options);
    console.log(formatScenario(report));
    scenarios.push(report);
  }
  return { options, scenarios };
}

export function formatScenario(report: ScenarioReport): string {
  const l = report.healthy.latency;
  return [
    `Noisy neighbours — ${report.scenario}: ${report.events} events (${report.seconds} s)`,
    `  healthy endpoint  ${report.healthy.delivered}/${report.events} delivered, p50 ${l.p50.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms, max ${l.max.toFixed(0)} ms`,
    ...report.bad.map(
      (b) =>
        `  ${b.behaviour.padEnd(8)} endpoint  ${b.recorded}/${report.events} recorded: ${b.attempts} attempts (${b.slowLaneAttempts} in the slow lane), ${b.deferrals} deferrals`,
    ),
  ].join("\n");
}

/** The budget: the healthy p99 at most twice the clean run's and under a second; nothing missing. */
export function noisyVerdict(report: NoisyReport) {
  const clean = report.scenarios.find((s) => s.scenario === "clean");
  return report.scenarios
    .filter((s) => s.scenario !== "clean")
    .map((s) => {
      const ratio = clean ? s.healthy.latency.p99 / Math.max(1, clean.healthy.latency.p99) : 0;
      const complete =
        s.healthy.delivered === s.events && s.bad.every((b) => b.recorded === s.events);
      return {
        scenario: s.scenario,
        p99: s.healthy.latency.p99,
        cleanP99: clean?.healthy.latency.p99 ?? 0,
        ratio,
        complete,
        pass: ratio <= 2 && s.healthy.latency.p99 < 1000 && complete,
      };
    });
}

if (import.meta.main) {
  const report = await runNoisy({
    rate: Number(process.env.NOISY_RATE ?? 10),
    seconds: Number(process.env.NOISY_SECONDS ?? 10),
  });
  for (const v of noisyVerdict(report)) {
    console.log(
      `${v.scenario}: healthy p99 ${v.p99.toFixed(0)} ms = ${v.ratio.toFixed(2)}× the clean run's ${v.cleanP99.toFixed(0)} ms (budget ≤ 2× and < 1000 ms); every delivery present: ${v.complete ? "yes" : "NO"} — ${v.pass ? "pass" : "MISS"}`,
    );
  }
  await handOver(report);
}
