import { beforeEach, describe, expect, it } from "vitest";
import type { Subscription } from "../../shared/domain.ts";
import { AppError } from "../../shared/errors.ts";
import { problemBody } from "../../shared/http/problem.ts";
import {
  emptyCounts,
  latencyBucket,
  type StatsBucket,
  type StatsCounts,
  type StatsStore,
} from "../../shared/stats.ts";
import { Scope } from "../../shared/use-cases/portal-sessions.ts";
import { subscriptionStats } from "../../shared/use-cases/subscription-stats.ts";
import { FakeWorkspaceStore } from "../helpers/fakes.ts";

const SUB = "sub_01JTESTSUB0000000000000001";
/** Late in the hour 07 (UTC): the 24-hour window runs from 08 the day before. */
const NOW = Date.parse("2026-11-30T07:59:59.000Z");

/** The stored hours as the DynamoDB store answers them: one subscription, both ends included. */
class MemoryStats implements StatsStore {
  buckets: StatsBucket[] = [];
  async add(bucket: StatsBucket) {
    this.buckets.push(structuredClone(bucket));
  }
  async read(workspaceId: string, subscriptionId: string, fromHour: string, toHour: string) {
    return this.buckets
      .filter((b) => b.workspaceId === workspaceId && b.subscriptionId === subscriptionId)
      .filter((b) => b.hour >= fromHour && b.hour <= toHour)
      .map((b) => structuredClone(b));
  }
}

let workspaces: FakeWorkspaceStore;
let stats: MemoryStats;

async function subscription(patch: Partial<Subscription> = {}) {
  await workspaces.createSubscription({
    id: SUB,
    workspaceId: "acme",
    url: "https://hooks.example.com/in",
    events: ["deal.updated"],
    enabled: true,
    description: "",
    secret: null,
    previousSecrets: [],
    createdAt: "2026-11-01T00:00:00.000Z",
    updatedAt: "2026-11-01T00:00:00.000Z",
    ...patch,
  });
}

function bucket(hour: string, counts: Partial<StatsCounts>, latencies: number[] = []) {
  const latency = emptyCounts().latency;
  for (const ms of latencies) latency[latencyBucket(ms)] = (latency[latencyBucket(ms)] ?? 0) + 1;
  return {
    ...emptyCounts(),
    latency,
    ...counts,
    workspaceId: "acme",
    subscriptionId: SUB,
    hour,
  } satisfies StatsBucket;
}

const statsOf = (window: "24h" | "7d", workspaceId = "acme", subscriptionId = SUB) =>
  subscriptionStats(workspaceId, subscriptionId, window, {
    subscriptions: workspaces,
    stats,
    now: NOW,
  });

beforeEach(() => {
  workspaces = new FakeWorkspaceStore();
  stats = new MemoryStats();
});

describe("a subscription's statistics", () => {
  it("sum the hours of the last 24, the current one included, and chart each hour", async () => {
    await subscription();
    await stats.add(
      bucket(
        "2026-11-29T08",
        {
          attempts: 3,
          succeeded: 1,
          failed: 2,
          failedByClass: { timeout: 2 },
          lastSuccessAt: "2026-11-29T08:10:00.000Z",
          lastFailureAt: "2026-11-29T08:20:00.000Z",
        },
        [40, 40, 800],
      ),
    );
    await stats.add(
      bucket(
        "2026-11-30T07",
        {
          attempts: 2,
          succeeded: 2,
          lastSuccessAt: "2026-11-30T07:30:00.000Z",
        },
        [40, 40],
      ),
    );
    // Just before the window, and another workspace's hour: neither counts.
    await stats.add(bucket("2026-11-29T07", { attempts: 100, failed: 100 }));
    await stats.add({ ...bucket("2026-11-30T06", { attempts: 50 }), workspaceId: "other" });

    const result = await statsOf("24h");
    expect(result).toEqual({
      subscriptionId: SUB,
      window: "24h",
      from: "2026-11-29T08:00:00.000Z",
      to: "2026-11-30T07:59:59.000Z",
      attempts: 5,
      succeeded: 3,
      failed: 2,
      failedByClass: { timeout: 2 },
      latencyMs: { p50: 50, p95: 1000 },
      lastSuccessAt: "2026-11-30T07:30:00.000Z",
      lastFailureAt: "2026-11-29T08:20:00.000Z",
      health: { enabled: true, failingSince: null, disabledReason: null, disabledAt: null },
      hours: expect.any(Array),
    });
    expect(result.hours).toHaveLength(24);
    expect(result.hours[0]).toEqual({
      hour: "2026-11-29T08:00:00.000Z",
      attempts: 3,
      succeeded: 1,
      failed: 2,
    });
    expect(result.hours[1]).toEqual({
      hour: "2026-11-29T09:00:00.000Z",
      attempts: 0,
      succeeded: 0,
      failed: 0,
    });
    expect(result.hours[23]).toEqual({
      hour: "2026-11-30T07:00:00.000Z",
      attempts: 2,
      succeeded: 2,
      failed: 0,
    });
    expect(result.hours.map((h) => h.hour)).toEqual(
      Array.from({ length: 24 }, (_, i) =>
        new Date(Date.parse("2026-11-29T08:00:00.000Z") + i * 3_600_000).toISOString(),
      ),
    );
  });

  it("over 7 days, chart 168 hours, oldest first", async () => {
    await subscription();
    await stats.add(bucket("2026-11-23T08", { attempts: 1, failed: 1 }, [20_000]));
    await stats.add(bucket("2026-11-23T07", { attempts: 9, succeeded: 9 }));
    const result = await statsOf("7d");
    expect(result).toMatchObject({
      window: "7d",
      from: "2026-11-23T08:00:00.000Z",
      to: "2026-11-30T07:59:59.000Z",
      attempts: 1,
      succeeded: 0,
      failed: 1,
      latencyMs: { p50: 15_000, p95: 15_000 },
    });
    expect(result.hours).toHaveLength(168);
    expect(result.hours[0]).toEqual({
      hour: "2026-11-23T08:00:00.000Z",
      attempts: 1,
      succeeded: 0,
      failed: 1,
    });
    expect(result.hours.at(-1)?.hour).toBe("2026-11-30T07:00:00.000Z");
  });

  it("with no attempts: zeros, no latency and no last times", async () => {
    await subscription();
    const result = await statsOf("24h");
    expect(result).toMatchObject({
      attempts: 0,
      succeeded: 0,
      failed: 0,
      failedByClass: {},
      latencyMs: { p50: null, p95: null },
      lastSuccessAt: null,
      lastFailureAt: null,
    });
    expect(result.hours.every((h) => h.attempts + h.succeeded + h.failed === 0)).toBe(true);
  });

  it("say whether the endpoint is failing or disabled, and since when", async () => {
    await subscription({
      enabled: false,
      failingSince: "2026-11-28T00:00:00.000Z",
      disabledReason: "Disabled automatically: failing for 3 days.",
      disabledAt: "2026-11-29T00:00:00.000Z",
    });
    expect((await statsOf("24h")).health).toEqual({
      enabled: false,
      failingSince: "2026-11-28T00:00:00.000Z",
      disabledReason: "Disabled automatically: failing for 3 days.",
      disabledAt: "2026-11-29T00:00:00.000Z",
    });
  });

  it("answer 404 for another workspace's subscription, as for one outside a session's scope", async () => {
    await subscription();
    const error = await statsOf("24h", "other").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(problemBody(error as AppError)).toEqual({
      type: "/problems/not-found",
      title: "Not found",
      status: 404,
      detail: `No subscription '${SUB}' in this workspace.`,
    });
    // A scoped portal session must not tell an unknown subscription from one outside its scope.
    let outOfScope: unknown;
    try {
      new Scope(["sub_01JTESTSUB0000000000000009"]).visible(SUB);
    } catch (e) {
      outOfScope = e;
    }
    expect(problemBody(outOfScope as AppError)).toEqual(problemBody(error as AppError));
  });
});
