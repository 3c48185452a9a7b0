/**
 * Lazy-layer statistics (method.md section 5) on hand-built matrices whose answers are derived by
 * hand or in closed form:
 *   k*(A) = smallest k with s_1^2 + ... + s_k^2 >= tau ||A||_F^2 (s_i decreasing),
 *   m*(A) = smallest number of columns whose mass c_j = ||A[:, j]||^2 / ||A||_F^2 reaches eta, taken
 *           by decreasing mass ('sorted', the default) or in index order ('prefix');
 *   Rank(h,l) = mean over sequences, MaxRank(l) = max over heads, AvgMass(l) = mean over heads,
 *   lazy = MaxRank exactly 1.
 * Where a closed form is out of reach (k* of uniform causal attention) the singular values come from
 * numpy's SVD, run by python3 inside the test; that part is skipped, saying so, without numpy.
 * Finally analyzeAttention runs on a tiny GPT-2 and must agree with approxRank applied to the
 * attention maps of model.forward.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as tf from '../../server/engine/tf.js';
import { initBackend } from '../../server/engine/backend.js';
import {
  AttentionAccumulator,
  approxRank,
  columnMass,
  describeLazy,
  lazyLayers,
  nearLazyLayers,
  singularValuesSquared,
  singularValuesSquaredOf,
  symmetricEigenvalues,
  type LayerStats,
} from '../../server/engine/attentionStats.js';
import { analysisStarts, analyzeAttention, paperWindowsNote, type AnalysisOptions } from '../../server/engine/analyze.js';
import { GPT2 } from '../../server/engine/gpt2.js';
import type { GPT2Config } from '../../server/engine/gpt2Config.js';
import { seededRandom } from '../../server/engine/init.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { loadAddon } from '../../server/engine/native/addon.js';

const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

/** Row-major T x T matrix from a function of (row, column). */
function matrix(T: number, f: (i: number, j: number) => number): Float64Array {
  const a = new Float64Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) a[i * T + j] = f(i, j);
  return a;
}

const identity = (T: number) => matrix(T, (i, j) => (i === j ? 1 : 0));
/** Every query attends only to token 0: all the mass in the first column. */
const firstColumn = (T: number) => matrix(T, (_i, j) => (j === 0 ? 1 : 0));
/** Uniform causal attention: row i is 1/(i+1) on columns 0..i. */
const uniformCausal = (T: number) => matrix(T, (i, j) => (j <= i ? 1 / (i + 1) : 0));

/** A 4 x 4 matrix with rows e0, e3, e3, e3: column masses 1/4 (column 0) and 3/4 (column 3). */
const lastColumnHeavy = () => matrix(4, (i, j) => ((i === 0 ? j === 0 : j === 3) ? 1 : 0));

function frobenius2(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

// -------------------------------------------------------------------------------------------------
// Eigenvalues and singular values against closed forms

test('symmetricEigenvalues of a diagonal matrix are its diagonal entries', () => {
  const d = [3, -1, 0.5, 7, 0, 2];
  const n = d.length;
  const ev = Array.from(symmetricEigenvalues(matrix(n, (i, j) => (i === j ? d[i] : 0)), n)).sort((x, y) => x - y);
  assert.deepEqual(ev, [...d].sort((x, y) => x - y));
});

test('symmetricEigenvalues of [[a,b],[b,c]] equal (a+c)/2 +- sqrt(((a-c)/2)^2 + b^2)', () => {
  for (const [a, b, c] of [[2, 1, 2], [1, 0.3, -4], [0, 5, 0], [1e-3, 2e-4, 7e-4], [3, -2, 1]]) {
    const ev = Array.from(symmetricEigenvalues(new Float64Array([a, b, b, c]), 2)).sort((x, y) => y - x);
    const mid = (a + c) / 2;
    const rad = Math.sqrt(((a - c) / 2) ** 2 + b * b);
    const tol = 1e-14 * (Math.abs(mid) + rad);
    close(ev[0], mid + rad, tol, `larger eigenvalue of [[${a},${b}],[${b},${c}]]`);
    close(ev[1], mid - rad, tol, `smaller eigenvalue of [[${a},${b}],[${b},${c}]]`);
  }
});

test('symmetricEigenvalues of tridiag(-1, 2, -1) (n = 30) equal 2 - 2 cos(k pi / (n + 1))', () => {
  const n = 30;
  const ev = Array.from(symmetricEigenvalues(matrix(n, (i, j) => (i === j ? 2 : Math.abs(i - j) === 1 ? -1 : 0)), n)).sort((x, y) => x - y);
  for (let k = 1; k <= n; k++) close(ev[k - 1], 2 - 2 * Math.cos((k * Math.PI) / (n + 1)), 1e-12, `eigenvalue ${k}`);
});

test('symmetricEigenvalues of a dense Q D Q (Q a Householder reflection, n = 50) recover D', () => {
  const n = 50;
  const rand = seededRandom(7);
  const d = Array.from({ length: n }, () => 10 * rand() - 5);
  const v = Array.from({ length: n }, () => rand() - 0.5);
  const vv = v.reduce((s, x) => s + x * x, 0);
  const q = matrix(n, (i, j) => (i === j ? 1 : 0) - (2 * v[i] * v[j]) / vv);
  // S = Q diag(d) Q^T with Q symmetric orthogonal: dense, with spectrum exactly d.
  const s = matrix(n, (i, j) => {
    let x = 0;
    for (let k = 0; k < n; k++) x += q[i * n + k] * d[k] * q[j * n + k];
    return x;
  });
  const ev = Array.from(symmetricEigenvalues(s, n)).sort((x, y) => x - y);
  const want = [...d].sort((x, y) => x - y);
  for (let k = 0; k < n; k++) close(ev[k], want[k], 1e-12, `eigenvalue ${k}`);
});

test('singularValuesSquared of a diagonal matrix are its squared entries, in decreasing order', () => {
  const s2 = singularValuesSquared(matrix(4, (i, j) => (i === j ? [0.5, -3, 0, 2][i] : 0)), 4);
  assert.deepEqual(Array.from(s2), [9, 4, 0.25, 0]);
});

test('singularValuesSquared of a rank-1 u v^T is |u|^2 |v|^2 followed by zeros', () => {
  const T = 12;
  const rand = seededRandom(3);
  const u = Array.from({ length: T }, () => rand() - 0.5);
  const v = Array.from({ length: T }, () => rand());
  const s2 = singularValuesSquared(matrix(T, (i, j) => u[i] * v[j]), T);
  const want = frobenius2(u) * frobenius2(v);
  close(s2[0], want, 1e-14 * want, 's1^2');
  for (let i = 1; i < T; i++) close(s2[i], 0, 1e-14 * want, `s${i + 1}^2`);
  assert.equal(approxRank(matrix(T, (i, j) => u[i] * v[j]), T, 0.9), 1);
});

test('singularValuesSquared sums to ||A||_F^2 on random matrices, decreasing and non-negative, read at an offset', () => {
  const rand = seededRandom(11);
  for (const T of [1, 2, 5, 17, 40]) {
    for (let trial = 0; trial < 3; trial++) {
      const a = matrix(T, () => 2 * rand() - 1);
      const s2 = singularValuesSquared(a, T);
      const f2 = frobenius2(a);
      close(s2.reduce((x, y) => x + y, 0), f2, 1e-9 * f2, `T=${T} sum of s^2`);
      for (let i = 0; i < T; i++) assert.ok(s2[i] >= 0 && (i === 0 || s2[i] <= s2[i - 1]), `T=${T}: s^2 not decreasing/non-negative at ${i}`);
      // The same matrix behind 3 padding values and inside a float32 array: float32 rounding only.
      const padded = new Float32Array(3 + T * T + 2).fill(9);
      padded.set(a, 3);
      const s2f = singularValuesSquared(padded, T, 3);
      close(s2f.reduce((x, y) => x + y, 0), frobenius2(padded.subarray(3, 3 + T * T)), 1e-9 * f2, `T=${T} offset sum`);
    }
  }
});

// -------------------------------------------------------------------------------------------------
// k* and m* on hand-built attention matrices

test('all mass on the first column: k* = 1 and m* = 1 in both mass modes', () => {
  for (const T of [1, 4, 10, 64]) {
    const a = firstColumn(T);
    assert.equal(approxRank(a, T, 0.9), 1, `T=${T} k*`);
    assert.equal(columnMass(a, T, 0.9, 'sorted'), 1, `T=${T} m* sorted`);
    assert.equal(columnMass(a, T, 0.9, 'prefix'), 1, `T=${T} m* prefix`);
  }
});

test('identity T x T: k* = m* = ceil(0.9 T) (9, 10, 58, 90 for T = 10, 11, 64, 100), exact ties included', () => {
  // For T = 10 and 100 the tie is exact: 9 of 10 equal values make exactly 0.9 of the total.
  for (const [T, want] of [[10, 9], [11, 10], [64, 58], [100, 90]]) {
    const a = identity(T);
    assert.equal(approxRank(a, T, 0.9), want, `T=${T} k*`);
    assert.equal(columnMass(a, T, 0.9, 'sorted'), want, `T=${T} m* sorted`);
    assert.equal(columnMass(a, T, 0.9, 'prefix'), want, `T=${T} m* prefix`);
    assert.equal(approxRank(a, T, 0.5), Math.ceil(T / 2), `T=${T} k* at tau 0.5`);
  }
});

test('block attention in float32 (rows uniform over groups of g tokens): k* = ceil(0.9 groups), m* = ceil(0.9 T) despite rounding', () => {
  // nb blocks J/g: singular values nb ones, columns all of mass 1/T. Ties exact in real arithmetic;
  // in float32 the summed masses fall a few ulps short of eta ||A||^2 (T = 100, 90, 60 here).
  for (const [g, nb] of [[5, 20], [9, 10], [6, 10]]) {
    const T = g * nb;
    const a = Float32Array.from(matrix(T, (i, j) => (Math.floor(i / g) === Math.floor(j / g) ? 1 / g : 0)));
    for (const [x, groups, cols] of [[0.9, Math.ceil(0.9 * nb), Math.ceil(0.9 * T)], [0.7, Math.ceil(0.7 * nb), Math.ceil(0.7 * T)], [0.3, Math.ceil(0.3 * nb), Math.ceil(0.3 * T)]]) {
      assert.equal(approxRank(a, T, x), groups, `g=${g}, T=${T}: k* at tau ${x}`);
      assert.equal(columnMass(a, T, x, 'sorted'), cols, `g=${g}, T=${T}: m* sorted at eta ${x}`);
      assert.equal(columnMass(a, T, x, 'prefix'), cols, `g=${g}, T=${T}: m* prefix at eta ${x}`);
    }
  }
});

test('uniform causal attention, T = 4: column masses 205/300, 61/300, 25/300, 9/300 give m* = 3 (eta 0.9), 1 (eta 0.5)', () => {
  // ||A||_F^2 = sum_i (i+1) / (i+1)^2 = H_4 = 25/12; column j holds sum_{i>=j} 1/(i+1)^2:
  // 205/144, 61/144, 25/144, 9/144, i.e. masses 205/300, 61/300, 25/300, 9/300 (cumulative 0.683, 0.887, 0.97).
  const a = uniformCausal(4);
  for (const mode of ['sorted', 'prefix'] as const) {
    assert.equal(columnMass(a, 4, 0.9, mode), 3, `${mode}, eta 0.9`);
    assert.equal(columnMass(a, 4, 0.88, mode), 2, `${mode}, eta 0.88`);
    assert.equal(columnMass(a, 4, 0.5, mode), 1, `${mode}, eta 0.5`);
  }
});

test('uniform causal attention: m* equals the count from c_j = sum_{i>=j} 1/(i+1)^2 / H_T in both modes (T = 8, 10, 64, 100)', () => {
  // The masses decrease with j, so sorted and prefix order coincide. Expected counts, checked in
  // exact rational arithmetic: T=8 -> 4, T=10 -> 5, T=64 -> 21, T=100 -> 30 at eta 0.9.
  const table: Record<number, number> = { 8: 4, 10: 5, 64: 21, 100: 30 };
  for (const T of [8, 10, 64, 100]) {
    let harmonic = 0;
    for (let i = 1; i <= T; i++) harmonic += 1 / i;
    let cumulative = 0;
    let fromFormula = 0;
    for (let j = 0; j < T && fromFormula === 0; j++) {
      let col = 0;
      for (let i = j; i < T; i++) col += 1 / (i + 1) ** 2;
      cumulative += col / harmonic;
      if (cumulative >= 0.9) fromFormula = j + 1;
    }
    assert.equal(fromFormula, table[T], `T=${T}: closed-form count`);
    const a = uniformCausal(T);
    assert.equal(columnMass(a, T, 0.9, 'sorted'), table[T], `T=${T} sorted`);
    assert.equal(columnMass(a, T, 0.9, 'prefix'), table[T], `T=${T} prefix`);
  }
});

test('uniform causal attention, T = 2: s^2 = 3/4 +- sqrt(5)/4, so k* = 2 at tau 0.9 and 1 at tau 0.85', () => {
  // A = [[1, 0], [1/2, 1/2]]; A^T A = [[5/4, 1/4], [1/4, 1/4]] has trace 3/2 and determinant 1/4.
  const a = uniformCausal(2);
  const s2 = singularValuesSquared(a, 2);
  close(s2[0], 0.75 + Math.sqrt(5) / 4, 1e-15, 's1^2');
  close(s2[1], 0.75 - Math.sqrt(5) / 4, 1e-15, 's2^2');
  // s1^2 / ||A||_F^2 = (3 + sqrt 5) / 6 = 0.8727.
  assert.equal(approxRank(a, 2, 0.9), 2);
  assert.equal(approxRank(a, 2, 0.85), 1);
});

/** numpy's squared singular values of each matrix, or undefined when python3 with numpy is absent. */
function numpySingularValuesSquared(matrices: { T: number; data: number[] }[]): number[][] | undefined {
  const script = [
    'import json, sys',
    'import numpy as np',
    'out = []',
    'for m in json.load(sys.stdin):',
    '    a = np.array(m["data"], dtype=np.float64).reshape(m["T"], m["T"])',
    '    out.append((np.linalg.svd(a, compute_uv=False) ** 2).tolist())',
    'print(json.dumps(out))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(matrices), encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return JSON.parse(r.stdout) as number[][];
}

const haveNumpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

test(
  "uniform causal attention, T = 8 and 64: singular values and k* agree with numpy's SVD",
  { skip: haveNumpy ? false : 'python3 with numpy is not available to compute the reference SVD' },
  () => {
    const cases = [8, 64].map((T) => ({ T, data: Array.from(uniformCausal(T)) }));
    const ref = numpySingularValuesSquared(cases);
    assert.ok(ref, 'python3/numpy failed');
    for (const [n, { T, data }] of cases.entries()) {
      const ours = singularValuesSquared(data, T);
      for (let i = 0; i < T; i++) close(ours[i], ref[n][i], 1e-12, `T=${T} s_${i + 1}^2`);
      // k* from numpy's values, by the definition.
      const total = ref[n].reduce((a, b) => a + b, 0);
      let k = 0;
      for (let sum = 0; sum < 0.9 * total; k++) sum += ref[n][k];
      assert.equal(approxRank(data, T, 0.9), k, `T=${T} k*`);
    }
    // What numpy gives today, recorded so the test also says the numbers: 3 for T = 8, 5 for T = 64.
    assert.equal(approxRank(cases[0].data, 8, 0.9), 3);
    assert.equal(approxRank(cases[1].data, 64, 0.9), 5);
  },
);

/** A causal softmax of random logits times `sharpness`, float32 like the model's attention. */
function randomCausalAttention(T: number, sharpness: number, rand: () => number): Float32Array {
  const a = new Float32Array(T * T);
  for (let i = 0; i < T; i++) {
    const logits = Array.from({ length: i + 1 }, () => sharpness * (rand() * 2 - 1));
    const top = Math.max(...logits);
    const e = logits.map((x) => Math.exp(x - top));
    const z = e.reduce((x, y) => x + y, 0);
    for (let j = 0; j <= i; j++) a[i * T + j] = e[j] / z;
  }
  return a;
}

test(
  "random causal softmax attention (T = 100; flat, peaked, near rank 1): singular values and k* agree with numpy's SVD",
  { skip: haveNumpy ? false : 'python3 with numpy is not available to compute the reference SVD' },
  () => {
    const rand = seededRandom(21);
    const T = 100;
    const mats: Float32Array[] = [0.1, 1, 4, 12].map((sharp) => randomCausalAttention(T, sharp, rand));
    // Near rank 1: every row puts 0.999 on token 0 and spreads the rest.
    const near = randomCausalAttention(T, 1, rand);
    for (let i = 1; i < T; i++) {
      for (let j = 1; j <= i; j++) near[i * T + j] *= 0.001 / (1 - near[i * T]);
      near[i * T] = 0.999;
    }
    mats.push(near);
    const ref = numpySingularValuesSquared(mats.map((m) => ({ T, data: Array.from(m) })));
    assert.ok(ref, 'python3/numpy failed');
    for (const [n, m] of mats.entries()) {
      const ours = singularValuesSquared(m, T);
      const scale = ref[n][0];
      for (let i = 0; i < T; i++) close(ours[i], ref[n][i], 1e-12 * scale, `matrix ${n} s_${i + 1}^2`);
      for (const tau of [0.5, 0.9, 0.99]) {
        const total = ref[n].reduce((a, b) => a + b, 0);
        let k = 0;
        for (let sum = 0; sum < tau * total * (1 - 1e-9); k++) sum += ref[n][k];
        assert.equal(approxRank(m, T, tau), k, `matrix ${n} k* at tau ${tau}`);
      }
    }
    assert.equal(approxRank(near, T, 0.9), 1, 'the near-rank-1 matrix has k* = 1');
  },
);

const nativeAddon = loadAddon();
const noNative = nativeAddon.addon === undefined ? `native addon unavailable: ${nativeAddon.reason}` : false;

test(
  "native singular values (LAPACK, a batch's matrices at once on the BLAS threads) equal numpy's, with the same k*, and keep exact ties",
  { skip: noNative || (haveNumpy ? false : 'python3 with numpy is not available to compute the reference SVD') },
  () => {
    const rand = seededRandom(22);
    const T = 100;
    const mats: Float32Array[] = [0.1, 1, 4, 12, 1, 4, 0.5].map((sharp) => randomCausalAttention(T, sharp, rand));
    const ref = numpySingularValuesSquared(mats.map((m) => ({ T, data: Array.from(m) })));
    assert.ok(ref, 'python3/numpy failed');
    // All in one array, read from an offset of one matrix (a zero matrix first).
    const batch = new Float32Array((mats.length + 1) * T * T);
    mats.forEach((m, n) => batch.set(m, (n + 1) * T * T));
    const s2 = singularValuesSquaredOf(batch, T, mats.length, T * T);
    for (const [n, m] of mats.entries()) {
      const ours = s2.subarray(n * T, (n + 1) * T);
      const scale = ref[n][0];
      for (let i = 0; i < T; i++) close(ours[i], ref[n][i], 1e-12 * scale, `matrix ${n} s_${i + 1}^2`);
      for (const tau of [0.5, 0.9, 0.99]) {
        const total = ref[n].reduce((a, b) => a + b, 0);
        let k = 0;
        for (let sum = 0; sum < tau * total * (1 - 1e-9); k++) sum += ref[n][k];
        const acc = new AttentionAccumulator(1, 1, T, { tau, eta: 0.9, mass: 'sorted' });
        acc.addBatch(0, m, 1);
        assert.equal(acc.result()[0].heads[0].rank, k, `matrix ${n} k* at tau ${tau}`);
      }
    }
    // The identity's 100 equal values reach tau 0.9 at exactly 90; an all-zero matrix has k* = 0.
    const pair = new Float32Array(2 * T * T);
    for (let i = 0; i < T; i++) pair[i * T + i] = 1;
    const acc = new AttentionAccumulator(1, 2, T, { tau: 0.9, eta: 0.9, mass: 'sorted' });
    acc.addBatch(0, pair, 1);
    assert.deepEqual(acc.result()[0].heads.map((h) => h.rank), [90, 0]);
  },
);

test('mass on the last column: sorted m* counts the heavy column first, prefix m* must walk to it', () => {
  // Rows e0, e3, e3, e3: column masses [1/4, 0, 0, 3/4].
  const a = lastColumnHeavy();
  assert.equal(columnMass(a, 4, 0.9, 'sorted'), 2, 'sorted, eta 0.9: 3/4 then 1');
  assert.equal(columnMass(a, 4, 0.7, 'sorted'), 1, 'sorted, eta 0.7: 3/4 alone');
  assert.equal(columnMass(a, 4, 0.9, 'prefix'), 4, 'prefix, eta 0.9: 1/4, 1/4, 1/4, 1');
  assert.equal(columnMass(a, 4, 0.2, 'prefix'), 1, 'prefix, eta 0.2: column 0 alone');
  // A^T A = diag(1, 0, 0, 3): s^2 = 3, 1, so k* = 2 at tau 0.9 and 1 at tau 0.7.
  assert.equal(approxRank(a, 4, 0.9), 2);
  assert.equal(approxRank(a, 4, 0.7), 1);

  // Causal, T = 5, the last two rows attending to the last two columns:
  // rows e0, e1, e2, (0,0,0,1,0), (0,0,0,0.6,0.8) -> column masses [1, 1, 1, 1.36, 0.64] / 5.
  const b = new Float64Array([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0.6, 0.8]);
  // sorted: 1.36, 1, 1, 1, 0.64 -> cumulative 0.272, 0.472, 0.672, 0.872, 1 -> 5 at eta 0.9, 4 at 0.85.
  // prefix: 0.2, 0.4, 0.6, 0.872, 1 -> 5 at 0.9, 4 at 0.85, 3 at 0.6 (sorted needs 3 too: 0.672).
  assert.equal(columnMass(b, 5, 0.85, 'sorted'), 4);
  assert.equal(columnMass(b, 5, 0.85, 'prefix'), 4);
  assert.equal(columnMass(b, 5, 0.45, 'sorted'), 2, 'sorted 0.45: 0.272 + 0.2');
  assert.equal(columnMass(b, 5, 0.45, 'prefix'), 3, 'prefix 0.45: 0.2 + 0.2 + 0.2');
  assert.equal(columnMass(b, 5, 0.25, 'sorted'), 1, 'sorted 0.25: the 1.36 column');
  assert.equal(columnMass(b, 5, 0.25, 'prefix'), 2, 'prefix 0.25: 0.2 + 0.2');
});

test('an all-zero matrix has k* = 0 and m* = 0 rather than a division by zero', () => {
  const z = new Float64Array(9);
  assert.equal(approxRank(z, 3, 0.9), 0);
  assert.equal(columnMass(z, 3, 0.9, 'sorted'), 0);
  assert.equal(columnMass(z, 3, 0.9, 'prefix'), 0);
});

// -------------------------------------------------------------------------------------------------
// Aggregation over sequences, heads and layers

const T4 = 4;
const opts = { tau: 0.9, eta: 0.9, mass: 'sorted' as const };
// k*, m* of the building blocks (tau = eta = 0.9): first column 1, 1; identity 4, 4; last-column-heavy 2, 2.
const R1 = firstColumn(T4);
const ID = identity(T4);
const M2 = lastColumnHeavy();

/** [B, H, T, T] row-major from per (sequence, head) matrices. */
function stack(perSeq: Float64Array[][]): Float32Array {
  const out = new Float32Array(perSeq.length * perSeq[0].length * T4 * T4);
  let o = 0;
  for (const heads of perSeq) for (const m of heads) out.set(m, (o++) * T4 * T4);
  return out;
}

function threeLayerStats(): LayerStats[] {
  const acc = new AttentionAccumulator(3, 2, T4, opts);
  // Layer 0: head 0 sees R1 then ID (rank 2.5), head 1 sees M2 then R1 (rank 1.5).
  acc.addBatch(0, stack([[R1, M2], [ID, R1]]), 2);
  // Layer 1: rank 1 everywhere: lazy.
  acc.addBatch(1, stack([[R1, R1]]), 1);
  acc.addBatch(1, stack([[R1, R1]]), 1);
  // Layer 2: head 1 is rank 2 on the second sequence only: Rank 1.5, not lazy.
  acc.addBatch(2, stack([[R1, R1], [R1, M2]]), 2);
  return acc.result();
}

test('AttentionAccumulator: Rank is the mean over sequences, MaxRank the max over heads, AvgMass the mean over heads', () => {
  const [l0, l1, l2] = threeLayerStats();
  assert.deepEqual(l0.heads, [{ rank: 2.5, mass: 2.5 }, { rank: 1.5, mass: 1.5 }]);
  assert.equal(l0.maxRank, 2.5);
  assert.equal(l0.avgMass, 2);
  assert.equal(l0.lazy, false);
  assert.deepEqual(l1.heads, [{ rank: 1, mass: 1 }, { rank: 1, mass: 1 }]);
  assert.equal(l1.maxRank, 1);
  assert.equal(l1.avgMass, 1);
  assert.equal(l1.lazy, true, 'rank 1 for every head on every sequence');
  assert.deepEqual(l2.heads, [{ rank: 1, mass: 1 }, { rank: 1.5, mass: 1.5 }]);
  assert.equal(l2.maxRank, 1.5);
  assert.equal(l2.avgMass, 1.25);
  assert.equal(l2.lazy, false, 'one sequence of rank 2 in one head makes the layer not lazy');
  assert.deepEqual([l0.layer, l1.layer, l2.layer], [0, 1, 2]);
});

test('AttentionAccumulator: AvgMass uses the mass mode; prefix counts differ from sorted on the same data', () => {
  const sorted = new AttentionAccumulator(1, 2, T4, { tau: 0.9, eta: 0.9, mass: 'sorted' });
  const prefix = new AttentionAccumulator(1, 2, T4, { tau: 0.9, eta: 0.9, mass: 'prefix' });
  for (const acc of [sorted, prefix]) acc.addBatch(0, stack([[M2, R1]]), 1);
  // M2: sorted m* 2, prefix m* 4; R1: 1 in both. k* is 2 and 1 either way.
  assert.equal(sorted.result()[0].avgMass, 1.5);
  assert.equal(prefix.result()[0].avgMass, 2.5);
  assert.equal(sorted.result()[0].maxRank, 2);
  assert.equal(prefix.result()[0].maxRank, 2);
});

test('AttentionAccumulator.addBatch reads [B, H, T, T] as add() per (sequence, head) and rejects other lengths', () => {
  const rand = seededRandom(5);
  const B = 3;
  const H = 2;
  const data = new Float32Array(B * H * T4 * T4).map(() => rand());
  const batched = new AttentionAccumulator(1, H, T4, opts);
  batched.addBatch(0, data, B);
  const single = new AttentionAccumulator(1, H, T4, opts);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) single.add(0, h, data.subarray((b * H + h) * 16, (b * H + h + 1) * 16));
  assert.deepEqual(batched.result(), single.result());
  // Per head, by hand: head h's rank is the mean of approxRank over its B matrices.
  for (let h = 0; h < H; h++) {
    let sum = 0;
    for (let b = 0; b < B; b++) sum += approxRank(data, T4, 0.9, (b * H + h) * 16);
    assert.equal(batched.result()[0].heads[h].rank, sum / B);
  }
  assert.throws(() => batched.addBatch(0, data, B + 1), /attention of layer 0: 96 values, expected 4x2x4x4/);
});

test('lazyLayers lists 0-based indices; describeLazy numbers layers from 1', () => {
  const stats = threeLayerStats();
  assert.deepEqual(lazyLayers(stats), [1]);
  // Layer 3 (MaxRank 1.5) is in the paper's lazy group though not strictly lazy.
  assert.deepEqual(nearLazyLayers(stats), [1, 2]);
  assert.equal(
    describeLazy(stats),
    "1 of 3 layers are lazy (every head rank 1 on every window): layer 2. Near-lazy (floor(MaxRank) = 1, the paper's lazy group): 2 of 3, layers 2, 3.",
  );

  const lazyAt = (flags: boolean[]): LayerStats[] =>
    flags.map((lazy, layer) => ({ layer, lazy, nearLazy: lazy, maxRank: lazy ? 1 : 2 + layer, avgMass: 1, heads: [] }));
  assert.deepEqual(lazyLayers(lazyAt([false, true, false, true, true])), [1, 3, 4]);
  assert.equal(describeLazy(lazyAt([false, true, false, true, true])), '3 of 5 layers are lazy (every head rank 1 on every window): layers 2, 4, 5.');
  const none = lazyAt([false, false, false]);
  none[2].maxRank = 1.25;
  none[2].nearLazy = true;
  assert.deepEqual(lazyLayers(none), []);
  assert.deepEqual(nearLazyLayers(none), [2]);
  assert.equal(
    describeLazy(none),
    "No lazy layers: every layer has a head above rank 1 (lowest MaxRank 1.25 at layer 3). Near-lazy (floor(MaxRank) = 1, the paper's lazy group): 1 of 3, layer 3.",
  );
});

test('nearLazy is floor(MaxRank) = 1: MaxRank 1 and 1.99 are near-lazy, 2 and 0 (an all-zero head) are not', () => {
  const T = 4;
  const colZero = new Float32Array(T * T);
  for (let r = 0; r < T; r++) colZero[r * T] = 1; // k* = 1
  const ident = new Float32Array(T * T);
  for (let r = 0; r < T; r++) ident[r * T + r] = 1; // k* = ceil(0.9 * 4) = 4
  const acc = new AttentionAccumulator(3, 1, T, { tau: 0.9, eta: 0.9, mass: 'sorted' });
  acc.add(0, 0, colZero);
  acc.add(0, 0, colZero);
  acc.add(1, 0, colZero);
  acc.add(1, 0, ident); // mean rank 2.5
  acc.add(2, 0, new Float32Array(T * T));
  const r = acc.result();
  assert.deepEqual(r.map((l) => [l.maxRank, l.lazy, l.nearLazy]), [[1, true, true], [2.5, false, false], [0, false, false]]);
});

test('rank-of-mean: Rank(h,l) and m(h,l) are k* and m* of the mean matrix over the windows, not the mean of per-window values', () => {
  const T = 10;
  const colZero = new Float32Array(T * T);
  for (let r = 0; r < T; r++) colZero[r * T] = 1; // every window: k* = 1, m* = 1
  const ident = new Float32Array(T * T);
  for (let r = 0; r < T; r++) ident[r * T + r] = 1; // k* = m* = 9
  const mean = new Float32Array(T * T).map((_, i) => (colZero[i] + ident[i]) / 2);
  const o = { tau: 0.9, eta: 0.9, mass: 'sorted' as const };
  const ranks = new AttentionAccumulator(1, 1, T, { ...o, convention: 'mean-of-ranks' });
  const ofMean = new AttentionAccumulator(1, 1, T, { ...o, convention: 'rank-of-mean' });
  for (const acc of [ranks, ofMean]) {
    acc.addBatch(0, colZero, 1);
    acc.addBatch(0, ident, 1);
  }
  assert.deepEqual(ranks.result()[0].heads, [{ rank: 5, mass: 5 }]);
  const want = { rank: approxRank(mean, T, 0.9), mass: columnMass(mean, T, 0.9, 'sorted') };
  assert.deepEqual(ofMean.result()[0].heads, [want]);
  // numpy (np.linalg.svd, column masses sorted) on (E0 + I) / 2 gives k* = 8 and m* = 8, not the 5 of the per-window mean.
  assert.deepEqual(want, { rank: 8, mass: 8 });
  // A head rank 1 on every window with the same matrix has rank 1 in both conventions.
  const same = new AttentionAccumulator(1, 1, T, { ...o, convention: 'rank-of-mean' });
  same.add(0, 0, colZero);
  same.add(0, 0, colZero);
  assert.deepEqual(same.result()[0], { layer: 0, maxRank: 1, avgMass: 1, lazy: true, nearLazy: true, heads: [{ rank: 1, mass: 1 }] });
});

// -------------------------------------------------------------------------------------------------
// analyzeAttention end to end

const tiny: GPT2Config = {
  family: 'gpt2',
  vocabSize: 64,
  nPositions: 16,
  nEmbd: 32,
  nLayer: 3,
  nHead: 4,
  nInner: 128,
  layerNormEpsilon: 1e-5,
  bias: true,
  scaleAttnByInverseLayerIdx: true,
  tieWordEmbeddings: true,
};

test('analyzeAttention on a tiny GPT-2 equals approxRank/columnMass of model.forward attention, fields as passed', async () => {
  await initBackend('cpu');
  // Larger weights than GPT-2's init so the attention is far from uniform and ranks vary by head.
  const weights = initWeightsOf(tiny, 1);
  for (const [name, t] of weights) if (name.includes('c_attn.weight')) t.data.forEach((x, i) => (t.data[i] = x * 60));
  const model = new GPT2(tiny, weights);
  const rand = seededRandom(2);
  const tokens = Int32Array.from({ length: 400 }, () => Math.floor(rand() * tiny.vocabSize));
  try {
    for (const mass of ['sorted', 'prefix'] as const) {
      const o: AnalysisOptions = { sequences: 6, seqLen: 12, windows: 'random', seed: 3, tau: 0.8, eta: 0.7, mass, batchSize: 4 };
      const starts = analysisStarts(tokens.length, o, 'tokens');
      assert.equal(starts.length, 6);
      const before = tf.memory().numTensors;
      const r = await analyzeAttention(model, tokens, starts, o);
      assert.equal(tf.memory().numTensors, before, 'analyzeAttention leaked tensors');
      assert.equal(r.sequences, 6);
      assert.equal(r.seqLen, 12);
      assert.equal(r.tau, 0.8);
      assert.equal(r.eta, 0.7);
      assert.equal(r.layers.length, tiny.nLayer);

      // The same windows in one forward pass, reduced here head by head.
      const T = o.seqLen;
      const inputs = tf.tensor2d(starts.map((s) => Array.from(tokens.subarray(s, s + T))), [starts.length, T], 'int32');
      const { logits, attention } = model.forward(inputs, { attention: true });
      inputs.dispose();
      logits.dispose();
      assert.equal(attention.length, tiny.nLayer);
      const ranksSeen = new Set<number>();
      for (let l = 0; l < tiny.nLayer; l++) {
        assert.deepEqual(attention[l].shape, [starts.length, tiny.nHead, T, T]);
        const data = attention[l].dataSync();
        attention[l].dispose();
        const ranks: number[] = [];
        const masses: number[] = [];
        for (let h = 0; h < tiny.nHead; h++) {
          let rank = 0;
          let m = 0;
          for (let b = 0; b < starts.length; b++) {
            const k = approxRank(data, T, o.tau, (b * tiny.nHead + h) * T * T);
            ranksSeen.add(k);
            rank += k;
            m += columnMass(data, T, o.eta, mass, (b * tiny.nHead + h) * T * T);
          }
          ranks.push(rank / starts.length);
          masses.push(m / starts.length);
        }
        const got = r.layers[l];
        assert.equal(got.layer, l);
        assert.deepEqual(got.heads.map((s) => s.rank), ranks, `layer ${l} Rank(h)`);
        assert.deepEqual(got.heads.map((s) => s.mass), masses, `layer ${l} m(h)`);
        assert.equal(got.maxRank, Math.max(...ranks));
        close(got.avgMass, masses.reduce((a, b) => a + b, 0) / masses.length, 1e-12, `layer ${l} AvgMass`);
        assert.equal(got.lazy, got.maxRank === 1);
      }
      assert.ok(ranksSeen.size > 1, `the test model should give varied ranks, got only ${[...ranksSeen]}`);
    }
  } finally {
    model.dispose();
  }
});

test('analysisStarts: N random or contiguous windows inside the data; exactly one window of data is accepted; too little names the source', () => {
  const o: AnalysisOptions = { sequences: 5, seqLen: 10, windows: 'random', seed: 1, tau: 0.9, eta: 0.9, mass: 'sorted' };
  const random = analysisStarts(100, o, 'val.bin');
  assert.equal(random.length, 5);
  assert.ok(random.every((s) => Number.isInteger(s) && s >= 0 && s + 10 <= 100), `${random}`);
  assert.deepEqual(analysisStarts(100, o, 'val.bin'), random, 'same seed, same windows');
  assert.deepEqual(analysisStarts(100, { ...o, windows: 'contiguous' }, 'val.bin'), [0, 10, 20, 30, 40]);
  assert.deepEqual(analysisStarts(25, { ...o, windows: 'contiguous' }, 'val.bin'), [0, 10], 'only as many contiguous windows as fit');
  // Analysis windows need no target token, so data of exactly seqLen tokens is one window.
  assert.deepEqual(analysisStarts(10, o, 'val.bin'), [0, 0, 0, 0, 0]);
  assert.deepEqual(analysisStarts(10, { ...o, windows: 'contiguous' }, 'val.bin'), [0]);
  assert.throws(() => analysisStarts(9, o, 'val.bin'), /^InherituneError: val\.bin: has 9 tokens, fewer than one window of 10$/);
});

test('paperWindowsNote: silent at 100 x 100 or more; otherwise says how many and why (the model\'s positions, or the setting)', () => {
  assert.equal(paperWindowsNote(100, 100, 1024), undefined);
  assert.equal(paperWindowsNote(200, 128, 1024), undefined);
  assert.equal(
    paperWindowsNote(8, 64, 1024),
    "analysis on 8 windows of 64 tokens, fewer than the paper's 100 x 100 because analysis.sequences / analysis.seq_len are set so (the config defaults keep runs quick; 100 and 100 give figures comparable with the paper)",
  );
  assert.equal(paperWindowsNote(100, 32, 32, '--seq-len asks for it'), "analysis on 100 windows of 32 tokens, fewer than the paper's 100 x 100 because the model has only 32 positions");
  assert.equal(paperWindowsNote(10, 32, 32, '--sequences asks for it'), "analysis on 10 windows of 32 tokens, fewer than the paper's 100 x 100 because the model has only 32 positions, and --sequences asks for it");
});
