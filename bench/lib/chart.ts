import { percentile } from "./stats.ts";

/**
 * The end-to-end latency distribution as an SVG histogram (for BENCHMARKS.md): 10 ms bins up
 * to the budget's double, one overflow bin, and markers at p50, p95, p99 and the budget.
 */
export function latencyHistogramSvg(
  samples: readonly number[],
  options: { budgetMs: number; title: string },
): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const bin = 10;
  const limit = options.budgetMs * 2;
  const bins = Array.from({ length: limit / bin + 1 }, () => 0);
  for (const value of sorted) {
    const index = Math.min(bins.length - 1, Math.floor(value / bin));
    bins[index] = (bins[index] ?? 0) + 1;
  }
  const width = 760;
  const height = 300;
  const left = 56;
  const right = 16;
  const top = 40;
  const bottom = 44;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const peak = Math.max(1, ...bins);
  const x = (ms: number) => left + (Math.min(ms, limit + bin) / (limit + bin)) * plotW;
  const y = (count: number) => top + plotH - (count / peak) * plotH;
  const barW = plotW / bins.length;
  const bars = bins
    .map((count, i) =>
      count === 0
        ? ""
        : `<rect x="${(left + i * barW + 0.5).toFixed(1)}" y="${y(count).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${(top + plotH - y(count)).toFixed(1)}" fill="${i === bins.length - 1 ? "#b45309" : "#2563eb"}"/>`,
    )
    .join("");
  const marker = (ms: number, label: string, color: string, row: number) =>
    `<line x1="${x(ms).toFixed(1)}" y1="${top}" x2="${x(ms).toFixed(1)}" y2="${top + plotH}" stroke="${color}" stroke-width="1.5" stroke-dasharray="4 3"/>` +
    `<text x="${(x(ms) + 4).toFixed(1)}" y="${top + 12 + row * 14}" fill="${color}">${label}</text>`;
  const ticks = Array.from({ length: limit / 50 + 1 }, (_, i) => i * 50)
    .map(
      (ms) =>
        `<line x1="${x(ms).toFixed(1)}" y1="${top + plotH}" x2="${x(ms).toFixed(1)}" y2="${top + plotH + 4}" stroke="#555"/>` +
        `<text x="${x(ms).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">${ms}</text>`,
    )
    .join("");
  const p = (q: number) => percentile(sorted, q);
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11" fill="#222">
<title>${escapeXml(`${options.title}: p50 ${p(50).toFixed(0)} ms, p95 ${p(95).toFixed(0)} ms, p99 ${p(99).toFixed(0)} ms; budget ${options.budgetMs} ms`)}</title>
<rect width="${width}" height="${height}" fill="#fff"/>
<text x="${left}" y="20" font-size="13" font-weight="600">${escapeXml(options.title)}</text>
${bars}
<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#555"/>
<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#555"/>
${ticks}
<text x="${left + plotW / 2}" y="${height - 8}" text-anchor="middle">ms from the CRM's POST to the receiver (10 ms bins; last bin: ≥ ${limit} ms)</text>
<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">deliveries (peak ${peak})</text>
${marker(p(50), `p50 ${p(50).toFixed(0)} ms`, "#059669", 0)}
${marker(p(95), `p95 ${p(95).toFixed(0)} ms`, "#7c3aed", 1)}
${marker(p(99), `p99 ${p(99).toFixed(0)} ms`, "#dc2626", 2)}
${marker(options.budgetMs, `budget ${options.budgetMs} ms`, "#111", 3)}
</svg>
`;
}

const escapeXml = (text: string) =>
  text.replace(
    /[<>&"]/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c] ?? c,
  );
