import { spawn } from "node:child_process";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `webhooks …` (bin/webhooks.ts) as its own process, as `npx webhooks` would; `input`,
 * when given, is its standard input.
 */
export function webhooks(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<CliRun> {
  const child = spawn(process.execPath, ["bin/webhooks.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  child.stdin?.end(input);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((done) => child.on("exit", (code) => done({ code, stdout, stderr })));
}
