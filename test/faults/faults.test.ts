import { describe, expect, it } from "vitest";
import { type FaultOptions, formatAccount, runFaults } from "./harness.ts";

/**
 * CI runs a small account with a fixed seed; `npm run test:faults` runs the long one (500
 * events × 20 subscribers = 10,000 pairs by default; FAULT_EVENTS, FAULT_SUBSCRIBERS,
 * FAULT_SEED, FAULT_SETTLE_MS).
 */
const options: FaultOptions = {
  events: Number(process.env.FAULT_EVENTS ?? 20),
  subscribers: Number(process.env.FAULT_SUBSCRIBERS ?? 5),
  seed: Number(process.env.FAULT_SEED ?? 7),
  awsErrorRate: Number(process.env.FAULT_AWS_ERROR_RATE ?? 0.02),
  lostAnswerRate: Number(process.env.FAULT_LOST_ANSWER_RATE ?? 0.02),
  crashRate: Number(process.env.FAULT_CRASH_RATE ?? 0.06),
  stormMs: Number(process.env.FAULT_STORM_MS ?? 20_000),
  settleTimeoutMs: Number(process.env.FAULT_SETTLE_MS ?? 180_000),
};

describe("under injected faults", () => {
  it("loses nothing: every accepted (event, subscription) pair ends delivered, none stuck or failed out of sight", {
    timeout: 0,
  }, async () => {
    const account = await runFaults(options);
    console.log(formatAccount(account, options));
    expect(account.expected).toBe(options.events * options.subscribers);
    expect(account.wrong).toEqual([]);
    expect(account.delivered).toBe(account.expected);
    expect(account.stuck).toBe(0);
    expect(account.failedInvisible).toBe(0);
    expect(account.unconfirmed).toBe(0);
    // The faults really happened: otherwise this would prove nothing.
    for (const fault of [
      "AWS call failed",
      "AWS write applied, answer lost",
      "crash at start",
      "crash before reporting",
      "crash between a POST and its record",
      "invocation killed at its deadline",
      "throttled receive",
      "resend",
      "replay",
      "secret rotated",
    ]) {
      expect(account.injected[fault], fault).toBeGreaterThan(0);
    }
    expect(Object.keys(account.answers).length).toBeGreaterThanOrEqual(6);
  });
});
