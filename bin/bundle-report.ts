#!/usr/bin/env node
/** Prints each function's bundle size from `cdk.out` against the 400 KB budget (`npm run synth`). */
import { resolve } from "node:path";
import { BUNDLE_BUDGET_BYTES, bundleSizes } from "../infra/bundles.ts";

const dir = resolve(process.argv[2] ?? "cdk.out");
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(
  `\nFunction bundles (minified ESM, in ${dir}; budget ${kb(BUNDLE_BUDGET_BYTES)} each):`,
);
for (const bundle of await bundleSizes(dir)) {
  console.log(
    `  ${bundle.name.padEnd(18)} ${kb(bundle.bytes).padStart(9)}  ${bundle.withinBudget ? "within budget" : "OVER budget (see BENCHMARKS.md)"}`,
  );
}
