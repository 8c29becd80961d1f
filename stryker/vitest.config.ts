import { defineConfig } from "vitest/config";

/**
 * The suites Stryker runs against each mutant (see stryker/config.ts). `shared`: unit, fuzz and
 * the dynalite/fauxqs integration suite. `security`: the suites of the security-critical code
 * only, which keeps CI's run short (a mutant of a module-level constant runs every test
 * included here). Property-based suites keep their CI run counts.
 */
const scope = process.env.STRYKER_SCOPE ?? "shared";
/** A focused local run (see stryker/run.ts `--mutate`): only these suites, comma-separated. */
const only = process.env.STRYKER_TESTS?.split(",").filter(Boolean);

export const SECURITY_TESTS = [
  "test/unit/signing.test.ts",
  "test/unit/ssrf.test.ts",
  "test/unit/sender.test.ts",
  "test/unit/request.test.ts",
  "test/unit/keys.test.ts",
  "test/unit/authenticate.test.ts",
  "test/fuzz/signing.fuzz.test.ts",
  "test/fuzz/ssrf.fuzz.test.ts",
];

export default defineConfig({
  test: {
    include: only?.length
      ? only
      : scope === "security"
        ? SECURITY_TESTS
        : ["test/unit/**/*.test.ts", "test/fuzz/**/*.test.ts", "test/integration/**/*.test.ts"],
    // The screenshots' staleness check hashes the console's sources, which do not hash the
    // same in Stryker's sandbox (its dry run fails there); it says nothing about shared/.
    exclude: ["test/unit/console.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
