import { describe, expect, it } from "vitest";
import type { Delivery } from "../../shared/domain.ts";
import {
  afterAttempt,
  afterLostRace,
  awaitsQueueing,
  claimed,
  confirmedQueued,
  guardHolds,
  guardOf,
  inDeadLetterIndex,
  isAbandonedClaim,
  isAllowed,
  isUnattemptedRun,
  mermaid,
  onReceive,
  onResend,
  onStranded,
  released,
  TRANSITIONS,
  withAttempt,
  withCancel,
  withCopyAttempt,
  withStranded,
} from "../../shared/lifecycle.ts";

const T0 = Date.parse("2026-11-26T10:00:00.000Z");
const run = (generation = 0, now = T0) => ({
  workspaceId: "acme",
  deliveryId: "dlv_1",
  eventId: "evt_1",
  event: "contact.created" as const,
  subscriptionId: "sub_1",
  generation,
  owner: "m-1",
  now,
});
const draft = {
  startedAt: new Date(T0).toISOString(),
  durationMs: 3,
  url: "https://x.example.com/",
  outcome: "failed" as const,
  requestHeaders: {},
};
const retrying = (): Delivery =>
  withAttempt(undefined, run(), draft, { status: "retrying", delaySeconds: 60 }, "HTTP 500");
const facts = (
  stored: Delivery | undefined,
  patch: Partial<Parameters<typeof onReceive>[0]> = {},
) => ({
  receipt: { messageId: "m-1", generation: 0 },
  stored,
  eventFound: true,
  subscription: "enabled" as const,
  now: T0,
  ...patch,
});

describe("guards", () => {
  it("hold for exactly what the writer read: no record, or the same revision", () => {
    const stored = retrying();
    expect(guardOf(undefined)).toEqual({ kind: "absent" });
    expect(guardOf(stored)).toEqual({ kind: "revision", rev: 1 });
    expect(guardHolds({ kind: "absent" }, undefined)).toBe(true);
    expect(guardHolds({ kind: "absent" }, stored)).toBe(false);
    expect(guardHolds({ kind: "revision", rev: 1 }, stored)).toBe(true);
    expect(guardHolds({ kind: "revision", rev: 2 }, stored)).toBe(false);
    expect(guardHolds({ kind: "revision", rev: 1 }, undefined)).toBe(false);
  });
});

describe("onReceive", () => {
  it("attempts a first receive, expecting no record, as attempt 1 of the run", () => {
    expect(onReceive(facts(undefined))).toEqual({
      kind: "attempt",
      guard: { kind: "absent" },
      number: 1,
    });
  });

  it("takes the attempt's place in the schedule from the record", () => {
    const stored = retrying();
    expect(onReceive(facts(stored, { now: T0 + 60_000 }))).toEqual({
      kind: "attempt",
      guard: { kind: "revision", rev: 1 },
      number: 2,
    });
  });

  it("drops a message of an older run, and one of a run that ended in success or cancellation", () => {
    const stored = { ...retrying(), generation: 2 };
    expect(onReceive(facts(stored))).toEqual({ kind: "drop", reason: "stale" });
    for (const status of ["succeeded", "canceled"] as const) {
      expect(onReceive(facts({ ...retrying(), status }))).toEqual({
        kind: "drop",
        reason: "finished",
      });
    }
  });

  it("sends a message of a failed run to the dead-letter queue again, never drops it", () => {
    expect(onReceive(facts({ ...retrying(), status: "failed" }))).toEqual({ kind: "dead-letter" });
  });

  it("drops another message of a run this one does not own", () => {
    const stored = retrying();
    expect(
      onReceive(facts(stored, { receipt: { messageId: "m-2", generation: 0 }, now: T0 + 60_000 })),
    ).toEqual({ kind: "drop", reason: "copy" });
  });

  it("waits out a step that is not due, to the second, within a second of tolerance", () => {
    const stored = retrying();
    expect(onReceive(facts(stored, { now: T0 + 10_000 }))).toEqual({
      kind: "wait",
      seconds: 50,
      reason: "not-due",
    });
    expect(onReceive(facts(stored, { now: T0 + 59_500 }))).toMatchObject({ kind: "attempt" });
    expect(onReceive(facts(stored, { now: T0 + 58_000 }))).toMatchObject({
      kind: "wait",
      seconds: 2,
    });
  });

  it("cancels, without an attempt, for an expired event or a disabled or deleted subscription", () => {
    expect(onReceive(facts(undefined, { eventFound: false }))).toMatchObject({
      kind: "cancel",
      reason: "event_expired",
    });
    expect(onReceive(facts(undefined, { subscription: "disabled" }))).toMatchObject({
      kind: "cancel",
      reason: "subscription_disabled",
    });
    expect(onReceive(facts(undefined, { subscription: "deleted" }))).toMatchObject({
      kind: "cancel",
      reason: "subscription_deleted",
      guard: { kind: "absent" },
    });
  });

  it("starts a resend's run at attempt 1 whatever the earlier runs made", () => {
    const claim = claimed(retrying(), run(1, T0 + 1000));
    expect(onReceive(facts(claim, { receipt: { messageId: "m-9", generation: 1 } }))).toEqual({
      kind: "attempt",
      guard: { kind: "revision", rev: 2 },
      number: 1,
    });
  });
});

describe("afterLostRace", () => {
  it("never attempts: it drops, dead-letters, or looks again shortly", () => {
    const receipt = { messageId: "m-1", generation: 0 };
    expect(afterLostRace({ ...retrying(), status: "succeeded" }, receipt, T0)).toEqual({
      kind: "drop",
      reason: "finished",
    });
    expect(afterLostRace(retrying(), receipt, T0 + 120_000)).toEqual({
      kind: "wait",
      seconds: 1,
      reason: "raced",
    });
    expect(afterLostRace(undefined, receipt, T0)).toMatchObject({ kind: "wait" });
  });
});

describe("isUnattemptedRun", () => {
  it("holds only for a pending run of the message's generation that nobody attempted or owns", () => {
    const claimed: Delivery = {
      ...retrying(),
      status: "pending",
      generation: 1,
      runAttempts: 0,
      owner: undefined,
    };
    expect(isUnattemptedRun(claimed, 1)).toBe(true);
    expect(isUnattemptedRun(claimed, 0)).toBe(false);
    expect(isUnattemptedRun(undefined, 1)).toBe(false);
    expect(isUnattemptedRun({ ...claimed, runAttempts: 1 }, 1)).toBe(false);
    expect(isUnattemptedRun({ ...claimed, owner: "m-2" }, 1)).toBe(false);
    expect(isUnattemptedRun({ ...claimed, status: "retrying" }, 1)).toBe(false);
    expect(isUnattemptedRun(retrying(), 0)).toBe(false);
  });
});

describe("afterAttempt", () => {
  const schedule = [0, 10, 100];
  it("succeeds on 2xx, fails a refused destination at once, retries by the schedule, then fails as exhausted", () => {
    expect(afterAttempt({ number: 1, verdict: { ok: true }, schedule })).toEqual({
      status: "succeeded",
    });
    expect(
      afterAttempt({
        number: 1,
        verdict: { ok: false, retryable: false, kind: "other" },
        schedule,
      }),
    ).toEqual({ status: "failed", reason: "refused" });
    const failing = { ok: false as const, retryable: true, kind: "other" as const };
    expect(afterAttempt({ number: 1, verdict: failing, schedule, random: () => 0.5 })).toEqual({
      status: "retrying",
      delaySeconds: 10,
    });
    expect(afterAttempt({ number: 2, verdict: failing, schedule, random: () => 0.5 })).toEqual({
      status: "retrying",
      delaySeconds: 100,
    });
    expect(afterAttempt({ number: 3, verdict: failing, schedule })).toEqual({
      status: "failed",
      reason: "exhausted",
    });
  });
});

describe("the records each move writes", () => {
  it("an attempt bumps the revision, counts in the run and in all, and says when the next is due", () => {
    const first = retrying();
    expect(first).toMatchObject({
      status: "retrying",
      rev: 1,
      runAttempts: 1,
      attemptCount: 1,
      owner: "m-1",
      nextAttemptAt: new Date(T0 + 60_000).toISOString(),
      lastError: "HTTP 500",
    });
    const done = withAttempt(
      first,
      run(0, T0 + 60_000),
      { ...draft, outcome: "succeeded" },
      {
        status: "succeeded",
      },
    );
    expect(done).toMatchObject({ status: "succeeded", rev: 2, runAttempts: 2, attemptCount: 2 });
    expect(done.lastError).toBeUndefined();
    expect(done.owner).toBeUndefined();
    expect(done.attempts.map((a) => a.number)).toEqual([1, 2]);
  });

  it("a failed run is a dead letter; a canceled one is not; a test send never is", () => {
    const failed = withAttempt(undefined, run(), draft, { status: "failed", reason: "exhausted" });
    expect(failed).toMatchObject({ reason: "exhausted", failedAt: new Date(T0).toISOString() });
    expect(inDeadLetterIndex(failed)).toBe(true);
    expect(inDeadLetterIndex({ ...failed, test: true })).toBe(false);
    expect(inDeadLetterIndex(withCancel(undefined, run(), "subscription_disabled"))).toBe(false);
  });

  it("a cancel records why, and no attempt", () => {
    const canceled = withCancel(undefined, run(), "event_expired");
    expect(canceled).toMatchObject({ status: "canceled", reason: "event_expired", attempts: [] });
    expect(canceled.lastError).toMatch(/retention/);
  });

  it("a duplicate's POST joins the history, marked, without moving the run", () => {
    const stored = retrying();
    const copied = withCopyAttempt(stored, draft, run(0, T0 + 5000));
    expect(copied).toMatchObject({
      status: "retrying",
      runAttempts: 1,
      attemptCount: 2,
      rev: 2,
      nextAttemptAt: stored.nextAttemptAt,
    });
    expect(copied.attempts[1]).toMatchObject({ number: 2, duplicate: true });
  });

  it("a stranded message fails its run, visibly, saying why", () => {
    const failed = withStranded(retrying(), run(0, T0 + 1000), 44);
    expect(failed).toMatchObject({ status: "failed", reason: "stranded", rev: 2 });
    expect(failed.lastError).toContain("44 receives");
    expect(inDeadLetterIndex(failed)).toBe(true);
  });

  it("a claim starts the next generation with a fresh schedule, and the sweep watches it until queued", () => {
    const claim = claimed(retrying(), run(1, T0 + 1000));
    expect(claim).toMatchObject({
      status: "pending",
      generation: 1,
      runAttempts: 0,
      attemptCount: 1,
      queued: false,
      claimedAt: new Date(T0 + 1000).toISOString(),
    });
    expect(isAbandonedClaim(claim, T0 + 1000 + 119_000, 120_000)).toBe(false);
    expect(isAbandonedClaim(claim, T0 + 1000 + 120_000, 120_000)).toBe(true);
    const queued = confirmedQueued(claim, T0 + 2000);
    expect(queued).toMatchObject({ queued: true, rev: claim.rev + 1 });
    expect(isAbandonedClaim(queued, T0 + 10 * 3_600_000, 120_000)).toBe(false);
    // A claim that could not send its message is given up at once.
    expect(isAbandonedClaim(released(claim, T0 + 2000), T0 + 2001, 120_000)).toBe(true);
  });
});

describe("onResend", () => {
  const lease = 120_000;
  it("claims the next generation of anything but a live claim", () => {
    for (const status of ["retrying", "succeeded", "failed", "canceled"] as const) {
      const stored = { ...retrying(), status, generation: 3 };
      expect(onResend({ stored, now: T0, leaseMs: lease })).toEqual({
        kind: "claim",
        guard: { kind: "revision", rev: 1 },
        generation: 4,
      });
    }
    expect(onResend({ stored: undefined, now: T0, leaseMs: lease, expectedGeneration: 0 })).toEqual(
      { kind: "claim", guard: { kind: "absent" }, generation: 1 },
    );
  });

  it("refuses a live claim, and a caller whose copy is older than the record", () => {
    const claim = claimed(retrying(), run(1, T0));
    expect(onResend({ stored: claim, now: T0 + 1000, leaseMs: lease })).toEqual({
      kind: "refuse",
      reason: "in-flight",
    });
    expect(
      onResend({
        stored: { ...retrying(), generation: 2 },
        now: T0,
        leaseMs: lease,
        expectedGeneration: 1,
      }),
    ).toEqual({ kind: "refuse", reason: "stale" });
    // An abandoned claim is taken over, even from an old copy.
    expect(
      onResend({ stored: claim, now: T0 + lease, leaseMs: lease, expectedGeneration: 0 }),
    ).toMatchObject({ kind: "claim", generation: 2 });
  });
});

describe("onStranded", () => {
  const receipt = { messageId: "m-1", generation: 0 };
  it("fails the run its message drove, and leaves a run that moved on or ended", () => {
    expect(onStranded(retrying(), receipt)).toEqual({
      kind: "fail",
      guard: { kind: "revision", rev: 1 },
    });
    expect(onStranded(undefined, receipt)).toEqual({ kind: "fail", guard: { kind: "absent" } });
    expect(onStranded({ ...retrying(), generation: 1 }, receipt)).toEqual({
      kind: "leave",
      reason: "stale",
    });
    for (const status of ["succeeded", "failed", "canceled"] as const) {
      expect(onStranded({ ...retrying(), status }, receipt)).toEqual({
        kind: "leave",
        reason: "finished",
      });
    }
    expect(onStranded(retrying(), { messageId: "m-2", generation: 0 })).toEqual({
      kind: "leave",
      reason: "copy",
    });
  });
});

describe("the table of moves", () => {
  it("allows what the lifecycle does, and nothing that reopens a run without a resend", () => {
    expect(isAllowed("(new)", "succeeded", "attempt")).toBe(true);
    expect(isAllowed("retrying", "failed", "stranded")).toBe(true);
    expect(isAllowed("succeeded", "pending", "claim")).toBe(true);
    expect(isAllowed("succeeded", "failed", "attempt")).toBe(false);
    expect(isAllowed("succeeded", "retrying", "attempt")).toBe(false);
    expect(isAllowed("failed", "retrying", "attempt")).toBe(false);
    expect(isAllowed("canceled", "succeeded", "attempt")).toBe(false);
    expect(isAllowed("failed", "canceled", "cancel")).toBe(false);
  });

  it("draws every move but a duplicate's POST, which moves nothing", () => {
    const [head, ...edges] = mermaid().split("\n");
    expect(head).toBe("stateDiagram-v2");
    expect(edges).toContain("  [*] --> succeeded: attempt");
    expect(edges).toContain("  pending --> pending: defer, claim, confirm-queued, release");
    expect(edges.filter((edge) => edge.includes("copy-attempt"))).toEqual([]);
    expect(edges).toContain("  retrying --> retrying: attempt, defer");
  });
});

describe("onReceive: the cases between the rules", () => {
  it("moves a main-lane message of an endpoint known slow to the slow lane, and only that", () => {
    expect(onReceive(facts(undefined, { lane: "main", endpointSlow: true }))).toEqual({
      kind: "forward",
    });
    expect(onReceive(facts(undefined, { lane: "slow", endpointSlow: true }))).toMatchObject({
      kind: "attempt",
    });
    expect(onReceive(facts(undefined, { lane: "main", endpointSlow: false }))).toMatchObject({
      kind: "attempt",
    });
    // A cancel comes first: nothing is forwarded that would not be sent.
    expect(
      onReceive(facts(undefined, { lane: "main", endpointSlow: true, subscription: "disabled" })),
    ).toMatchObject({ kind: "cancel" });
  });

  it("a message back exactly a second early is due", () => {
    const stored = retrying();
    expect(onReceive(facts(stored, { now: T0 + 59_000 }))).toMatchObject({ kind: "attempt" });
    expect(onReceive(facts(stored, { now: T0 + 58_999 }))).toEqual({
      kind: "wait",
      seconds: 2,
      reason: "not-due",
    });
  });

  it("a message of a newer run than the record (a resend's) attempts its run's first step, whatever the record's run became", () => {
    for (const status of ["failed", "succeeded", "retrying"] as const) {
      const stored = { ...retrying(), status };
      expect(
        onReceive(facts(stored, { receipt: { messageId: "m-7", generation: 1 }, now: T0 })),
      ).toEqual({ kind: "attempt", guard: { kind: "revision", rev: 1 }, number: 1 });
    }
  });

  it("the run's owner attempts even when nothing is due yet is recorded", () => {
    const stored: Delivery = { ...retrying(), nextAttemptAt: undefined };
    expect(onReceive(facts(stored))).toEqual({
      kind: "attempt",
      guard: { kind: "revision", rev: 1 },
      number: 2,
    });
  });
});

describe("afterLostRace: every answer", () => {
  const receipt = { messageId: "m-1", generation: 0 };
  it("dead-letters a run that failed meanwhile, waits out a step not due, drops a copy or an old run", () => {
    expect(afterLostRace({ ...retrying(), status: "failed" }, receipt, T0)).toEqual({
      kind: "dead-letter",
    });
    expect(afterLostRace(retrying(), receipt, T0 + 30_000)).toEqual({
      kind: "wait",
      seconds: 30,
      reason: "not-due",
    });
    expect(afterLostRace(retrying(), { messageId: "m-2", generation: 0 }, T0 + 60_000)).toEqual({
      kind: "drop",
      reason: "copy",
    });
    expect(afterLostRace({ ...retrying(), generation: 1 }, receipt, T0)).toEqual({
      kind: "drop",
      reason: "stale",
    });
  });
});

describe("afterAttempt: the failures", () => {
  it("ends a run the receiver answered 410 as gone, never retried", () => {
    expect(
      afterAttempt({
        number: 1,
        verdict: { ok: false, retryable: false, kind: "gone" },
        schedule: [0, 10],
      }),
    ).toEqual({ status: "failed", reason: "gone" });
  });

  it("passes the receiver's Retry-After and the injected jitter to the schedule", () => {
    const verdict = {
      ok: false as const,
      retryable: true,
      kind: "unavailable" as const,
      retryAfterSeconds: 42,
    };
    expect(afterAttempt({ number: 1, verdict, schedule: [0, 10] })).toEqual({
      status: "retrying",
      delaySeconds: 42,
    });
    const other = { ok: false as const, retryable: true, kind: "other" as const };
    expect(
      afterAttempt({ number: 1, verdict: other, schedule: [0, 1000], random: () => 0 }),
    ).toEqual({ status: "retrying", delaySeconds: 800 });
  });
});

describe("resends and stranded messages: the cases between the rules", () => {
  const lease = 120_000;
  it("a caller whose copy is of the record's run may claim; a first resend of nothing starts run 0", () => {
    const failed = { ...retrying(), status: "failed" as const, generation: 2 };
    expect(onResend({ stored: failed, now: T0, leaseMs: lease, expectedGeneration: 2 })).toEqual({
      kind: "claim",
      guard: { kind: "revision", rev: 1 },
      generation: 3,
    });
    expect(onResend({ stored: undefined, now: T0, leaseMs: lease })).toEqual({
      kind: "claim",
      guard: { kind: "absent" },
      generation: 0,
    });
    // A dead letter of run 2 whose record has expired since: the resend starts run 3.
    expect(onResend({ stored: undefined, now: T0, leaseMs: lease, expectedGeneration: 2 })).toEqual(
      { kind: "claim", guard: { kind: "absent" }, generation: 3 },
    );
  });

  it("takes over a claim that never recorded when it was made, or whose lease ran out", () => {
    const claim = claimed(retrying(), run(1, T0));
    const undated: Delivery = { ...claim, claimedAt: undefined };
    expect(isAbandonedClaim(undated, T0, lease)).toBe(true);
    expect(onResend({ stored: undated, now: T0, leaseMs: lease })).toEqual({
      kind: "claim",
      guard: { kind: "revision", rev: claim.rev },
      generation: 2,
    });
    expect(onResend({ stored: claim, now: T0 + lease, leaseMs: lease })).toMatchObject({
      kind: "claim",
      generation: 2,
    });
    // A queued claim is never abandoned, however old.
    expect(
      onResend({ stored: { ...claim, queued: true }, now: T0 + 100 * lease, leaseMs: lease }),
    ).toEqual({ kind: "refuse", reason: "in-flight" });
  });

  it("the sweep watches only a pending claim whose message is not known to be queued", () => {
    const claim = claimed(retrying(), run(1, T0));
    expect(awaitsQueueing(claim)).toBe(true);
    expect(awaitsQueueing({ ...claim, queued: true })).toBe(false);
    expect(awaitsQueueing({ ...claim, status: "retrying" })).toBe(false);
  });

  it("a stranded message fails a run that nobody owns, that it owns, or that is older than its own", () => {
    const receipt = { messageId: "m-1", generation: 1 };
    const guard = { kind: "revision", rev: 1 };
    expect(onStranded(retrying(), receipt)).toEqual({ kind: "fail", guard });
    expect(onStranded({ ...retrying(), generation: 1, owner: undefined }, receipt)).toEqual({
      kind: "fail",
      guard,
    });
    expect(onStranded({ ...retrying(), generation: 1 }, receipt)).toEqual({ kind: "fail", guard });
    // An older run is failed whatever became of it, and whoever drove it.
    for (const patch of [{ status: "failed" as const }, { owner: "m-0" }]) {
      expect(onStranded({ ...retrying(), ...patch }, receipt)).toEqual({ kind: "fail", guard });
    }
  });
});

describe("the table of moves: each of from, to and via counts", () => {
  it("lists each move once", () => {
    const moves = TRANSITIONS.map((t) => `${t.from} → ${t.to} by ${t.via}`);
    expect(new Set(moves).size).toBe(moves.length);
  });

  it("refuses a move whose other two parts match an allowed one", () => {
    // from: (new) → succeeded by attempt is allowed, from a finished run it is not.
    expect(isAllowed("canceled", "succeeded", "attempt")).toBe(false);
    // to: pending → pending by claim is allowed, pending → failed by claim is not.
    expect(isAllowed("pending", "pending", "claim")).toBe(true);
    expect(isAllowed("pending", "failed", "claim")).toBe(false);
    // via: retrying → failed by attempt is allowed, by cancel it is not.
    expect(isAllowed("retrying", "failed", "attempt")).toBe(true);
    expect(isAllowed("retrying", "failed", "cancel")).toBe(false);
  });
});
