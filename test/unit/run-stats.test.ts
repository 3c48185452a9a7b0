/**
 * The statistics of item 3 (seeds and the paired test) against textbook values: Student's t
 * quantiles (any printed t table), the Cauchy and df = 2 closed forms of the t CDF, and a paired
 * t interval worked by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesReference, meanCI, meanOverSeeds, pairedComparison, tCdf, tQuantile } from '../../server/engine/run/stats.js';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('t CDF: Cauchy (df 1) and the df 2 closed form', () => {
  for (const t of [-3, -0.5, 0, 0.7, 2, 10]) {
    close(tCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-12, `df 1 at ${t}`);
    close(tCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-12, `df 2 at ${t}`);
  }
});

test('t quantiles equal the t table (0.975, two-sided 95%)', () => {
  const table: [number, number][] = [[1, 12.7062047], [2, 4.30265273], [3, 3.18244631], [4, 2.77644511], [9, 2.26215716], [30, 2.04227246], [1000, 1.96233908]];
  for (const [df, q] of table) close(tQuantile(0.975, df), q, 1e-7, `df ${df}`);
  close(tQuantile(0.5, 7), 0, 1e-10, 'median');
});

test('mean and 95% interval over seeds', () => {
  const r = meanCI([1, 2, 3]);
  close(r.mean, 2, 1e-15, 'mean');
  close(r.ci95 ?? NaN, 4.30265273 / Math.sqrt(3), 1e-7, 'half-width: t(0.975, 2) * sd 1 / sqrt 3');
  assert.deepEqual(meanCI([2.5]), { mean: 2.5, ci95: null });
  assert.deepEqual(meanOverSeeds([[1, 2], [3, 6]]), [2, 4]);
});

test('paired t interval worked by hand, and the match rule', () => {
  // Differences 0.5, 0.5, 1, 0.5: mean 0.625, sd 0.25, se 0.125, t(0.975, 3) = 3.18244631.
  const p = pairedComparison([3, 4, 5, 6], [2.5, 3.5, 4, 5.5]);
  assert.equal(p.windows, 4);
  close(p.meanDiff, 0.625, 1e-15, 'mean difference');
  close(p.se, 0.125, 1e-15, 'standard error');
  close(p.ci95[0], 0.625 - 3.18244631 * 0.125, 1e-8, 'lower');
  close(p.ci95[1], 0.625 + 3.18244631 * 0.125, 1e-8, 'upper');
  // Non-inferiority: matched only when the upper end is within tolerance.
  assert.equal(matchesReference(4.625, 4, p, 1.0), false);
  assert.equal(matchesReference(4.625, 4, p, 1.03), true);
  // No per-window losses (a reference measured block by block): the point comparison.
  assert.equal(matchesReference(4.0, 4.0, undefined, 0), true);
  assert.equal(matchesReference(4.1, 4.0, undefined, 0.05), false);
  assert.throws(() => pairedComparison([1, 2], [1]), /2 and 1 windows/);
});
