import {
  bucketByHour,
  HOURS,
  OUTCOMES,
  type Outcome,
  PAGE_SIZE,
  SAMPLE_PAGES,
  type Sample,
} from "./chart-data.ts";

const LABELS: Record<Outcome, string> = {
  succeeded: "succeeded",
  failed: "failed",
  inProgress: "in progress",
  canceled: "canceled",
};

/** Deliveries per hour by outcome, last 24 hours: stacked bars in plain SVG. */
export function DeliveriesChart(props: { sample: Sample | undefined; error?: string }) {
  const { sample } = props;
  if (!sample) {
    return (
      <section class="chart" aria-labelledby="chart-title">
        <h2 id="chart-title">Deliveries per hour, last 24 hours</h2>
        <p class="muted">{props.error ?? "Loading…"}</p>
      </section>
    );
  }
  const buckets = bucketByHour(sample.deliveries, sample.at);
  const totals = Object.fromEntries(
    OUTCOMES.map((o) => [o, buckets.reduce((sum, b) => sum + b[o], 0)]),
  ) as Record<Outcome, number>;
  const peak = Math.max(1, ...buckets.map((b) => OUTCOMES.reduce((sum, o) => sum + b[o], 0)));
  const width = 720;
  const height = 110;
  const bar = width / HOURS;
  const summary = `${sample.deliveries.length} deliveries: ${OUTCOMES.map((o) => `${totals[o]} ${LABELS[o]}`).join(", ")}.`;
  return (
    <section class="chart" aria-labelledby="chart-title">
      <h2 id="chart-title">Deliveries per hour, last 24 hours</h2>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`Deliveries per hour by outcome. ${summary}`}
      >
        <line x1="0" y1={height} x2={width} y2={height} class="axis" />
        {buckets.map((bucket, i) => {
          let y = height;
          return (
            <g key={bucket.start}>
              {OUTCOMES.map((outcome) => {
                const h = (bucket[outcome] / peak) * (height - 4);
                y -= h;
                return h > 0 ? (
                  <rect
                    key={outcome}
                    x={i * bar + 1}
                    y={y}
                    width={bar - 2}
                    height={h}
                    class={`bar ${outcome}`}
                  >
                    <title>{`${new Date(bucket.start).getHours()}:00 — ${bucket[outcome]} ${LABELS[outcome]}`}</title>
                  </rect>
                ) : null;
              })}
            </g>
          );
        })}
      </svg>
      <div class="ticks" aria-hidden="true">
        {buckets.map((bucket, i) =>
          i % 6 === 0 ? (
            <span key={bucket.start} style={{ left: `${(i / HOURS) * 100}%` }}>
              {`${String(new Date(bucket.start).getHours()).padStart(2, "0")}:00`}
            </span>
          ) : null,
        )}
      </div>
      <ul class="legend">
        {OUTCOMES.map((o) => (
          <li key={o}>
            <span class={`swatch ${o}`} aria-hidden="true" />
            {totals[o]} {LABELS[o]}
          </li>
        ))}
      </ul>
      <p class="muted small">
        {sample.complete
          ? `All ${sample.deliveries.length} deliveries of the last 24 hours (test sends left out).`
          : `A sample: the latest ${sample.deliveries.length} deliveries of the last 24 hours (the console reads at most ${SAMPLE_PAGES * PAGE_SIZE}).`}
      </p>
    </section>
  );
}
