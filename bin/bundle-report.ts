#!/usr/bin/env node
/**
 * Prints each function's bundle size from `cdk.out` (`npm run synth`). Bytes are reported, not
 * budgeted: the budget is cold start against a floor (`npm run bench:coldstart`).
 */
import { resolve } from "node:path";
import { bundleSizes } from "../infra/bundles.ts";

const dir = resolve(process.argv[2] ?? "cdk.out");
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`\nFunction bundles (minified ESM, in ${dir}):`);
for (const bundle of await bundleSizes(dir)) {
  console.log(`  ${bundle.name.padEnd(18)} ${kb(bundle.bytes).padStart(9)}`);
}
