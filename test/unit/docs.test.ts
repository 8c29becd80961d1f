import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readSettings, SettingsSchema } from "../../infra/settings.ts";
import { LocalEnv } from "../../local/stack.ts";
import { EnvSchema } from "../../shared/config.ts";
import { ROUTE_KEYS } from "../../shared/http/contract.ts";
import { LOCAL_SCHEDULE } from "../../shared/retry.ts";
import { type SettingDefault, settingDefaults } from "../../shared/validation.ts";

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

/** The rows of the first Markdown table after `marker` in `text`: name cells → default cell. */
function tableRows(text: string, marker: string): Map<string, string> {
  const after = text.slice(text.indexOf(marker));
  const table = /\n(\|.*\|\n)+/.exec(after)?.[0] ?? "";
  const rows = new Map<string, string>();
  for (const line of table.trim().split("\n").slice(2)) {
    const [names = "", value = ""] = line
      .split(/(?<!\\)\|/)
      .slice(1, 3)
      .map((c) => c.trim());
    for (const name of names.matchAll(/`([^`]+)`/g)) rows.set(name[1] ?? "", value);
  }
  return rows;
}

function expectTable(rows: Map<string, string>, settings: SettingDefault[]) {
  for (const setting of settings) {
    const cell = rows.get(setting.name);
    expect(cell, `${setting.name} is in the README's table`).toBeDefined();
    if (setting.required) expect(cell, setting.name).toBe("— (required)");
    else if (setting.value === "") expect(cell, setting.name).toMatch(/^—/);
    else if (setting.value !== undefined) expect(cell, setting.name).toBe(`\`${setting.value}\``);
  }
  const known = new Set(settings.map((s) => s.name));
  for (const name of rows.keys()) expect(known.has(name), `${name} is a setting`).toBe(true);
}

describe("the README's configuration tables", () => {
  it("list every function variable with the schema's default (shared/config.ts)", () => {
    expectTable(
      tableRows(readme, "The functions read these at cold start"),
      settingDefaults(EnvSchema),
    );
  });

  it("list every `npm start` setting with its default (local/stack.ts)", () => {
    const settings = settingDefaults(LocalEnv).map((s) =>
      // Read as optional; the stack falls back to the fast local schedule.
      s.name === "WEBHOOKS_RETRY_SCHEDULE" ? { ...s, value: LOCAL_SCHEDULE.join(",") } : s,
    );
    expectTable(tableRows(readme, "`npm start` reads:"), settings);
  });

  it("list every deployment setting with its default (infra/settings.ts)", () => {
    expectTable(tableRows(readme, "Settings are CDK context"), settingDefaults(SettingsSchema));
  });
});

describe("the README's HTTP API", () => {
  it("has a row for every route of the table, and links the OpenAPI document", () => {
    const api = section(readme, "HTTP API");
    for (const key of ROUTE_KEYS) expect(api, key).toContain(`| \`${key}\``);
    expect(api).toContain("[docs/openapi.json](docs/openapi.json)");
    expect(api).toContain("npx openapi-typescript docs/openapi.json");
    expect(readme).toContain("### Test sends");
    expect(section(readme, "The `webhooks` CLI")).toContain("`subscriptions test <id>");
  });
});

describe("the repository documents itself", () => {
  const files = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" })
    .split("\n")
    .filter((file) => /\.(md|ts|json)$/.test(file) && existsSync(join(ROOT, file)));

  it("refers to no document outside it", () => {
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const name of ["DESIGN" + ".md", "STYLE" + ".md", "webhooks" + "-overview"]) {
        expect(text.includes(name), `${file} refers to ${name}`).toBe(false);
      }
    }
  });

  it("every docs/*.md or *.md link it names exists", () => {
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const [, path] of text.matchAll(/\b(docs\/[a-z-]+\.(?:md|json))\b/g)) {
        expect(existsSync(join(ROOT, path ?? "")), `${file} names ${path}`).toBe(true);
      }
      if (!file.endsWith(".md")) continue;
      for (const [, link] of text.matchAll(/\]\(([^)#:\s]+\.(?:md|json))(?:#[^)]*)?\)/g)) {
        const target = resolve(ROOT, dirname(file), link ?? "");
        expect(existsSync(target), `${file} links ${link}`).toBe(true);
      }
    }
  });

  it("docs/architecture.md has the architecture, the contracts and the budgets", () => {
    const architecture = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");
    for (const heading of ["## Shape", "## Layout", "## Contracts", "## Performance budgets"]) {
      expect(architecture).toContain(heading);
    }
    for (const budget of [
      "0.90×",
      "$1.25",
      "$3.50",
      "$2.00",
      "250 ms",
      "1.15×",
      "150 KB",
      "400 KB",
    ]) {
      expect(architecture, budget).toContain(budget);
    }
  });
});
