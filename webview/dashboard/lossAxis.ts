/**
 * The loss chart's y-range. By default it fits the derived models (the growth rounds' train and val
 * points) and the reference's val loss, which are what the run compares: a scratch baseline starts
 * near ln(vocabulary) and would squeeze them into a flat band, so baselines are drawn clipped unless
 * the user asks to fit them too. Pure, so unit tests run it.
 */
import type { ModelSeries } from './runModel.js';

export interface YRange {
  min: number;
  max: number;
}

/** The padded range of the focused curves, or null when there is nothing to fit yet (the chart's own range). */
export function lossRange(models: Iterable<ModelSeries>, referenceValLoss: number | null, withBaselines: boolean): YRange | null {
  let lo = Infinity;
  let hi = -Infinity;
  const take = (y: number) => {
    if (!Number.isFinite(y)) return;
    lo = Math.min(lo, y);
    hi = Math.max(hi, y);
  };
  for (const m of models) {
    if (m.kind === 'reference' || (m.kind === 'baseline' && !withBaselines)) continue;
    for (const p of m.train) take(p.y);
    for (const p of m.val) take(p.y);
  }
  if (referenceValLoss !== null) take(referenceValLoss);
  if (!Number.isFinite(lo)) return null;
  const pad = Math.max((hi - lo) * 0.06, Math.abs(hi) * 0.01, 1e-3);
  // Losses are positive; the range stays so for the log scale.
  return { min: lo - pad > 0 ? lo - pad : lo / 2, max: hi + pad };
}
