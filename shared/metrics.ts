/**
 * CloudWatch Embedded Metric Format: a log line that CloudWatch turns into metrics, with no
 * API call and no extra permission. Dimensions stay low-cardinality (never a workspace or a
 * subscription: each distinct value is a billed custom metric).
 */
export const METRICS_NAMESPACE = "CustomermatesWebhooks";

export type Unit = "Count" | "Milliseconds" | "None";

/**
 * One EMF document. A metric's value is a number, or an array of samples (at most 100: EMF's
 * limit), which CloudWatch turns into a distribution with percentiles.
 */
export function emfLine(
  dimensions: Record<string, string>,
  metrics: Record<string, { value: number | number[]; unit: Unit }>,
  timestamp = Date.now(),
): string {
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.entries(metrics).map(([Name, { unit }]) => ({ Name, Unit: unit })),
        },
      ],
    },
    ...dimensions,
    ...Object.fromEntries(
      Object.entries(metrics).map(([name, { value }]) => [
        name,
        Array.isArray(value) ? value.slice(0, 100) : value,
      ]),
    ),
  });
}

let sink: (line: string) => void = (line) => console.log(line);

/** Writes an EMF document: to standard output (CloudWatch reads it there), unless redirected. */
export function writeMetrics(line: string): void {
  sink(line);
}

/** Where `writeMetrics` writes (the local stack in tests: nowhere). Returns the previous sink. */
export function setMetricsSink(next: (line: string) => void): (line: string) => void {
  const previous = sink;
  sink = next;
  return previous;
}
