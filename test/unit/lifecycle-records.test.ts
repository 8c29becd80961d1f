import { describe, expect, it } from "vitest";
import type { Delivery } from "../../shared/domain.ts";
import {
  claimed,
  confirmedQueued,
  deferralSeconds,
  onDefer,
  type RunContext,
  released,
  runDeadline,
  withAttempt,
  withCancel,
  withCopyAttempt,
  withStranded,
} from "../../shared/lifecycle.ts";
import { worstCaseRunSeconds } from "../../shared/retry.ts";

/**
 * The records each move of the lifecycle writes, field by field: what a write carries over
 * from the record it read, what it starts, and what it must leave out (the stores write every
 * field they are given, and the console shows them).
 */

const T0 = Date.parse("2026-11-26T10:00:00.000Z");
const at = (ms: number) => new Date(ms).toISOString();
const ctx = (patch: Partial<RunContext> = {}): RunContext => ({
  workspaceId: "acme",
  deliveryId: "dlv_1",
  eventId: "evt_1",
  event: "contact.created",
  subscriptionId: "sub_1",
  generation: 0,
  owner: "m-1",
  now: T0,
  ...patch,
});
const draft = {
  startedAt: at(T0),
  durationMs: 3,
  url: "https://x.example.com/",
  outcome: "failed" as const,
  requestHeaders: {},
};
/** A record written some time ago by another run, with every optional field a write carries. */
const earlier = (patch: Partial<Delivery> = {}): Delivery => ({
  id: "dlv_1",
  workspaceId: "acme",
  eventId: "evt_0",
  event: "contact.updated",
  subscriptionId: "sub_0",
  status: "retrying",
  generation: 0,
  rev: 7,
  runAttempts: 2,
  attemptCount: 5,
  attempts: [{ ...draft, number: 1, generation: 0 }],
  attemptsOmitted: 4,
  createdAt: "2026-11-20T00:00:00.000Z",
  updatedAt: "2026-11-25T00:00:00.000Z",
  runStartedAt: "2026-11-24T00:00:00.000Z",
  nextAttemptAt: at(T0 + 30_000),
  lastError: "HTTP 500",
  owner: "m-0",
  ...patch,
});
const SCHEDULE = [0, 10];
/** How long a run of SCHEDULE may last, in ms. */
const SPAN = worstCaseRunSeconds(SCHEDULE) * 1000;

describe("what every write carries over from the record it read", () => {
  it("keeps the delivery's identity, history and creation time, and bumps the revision", () => {
    const next = withAttempt(earlier(), ctx({ now: T0 + 30_000 }), draft, {
      status: "retrying",
      delaySeconds: 5,
    });
    expect(next).toMatchObject({
      eventId: "evt_0",
      event: "contact.updated",
      subscriptionId: "sub_0",
      rev: 8,
      attemptCount: 6,
      attemptsOmitted: 4,
      createdAt: "2026-11-20T00:00:00.000Z",
      updatedAt: at(T0 + 30_000),
      runAttempts: 3,
    });
    expect(next.attempts.map((a) => a.number)).toEqual([1, 6]);
  });

  it("starts a new record from the run's context", () => {
    const first = withAttempt(undefined, ctx(), draft, { status: "retrying", delaySeconds: 5 });
    expect(first).toMatchObject({
      id: "dlv_1",
      workspaceId: "acme",
      eventId: "evt_1",
      event: "contact.created",
      subscriptionId: "sub_1",
      rev: 1,
      attemptCount: 1,
      attemptsOmitted: 0,
      createdAt: at(T0),
      updatedAt: at(T0),
      runStartedAt: at(T0),
    });
  });

  it("counts a run from its start: kept within the run, the creation time for an older record, now for a new run", () => {
    const same = (prev: Delivery) =>
      withAttempt(prev, ctx({ now: T0 + 30_000 }), draft, { status: "succeeded" }).runStartedAt;
    expect(same(earlier())).toBe("2026-11-24T00:00:00.000Z");
    expect(same(earlier({ runStartedAt: undefined }))).toBe("2026-11-20T00:00:00.000Z");
    const next = withAttempt(earlier(), ctx({ generation: 1, now: T0 + 30_000 }), draft, {
      status: "succeeded",
    });
    expect(next.runStartedAt).toBe(at(T0 + 30_000));
    expect(next.runAttempts).toBe(1);
  });

  it("keeps the deferral count and the test flag, and adds neither to a record that had none", () => {
    const kept = withCancel(earlier({ deferrals: 3, test: true }), ctx(), "event_expired");
    expect(kept).toMatchObject({ deferrals: 3, test: true });
    const plain = withCancel(earlier(), ctx(), "event_expired");
    expect(Object.keys(plain)).not.toContain("deferrals");
    expect(Object.keys(plain)).not.toContain("test");
  });
});

describe("an attempt's record", () => {
  it("notes an attempt made in the slow lane, and only there", () => {
    const slow = withAttempt(undefined, ctx({ lane: "slow" }), draft, { status: "succeeded" });
    expect(slow.attempts[0]).toMatchObject({ lane: "slow", number: 1, generation: 0 });
    const main = withAttempt(undefined, ctx({ lane: "main" }), draft, { status: "succeeded" });
    expect(Object.keys(main.attempts[0] ?? {})).not.toContain("lane");
  });

  it("a retry says when the next attempt is due, on the record and the attempt, and is neither failed nor owned by nobody", () => {
    const next = withAttempt(
      earlier(),
      ctx({ generation: 0, now: T0 + 30_000, owner: "m-0" }),
      draft,
      { status: "retrying", delaySeconds: 90 },
      "HTTP 502",
    );
    expect(next).toMatchObject({
      status: "retrying",
      nextAttemptAt: at(T0 + 120_000),
      lastError: "HTTP 502",
      owner: "m-0",
    });
    expect(next.attempts.at(-1)).toMatchObject({ nextAttemptAt: at(T0 + 120_000), generation: 0 });
    expect(next.reason).toBeUndefined();
    expect(next.failedAt).toBeUndefined();
  });

  it("a success clears the last error, whatever the caller passes", () => {
    const done = withAttempt(earlier(), ctx(), draft, { status: "succeeded" }, "HTTP 500");
    expect(done.lastError).toBeUndefined();
  });

  it("a failure ends the run: its reason and time, no next attempt, no owner", () => {
    const failed = withAttempt(
      earlier(),
      ctx({ now: T0 + 30_000 }),
      draft,
      { status: "failed", reason: "gone" },
      "HTTP 410",
    );
    expect(failed).toMatchObject({
      status: "failed",
      reason: "gone",
      failedAt: at(T0 + 30_000),
      lastError: "HTTP 410",
    });
    expect(failed.nextAttemptAt).toBeUndefined();
    expect(failed.owner).toBeUndefined();
    expect(failed.attempts.at(-1)?.nextAttemptAt).toBeUndefined();
  });
});

describe("records that end or mark a run without a new attempt", () => {
  it("a cancel keeps the run's attempts so far, and says why in words", () => {
    const canceled = withCancel(earlier(), ctx({ now: T0 + 1000 }), "subscription_deleted");
    expect(canceled).toMatchObject({
      status: "canceled",
      reason: "subscription_deleted",
      runAttempts: 2,
      attemptCount: 5,
      rev: 8,
      lastError: "The subscription was deleted; nothing was sent.",
    });
    expect(withCancel(earlier(), ctx({ generation: 1 }), "subscription_disabled")).toMatchObject({
      generation: 1,
      runAttempts: 0,
      lastError: "The subscription is disabled; nothing was sent.",
    });
  });

  it("a stranded run fails with the receives SQS counted, keeping its attempts", () => {
    expect(withStranded(earlier(), ctx({ now: T0 + 5000 }), 12)).toMatchObject({
      status: "failed",
      reason: "stranded",
      runAttempts: 2,
      failedAt: at(T0 + 5000),
      lastError: "SQS gave up on the message after 12 receives without a finished attempt.",
    });
    expect(withStranded(earlier(), ctx({ generation: 1 }), 3).runAttempts).toBe(0);
  });

  it("a duplicate's POST is stamped with the write's time and the message's run", () => {
    const copied = withCopyAttempt(earlier(), draft, ctx({ generation: 0, now: T0 + 7000 }));
    expect(copied.updatedAt).toBe(at(T0 + 7000));
    expect(copied.attempts.at(-1)).toEqual({ ...draft, number: 6, generation: 0, duplicate: true });
    expect(copied.runAttempts).toBe(2);
  });
});

describe("a resend's claim", () => {
  it("keeps the last error to show until the new run has its own, and adds none to a record without one", () => {
    const claim = claimed(earlier({ status: "failed" }), ctx({ generation: 1, now: T0 + 1000 }));
    expect(claim).toMatchObject({
      status: "pending",
      generation: 1,
      lastError: "HTTP 500",
      runStartedAt: at(T0 + 1000),
      claimedAt: at(T0 + 1000),
      queued: false,
      rev: 8,
    });
    const clean = claimed(earlier({ lastError: undefined }), ctx({ generation: 1 }));
    expect(Object.keys(clean)).not.toContain("lastError");
  });

  it("released, its lease is over at once; confirmed, it is queued; both are writes of their own", () => {
    const claim = claimed(earlier(), ctx({ generation: 1, now: T0 }));
    expect(released(claim, T0 + 4000)).toEqual({
      ...claim,
      rev: claim.rev + 1,
      updatedAt: at(T0 + 4000),
      claimedAt: "1970-01-01T00:00:00.000Z",
    });
    expect(confirmedQueued(claim, T0 + 5000)).toEqual({
      ...claim,
      rev: claim.rev + 1,
      updatedAt: at(T0 + 5000),
      queued: true,
    });
  });
});

describe("deferrals", () => {
  it("double from 2 seconds up to 15 minutes", () => {
    expect([0, 1, 2, 8, 9, 10, 5000].map(deferralSeconds)).toEqual([2, 4, 8, 512, 900, 900, 900]);
  });

  it("a run ends at the latest its schedule's longest span after it started", () => {
    const context = ctx({ now: T0 });
    expect(runDeadline(earlier(), context, SCHEDULE)).toBe(
      Date.parse("2026-11-24T00:00:00.000Z") + SPAN,
    );
    expect(runDeadline(earlier({ runStartedAt: undefined }), context, SCHEDULE)).toBe(
      Date.parse("2026-11-20T00:00:00.000Z") + SPAN,
    );
    // A new run, or a first receive, starts now.
    expect(runDeadline(earlier(), ctx({ generation: 1 }), SCHEDULE)).toBe(T0 + SPAN);
    expect(runDeadline(undefined, context, SCHEDULE)).toBe(T0 + SPAN);
  });

  it("a first receive with no room is put off, queued, owned by its message, without a step", () => {
    expect(onDefer(undefined, ctx(), "endpoint-busy", SCHEDULE)).toStrictEqual({
      kind: "defer",
      seconds: 2,
      record: {
        id: "dlv_1",
        workspaceId: "acme",
        eventId: "evt_1",
        event: "contact.created",
        subscriptionId: "sub_1",
        rev: 1,
        attemptCount: 0,
        attempts: [],
        attemptsOmitted: 0,
        createdAt: at(T0),
        updatedAt: at(T0),
        runStartedAt: at(T0),
        status: "pending",
        generation: 0,
        runAttempts: 0,
        owner: "m-1",
        queued: true,
        deferrals: 1,
        deferredUntil: at(T0 + 2000),
        deferReason: "endpoint-busy",
      },
    });
  });

  it("a retry put off stays retrying, keeps its due time, error and owner, and waits longer each time", () => {
    const stored = earlier({ deferrals: 3, runStartedAt: at(T0) });
    // (Moved to the slow lane, the message has an id of its own; the run keeps its owner.)
    const decision = onDefer(
      stored,
      ctx({ now: T0 + 30_000, owner: "m-5" }),
      "endpoint-busy",
      [0, 10],
    );
    expect(decision).toMatchObject({ kind: "defer", seconds: 16 });
    expect(decision.record).toMatchObject({
      status: "retrying",
      generation: 0,
      runAttempts: 2,
      nextAttemptAt: at(T0 + 30_000),
      lastError: "HTTP 500",
      owner: "m-0",
      deferrals: 4,
      deferredUntil: at(T0 + 46_000),
      rev: 8,
    });
    // Its message is on the queue already, as a retry: nothing for the sweep to watch.
    expect(Object.keys(decision.record)).not.toContain("queued");
  });

  it("a resend's run put off is its own: pending, queued, owned by this message, nothing of the last run's due time or error", () => {
    const claim = claimed(earlier({ status: "failed" }), ctx({ generation: 1, now: T0 }));
    const stale = {
      ...claim,
      generation: 0,
      status: "retrying" as const,
      owner: "m-0",
      nextAttemptAt: at(T0 + 30_000),
    };
    const decision = onDefer(stale, ctx({ generation: 1, owner: "m-9" }), "endpoint-busy", [0, 10]);
    expect(decision.record).toMatchObject({
      status: "pending",
      generation: 1,
      runAttempts: 0,
      owner: "m-9",
      queued: true,
    });
    expect(Object.keys(decision.record)).not.toContain("nextAttemptAt");
    expect(Object.keys(decision.record)).not.toContain("lastError");
    // Within the run, a claim nobody owns yet is taken by the message that put it off.
    const own = onDefer(claim, ctx({ generation: 1, owner: "m-9" }), "endpoint-busy", [0, 10]);
    expect(own.record).toMatchObject({
      status: "pending",
      owner: "m-9",
      queued: true,
      lastError: "HTTP 500",
    });
  });

  it("gives the run up, failed as unavailable, when the deferral would end past the run's deadline", () => {
    const stored = earlier({ runStartedAt: at(T0), deferrals: 2 });
    // Eight seconds: due exactly at the deadline is still in time; a millisecond later is not.
    const inTime = onDefer(stored, ctx({ now: T0 + SPAN - 8000 }), "endpoint-busy", SCHEDULE);
    expect(inTime.kind).toBe("defer");
    const late = onDefer(stored, ctx({ now: T0 + SPAN - 7999 }), "endpoint-busy", SCHEDULE);
    expect(late).toEqual({
      kind: "give-up",
      record: {
        ...withStranded(stored, ctx({ now: T0 + SPAN - 7999 }), 0),
        reason: "unavailable",
        lastError:
          "The endpoint never had room for this delivery: it was put off past the end of its schedule.",
      },
    });
    expect(late.record).toMatchObject({
      status: "failed",
      runAttempts: 2,
      deferrals: 2,
      failedAt: at(T0 + SPAN - 7999),
    });
  });
});
