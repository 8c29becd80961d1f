import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emptyCounts, type StatsBucket } from "../../shared/stats.ts";
import { DynamoStatsStore } from "../../shared/store/stats-store.ts";
import { type LocalAws, startLocalAws } from "../helpers/aws-local.ts";

let aws: LocalAws;
let store: DynamoStatsStore;
beforeAll(async () => {
  aws = await startLocalAws();
  store = new DynamoStatsStore(aws.table);
});
afterAll(async () => aws?.stop());

const bucket = (hour: string, patch: Partial<StatsBucket> = {}): StatsBucket => ({
  workspaceId: "acme",
  subscriptionId: "sub_1",
  hour,
  ...emptyCounts(),
  ...patch,
});

describe("DynamoStatsStore", () => {
  it("adds counts into an hour, also from instances writing at once, and reads a window back", async () => {
    const latency = emptyCounts().latency;
    latency[3] = 2;
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.add(
          bucket("2026-11-30T07", {
            attempts: 2,
            succeeded: 1,
            failed: 1,
            failedByClass: { timeout: 1 },
            latency,
            lastSuccessAt: `2026-11-30T07:00:0${i}.000Z`,
          }),
        ),
      ),
    );
    await store.add(bucket("2026-11-30T08", { attempts: 1, succeeded: 1, latency }));
    await store.add(
      bucket("2026-11-29T07", { attempts: 1, failed: 1, failedByClass: { http_status: 1 } }),
    );
    await store.add({ ...bucket("2026-11-30T07", { attempts: 9 }), subscriptionId: "sub_2" });

    const read = await store.read("acme", "sub_1", "2026-11-30T00", "2026-11-30T23");
    expect(read.map((b) => b.hour)).toEqual(["2026-11-30T07", "2026-11-30T08"]);
    expect(read[0]).toMatchObject({
      workspaceId: "acme",
      subscriptionId: "sub_1",
      attempts: 20,
      succeeded: 10,
      failed: 10,
      failedByClass: { timeout: 10 },
    });
    expect(read[0]?.latency[3]).toBe(20);
    expect(read[0]?.lastSuccessAt).toMatch(/^2026-11-30T07:00:0\d/);
    expect(await store.read("acme", "sub_1", "2026-11-29T00", "2026-11-29T23")).toEqual([
      expect.objectContaining({ attempts: 1, failedByClass: { http_status: 1 } }),
    ]);
    expect(await store.read("other", "sub_1", "2026-11-30T00", "2026-11-30T23")).toEqual([]);
  });
});
