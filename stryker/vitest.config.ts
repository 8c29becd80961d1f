import { defineConfig } from "vitest/config";

/**
 * The suites Stryker runs against each mutant (see stryker/config.ts): unit and fuzz always,
 * the dynalite/fauxqs integration suite for the `shared` scope. Property-based suites keep
 * their CI run counts.
 */
const scope = process.env.STRYKER_SCOPE ?? "shared";

export default defineConfig({
  test: {
    include:
      scope === "security"
        ? ["test/unit/**/*.test.ts", "test/fuzz/**/*.test.ts"]
        : ["test/unit/**/*.test.ts", "test/fuzz/**/*.test.ts", "test/integration/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
