import { describe, expect, it } from "vitest";
import {
  addCounts,
  emptyCounts,
  hourOf,
  LATENCY_BOUNDS_MS,
  latencyBucket,
  percentileMs,
  type StatsBucket,
  StatsRecorder,
  type StatsStore,
} from "../../shared/stats.ts";

const T0 = Date.parse("2026-11-30T07:59:59.000Z");

function memoryStore(failTimes = 0) {
  const written: StatsBucket[] = [];
  let failures = failTimes;
  const store: StatsStore = {
    async add(bucket) {
      if (failures > 0) {
        failures--;
        throw new Error("throttled");
      }
      written.push(structuredClone(bucket));
    },
    async read() {
      return [];
    },
  };
  return { store, written };
}

describe("subscription statistics", () => {
  it("put each latency in its bucket, the last one open", () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(25)).toBe(0);
    expect(latencyBucket(26)).toBe(1);
    expect(latencyBucket(15_000)).toBe(LATENCY_BOUNDS_MS.length - 1);
    expect(latencyBucket(15_001)).toBe(LATENCY_BOUNDS_MS.length);
  });

  it("estimate percentiles as the upper bound of the bucket they fall in", () => {
    const latency = emptyCounts().latency;
    expect(percentileMs(latency, 50)).toBeNull();
    latency[latencyBucket(40)] = 90; // ≤ 50 ms
    latency[latencyBucket(800)] = 10; // ≤ 1000 ms
    expect(percentileMs(latency, 50)).toBe(50);
    expect(percentileMs(latency, 90)).toBe(50);
    expect(percentileMs(latency, 95)).toBe(1000);
    latency[latencyBucket(20_000)] = 1000;
    expect(percentileMs(latency, 99)).toBe(15_000);
  });

  it("add counts up and keep the latest times", () => {
    const a = {
      ...emptyCounts(),
      attempts: 2,
      succeeded: 1,
      failed: 1,
      lastSuccessAt: "2026-11-30T07:00:00.000Z",
    };
    a.failedByClass.timeout = 1;
    const b = {
      ...emptyCounts(),
      attempts: 3,
      failed: 3,
      lastSuccessAt: "2026-11-30T08:00:00.000Z",
    };
    b.failedByClass.timeout = 2;
    b.failedByClass.http_status = 1;
    expect(addCounts(a, b)).toMatchObject({
      attempts: 5,
      succeeded: 1,
      failed: 4,
      failedByClass: { timeout: 3, http_status: 1 },
      lastSuccessAt: "2026-11-30T08:00:00.000Z",
    });
  });

  it("are written once their oldest count is flushMs old: one write per subscription and hour", async () => {
    const { store, written } = memoryStore();
    const recorder = new StatsRecorder(store, { flushMs: 10_000 });
    for (let i = 0; i < 50; i++) {
      recorder.record({
        workspaceId: "acme",
        subscriptionId: "sub_1",
        ok: i % 10 !== 0,
        errorClass: i % 10 === 0 ? "timeout" : undefined,
        durationMs: 80,
        at: T0,
      });
    }
    recorder.record({
      workspaceId: "acme",
      subscriptionId: "sub_2",
      ok: true,
      durationMs: 5,
      at: T0,
    });
    // The next hour is a bucket of its own.
    recorder.record({
      workspaceId: "acme",
      subscriptionId: "sub_1",
      ok: true,
      durationMs: 5,
      at: T0 + 2000,
    });
    expect(await recorder.flush({ now: T0 + 9_999 })).toBe(0);
    expect(written).toEqual([]);
    expect(await recorder.flush({ now: T0 + 10_000 })).toBe(3);
    const sub1 = written.find((b) => b.subscriptionId === "sub_1" && b.hour === hourOf(T0));
    expect(sub1).toMatchObject({
      attempts: 50,
      succeeded: 45,
      failed: 5,
      failedByClass: { timeout: 5 },
    });
    expect(sub1?.latency[latencyBucket(80)]).toBe(50);
    expect(written.find((b) => b.hour === "2026-11-30T08")).toMatchObject({ attempts: 1 });
    expect(recorder.pending).toBe(0);
    expect(await recorder.flush({ now: T0 + 60_000 })).toBe(0);
  });

  it("keep what could not be written, adding to it, and write it next time", async () => {
    const { store, written } = memoryStore(1);
    const recorder = new StatsRecorder(store, { flushMs: 1000 });
    recorder.record({
      workspaceId: "acme",
      subscriptionId: "sub_1",
      ok: true,
      durationMs: 5,
      at: T0,
    });
    expect(await recorder.flush({ now: T0 + 1000 })).toBe(0);
    recorder.record({
      workspaceId: "acme",
      subscriptionId: "sub_1",
      ok: false,
      errorClass: "http_status",
      durationMs: 5,
      at: T0,
    });
    expect(await recorder.flush({ now: T0 + 1001 })).toBe(1);
    expect(written).toEqual([expect.objectContaining({ attempts: 2, succeeded: 1, failed: 1 })]);
  });
});
