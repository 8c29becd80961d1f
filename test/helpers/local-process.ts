import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

export interface LocalProcess {
  url: string;
  adminKey: string;
  ingestKey: string;
  output: () => string;
  stop(): Promise<number | null>;
  /** SIGKILL: no shutdown, no flush, as a crash or a power cut would end it. */
  kill(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, "../..");

/** `node bin/local.ts` (what `npm start` runs), its stdout and stderr collected together. */
function spawnLocal(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ["bin/local.ts"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  return { child, output: () => output };
}

/** Runs `node bin/local.ts` (what `npm start` runs) and waits for its banner. */
export async function startLocalProcess(env: Record<string, string>): Promise<LocalProcess> {
  const { child, output } = spawnLocal(env);
  const banner = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no banner in 30 s:\n${output()}`)), 30_000);
    const check = () => {
      if (/Ingest key\s+\S+/.test(output())) {
        clearTimeout(timer);
        done(output());
      }
    };
    child.stdout?.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`local stack exited with ${code}:\n${output()}`));
    });
  });
  const pick = (label: string) => new RegExp(`${label}\\s+(\\S+)`).exec(banner)?.[1] ?? "";
  return {
    url: pick("API"),
    adminKey: pick("Admin key"),
    ingestKey: pick("Ingest key"),
    output,
    stop: () => stopProcess(child),
    kill: () =>
      new Promise((done) => {
        child.once("exit", () => done());
        child.kill("SIGKILL");
      }),
  };
}

/** Runs `node bin/local.ts` expecting it to fail; resolves with its exit code and output. */
export function runLocalProcessToExit(env: Record<string, string>) {
  const { child, output } = spawnLocal(env);
  return new Promise<{ code: number | null; output: string }>((done) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code, output: output() });
    });
  });
}

function stopProcess(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => {
    child.once("exit", (code) => done(code));
    child.kill("SIGTERM");
  });
}
