// Summaries of repeated measurements: the harness reports median with min–max, never a single run.

export interface Summary { median: number; min: number; max: number; n: number }

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('mean of an empty list');
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Nearest-rank percentile (p in 0..100): the smallest sample with at least p% of the samples at or below it. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) throw new Error('percentile of an empty list');
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile ${p} is outside 0..100`);
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1]!;
}

/** undefined for no samples: a cell that never produced a value is reported as missing, not as 0. */
export function summarize(xs: readonly number[]): Summary | undefined {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return undefined;
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), n: ok.length };
}

/** nanovpn / OpenVPN on the medians; undefined when either side is missing or the baseline is 0. */
export function ratio(ours: Summary | undefined, base: Summary | undefined): number | undefined {
  if (!ours || !base || base.median === 0) return undefined;
  return ours.median / base.median;
}
