import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { consoleUiHash } from "../../console/build.ts";
import { bucketByHour, latestBySubscription, outcomeOf } from "../../console/src/chart-data.ts";
import {
  consoleContentSecurityPolicy,
  consoleSecurityHeaders,
  parseFrameAncestors,
} from "../../shared/http/console-headers.ts";

const ROOT = resolve(import.meta.dirname, "../..");

describe("the console's screenshots (docs/console)", () => {
  it("are current: taken from the console sources as they are now", async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, "docs/console/manifest.json"), "utf8"));
    expect(
      manifest.uiHash,
      "docs/console is older than the console's sources: run `npm run console:screenshots` and commit docs/console",
    ).toBe(await consoleUiHash());
  });

  it("are small viewport-sized PNGs, each shown in the README", async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, "docs/console/manifest.json"), "utf8"));
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    expect(manifest.screenshots.length).toBeGreaterThanOrEqual(5);
    for (const name of manifest.screenshots as string[]) {
      const file = join(ROOT, "docs/console", name);
      const bytes = await readFile(file);
      expect(bytes.subarray(1, 4).toString("latin1"), name).toBe("PNG");
      expect((await stat(file)).size, name).toBeLessThan(200 * 1024);
      expect(readme, name).toContain(`(docs/console/${name})`);
    }
  });
});

describe("the chart's hourly counts", () => {
  const now = Date.parse("2026-11-30T10:20:00Z");
  const at = (
    iso: string,
    status: "succeeded" | "failed" | "retrying" | "pending" | "canceled",
  ) => ({
    createdAt: iso,
    status,
  });

  it("puts each delivery in its hour of the last 24, by outcome", () => {
    const buckets = bucketByHour(
      [
        at("2026-11-30T10:05:00Z", "succeeded"),
        at("2026-11-30T10:19:59Z", "failed"),
        at("2026-11-30T09:59:59Z", "retrying"),
        at("2026-11-30T09:00:00Z", "pending"),
        at("2026-11-29T11:00:00Z", "canceled"), // the oldest hour shown
        at("2026-11-29T10:59:59Z", "succeeded"), // older: left out
      ],
      now,
    );
    expect(buckets).toHaveLength(24);
    expect(new Date(buckets[0]?.start ?? 0).toISOString()).toBe("2026-11-29T11:00:00.000Z");
    expect(new Date(buckets[23]?.start ?? 0).toISOString()).toBe("2026-11-30T10:00:00.000Z");
    expect(buckets[23]).toMatchObject({ succeeded: 1, failed: 1, inProgress: 0, canceled: 0 });
    expect(buckets[22]).toMatchObject({ succeeded: 0, inProgress: 2 });
    expect(buckets[0]).toMatchObject({ canceled: 1 });
    const total = buckets.reduce(
      (sum, b) => sum + b.succeeded + b.failed + b.inProgress + b.canceled,
      0,
    );
    expect(total).toBe(5);
    expect(outcomeOf("pending")).toBe("inProgress");
  });

  it("knows each subscription's latest delivery from a newest-first list", () => {
    const list = [
      { id: "d3", subscriptionId: "a" },
      { id: "d2", subscriptionId: "b" },
      { id: "d1", subscriptionId: "a" },
    ] as unknown as Parameters<typeof latestBySubscription>[0];
    const latest = latestBySubscription(list);
    expect(latest.get("a")?.id).toBe("d3");
    expect(latest.get("b")?.id).toBe("d2");
  });
});

describe("the console's security headers", () => {
  it("allow no inline script and frame the console only where a setting says", () => {
    const csp = consoleContentSecurityPolicy("'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    expect(consoleSecurityHeaders("'none'")["x-frame-options"]).toBe("DENY");
    const embedded = consoleSecurityHeaders("https://crm.example.com");
    expect(embedded["content-security-policy"]).toContain(
      "frame-ancestors https://crm.example.com",
    );
    expect(embedded["x-frame-options"]).toBeUndefined();
  });

  it("refuse a frame-ancestors value that is not a list of origins", () => {
    expect(
      parseFrameAncestors(" https://crm.example.com   https://*.example.org:8443 'self' "),
    ).toBe("https://crm.example.com https://*.example.org:8443 'self'");
    expect(parseFrameAncestors("'none'")).toBe("'none'");
    for (const bad of [
      "",
      "*",
      "https:",
      "http://crm.example.com",
      "'none' 'self'",
      "https://a.com;script-src",
    ]) {
      expect(() => parseFrameAncestors(bad), bad).toThrow();
    }
  });
});
