/** The cold-start benchmark's arithmetic (bench/coldstart.ts), kept apart to be unit-tested. */

import type { FunctionResult } from "../coldstart.ts";
import { median, type Spread, spread } from "./stats.ts";

/** docs/architecture.md: each function's cold start ≤ this × its floor's. */
export const COLD_START_BUDGET = 1.15;

/** One cold start, as the child process reports it (milliseconds). */
export interface Timing {
  /** From process start to the handler's answer: the cold start, the budget's figure. */
  totalMs: number;
  /**
   * Of that, how long the process's main thread — from its script's first line — was ready
   * to run but waited for a CPU other processes held (Linux's /proc/self/schedstat; 0
   * elsewhere): how much of the cold start a busy machine's other processes took. Reported,
   * not subtracted: Node's own start, the emulators' waits and a virtual machine's stolen time
   * cannot be told apart that way, and taking out only some of it gave no steadier figure.
   */
  queuedMs: number;
  /** Node's own start, up to the import. */
  bootMs: number;
  /** The import: loading and evaluating the bundle, building its clients. */
  importMs: number;
  /** The first call: the event handled, AWS calls and all. */
  callMs: number;
  /** CPU time (user + system) of the process up to the answer. */
  cpuMs: number;
}

export interface Ratio {
  /** The bundle's median cold start ÷ the floor's: the budget's ratio. */
  ratio: number;
  /** The same ratio within each round (the runs are interleaved round by round). */
  rounds: Spread;
  /**
   * The medians of CPU time to the answer, divided likewise: on a busy machine the steadier
   * figure (BENCHMARKS.md), and on Lambda, where a 256 MB function has a fraction of a CPU,
   * the one a cold start's length follows.
   */
  cpuRatio: number;
  /** busyShare(): how much of the floor's cold start the waits for a CPU were. */
  busy: number;
}

/** The median cold start against the floor's, and the same ratio round by round. */
export function ratioTo(
  bundle: { samples: readonly Timing[] },
  floor: { samples: readonly Timing[] },
): Ratio {
  const of = (b: { samples: readonly Timing[] }, f: keyof Timing) => b.samples.map((s) => s[f]);
  return {
    ratio: median(of(bundle, "totalMs")) / median(of(floor, "totalMs")),
    rounds: spread(
      bundle.samples.map((s, i) => s.totalMs / (floor.samples[i]?.totalMs ?? Number.NaN)),
    ),
    cpuRatio: median(of(bundle, "cpuMs")) / median(of(floor, "cpuMs")),
    busy: busyShare(bundle, floor),
  };
}

/** The same calls, in any order (the functions make some of them concurrently). */
export const sameCalls = (a: readonly string[], b: readonly string[]): boolean =>
  JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** "DynamoDB Query ×64, SQS ReceiveMessage": the calls in first-seen order, counted. */
export function countCalls(calls: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const call of calls) counts.set(call, (counts.get(call) ?? 0) + 1);
  return [...counts].map(([call, n]) => (n > 1 ? `${call} ×${n}` : call)).join(", ");
}

/**
 * Whether a run's clock figures are the neighbours' more than the bundles': the median time
 * the function or its floor waited for a CPU (`queuedMs`), as a share of the floor's median
 * cold start, above `limit`. On this project's shared machine the clock ratio then wanders
 * (±20 % between runs) while the CPU ratio holds; a quiet run waits a few milliseconds.
 */
export function busyShare(
  bundle: { samples: readonly Timing[] },
  floor: { samples: readonly Timing[] },
): number {
  const queued = (b: { samples: readonly Timing[] }) => median(b.samples.map((s) => s.queuedMs));
  return Math.max(queued(bundle), queued(floor)) / median(floor.samples.map((s) => s.totalMs));
}

/** Above this share of waiting, a run is reported as taken on a busy machine. */
export const BUSY_SHARE = 0.1;

/**
 * The function against its floor with what the contract cannot do without (the
 * `validated-floor` variant, labelled "floor + …"), round by round; none without it.
 */
export function againstValidatedFloor(
  fn: FunctionResult,
): { label: string; medianMs: number; ratio: Ratio } | undefined {
  const self = fn.bundles.find((b) => b.label === "function");
  const validated = fn.bundles.find((b) => b.label.startsWith("floor + "));
  if (!self || !validated) return undefined;
  return {
    label: validated.label,
    medianMs: validated.figures.totalMs.median,
    ratio: ratioTo(self, validated),
  };
}
