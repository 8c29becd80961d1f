#!/usr/bin/env node
import { execFile } from "node:child_process";
/**
 * `npm run bench:bundles`: each Lambda function's minified bundle, exactly as `cdk deploy`
 * would upload it (synthesized into a scratch directory), what it is made of, and how long it
 * takes to load in a fresh Node process (module load and evaluation: the part of a cold start
 * the bundle decides).
 *
 *   BUNDLE_LOAD_RUNS=9 npm run bench:bundles
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { esbuildOptions, synthesizeBundles } from "./lib/bundling.ts";
import { handOver, median } from "./lib/stats.ts";

const run = promisify(execFile);

export interface BundleReport {
  name: string;
  bytes: number;
  /** Milliseconds to import the bundle in a fresh process, median of `runs`. */
  loadMs: number;
  runs: number;
  /** Bytes of the minified output by origin, largest first. */
  parts: Array<{ part: string; bytes: number }>;
}

export async function runBundles(options: { runs: number }): Promise<BundleReport[]> {
  const outDir = await mkdtemp(join(tmpdir(), "webhooks-bundles-"));
  try {
    const reports: BundleReport[] = [];
    for (const bundle of await synthesizeBundles(outDir)) {
      const samples: number[] = [];
      for (let i = 0; i < options.runs; i++) samples.push(await loadTime(bundle.file));
      reports.push({
        name: bundle.name,
        bytes: bundle.bytes,
        loadMs: median(samples),
        runs: options.runs,
        parts: await composition(bundle.entry),
      });
    }
    return reports;
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}

/** Imports the bundle in a new Node process, configured as on AWS; returns the import's ms. */
async function loadTime(file: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
    env: {
      PATH: process.env.PATH ?? "",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "bench",
      AWS_SECRET_ACCESS_KEY: "bench",
      WEBHOOKS_TABLE_NAME: "webhooks",
      WEBHOOKS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks",
      WEBHOOKS_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks-dlq",
      WEBHOOKS_STRANDED_QUEUE_URL:
        "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks-stranded",
      WEBHOOKS_SLOW_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/webhooks-slow",
      WEBHOOKS_KMS_KEY_ID: "alias/webhooks",
    },
  });
  return Number(stdout.trim());
}

/** What the bundle is made of: the same esbuild options, with a metafile. */
async function composition(entry: string): Promise<BundleReport["parts"]> {
  const result = await build({
    ...esbuildOptions(entry),
    sourcemap: false,
    write: false,
    metafile: true,
    outfile: "index.mjs",
  });
  const output = Object.values(result.metafile.outputs)[0];
  const parts = new Map<string, number>();
  for (const [file, input] of Object.entries(output?.inputs ?? {})) {
    const part = partOf(file);
    parts.set(part, (parts.get(part) ?? 0) + input.bytesInOutput);
  }
  return [...parts].map(([part, bytes]) => ({ part, bytes })).sort((a, b) => b.bytes - a.bytes);
}

function partOf(file: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
  if (!pkg) return "this project";
  if (pkg === "undici") {
    return file.includes("/llhttp/") ? "undici: llhttp parser (wasm)" : "undici: HTTP client";
  }
  if (/^@(aws-sdk|smithy|aws)\//.test(pkg) || ["mnemonist", "obliterator", "tslib"].includes(pkg))
    return "AWS SDK";
  return pkg;
}

export function formatBundles(reports: BundleReport[]): string {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const lines = [
    `Bundles: minified ESM from \`cdk synth\` (a reported figure; the budget is cold start, npm run bench:coldstart); load = import in a fresh Node ${process.version} process (median of ${reports[0]?.runs ?? 0})`,
  ];
  for (const r of reports) {
    const parts = r.parts
      .slice(0, 5)
      .map((p) => `${p.part} ${kb(p.bytes)}`)
      .join(", ");
    lines.push(
      `  ${r.name.padEnd(16)}${kb(r.bytes).padStart(10)}  load ${r.loadMs.toFixed(0).padStart(3)} ms   ${parts}`,
    );
  }
  return lines.join("\n");
}

export const bundleOptionsFromEnv = (env = process.env) => ({
  runs: Number(env.BUNDLE_LOAD_RUNS ?? 9),
});

if (import.meta.main) {
  const reports = await runBundles(bundleOptionsFromEnv());
  console.log(formatBundles(reports));
  await handOver(reports);
}
