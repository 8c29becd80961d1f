import { describe, expect, it } from "vitest";
import type { ApiKey, Subscription } from "../../shared/domain.ts";
import { KeySnapshots, SubscriptionSnapshots } from "../../shared/subscription-snapshots.ts";

const sub = (id: string) => ({ id }) as Subscription;

function setup(ttlMs: number, maxWorkspaces?: number) {
  let now = 1_000_000;
  const loads: string[] = [];
  let fail = false;
  const snapshots = new SubscriptionSnapshots(
    async (workspaceId) => {
      loads.push(workspaceId);
      if (fail) throw new Error("throttled");
      return [sub(`${workspaceId}-${loads.length}`)];
    },
    { ttlMs, now: () => now, ...(maxWorkspaces ? { maxWorkspaces } : {}) },
  );
  return {
    snapshots,
    loads,
    advance: (ms: number) => {
      now += ms;
    },
    failing: (value: boolean) => {
      fail = value;
    },
  };
}

describe("SubscriptionSnapshots", () => {
  it("reuses a workspace's set for ttl milliseconds, then reads it again", async () => {
    const { snapshots, loads, advance } = setup(5000);
    const first = await snapshots.get("acme");
    advance(4999);
    expect(await snapshots.get("acme")).toBe(first);
    expect(loads).toEqual(["acme"]);
    advance(1);
    expect(await snapshots.get("acme")).not.toBe(first);
    expect(loads).toEqual(["acme", "acme"]);
    expect(snapshots.reads).toBe(2);
  });

  it("keeps each workspace's set apart", async () => {
    const { snapshots, loads } = setup(5000);
    const [a, b] = await Promise.all([snapshots.get("acme"), snapshots.get("beta")]);
    expect(a).not.toEqual(b);
    expect(loads.sort()).toEqual(["acme", "beta"]);
  });

  it("shares one read among concurrent requests", async () => {
    const { snapshots, loads } = setup(5000);
    const sets = await Promise.all(Array.from({ length: 50 }, () => snapshots.get("acme")));
    expect(new Set(sets).size).toBe(1);
    expect(loads).toHaveLength(1);
  });

  it("does not keep a failed read: the next request reads again", async () => {
    const { snapshots, loads, failing } = setup(5000);
    failing(true);
    await expect(snapshots.get("acme")).rejects.toThrow("throttled");
    failing(false);
    expect(await snapshots.get("acme")).toHaveLength(1);
    expect(loads).toHaveLength(2);
  });

  it("reads again at once after invalidate (this instance changed a subscription)", async () => {
    const { snapshots, loads } = setup(5000);
    await snapshots.get("acme");
    snapshots.invalidate("acme");
    await snapshots.get("acme");
    expect(loads).toHaveLength(2);
  });

  it("with ttl 0, reads for every request", async () => {
    const { snapshots, loads } = setup(0);
    await snapshots.get("acme");
    await snapshots.get("acme");
    expect(loads).toHaveLength(2);
  });

  it("holds at most maxWorkspaces sets, dropping the least recently used", async () => {
    const { snapshots, loads } = setup(5000, 2);
    await snapshots.get("a");
    await snapshots.get("b");
    await snapshots.get("a"); // a is now the most recently used
    await snapshots.get("c"); // drops b
    expect(loads).toEqual(["a", "b", "c"]);
    await snapshots.get("a");
    expect(loads).toEqual(["a", "b", "c"]);
    await snapshots.get("b");
    expect(loads).toEqual(["a", "b", "c", "b"]);
  });
});

describe("KeySnapshots", () => {
  it("keeps a valid key for ttl milliseconds, and never a missing or revoked one", async () => {
    let now = 0;
    const table = new Map<string, ApiKey>([
      ["acme/aa", { id: "key_a", hash: "aa", role: "ingest" } as ApiKey],
      ["acme/bb", { id: "key_b", hash: "bb", role: "ingest", revokedAt: "2026-11-30" } as ApiKey],
    ]);
    const loads: string[] = [];
    const keys = new KeySnapshots(
      async (workspaceId, hash) => {
        loads.push(`${workspaceId}/${hash}`);
        return table.get(`${workspaceId}/${hash}`);
      },
      { ttlMs: 5000, now: () => now },
    );
    for (let i = 0; i < 3; i++) {
      expect((await keys.key("acme", "aa"))?.id).toBe("key_a");
      expect((await keys.key("acme", "bb"))?.revokedAt).toBe("2026-11-30");
      expect(await keys.key("acme", "cc")).toBeUndefined();
      expect(await keys.key("beta", "aa")).toBeUndefined();
    }
    expect(loads.filter((id) => id === "acme/aa")).toHaveLength(1);
    expect(loads.filter((id) => id === "acme/bb")).toHaveLength(3);
    expect(loads.filter((id) => id === "acme/cc")).toHaveLength(3);
    expect(loads.filter((id) => id === "beta/aa")).toHaveLength(3);
    now += 5000;
    await keys.key("acme", "aa");
    keys.clear();
    await keys.key("acme", "aa");
    expect(loads.filter((id) => id === "acme/aa")).toHaveLength(3);
  });
});
