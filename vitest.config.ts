import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration and end-to-end suites start emulators and child processes; give them room.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
