/** Numbers as the panels print them. */

export function formatValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(1) : v.toPrecision(3);
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

export function formatPercent(p: number): string {
  return `${(100 * p).toFixed(1)}%`;
}

/** A correlation or similarity; '—' where it is undefined. */
export function formatCorrelation(v: number | null): string {
  return v === null ? '—' : v.toFixed(2);
}
