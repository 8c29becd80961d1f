import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readSettings } from "../../infra/settings.ts";

/** What README.md and SECURITY.md promise must match what the code and the tests do. */
const ROOT = resolve(import.meta.dirname, "../..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const security = readFileSync(join(ROOT, "SECURITY.md"), "utf8");

/** The text of one `## ` section. */
const section = (doc: string, title: string) =>
  doc.split(/^## /m).find((part) => part.startsWith(title)) ?? "";

describe("SECURITY.md", () => {
  it("cites only tests that exist", () => {
    const cited = [...security.matchAll(/`(test\/[^`\s]+\.ts)`/g)].map((m) => m[1] ?? "");
    expect(cited.length).toBeGreaterThan(10);
    for (const path of cited) expect(existsSync(join(ROOT, path)), path).toBe(true);
  });
});

describe("the hex signature's limits", () => {
  it("README and SECURITY.md tell its receivers to dedupe on X-Webhook-Delivery and prefer Standard Webhooks", () => {
    for (const text of [section(readme, "Deliveries and how to verify them"), security]) {
      expect(text).toMatch(/`X-Webhook-Signature`[^.]*replay/i);
      expect(text).toMatch(/must dedupe on `X-Webhook-Delivery`/);
      expect(text).toMatch(/prefer the Standard Webhooks headers[^.]*signed timestamp/);
    }
  });
});

describe("README", () => {
  it("documents every deployment setting and the destination settings", () => {
    const cdk = section(readme, "Deploying to AWS");
    for (const key of [...Object.keys(readSettings(() => undefined)), "alarmEmail"]) {
      expect(cdk, key).toContain(`| \`${key}\``);
    }
    expect(section(readme, "Configuration")).toContain("| `WEBHOOKS_ALLOWED_PORTS`");
  });

  it("documents the CLI's safe ways to pass secrets and keys, and the local invoke token", () => {
    const cli = section(readme, "The `webhooks` CLI");
    for (const flag of ["--secret-file", "--secret -", "--key-file", "https"]) {
      expect(cli, flag).toContain(flag);
    }
    expect(section(readme, "Quick start")).toContain("WEBHOOKS_LOCAL_INVOKE_TOKEN");
  });
});
