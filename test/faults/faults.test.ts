import { describe, expect, it } from "vitest";
import { type FaultOptions, formatAccount, runFaults } from "./harness.ts";

/**
 * CI runs a small account; `npm run test:faults` runs the long one (500 events × 20
 * subscribers = 10,000 deliveries by default; FAULT_EVENTS, FAULT_SUBSCRIBERS, FAULT_SEED).
 */
const options: FaultOptions = {
  events: Number(process.env.FAULT_EVENTS ?? 20),
  subscribers: Number(process.env.FAULT_SUBSCRIBERS ?? 5),
  seed: Number(process.env.FAULT_SEED ?? 7),
  awsErrorRate: Number(process.env.FAULT_AWS_ERROR_RATE ?? 0.02),
  crashRate: Number(process.env.FAULT_CRASH_RATE ?? 0.05),
  settleTimeoutMs: Number(process.env.FAULT_SETTLE_MS ?? 120_000),
};

describe("under injected faults", () => {
  it("loses nothing: every delivery ends delivered or failed in the DLQ", {
    timeout: 0,
  }, async () => {
    const account = await runFaults(options);
    console.log(formatAccount(account, options));
    expect(account.lost).toBe(0);
    expect(account.delivered + account.failedInDlq).toBe(options.events * options.subscribers);
    expect(account.unconfirmed).toBe(0);
    // The faults really happened: otherwise this would prove nothing.
    expect(account.injected.awsErrors).toBeGreaterThan(0);
    expect(account.injected.crashesBefore + account.injected.crashesAfter).toBeGreaterThan(0);
    expect(Object.keys(account.answers).length).toBeGreaterThanOrEqual(6);
  });
});
