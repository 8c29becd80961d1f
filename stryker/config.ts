/**
 * StrykerJS settings for `npm run test:mutation` (see README "Mutation testing"). Two scopes:
 *
 * - `security`: the security-critical code (signing, the SSRF guard, the request body limits,
 *   authentication) against its own unit and fuzz suites. CI runs this one (`npm test`) and
 *   fails below its target.
 * - `shared`: that, and the domain around it (the retry schedule, the delivery lifecycle, the
 *   use cases, the stores' condition logic) against the unit, fuzz and integration suites (a
 *   store's conditions only mean something to DynamoDB, so dynalite judges them).
 *
 * End-to-end, infra, model and fault suites are left out: they run the code in child
 * processes or over minutes, where a mutant is never active or takes too long to judge.
 */
import { readFileSync } from "node:fs";
import type { PartialStrykerOptions } from "@stryker-mutator/api/core";

export type Scope = "shared" | "security";

export const TARGETS: Record<Scope, number> = { shared: 80, security: 90 };

/**
 * Lines from the line starting with `first` to the closing brace of the declaration starting
 * with `last` (Stryker's `file:start-end`, 1-based and inclusive). Found by name on every run,
 * so that a range never goes stale the way written-down line numbers would.
 */
function declarations(file: string, first: string, last = first): string {
  const lines = readFileSync(file, "utf8").split("\n");
  const start = lines.findIndex((line) => line.startsWith(first));
  const lastStart = lines.findIndex((line) => line.startsWith(last));
  const end = lines.findIndex((line, index) => index > lastStart && line === "}");
  if (start < 0 || lastStart < 0 || end < 0) {
    throw new Error(`${file}: '${first}' … '${last}' not found; update stryker/config.ts`);
  }
  return `${file}:${start + 1}-${end + 1}`;
}

/**
 * The security-critical code: signing, the SSRF guard (its static checks, and the connect-time
 * half in shared/http/sender.ts, beside the HTTP client it guards), the request body limits and
 * authentication.
 */
export function securityFiles(): string[] {
  return [
    "shared/signing.ts",
    "shared/ssrf.ts",
    declarations("shared/http/sender.ts", "function guardedConnector(", "function guardedLookup("),
    "shared/http/request.ts",
    "shared/keys.ts",
    "shared/use-cases/authenticate.ts",
  ];
}

/**
 * The domain beyond it: the retry schedule, the delivery lifecycle, the use cases, and the
 * stores' condition logic (the guard a delivery write is made under, where a record sits in the
 * dead-letter index and the sweep's watch list, the event store's conditions).
 */
export function domainFiles(): string[] {
  return [
    "shared/retry.ts",
    "shared/lifecycle.ts",
    "shared/use-cases/*.ts",
    "!shared/use-cases/authenticate.ts",
    declarations("shared/store/delivery-store.ts", "export function guardCondition("),
    declarations("shared/store/items.ts", "export function deliveryToItem("),
    "shared/store/event-store.ts",
  ];
}

export function strykerOptions(scope: Scope): PartialStrykerOptions {
  const mutate = scope === "security" ? securityFiles() : [...securityFiles(), ...domainFiles()];
  return {
    plugins: ["@stryker-mutator/vitest-runner", "@stryker-mutator/typescript-checker"],
    testRunner: "vitest",
    vitest: { configFile: "stryker/vitest.config.ts", related: false },
    // Mutants that do not type-check are dropped before any test runs (TypeScript 7's native
    // compiler; see stryker/typescript-api.ts for the one import it needs from TypeScript 5).
    checkers: ["typescript"],
    tsconfigFile: "tsconfig.json",
    typescriptChecker: { experimentalNativePreview: true, prioritizePerformanceOverAccuracy: true },
    checkerNodeArgs: ["--import", "./stryker/typescript-api.ts"],
    coverageAnalysis: "perTest",
    // A mutant of a module-level constant (a static mutant: the schedule, the transition table)
    // is active while modules load, so every test must run for it: about 90 s each in the
    // `shared` scope, hours for all of them. That scope leaves them out (Stryker reports them as
    // ignored); the `security` scope, whose suites take seconds, runs them.
    ignoreStatic: scope === "shared",
    mutate,
    // A shared machine: one checker and one test runner by default.
    concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
    timeoutMS: 10_000,
    // The shared scope's first, unmutated run of every suite takes 3–4 minutes on a quiet
    // 2-core machine and more on a busy one; Stryker's default gives up after 5.
    dryRunTimeoutMinutes: 30,
    timeoutFactor: 2,
    incremental: true,
    incrementalFile: `reports/mutation/${scope}/stryker-incremental.json`,
    reporters: ["html", "json", "progress"],
    htmlReporter: { fileName: `reports/mutation/${scope}/index.html` },
    jsonReporter: { fileName: `reports/mutation/${scope}/mutation.json` },
    tempDirName: ".stryker-tmp",
    ignorePatterns: ["reports", "cdk.out", ".data", "coverage", "dist", "bench/results"],
    cleanTempDir: "always",
    thresholds: { high: TARGETS[scope], low: TARGETS[scope] - 10, break: null },
  };
}
