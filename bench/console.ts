#!/usr/bin/env node
/**
 * `npm run bench:console`: the web console's assets as a browser downloads them — a fresh Vite
 * build (console/build.ts), each JavaScript and CSS file gzipped (level 9, what CloudFront's
 * compression and most servers come close to) — against the budget of docs/architecture.md:
 * 150 KB of JavaScript and CSS, gzipped.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildConsole } from "../console/build.ts";
import { handOver } from "./lib/stats.ts";

export const CONSOLE_BUDGET_BYTES = 150 * 1024;

export interface ConsoleReport {
  files: Array<{ file: string; bytes: number; gzipBytes: number }>;
  /** JavaScript and CSS, gzipped, in all. */
  gzipBytes: number;
  bytes: number;
  withinBudget: boolean;
}

export async function measureConsole(dir: string): Promise<ConsoleReport> {
  const files: ConsoleReport["files"] = [];
  for (const file of (await readdir(join(dir, "assets"))).sort()) {
    if (!/\.(js|css)$/.test(file)) continue;
    const content = await readFile(join(dir, "assets", file));
    files.push({ file, bytes: content.length, gzipBytes: gzipSync(content, { level: 9 }).length });
  }
  const gzipBytes = files.reduce((sum, f) => sum + f.gzipBytes, 0);
  return {
    files,
    gzipBytes,
    bytes: files.reduce((sum, f) => sum + f.bytes, 0),
    withinBudget: gzipBytes <= CONSOLE_BUDGET_BYTES,
  };
}

export function formatConsole(report: ConsoleReport): string {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  return [
    `Web console: JavaScript and CSS of a fresh build, gzipped (level 9); budget ${kb(CONSOLE_BUDGET_BYTES)}`,
    ...report.files.map(
      (f) =>
        `  ${f.file.padEnd(28)}${kb(f.bytes).padStart(10)}  gzip ${kb(f.gzipBytes).padStart(9)}`,
    ),
    `  ${"in all".padEnd(28)}${kb(report.bytes).padStart(10)}  gzip ${kb(report.gzipBytes).padStart(9)}  ${report.withinBudget ? "within" : "OVER"}`,
  ].join("\n");
}

if (import.meta.main) {
  const dir = await mkdtemp(join(tmpdir(), "webhooks-console-bench-"));
  try {
    await buildConsole(dir);
    const report = await measureConsole(dir);
    console.log(formatConsole(report));
    await handOver(report);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
