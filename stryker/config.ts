/**
 * StrykerJS settings for `npm run test:mutation` (see README "Mutation testing"). Two scopes:
 *
 * - `shared`: the domain in shared/ (signing, the SSRF guard, the retry schedule, request
 *   parsing, authentication, the lifecycle, the use cases and the stores' condition logic),
 *   against the unit, fuzz and integration suites (the stores' conditions only mean something
 *   to DynamoDB, so dynalite judges them).
 * - `security`: only the security-critical code — signing, the SSRF guard (static and at
 *   connect time), the request body limits and authentication — against the unit and fuzz
 *   suites. CI runs this one (`npm test`) and fails below its target.
 *
 * End-to-end, infra, model and fault suites are left out: they run the code in child
 * processes, where a mutant is never active, so they would only add time.
 */
import { readFileSync } from "node:fs";
import type { PartialStrykerOptions } from "@stryker-mutator/api/core";

export type Scope = "shared" | "security";

export const TARGETS: Record<Scope, number> = { shared: 80, security: 90 };

/**
 * The connect-time half of the SSRF guard lives in shared/http/sender.ts, beside the HTTP
 * client it guards. Only those functions are security-critical, so the range is found by name
 * each run rather than written down as line numbers that would go stale.
 */
function connectTimeGuard(): string {
  const file = "shared/http/sender.ts";
  const lines = readFileSync(file, "utf8").split("\n");
  const start = lines.findIndex((line) => line.startsWith("function guardedConnector("));
  const last = lines.findIndex((line) => line.startsWith("function guardedLookup("));
  const end = lines.findIndex((line, index) => index > last && line === "}");
  if (start < 0 || last < 0 || end < 0) {
    throw new Error(
      `${file}: guardedConnector … guardedLookup not found; update stryker/config.ts`,
    );
  }
  // Stryker's ranges are 1-based and inclusive.
  return `${file}:${start + 1}-${end + 1}`;
}

export const SECURITY_FILES = [
  "shared/signing.ts",
  "shared/ssrf.ts",
  "shared/http/request.ts",
  "shared/keys.ts",
  "shared/use-cases/authenticate.ts",
];

/**
 * Left out of the `shared` scope, with the reason: none of them holds a decision of the
 * domain, and each is covered by suites that run it for real (infra, end-to-end).
 */
const NOT_DOMAIN = [
  "shared/aws.ts", // AWS SDK clients, built once
  "shared/lambda-credentials.ts", // the SDK's credential chain
  "shared/version.ts", // a constant
  "shared/log.ts", // log line formatting
  "shared/metrics.ts", // EMF formatting, checked by test/unit/metrics.test.ts and the e2e suite
  "shared/delivery-metrics.ts",
  "shared/http/api-metrics.ts",
  "shared/http/openapi.ts", // documentation, checked against docs/openapi.json
  "shared/http/json-schema.ts", // documentation
  "shared/http/client.ts", // the CLI's HTTP client
  "shared/secrets/kms-keyring.ts", // KMS calls, only in AWS
];

export function strykerOptions(scope: Scope): PartialStrykerOptions {
  const mutate =
    scope === "security"
      ? [...SECURITY_FILES, connectTimeGuard()]
      : ["shared/**/*.ts", ...NOT_DOMAIN.map((file) => `!${file}`)];
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
    mutate,
    // A shared machine: never more than two test processes.
    concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
    timeoutMS: 10_000,
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
