/**
 * The retry schedule and everything derived from it. Pure functions: the deliver function,
 * the local stack and the CDK app all call these, so the queue settings can never drift from
 * the schedule the code follows.
 */

/** SQS refuses a visibility timeout above 12 hours. */
export const MAX_STEP_SECONDS = 43_200;
const JITTER = 0.2;

/** `0, 5s, 5m, 30m, 2h, 5h, 10h, 10h`: eight attempts over about 27 hours. */
export const DEFAULT_SCHEDULE: readonly number[] = [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000];
/** What `npm start` uses unless told otherwise: five attempts over 15 seconds. */
export const LOCAL_SCHEDULE: readonly number[] = [0, 1, 2, 4, 8];

/**
 * Parses `WEBHOOKS_RETRY_SCHEDULE`: comma-separated whole seconds, one per attempt, the first
 * attempt's delay included (it must be 0: the first attempt is immediate).
 */
export function parseSchedule(text: string): number[] {
  const parts = text.split(",").map((part) => part.trim());
  // (Splitting never gives no parts: an empty text is one empty part.)
  if (parts.some((part) => part === "")) {
    throw new Error("must be a comma-separated list of whole seconds, like 0,5,300");
  }
  const delays = parts.map((part) => {
    if (!/^\d+$/.test(part)) throw new Error(`'${part}' is not a whole number of seconds`);
    return Number(part);
  });
  if (delays[0] !== 0) throw new Error("the first delay is the first attempt's and must be 0");
  // 20 attempts of up to 12 hours each still fit the 14 days SQS can keep a message.
  if (delays.length > 20) throw new Error("at most 20 attempts");
  const tooLong = delays.find((delay) => delay > MAX_STEP_SECONDS);
  if (tooLong !== undefined) {
    throw new Error(`${tooLong}s is longer than SQS allows for one step (${MAX_STEP_SECONDS}s)`);
  }
  return delays;
}

/** Why the last attempt failed, as far as the schedule cares. */
/** `gone`: the receiver answered 410 (Standard Webhooks: stop sending), never retried. */
export type FailureKind = "timeout" | "rate_limited" | "unavailable" | "gone" | "other";

export interface RetryInput {
  schedule: readonly number[];
  /** 1-based number of the attempt that just failed, within this delivery's current run. */
  attempt: number;
  kind: FailureKind;
  /** Seconds from a `Retry-After` header, when the receiver sent one with 429 or 503. */
  retryAfterSeconds?: number | undefined;
  random?: () => number;
}

export type RetryDecision = { retry: true; delaySeconds: number } | { retry: false };

/**
 * What to do after a failed attempt. Exponential steps come from the schedule with ±20 %
 * jitter; timeouts and 429s never wait less than their step (the receiver is struggling);
 * `Retry-After` is honoured on 429/503, up to 12 hours. How long SQS can hide the message is
 * the queue's business (`visibilityFor`): a longer wait is served in several turns.
 */
export function nextRetry(input: RetryInput): RetryDecision {
  const { schedule, attempt, kind, retryAfterSeconds } = input;
  const step = schedule[attempt];
  if (step === undefined) return { retry: false };
  const random = input.random ?? Math.random;
  const spread = (random() * 2 - 1) * JITTER;
  const floorAtStep = kind === "timeout" || kind === "rate_limited";
  let delay = step * (1 + (floorAtStep ? Math.abs(spread) : spread));
  if (retryAfterSeconds !== undefined && (kind === "rate_limited" || kind === "unavailable")) {
    delay = kind === "rate_limited" ? Math.max(delay, retryAfterSeconds) : retryAfterSeconds;
  }
  return { retry: true, delaySeconds: clamp(Math.round(delay), 0, MAX_STEP_SECONDS) };
}

/**
 * SQS keeps a received message hidden for at most 12 hours counted from that receive, in total
 * (fauxqs does not enforce it; AWS refuses the change). The visibility to ask for so that the
 * message comes back after `delaySeconds`, or as late as allowed: when it comes back early,
 * the lifecycle sees its attempt is not due and hides it again for the rest.
 */
export function visibilityFor(delaySeconds: number, receivedAt: number, now: number): number {
  const held = Math.max(0, Math.ceil((now - receivedAt) / 1000));
  const allowed = MAX_STEP_SECONDS - held - VISIBILITY_MARGIN_SECONDS;
  return clamp(Math.ceil(delaySeconds), 0, Math.max(0, allowed));
}

/** Kept back from SQS's 12-hour limit for the clocks and the time the call takes. */
const VISIBILITY_MARGIN_SECONDS = 60;

/** `Retry-After` is either delta-seconds or an HTTP-date. Anything else is ignored. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

export interface QueueSettings {
  /** SQS redrive after this many receives: a safety net above the schedule's own attempts. */
  maxReceiveCount: number;
  /** How long the deliveries queue keeps a message: the whole schedule, jitter and slack. */
  retentionSeconds: number;
  /** The dead-letter queue keeps failures as long as SQS allows (14 days). */
  deadLetterRetentionSeconds: number;
}

const SQS_MAX_RETENTION = 1_209_600;

/**
 * Receives a run may take besides its attempts before SQS gives up on the message: a crash
 * or a timed-out invocation, a deadline handback, an unavailable store or queue, a message
 * back before its step is due. None of them consumes a step of the schedule (the step comes
 * from the delivery's record), so the headroom is generous; a message SQS gives up on anyway
 * is not lost — it goes to the stranded queue, and the sweep fails its delivery visibly.
 */
const SPARE_RECEIVES_PER_ATTEMPT = 4;
const SPARE_RECEIVES = 50;
const SQS_MAX_RECEIVE_COUNT = 1000;

/** The longest a run can last: every wait stretched to 12 hours by Retry-After, and a minute per attempt. */
export function worstCaseRunSeconds(schedule: readonly number[]): number {
  return (schedule.length - 1) * MAX_STEP_SECONDS + schedule.length * 60;
}

/** The longest a deferral puts an attempt off (a receive each time: see `queueSettings`). */
export const MAX_DEFERRAL_SECONDS = 900;

export function queueSettings(schedule: readonly number[]): QueueSettings {
  // A message must never outlive the queue's retention, or SQS would drop it silently: the
  // longest run, and an hour of slack. Receives: the attempts with spares, and a run deferred
  // from start to end (a receive every 15 minutes at the most).
  return {
    maxReceiveCount: Math.min(
      SQS_MAX_RECEIVE_COUNT,
      schedule.length * (1 + SPARE_RECEIVES_PER_ATTEMPT) +
        SPARE_RECEIVES +
        Math.ceil(worstCaseRunSeconds(schedule) / MAX_DEFERRAL_SECONDS),
    ),
    retentionSeconds: clamp(worstCaseRunSeconds(schedule) + 3600, 3600, SQS_MAX_RETENTION),
    deadLetterRetentionSeconds: SQS_MAX_RETENTION,
  };
}

/**
 * Events and deliveries must outlive every run that can still need them: the longest run,
 * then the dead-letter queue's 14 days (a dead letter redriven on its last day must still
 * find its event). Checked at cold start and at synth, so a short retention cannot turn an
 * accepted delivery into an expired one. Returns the problem, or undefined.
 */
export function retentionProblem(
  schedule: readonly number[],
  retentionDays: number,
): string | undefined {
  const neededSeconds = worstCaseRunSeconds(schedule) + SQS_MAX_RETENTION;
  const neededDays = Math.ceil(neededSeconds / 86_400);
  if (retentionDays >= neededDays) return undefined;
  const runDays = (worstCaseRunSeconds(schedule) / 86_400).toFixed(1);
  return (
    `${retentionDays} days is too short: a delivery's retry schedule can take up to ${runDays} days ` +
    `(its ${schedule.length - 1} waits each stretched to 12 hours by Retry-After) and the ` +
    `dead-letter queue keeps a failure ${SQS_MAX_RETENTION / 86_400} days, so keep events at least ${neededDays} days`
  );
}

/**
 * SQS's ApproximateAgeOfOldestMessage leaves out a message once it has been received three
 * times: it is moved to the back of the queue and the metric shows the next one. Every retry
 * here is another receive, so the oldest message the metric can show while deliveries keep up
 * is one waiting for its third attempt. A stalled consumer shows up as messages older than
 * that: never received at all.
 */
const RECEIVES_IN_AGE_METRIC = 3;
/** Never alarm on less: the metric itself is approximate and arrives minutes late. */
const MIN_OLDEST_MESSAGE_ALARM_SECONDS = 600;

/**
 * Threshold of the oldest-message alarm: the first three steps stretched by jitter, a minute
 * of processing per attempt (the deliver function's timeout), and five minutes of slack (the
 * metric's delay, or one crashed invocation whose messages come back after the visibility
 * timeout); at least ten minutes. A receiver that answers its first attempts with a long
 * Retry-After can still trip it; that is rare, and the alarm says where to look.
 */
export function oldestMessageAlarmSeconds(schedule: readonly number[]): number {
  const counted = schedule.slice(0, RECEIVES_IN_AGE_METRIC);
  const jittered = counted.reduce((sum, delay) => sum + delay, 0) * (1 + JITTER);
  return Math.max(
    MIN_OLDEST_MESSAGE_ALARM_SECONDS,
    Math.ceil(jittered + counted.length * 60 + 300),
  );
}

const clamp = (value: number, low: number, high: number): number =>
  Math.min(high, Math.max(low, value));
