/** The cold-start benchmark's arithmetic (bench/coldstart.ts), kept apart to be unit-tested. */
import { median, type Spread, spread } from "./stats.ts";

/** docs/architecture.md: each function's cold start ≤ this × its floor's. */
export const COLD_START_BUDGET = 1.15;

/** One cold start, as the child process reports it (milliseconds). */
export interface Timing {
  /** From process start to the handler's answer: the cold start. */
  totalMs: number;
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
  /** The bundle's median cold start ÷ the floor's. */
  ratio: number;
  /** The same ratio within each round (the runs are interleaved round by round). */
  rounds: Spread;
  /** The medians of CPU time to the answer, divided likewise. */
  cpuRatio: number;
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
