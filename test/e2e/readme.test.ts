import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalProcess, startLocalProcess } from "../helpers/local-process.ts";

/**
 * The README's walkthrough, verbatim: every ```sh block between the walkthrough markers runs,
 * in order, in one shell, with the variables `npm start` tells the reader to export.
 */
const ROOT = resolve(import.meta.dirname, "../..");
let stack: LocalProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-readme-"));
  stack = await startLocalProcess({ WEBHOOKS_LOCAL_DATA_DIR: dataDir });
});
afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function walkthrough(): Promise<string> {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const section = /<!-- walkthrough:start[\s\S]*?<!-- walkthrough:end -->/.exec(readme)?.[0] ?? "";
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]);
  expect(blocks.length).toBeGreaterThanOrEqual(4);
  return blocks.join("\n");
}

function runShell(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  // Its own process group, so the receiver it starts in the background is stopped with it.
  const child = spawn("bash", ["-e", "-c", script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  return new Promise((done) => {
    const timer = setTimeout(() => process.kill(-(child.pid ?? 0), "SIGKILL"), 90_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      try {
        process.kill(-(child.pid ?? 0), "SIGTERM");
      } catch {
        // the group is already gone
      }
      done({ code, output });
    });
  });
}

describe("README walkthrough", () => {
  it("works verbatim against a fresh `npm start`", { timeout: 120_000 }, async () => {
    const script = await walkthrough();
    const { code, output } = await runShell(script, {
      WEBHOOKS_API_URL: stack.url,
      WEBHOOKS_API_KEY: stack.adminKey,
      WEBHOOKS_INGEST_KEY: stack.ingestKey,
    });
    expect(code, output).toBe(0);
    expect(output).toMatch(/"secret":"whsec_[A-Za-z0-9+/]+=*"/);
    expect(output).toContain('{"id":"crm-evt-1","event":"contact.created","deliveries":1}');
    expect(output).toContain("X-Webhook-Signature ✓, webhook-signature (Standard Webhooks) ✓");
    expect(output).not.toContain("REJECTED");
    expect(output).toMatch(/"status":"succeeded","attemptCount":1/);
    expect(output).toMatch(/"attempts":\[\{"number":1,/);
    // When a receiver fails: five attempts, failed into the DLQ, redriven, delivered.
    expect(output).toMatch(/dead letters +1/);
    expect(output).toMatch(/status +failed/);
    expect(output).toMatch(/5 +0 .* HTTP 500/);
    expect(output).toContain("Redrove 1; skipped 0");
    expect(output).toMatch(/status +succeeded\nattempts +6/);
    expect(output).toMatch(/6 +1 .* HTTP 200/);
  });
});
