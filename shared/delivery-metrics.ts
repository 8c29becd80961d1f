import type { Lane } from "./domain.ts";
import { emfLine, type Unit } from "./metrics.ts";
import type { BatchResult } from "./use-cases/deliver-batch.ts";

/**
 * The deliver function's metrics, one EMF document per batch (never per delivery): what became
 * of its messages, its attempts by outcome and error class, their latency (a distribution), and
 * how many attempts the runs that ended took. Dimensions: the function and the lane — two
 * values, never a workspace or a subscription (each distinct value is a billed custom metric).
 */
export function deliverBatchMetrics(result: BatchResult, lane: Lane, at = Date.now()): string {
  const count = (value: number) => ({ value, unit: "Count" as Unit });
  const reasons = [...result.dispositions.values()].map((d) =>
    d.kind === "done" ? d.reason : d.kind === "later" ? d.reason : "error",
  );
  const had = (reason: string) => reasons.filter((r) => r === reason).length;
  const metrics: Record<string, { value: number | number[]; unit: Unit }> = {
    Messages: count(result.dispositions.size),
    Attempts: count(result.attempts.length),
    Succeeded: count(result.attempts.filter((a) => a.ok).length),
    AttemptsFailed: count(result.attempts.filter((a) => !a.ok).length),
    Retried: count(result.attempts.filter((a) => a.end === "retrying").length),
    FailedForGood: count(result.attempts.filter((a) => a.end === "failed").length),
    DeadLettered: count(had("dead-lettered")),
    Canceled: count(had("canceled")),
    Deferred: count(had("deferred")),
    MovedToSlowLane: count(had("moved-to-slow-lane")),
    Errors: count(had("error")),
  };
  const classes = new Map<string, number>();
  for (const attempt of result.attempts) {
    if (!attempt.ok) {
      const name = attempt.errorClass ?? "network_error";
      classes.set(name, (classes.get(name) ?? 0) + 1);
    }
  }
  for (const [name, n] of classes) metrics[`AttemptsFailed_${name}`] = count(n);
  if (result.attempts.length > 0) {
    metrics.AttemptLatency = {
      value: result.attempts.map((a) => Math.round(a.durationMs)),
      unit: "Milliseconds",
    };
  }
  const ended = result.attempts.filter((a) => a.end !== "retrying").map((a) => a.number);
  if (ended.length > 0) metrics.AttemptsPerDelivery = { value: ended, unit: "Count" };
  return emfLine({ Function: "deliver", Lane: lane }, metrics, at);
}
