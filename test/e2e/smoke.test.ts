import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { silentLogger } from "../../shared/log.ts";
import { generateSecret } from "../../shared/signing.ts";
import { api } from "../helpers/api-client.ts";

/**
 * `npm run smoke` (bin/smoke.ts) against the local stack, with the sample receiver
 * (`npm run receiver`, bin/receiver.ts) as its receiver: every check passes and nothing is
 * left behind; a receiver that fails, or does not share the secret, fails the run — exit code
 * 1 — and the smoke test still cleans up.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const SECRET = generateSecret();
let stack: LocalStack;
let dataDir: string;
const receivers: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "webhooks-smoke-"));
  stack = await startLocalStack(
    { PORT: "0", WEBHOOKS_LOCAL_DATA_DIR: dataDir, WEBHOOKS_RETRY_SCHEDULE: "0,1" },
    { log: silentLogger },
  );
});
afterAll(async () => {
  for (const receiver of receivers) receiver.kill("SIGTERM");
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** `npm run receiver -- --port 0 …`; resolves with its URL once it listens. */
function sampleReceiver(args: string[]): Promise<string> {
  const child = spawn(process.execPath, ["bin/receiver.ts", "--port", "0", "--quiet", ...args], {
    cwd: ROOT,
    env: { ...process.env, WEBHOOK_SECRET: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  receivers.push(child);
  let output = "";
  return new Promise((done, fail) => {
    child.stdout?.on("data", (chunk) => {
      output += chunk;
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output)?.[1];
      if (url) done(url);
    });
    child.on("exit", (code) => fail(new Error(`receiver exited with ${code}: ${output}`)));
  });
}

/** `npm run smoke -- …` (node bin/smoke.ts), with the stack's keys in the environment. */
function smoke(receiverUrl: string, env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ["bin/smoke.ts", "--api-url", stack.url, "--receiver-url", receiverUrl, "--timeout", "20"],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        WEBHOOKS_API_KEY: stack.adminKey,
        WEBHOOKS_INGEST_KEY: stack.ingestKey,
        WEBHOOKS_LOCAL_INVOKE_TOKEN: stack.invokeToken,
        WEBHOOK_SECRET: SECRET,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) =>
    child.on("exit", (code) => done({ code, stdout, stderr })),
  );
}

const line = (stdout: string, check: string) =>
  stdout.split("\n").find((l) => new RegExp(`^ {2}[✓✗] ${check} `).test(l)) ?? `(no ${check})`;

const smokeSubscriptions = async () =>
  (await api(stack.url, "GET", "/v1/subscriptions", { key: stack.adminKey })).body.data.filter(
    (s: { description: string }) => s.description.startsWith("npm run smoke"),
  );

describe("npm run smoke, against the local stack and the sample receiver", () => {
  it("passes every check, and leaves no subscription behind", async () => {
    const receiver = await sampleReceiver(["--secret", SECRET]);
    const run = await smoke(`${receiver}/hooks`);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    for (const check of [
      "health",
      "keys",
      "refuses no key",
      "refuses a wrong key",
      "refuses the ingest key",
      "subscription",
      "test send",
      "event accepted",
      "delivery recorded",
      "signature verified",
      "dead letters",
      "resend function",
      "clean-up",
    ]) {
      expect(line(run.stdout, check), run.stdout).toMatch(/^ {2}✓ /);
    }
    expect(line(run.stdout, "signature verified")).toContain(
      "the sample receiver verified them too",
    );
    expect(run.stdout).toMatch(/All 13 checks passed\./);
    expect(await smokeSubscriptions()).toEqual([]);
  });

  it("fails, exit code 1, when the receiver fails — and still cleans up", async () => {
    const receiver = await sampleReceiver(["--secret", SECRET, "--status", "500"]);
    const run = await smoke(`${receiver}/hooks`);
    expect(run.code, run.stdout).toBe(1);
    expect(line(run.stdout, "test send")).toMatch(
      /^ {2}✗ test send +failed: the receiver answered 500/,
    );
    expect(line(run.stdout, "clean-up")).toMatch(/^ {2}✓ /);
    expect(run.stdout).toMatch(/\d+ of \d+ checks failed\./);
    expect(await smokeSubscriptions()).toEqual([]);
  });

  it("fails when the receiver does not share the secret: it refuses the signatures", async () => {
    const receiver = await sampleReceiver(["--secret", generateSecret()]);
    const run = await smoke(`${receiver}/hooks`);
    expect(run.code, run.stdout).toBe(1);
    expect(line(run.stdout, "test send")).toMatch(/✗ test send +failed: the receiver answered 401/);
    expect(await smokeSubscriptions()).toEqual([]);
  });

  it("says what is missing instead of starting without keys", async () => {
    const run = await smoke("https://hooks.example.com/", { WEBHOOKS_INGEST_KEY: "" });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("set WEBHOOKS_INGEST_KEY");
  });
});
