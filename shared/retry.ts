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
  if (parts.length === 0 || parts.some((part) => part === "")) {
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
export type FailureKind = "timeout" | "rate_limited" | "unavailable" | "other";

export interface RetryInput {
  schedule: readonly number[];
  /** 1-based number of the attempt that just failed, within this delivery's current run. */
  attempt: number;
  kind: FailureKind;
  /** Seconds from a `Retry-After` header, when the receiver sent one with 429 or 503. */
  retryAfterSeconds?: number | undefined;
  /** Seconds this message has already been held since it was received (SQS caps the total). */
  heldSeconds?: number;
  random?: () => number;
}

export type RetryDecision = { retry: true; delaySeconds: number } | { retry: false };

/**
 * What to do after a failed attempt. Exponential steps come from the schedule with ±20 %
 * jitter; timeouts and 429s never wait less than their step (the receiver is struggling);
 * `Retry-After` is honoured on 429/503 but clamped to what SQS can hold.
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
  const ceiling = MAX_STEP_SECONDS - Math.ceil(input.heldSeconds ?? 0);
  return { retry: true, delaySeconds: clamp(Math.round(delay), 0, Math.max(0, ceiling)) };
}

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
  /**
   * How old a message gets when every step waits its longest (+20 % jitter) and no receiver
   * asks for more with Retry-After. Not an alarm threshold: SQS's age metric never sees a
   * message that old (see `oldestMessageAlarmSeconds`).
   */
  expectedMaxAgeSeconds: number;
}

const SQS_MAX_RETENTION = 1_209_600;
/**
 * Extra receives before SQS's own redrive kicks in. The deliver function moves exhausted
 * messages to the DLQ itself; these spare receives absorb a crashed or timed-out invocation
 * without cutting a delivery's schedule short.
 */
const SPARE_RECEIVES = 3;

export function queueSettings(schedule: readonly number[]): QueueSettings {
  // Worst case: every step stretched to the 12-hour SQS maximum by Retry-After or jitter,
  // plus a minute of processing per attempt and an hour of slack. A message must never
  // outlive the queue's retention, or SQS would drop it silently.
  const worstCase = (schedule.length - 1) * MAX_STEP_SECONDS + schedule.length * 60 + 3600;
  const jittered = schedule.reduce((sum, delay) => sum + delay, 0) * (1 + JITTER);
  return {
    maxReceiveCount: schedule.length + SPARE_RECEIVES,
    retentionSeconds: clamp(worstCase, 3600, SQS_MAX_RETENTION),
    deadLetterRetentionSeconds: SQS_MAX_RETENTION,
    expectedMaxAgeSeconds: Math.ceil(jittered + schedule.length * 60 + 600),
  };
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
