/**
 * The statistics behind a run's claims (issue 17, item 3): a mean over seeds with its 95% confidence
 * interval, and the paired t-test over the fixed evaluation windows that decides "matches the
 * reference". Student's t quantiles come from the regularized incomplete beta function (Numerical
 * Recipes' continued fraction), inverted by bisection: no tables, exact to ~1e-10.
 */
import type { PairedComparison } from '../../protocol/events.js';

export type { PairedComparison };

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n - 1 in the denominator). */
export function sampleSd(xs: readonly number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (Numerical Recipes, betacf). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T <= t) for Student's t with df degrees of freedom. */
export function tCdf(t: number, df: number): number {
  // Near 0, df / (df + t^2) rounds to 1; the complementary form keeps t's precision.
  const tail = t * t < df ? 0.5 * (1 - incompleteBeta((t * t) / (df + t * t), 0.5, df / 2)) : 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with df degrees of freedom (0 < p < 1). */
export function tQuantile(p: number, df: number): number {
  let lo = -1e3;
  let hi = 1e3;
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A mean and the half-width of its two-sided 95% t interval (null with one value). */
export interface MeanCI {
  mean: number;
  ci95: number | null;
}

export function meanCI(xs: readonly number[]): MeanCI {
  if (xs.length < 2) return { mean: mean(xs), ci95: null };
  return { mean: mean(xs), ci95: (tQuantile(0.975, xs.length - 1) * sampleSd(xs)) / Math.sqrt(xs.length) };
}


/** Paired t statistics of per-window losses `model` against `reference` (same windows, same order). */
export function pairedComparison(model: readonly number[], reference: readonly number[]): PairedComparison {
  if (model.length !== reference.length) throw new Error(`paired comparison of ${model.length} and ${reference.length} windows`);
  if (model.length < 2) throw new Error('a paired comparison needs at least 2 evaluation windows');
  const d = model.map((x, i) => x - reference[i]);
  const m = mean(d);
  const se = sampleSd(d) / Math.sqrt(d.length);
  const t = tQuantile(0.975, d.length - 1);
  return { windows: d.length, meanDiff: m, se, ci95: [m - t * se, m + t * se] };
}

/**
 * The one rule for "matches the reference": with per-window losses, the upper end of the 95% interval
 * of (model - reference) is at most `tolerance` (a non-inferiority test: the model is shown to be no
 * more than `tolerance` nats worse, so more noise never makes a match easier); without them (a
 * rotary reference measured block by block), the point comparison of mean losses.
 */
export function matchesReference(valLoss: number, referenceValLoss: number, paired: PairedComparison | undefined, tolerance: number): boolean {
  return paired ? paired.ci95[1] <= tolerance : valLoss <= referenceValLoss + tolerance;
}

/** Per-window losses averaged over seeds: the seeds' models evaluated on the same windows. */
export function meanOverSeeds(perSeed: readonly (readonly number[])[]): number[] {
  return perSeed[0].map((_, w) => mean(perSeed.map((s) => s[w])));
}
