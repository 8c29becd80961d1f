#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark, each in a process of its own (the throughput benchmark
 * pins itself to a core; the others must not inherit that), then one table: each figure, its
 * budget from docs/architecture.md, pass or miss. Each part's options are its own environment variables
 * (see the part); these are the runner's:
 *
 *   BENCH_ONLY=throughput,cost   run some parts only
 *   BENCH_CHART=docs/benchmarks/latency.svg   write the latency histogram there
 *   BENCH_JSON=bench-results.json             write every part's full report there
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Table from "cli-table3";
import type { ColdStartReport } from "./coldstart.ts";
import { CONSOLE_BUDGET_BYTES, type ConsoleReport } from "./console.ts";
import type { CostReport } from "./cost.ts";
import type { LoadReport } from "./latency.ts";
import { latencyHistogramSvg } from "./lib/chart.ts";
import { againstValidatedFloor, BUSY_SHARE, COLD_START_BUDGET } from "./lib/coldstart-figures.ts";
import { formatSpread } from "./lib/stats.ts";
import { type NoisyReport, noisyVerdict } from "./noisy.ts";
import type { ThroughputReport } from "./throughput.ts";

const PARTS = [
  "bundles",
  "console",
  "coldstart",
  "throughput",
  "cost",
  "latency",
  "noisy",
] as const;
type Part = (typeof PARTS)[number];

/** The budgets of docs/architecture.md ("Performance budgets"). */
export const BUDGETS = {
  /** Each function's median cold start ÷ its floor's (bench/coldstart.ts). */
  coldStartRatio: COLD_START_BUDGET,
  /** The deliver path per core, against the signed floor (raw undici + both signatures). */
  throughputRatio: 0.9,
  sqsRequests: 0.3,
  writeUnits: 1.2,
  readCalls: 0.2,
  dollarsPerMillion: 1.25,
  /** Fan-out 1: single events, and batches of 100 (POST /v1/events/batch). */
  dollarsPerMillionFanOut1: 3.5,
  dollarsPerMillionFanOut1Batched: 2.0,
  p99Ms: 250,
} as const;

interface Row {
  figure: string;
  value: string;
  budget: string;
  /** None for a figure reported beside the budgets, not against one. */
  pass?: boolean;
}

async function runPart(part: Part, dir: string): Promise<unknown> {
  const file = join(dir, `${part}.json`);
  const code = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [resolve(import.meta.dirname, `${part}.ts`)], {
      stdio: "inherit",
      env: { ...process.env, BENCH_REPORT: file },
    });
    child.on("exit", done);
  });
  if (code !== 0) throw new Error(`bench/${part}.ts exited with ${code}`);
  return JSON.parse(await readFile(file, "utf8"));
}

export function summarize(reports: Partial<Record<Part, unknown>>): Row[] {
  const rows: Row[] = [];
  // Bundle bytes are reported by the bundles part, not budgeted: the budget is cold start.
  const coldStart = reports.coldstart as ColdStartReport | undefined;
  for (const fn of coldStart?.functions ?? []) {
    const ratio = fn.ratios.function;
    const median = (label: string) =>
      fn.bundles.find((b) => b.label === label)?.figures.totalMs.median ?? Number.NaN;
    if (!ratio) continue;
    rows.push({
      figure: `${fn.name} cold start ÷ its floor (${median("function").toFixed(0)} ms vs ${median("floor").toFixed(0)} ms, medians of ${coldStart?.options.runs}; CPU time ${ratio.cpuRatio.toFixed(2)}×${ratio.busy > BUSY_SHARE ? "; busy machine, rerun" : ""})`,
      value: `${ratio.ratio.toFixed(2)}× (${ratio.rounds.min.toFixed(2)}–${ratio.rounds.max.toFixed(2)})`,
      budget: `≤ ${BUDGETS.coldStartRatio}×`,
      pass: ratio.ratio <= BUDGETS.coldStartRatio,
    });
    // The floor with what this contract cannot do without (COLDSTART_VARIANT=validated-floor):
    // how much of the budget that takes, and the function against it.
    const against = againstValidatedFloor(fn);
    const validated = against && fn.ratios[against.label];
    if (!against || !validated) continue;
    rows.push({
      figure: `${fn.name}: its ${against.label} (what the contract needs: ${against.medianMs.toFixed(0)} ms) ÷ its floor`,
      value: `${validated.ratio.toFixed(2)}× (${validated.rounds.min.toFixed(2)}–${validated.rounds.max.toFixed(2)})`,
      budget: "beside the budget",
    });
    rows.push({
      figure: `${fn.name} cold start ÷ its ${against.label}${against.ratio.busy > BUSY_SHARE ? " (busy machine, rerun)" : ""}`,
      value: `${against.ratio.ratio.toFixed(2)}× (${against.ratio.rounds.min.toFixed(2)}–${against.ratio.rounds.max.toFixed(2)})`,
      budget: "beside the budget",
    });
  }
  const webConsole = reports.console as ConsoleReport | undefined;
  if (webConsole) {
    rows.push({
      figure: "Web console: JavaScript + CSS, gzipped",
      value: `${(webConsole.gzipBytes / 1024).toFixed(1)} KB`,
      budget: `≤ ${CONSOLE_BUDGET_BYTES / 1024} KB`,
      pass: webConsole.gzipBytes <= CONSOLE_BUDGET_BYTES,
    });
  }
  const throughput = reports.throughput as ThroughputReport | undefined;
  for (const protocol of ["https", "http"] as const) {
    const result = throughput?.[protocol];
    if (!result) continue;
    rows.push({
      figure: `Delivery path per core ÷ signed floor, ${protocol === "https" ? "HTTPS" : "plain HTTP"}`,
      value: formatSpread(result.ratios.deliverToFloor),
      budget: `≥ ${BUDGETS.throughputRatio}`,
      pass: result.ratios.deliverToFloor.median >= BUDGETS.throughputRatio,
    });
  }
  const cost = reports.cost as CostReport | undefined;
  const fanOut10 = cost?.scenarios.find((s) => s.scenario.name === "fan-out 10")?.perDelivery;
  if (fanOut10) {
    const limit = (figure: string, value: number, budget: number, digits = 2, unit = "") =>
      rows.push({
        figure,
        value: `${unit}${value.toFixed(digits)}`,
        budget: `≤ ${unit}${budget}`,
        pass: value <= budget + 1e-9,
      });
    limit("SQS requests per delivery (fan-out 10)", fanOut10.sqsRequests, BUDGETS.sqsRequests);
    limit("DynamoDB write units per delivery", fanOut10.writeUnits, BUDGETS.writeUnits);
    limit("DynamoDB read calls per delivery", fanOut10.readCalls, BUDGETS.readCalls);
    limit(
      "AWS cost per million deliveries",
      fanOut10.cost.total,
      BUDGETS.dollarsPerMillion,
      2,
      "$",
    );
  }
  for (const [name, budget] of [
    ["fan-out 1", BUDGETS.dollarsPerMillionFanOut1],
    ["fan-out 1, batches of 100", BUDGETS.dollarsPerMillionFanOut1Batched],
  ] as const) {
    const total = cost?.scenarios.find((s) => s.scenario.name === name)?.perDelivery.cost.total;
    if (total === undefined) continue;
    rows.push({
      figure: `AWS cost per million deliveries, ${name === "fan-out 1" ? "fan-out 1, single events" : name}`,
      value: `$${total.toFixed(2)}`,
      budget: `≤ $${budget.toFixed(2)}`,
      pass: total <= budget + 1e-9,
    });
  }
  const latency = reports.latency as LoadReport | undefined;
  if (latency) {
    rows.push({
      figure: `End-to-end p99 at ${latency.options.rate} events/s (local stack)`,
      value: `${latency.latency.p99.toFixed(0)} ms`,
      budget: `≤ ${BUDGETS.p99Ms} ms`,
      pass: latency.latency.p99 <= BUDGETS.p99Ms && latency.lost === 0,
    });
  }
  const noisy = reports.noisy as NoisyReport | undefined;
  for (const v of noisy ? noisyVerdict(noisy) : []) {
    rows.push({
      figure: `Healthy endpoint's p99 beside three ${v.scenario === "hanging" ? "hanging endpoints" : "endpoints answering 500/429"} ÷ alone (${v.p99.toFixed(0)} ms vs ${v.cleanP99.toFixed(0)} ms)`,
      value: `${v.ratio.toFixed(2)}×${v.complete ? "" : ", deliveries missing"}`,
      budget: "≤ 2× and < 1 s, none missing",
      pass: v.pass,
    });
  }
  return rows;
}

export function formatSummary(rows: Row[]): string {
  const table = new Table({
    head: ["figure", "measured", "budget", ""],
    style: { head: [], border: [] },
  });
  for (const row of rows)
    table.push([
      row.figure,
      row.value,
      row.budget,
      row.pass === undefined ? "" : row.pass ? "pass" : "MISS",
    ]);
  return table.toString();
}

if (import.meta.main) {
  const only = process.env.BENCH_ONLY?.split(",").map((p) => p.trim());
  const unknown = only?.filter((p) => !PARTS.includes(p as Part)) ?? [];
  if (unknown.length > 0) {
    console.error(`BENCH_ONLY: unknown part(s) ${unknown.join(", ")}; parts: ${PARTS.join(", ")}`);
    process.exit(2);
  }
  const dir = await mkdtemp(join(tmpdir(), "webhooks-bench-"));
  const reports: Partial<Record<Part, unknown>> = {};
  try {
    for (const part of PARTS.filter((p) => !only || only.includes(p))) {
      console.log(`\n── ${part} ${"─".repeat(60 - part.length)}`);
      reports[part] = await runPart(part, dir);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const latency = reports.latency as LoadReport | undefined;
  if (process.env.BENCH_CHART && latency) {
    await writeFile(
      process.env.BENCH_CHART,
      latencyHistogramSvg(latency.samples, {
        budgetMs: BUDGETS.p99Ms,
        title: `End-to-end latency, local stack, ${latency.options.rate} events/s for ${latency.options.seconds} s (${latency.samples.length} deliveries)`,
      }),
    );
  }
  if (process.env.BENCH_JSON) {
    await writeFile(process.env.BENCH_JSON, JSON.stringify(reports, null, 2));
  }
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `\nSummary — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpu}`,
  );
  console.log(formatSummary(summarize(reports)));
}
