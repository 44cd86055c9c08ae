// Curve smoothing for the charts: pure functions over number arrays, no DOM and no state.

// TensorBoard's debiased EMA; non-finite points stay gaps and do not disturb the average.
export function ema(ys: number[], weight: number): (number | null)[] {
  const out: (number | null)[] = new Array(ys.length);
  let last = 0, n = 0;
  for (let i = 0; i < ys.length; i++) {
    const v = ys[i];
    if (!Number.isFinite(v)) { out[i] = null; continue; }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}
