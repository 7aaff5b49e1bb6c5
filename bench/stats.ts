// Small statistics and formatting helpers for the benchmarks: medians and percentiles of repeated
// runs, and the figures as the results table shows them.

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** 1234567.8 → "1,234,568". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatRate(perSecond: number): string {
  return `${formatCount(perSecond)}/s`;
}

export function formatMs(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** "p50 2.67 ms / p99 9.31 ms". */
export function p50p99(p50Ms: number, p99Ms: number): string {
  return `p50 ${formatMs(p50Ms)} / p99 ${formatMs(p99Ms)}`;
}

/** A ratio as the table shows it: two decimals below 10 (1.07×), one above (19.2×). */
export function formatRatio(ratio: number): string {
  return `${ratio.toFixed(Math.abs(ratio) < 10 ? 2 : 1)}×`;
}
