import { describe, expect, it } from "vitest";
import { AWS_PRICES } from "../../bench/aws-prices.ts";
import {
  type BundleResult,
  type ColdStartReport,
  coldStartOptionsFromEnv,
} from "../../bench/coldstart.ts";
import type { CostReport, Usage } from "../../bench/cost.ts";
import { perDelivery } from "../../bench/cost.ts";
import { BUDGETS, formatSummary, summarize } from "../../bench/index.ts";
import { latencyHistogramSvg } from "../../bench/lib/chart.ts";
import {
  BUSY_SHARE,
  busyShare,
  COLD_START_BUDGET,
  countCalls,
  ratioTo,
  sameCalls,
  type Timing,
} from "../../bench/lib/coldstart-figures.ts";
import { median, percentile, spread } from "../../bench/lib/stats.ts";
import { noisyVerdict } from "../../bench/noisy.ts";

/** The benchmarks' arithmetic: what turns counts into the figures BENCHMARKS.md quotes. */
describe("benchmark arithmetic", () => {
  it("medians, spreads and nearest-rank percentiles", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spread([0.7, 0.9, 0.8])).toEqual({ median: 0.8, min: 0.7, max: 0.9 });
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([], 99)).toBe(0);
  });

  it("prices usage per million deliveries", () => {
    // Ten events to ten subscribers, as at fan-out 10: 100 deliveries.
    const usage: Usage = {
      events: 10,
      deliveries: 100,
      attempts: 100,
      calls: {
        "DynamoDB Query": 10,
        "DynamoDB PutItem": 20,
        "DynamoDB BatchGetItem": 10,
        "DynamoDB UpdateItem": 100,
        "SQS SendMessageBatch": 10,
        "SQS ReceiveMessage": 10,
        "SQS DeleteMessageBatch": 10,
      },
      writeUnits: 120,
      readUnits: 130,
      emptyReceives: 7,
      invocations: { api: 10, deliver: 10 },
      billedMs: { api: 200, deliver: 1200 },
      batchMs: [120],
      partitions: [],
    };
    const p = perDelivery(usage);
    expect(p.sqsRequests).toBeCloseTo(0.3);
    expect(p.writeUnits).toBeCloseTo(1.2);
    expect(p.readCalls).toBeCloseTo(0.2);
    expect(p.lambdaInvocations).toBeCloseTo(0.2);
    // 1.4 s at 256 MB over 100 deliveries.
    expect(p.gbSeconds).toBeCloseTo((1.4 * 0.25) / 100);
    expect(p.cost.httpApi).toBeCloseTo(0.1 * AWS_PRICES.httpApiPerMillionRequests.usd);
    expect(p.cost.sqs).toBeCloseTo(0.3 * AWS_PRICES.sqsPerMillionRequests.usd);
    expect(p.cost.dynamoWrites).toBeCloseTo(1.2 * AWS_PRICES.dynamoPerMillionWriteUnits.usd);
    expect(p.cost.dynamoReads).toBeCloseTo(1.3 * AWS_PRICES.dynamoPerMillionReadUnits.usd);
    const parts =
      p.cost.httpApi +
      p.cost.lambdaRequests +
      p.cost.lambdaCompute +
      p.cost.sqs +
      p.cost.dynamoWrites +
      p.cost.dynamoReads;
    expect(p.cost.total).toBeCloseTo(parts);
  });

  it("marks each figure pass or miss against docs/architecture.md's budgets", () => {
    const perDeliveryAt = (sqsRequests: number, total: number) =>
      ({
        scenario: { name: "fan-out 10", fanOut: 10, events: 1, receiver: "ok" },
        usage: {} as Usage,
        perDelivery: {
          sqsRequests,
          writeUnits: 1.2,
          readUnits: 1.3,
          readCalls: 0.2,
          lambdaInvocations: 0.2,
          gbSeconds: 0,
          cost: { total } as CostReport["scenarios"][number]["perDelivery"]["cost"],
        },
      }) satisfies CostReport["scenarios"][number];
    const rows = summarize({
      cost: { options: {}, scenarios: [perDeliveryAt(0.3, 1.3)] },
      // Bytes alone are no budget any more: a 600 KB bundle adds no row.
      bundles: [{ name: "DeliverFunction", bytes: 600 * 1024, loadMs: 1, parts: [], runs: 1 }],
      console: { files: [], bytes: 400 * 1024, gzipBytes: 120 * 1024, withinBudget: true },
      coldstart: coldStartReport({ ApiFunction: 1.16, DeliverFunction: 1.15 }),
      latency: { options: { rate: 100 }, latency: { p99: BUDGETS.p99Ms }, lost: 0 },
    });
    const verdict = Object.fromEntries(rows.map((row) => [row.figure.split(" (")[0], row.pass]));
    expect(Object.keys(verdict).some((figure) => figure.includes("bundle"))).toBe(false);
    expect(verdict).toMatchObject({
      "ApiFunction cold start ÷ its floor": false,
      "DeliverFunction cold start ÷ its floor": true,
      "SQS requests per delivery": true,
      "DynamoDB write units per delivery": true,
      "AWS cost per million deliveries": false,
      "End-to-end p99 at 100 events/s": true,
      "Web console: JavaScript + CSS, gzipped": true,
    });
    const heavy = summarize({
      console: { files: [], bytes: 0, gzipBytes: 151 * 1024, withinBudget: false },
    });
    expect(heavy).toEqual([
      expect.objectContaining({ value: "151.0 KB", budget: "≤ 150 KB", pass: false }),
    ]);
  });

  it("divides cold starts by the floor's: medians, and round by round", () => {
    const floor = { samples: [100, 110, 90].map((ms) => timing(ms, ms / 2)) };
    const bundle = { samples: [120, 110, 117].map((ms) => timing(ms, ms / 3)) };
    const r = ratioTo(bundle, floor);
    expect(r.ratio).toBeCloseTo(117 / 100);
    expect(r.cpuRatio).toBeCloseTo(117 / 3 / 50);
    expect(r.busy).toBe(0);
    const waited = { samples: floor.samples.map((s) => ({ ...s, queuedMs: 20 })) };
    expect(busyShare(bundle, waited)).toBeCloseTo(0.2);
    expect(busyShare(bundle, waited)).toBeGreaterThan(BUSY_SHARE);
    expect(r.rounds.min).toBeCloseTo(1);
    expect(r.rounds.max).toBeCloseTo(1.3);
    expect(r.rounds.median).toBeCloseTo(1.2);
    expect(BUDGETS.coldStartRatio).toBe(COLD_START_BUDGET);
  });

  it("reports a function's floor with the contract's validation beside the budget, not against it", () => {
    const report = coldStartReport({ DeliverFunction: 1.2 });
    const fn = report.functions[0] as ColdStartReport["functions"][number];
    const validated: BundleResult = {
      label: "floor + undici + zod",
      bytes: 1,
      samples: [timing(110, 110)],
      figures: {} as BundleResult["figures"],
    };
    validated.figures.totalMs = { median: 110, min: 110, max: 110 };
    fn.bundles.push(validated);
    fn.ratios[validated.label] = ratioTo(validated, fn.bundles[1] as BundleResult);
    const rows = summarize({ coldstart: report });
    expect(rows.map((row) => [row.figure.split(" (")[0], row.value, row.pass])).toEqual([
      ["DeliverFunction cold start ÷ its floor", "1.20× (1.20–1.20)", false],
      ["DeliverFunction: its floor + undici + zod", "1.10× (1.10–1.10)", undefined],
      ["DeliverFunction cold start ÷ its floor + undici + zod", "1.09× (1.09–1.09)", undefined],
    ]);
    const verdicts = formatSummary(rows)
      .split("\n")
      .filter((line) => line.includes("DeliverFunction"))
      .map((line) => /\b(pass|MISS)\b/.exec(line)?.[1] ?? "none");
    expect(verdicts).toEqual(["MISS", "none", "none"]);
  });

  it("reads the cold-start settings: several variants, each one known", () => {
    expect(
      coldStartOptionsFromEnv({
        COLDSTART_FUNCTIONS: "api",
        COLDSTART_VARIANT: "ingest-only, validated-floor",
        COLDSTART_RUNS: "9",
      }),
    ).toEqual({
      runs: 9,
      functions: ["api"],
      variants: ["ingest-only", "validated-floor"],
      profileDir: undefined,
    });
    expect(coldStartOptionsFromEnv({}).variants).toEqual(["validated-floor"]);
    expect(coldStartOptionsFromEnv({ COLDSTART_VARIANT: "" }).variants).toEqual([]);
    expect(() => coldStartOptionsFromEnv({ COLDSTART_VARIANT: "ingest-only,nope" })).toThrow(
      "COLDSTART_VARIANT: unknown nope",
    );
  });

  it("compares the calls a floor makes with its function's, in any order, and counts them", () => {
    const calls = ["DynamoDB GetItem", "DynamoDB Query", "SQS SendMessageBatch"];
    expect(sameCalls(calls, [...calls].reverse())).toBe(true);
    expect(sameCalls(calls, calls.slice(1))).toBe(false);
    expect(sameCalls(calls, [...calls, "DynamoDB Query"])).toBe(false);
    expect(countCalls(["SQS ReceiveMessage", "DynamoDB Query", "DynamoDB Query"])).toBe(
      "SQS ReceiveMessage, DynamoDB Query ×2",
    );
  });

  it("judges the noisy-neighbour runs against the clean one: ≤ 2× its p99, under a second, nothing missing", () => {
    const scenario = (name: string, p99: number, delivered = 100, recorded = 100) => ({
      scenario: name as "clean",
      events: 100,
      healthy: { delivered, duplicates: 0, latency: { p50: 10, p95: 20, p99, max: p99 } },
      bad:
        name === "clean"
          ? []
          : [{ behaviour: "hang", recorded, attempts: 1, deferrals: 9, slowLaneAttempts: 0 }],
      seconds: 10,
    });
    const verdicts = (runs: ReturnType<typeof scenario>[]) =>
      noisyVerdict({ options: { rate: 10, seconds: 10 }, scenarios: runs }).map((v) => v.pass);
    expect(verdicts([scenario("clean", 50), scenario("hanging", 100)])).toEqual([true]);
    expect(verdicts([scenario("clean", 50), scenario("hanging", 101)])).toEqual([false]);
    expect(verdicts([scenario("clean", 600), scenario("hanging", 1000)])).toEqual([false]);
    expect(verdicts([scenario("clean", 50), scenario("failing", 60, 99)])).toEqual([false]);
    expect(verdicts([scenario("clean", 50), scenario("hanging", 60, 100, 99)])).toEqual([false]);
  });

  it("draws the latency histogram with its markers", () => {
    const samples = Array.from({ length: 1000 }, (_, i) => (i % 100) * 3);
    const svg = latencyHistogramSvg(samples, { budgetMs: 250, title: "t <&>" });
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain("p50 147 ms");
    expect(svg).toContain("p99 294 ms");
    expect(svg).toContain("budget 250 ms");
    expect(svg).toContain("t &lt;&amp;&gt;");
  });
});

const timing = (totalMs: number, cpuMs: number): Timing => ({
  totalMs,
  queuedMs: 0,
  bootMs: 20,
  importMs: totalMs / 2,
  callMs: totalMs / 2 - 20,
  cpuMs,
});

/** A cold-start report whose functions measure `ratio` × a 100 ms floor, in every run. */
function coldStartReport(ratios: Record<string, number>): ColdStartReport {
  const bundle = (label: string, ms: number): BundleResult => ({
    label,
    bytes: 1,
    samples: [timing(ms, ms)],
    figures: {} as BundleResult["figures"],
  });
  return {
    options: { runs: 9, variants: [] },
    node: "v24",
    cpu: "test",
    functions: Object.entries(ratios).map(([name, ratio]) => {
      const floor = bundle("floor", 100);
      const fn = bundle("function", 100 * ratio);
      fn.figures.totalMs = { median: 100 * ratio, min: 100 * ratio, max: 100 * ratio };
      floor.figures.totalMs = { median: 100, min: 100, max: 100 };
      return {
        name,
        event: "e",
        calls: [],
        bundles: [fn, floor],
        ratios: { function: ratioTo(fn, floor) },
      };
    }),
  };
}
