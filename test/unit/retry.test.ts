import { describe, expect, it } from "vitest";
import {
  DEFAULT_SCHEDULE,
  MAX_DEFERRAL_SECONDS,
  MAX_STEP_SECONDS,
  nextRetry,
  oldestMessageAlarmSeconds,
  parseRetryAfter,
  parseSchedule,
  queueSettings,
  retentionProblem,
  visibilityFor,
  worstCaseRunSeconds,
} from "../../shared/retry.ts";

describe("parseSchedule", () => {
  it("reads comma-separated seconds, the first attempt included", () => {
    expect(parseSchedule("0, 5,300")).toEqual([0, 5, 300]);
  });

  it.each([
    ["", "comma-separated"],
    ["0,,5", "comma-separated"],
    ["5,10", "must be 0"],
    ["0,1.5", "whole number"],
    ["0,-1", "whole number"],
    ["0,50000", "longer than SQS allows"],
    [Array.from({ length: 21 }, () => "0").join(","), "at most 20"],
  ])("refuses %j with a message that says why", (text, why) => {
    expect(() => parseSchedule(text)).toThrow(why);
  });

  it("accepts its limits: 20 attempts, and steps of exactly 12 hours", () => {
    const twenty = Array.from({ length: 20 }, (_, i) => (i === 0 ? 0 : MAX_STEP_SECONDS));
    expect(parseSchedule(twenty.join(","))).toEqual(twenty);
  });

  it("says which step is too long", () => {
    expect(() => parseSchedule("0,5,43201")).toThrow(
      "43201s is longer than SQS allows for one step (43200s)",
    );
  });

  it("the default is about a day: 0, 5s, 5m, 30m, 2h, 5h, 10h, 10h", () => {
    expect(DEFAULT_SCHEDULE).toEqual([0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000]);
    const total = DEFAULT_SCHEDULE.reduce((a, b) => a + b, 0);
    expect(total / 3600).toBeGreaterThan(24);
    expect(total / 3600).toBeLessThan(30);
  });
});

describe("nextRetry", () => {
  const schedule = [0, 10, 100, 1000];

  it("waits the step after the failed attempt, jittered within ±20 %", () => {
    const low = nextRetry({ schedule, attempt: 2, kind: "other", random: () => 0 });
    const high = nextRetry({ schedule, attempt: 2, kind: "other", random: () => 0.999999 });
    expect(low).toEqual({ retry: true, delaySeconds: 80 });
    expect(high).toEqual({ retry: true, delaySeconds: 120 });
    for (let i = 0; i < 200; i++) {
      const decision = nextRetry({ schedule, attempt: 3, kind: "other" });
      expect(decision.retry && decision.delaySeconds).toBeGreaterThanOrEqual(800);
      expect(decision.retry && decision.delaySeconds).toBeLessThanOrEqual(1200);
    }
  });

  it("is exhausted after the schedule's last attempt", () => {
    expect(nextRetry({ schedule, attempt: 4, kind: "other" })).toEqual({ retry: false });
  });

  it("timeouts and 429s never wait less than their step", () => {
    for (const kind of ["timeout", "rate_limited"] as const) {
      expect(nextRetry({ schedule, attempt: 2, kind, random: () => 0 })).toEqual({
        retry: true,
        delaySeconds: 120,
      });
      expect(nextRetry({ schedule, attempt: 2, kind, random: () => 0.5 })).toEqual({
        retry: true,
        delaySeconds: 100,
      });
    }
  });

  it("honours Retry-After on 429 (never below the step) and 503 (as given)", () => {
    const half = () => 0.5;
    expect(
      nextRetry({
        schedule,
        attempt: 1,
        kind: "rate_limited",
        retryAfterSeconds: 60,
        random: half,
      }),
    ).toEqual({ retry: true, delaySeconds: 60 });
    expect(
      nextRetry({ schedule, attempt: 2, kind: "rate_limited", retryAfterSeconds: 5, random: half }),
    ).toEqual({ retry: true, delaySeconds: 100 });
    expect(
      nextRetry({ schedule, attempt: 2, kind: "unavailable", retryAfterSeconds: 5, random: half }),
    ).toEqual({ retry: true, delaySeconds: 5 });
    expect(
      nextRetry({ schedule, attempt: 2, kind: "other", retryAfterSeconds: 5, random: half }),
    ).toEqual({ retry: true, delaySeconds: 100 });
  });

  it("clamps to what SQS can hold: 12 hours from the receive", () => {
    const decision = nextRetry({
      schedule,
      attempt: 1,
      kind: "unavailable",
      retryAfterSeconds: 10 ** 9,
    });
    expect(decision).toEqual({ retry: true, delaySeconds: MAX_STEP_SECONDS });
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-11-26T12:00:00Z");
  it("reads delta-seconds and HTTP-dates, ignores anything else", () => {
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter("Thu, 26 Nov 2026 12:01:30 GMT", now)).toBe(90);
    expect(parseRetryAfter("Thu, 26 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it("reads a value with spaces around it, and nothing that only starts or ends with digits", () => {
    expect(parseRetryAfter(" 120 ", now)).toBe(120);
    expect(parseRetryAfter("120abc", now)).toBeUndefined();
    expect(parseRetryAfter("abc120", now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
  });

  it("rounds an HTTP-date up to the next whole second", () => {
    expect(parseRetryAfter("Thu, 26 Nov 2026 12:01:30 GMT", now + 500)).toBe(90);
  });
});

describe("visibilityFor", () => {
  const receivedAt = Date.parse("2026-11-26T00:00:00Z");
  it("asks for the whole wait when SQS can hide the message that long", () => {
    expect(visibilityFor(300, receivedAt, receivedAt + 5_000)).toBe(300);
  });

  it("counts SQS's 12 hours from the receive, not from when the function started", () => {
    // Received 11 hours ago (a long batch window, a slow invocation): at most 1 hour less a
    // minute's margin is left, and the message comes back early to wait out the rest.
    const now = receivedAt + 11 * 3_600_000;
    expect(visibilityFor(MAX_STEP_SECONDS, receivedAt, now)).toBe(3600 - 60);
    expect(visibilityFor(MAX_STEP_SECONDS, receivedAt, receivedAt + 13 * 3_600_000)).toBe(0);
  });

  it("asks for whole seconds, rounded up, and never more than 12 hours less the margin", () => {
    expect(visibilityFor(2.2, receivedAt, receivedAt)).toBe(3);
    // Our clock behind SQS's: the receive seems to lie ahead, and counts as just made.
    expect(visibilityFor(MAX_STEP_SECONDS, receivedAt, receivedAt - 5000)).toBe(
      MAX_STEP_SECONDS - 60,
    );
    // Part of a second held counts as a whole one.
    expect(visibilityFor(MAX_STEP_SECONDS, receivedAt, receivedAt + 1)).toBe(MAX_STEP_SECONDS - 61);
  });
});

describe("worstCaseRunSeconds", () => {
  it("is every wait stretched to 12 hours, and a minute per attempt", () => {
    expect(worstCaseRunSeconds([0, 10])).toBe(43_200 + 2 * 60);
    expect(worstCaseRunSeconds(DEFAULT_SCHEDULE)).toBe(7 * 43_200 + 8 * 60);
    expect(worstCaseRunSeconds([0])).toBe(60);
  });
});

describe("queueSettings", () => {
  it("in figures, for the default schedule and a single attempt", () => {
    // 8 attempts × 5 receives, 50 spare, and a receive per 15 minutes of the longest run.
    expect(queueSettings(DEFAULT_SCHEDULE)).toEqual({
      maxReceiveCount: 8 * 5 + 50 + Math.ceil(302_880 / 900),
      retentionSeconds: 302_880 + 3600,
      deadLetterRetentionSeconds: 1_209_600,
    });
    expect(queueSettings([0])).toEqual({
      maxReceiveCount: 5 + 50 + 1,
      retentionSeconds: 60 + 3600,
      deadLetterRetentionSeconds: 1_209_600,
    });
  });

  it("derives the redrive count and retention from the schedule", () => {
    const settings = queueSettings(DEFAULT_SCHEDULE);
    // Headroom for receives that make no attempt (crashes, handbacks, early returns): the
    // step comes from the record, so they cost no step, and SQS gives up only far later.
    // …and for a run deferred from start to end: a receive every 15 minutes at the most.
    const deferrals = Math.ceil(worstCaseRunSeconds(DEFAULT_SCHEDULE) / MAX_DEFERRAL_SECONDS);
    expect(settings.maxReceiveCount).toBe(DEFAULT_SCHEDULE.length * 5 + 50 + deferrals);
    expect(queueSettings(Array.from({ length: 20 }, () => 1)).maxReceiveCount).toBe(1000);
    // Even received that often, a message cannot outlive the queue: six minutes a receive (the
    // visibility timeout on AWS) stays within its retention.
    expect(settings.maxReceiveCount * 360).toBeLessThan(settings.retentionSeconds);
    // Every step could be stretched to 12 h by Retry-After: the queue must keep the message.
    expect(settings.retentionSeconds).toBeGreaterThanOrEqual(
      (DEFAULT_SCHEDULE.length - 1) * MAX_STEP_SECONDS,
    );
    expect(settings.retentionSeconds).toBeLessThanOrEqual(1_209_600);
    expect(settings.deadLetterRetentionSeconds).toBe(1_209_600);
  });

  it("a short schedule gets a short retention", () => {
    expect(queueSettings([0, 2, 4]).retentionSeconds).toBeLessThan(2 * MAX_STEP_SECONDS + 4000);
  });
});

describe("retentionProblem", () => {
  it("accepts a retention that outlives the longest run and the dead-letter queue's 14 days", () => {
    // Default schedule: 3.5 days at the most, then 14 days: 17.5, so 18 days.
    expect(retentionProblem(DEFAULT_SCHEDULE, 18)).toBeUndefined();
    expect(retentionProblem(DEFAULT_SCHEDULE, 30)).toBeUndefined();
    expect(retentionProblem([0], 15)).toBeUndefined();
  });

  it("refuses a shorter one, saying how long is needed and why", () => {
    expect(retentionProblem(DEFAULT_SCHEDULE, 17)).toBe(
      "17 days is too short: a delivery's retry schedule can take up to 3.5 days " +
        "(its 7 waits each stretched to 12 hours by Retry-After) and the dead-letter queue " +
        "keeps a failure 14 days, so keep events at least 18 days",
    );
    expect(retentionProblem([0], 14)).toContain("at least 15 days");
  });
});

describe("oldestMessageAlarmSeconds", () => {
  it("comes from the first three steps only: SQS's age metric skips messages received three times", () => {
    // (0 + 5 + 300) × 1.2 jitter + 3 attempts × 60 s processing + 300 s slack.
    expect(oldestMessageAlarmSeconds(DEFAULT_SCHEDULE)).toBe(846);
    expect(oldestMessageAlarmSeconds([0, 600, 1800, 36_000])).toBe(2400 * 1.2 + 180 + 300);
    expect(oldestMessageAlarmSeconds([0, 600, 1800])).toBe(
      oldestMessageAlarmSeconds([0, 600, 1800, MAX_STEP_SECONDS, MAX_STEP_SECONDS]),
    );
    // Minutes, where the whole schedule takes more than a day.
    expect(oldestMessageAlarmSeconds(DEFAULT_SCHEDULE)).toBeLessThan(15 * 60);
  });

  it("never goes below ten minutes", () => {
    expect(oldestMessageAlarmSeconds([0, 1, 2, 4, 8])).toBe(600);
    expect(oldestMessageAlarmSeconds([0])).toBe(600);
  });

  it("stays above the oldest a healthy message waiting for its third attempt can be", () => {
    for (const schedule of [DEFAULT_SCHEDULE, [0, 60, 600], [0, 3600, 7200], [0, 0, 0]]) {
      const [, second = 0, third = 0] = schedule;
      // Both waits at +20 % jitter, both attempts running the deliver function's full minute.
      const healthiest = (second + third) * 1.2 + 2 * 60;
      expect(oldestMessageAlarmSeconds(schedule)).toBeGreaterThan(healthiest);
    }
  });
});
