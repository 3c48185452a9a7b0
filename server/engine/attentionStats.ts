/**
 * Lazy-layer statistics of attention matrices (method.md section 5).
 *
 * For one post-softmax matrix A (T x T, rows = queries):
 * - k*(A): the smallest k whose k largest squared singular values reach tau of ||A||_F^2. The squared
 *   singular values are the eigenvalues of A^T A, computed here in float64 by Householder
 *   tridiagonalisation and implicit QL (eigenvalues only: about T^3 flops a matrix); on the native
 *   kernels, a batch's float32 matrices at once, by LAPACK (dsytrd, dsterf) on the BLAS threads.
 * - m*(A): the smallest number of columns whose mass c_j = ||A[:, j]||^2 / ||A||_F^2 reaches eta,
 *   taking columns by decreasing mass ('sorted', the paper's prose) or in index order ('prefix', the
 *   paper's formula).
 * Rank(h,l) and m(h,l) are means over sequences ('mean-of-ranks', the paper's definition), or k* and
 * m* of the head's MEAN matrix over the sequences ('rank-of-mean', what the authors' notebook plots);
 * MaxRank(l) is the max over heads, AvgMass(l) the mean.
 */
import { ANALYSIS_CONVENTIONS, type AnalysisConvention } from '../protocol/config.js';
import { InherituneError } from './errors.js';
import { loadAddon } from './native/addon.js';

export type MassMode = 'sorted' | 'prefix';
export { ANALYSIS_CONVENTIONS, type AnalysisConvention };

export interface StatsOptions {
  tau: number;
  eta: number;
  mass: MassMode;
  /** Default 'mean-of-ranks'. */
  convention?: AnalysisConvention;
}

export interface HeadStats {
  /** Rank(h,l): mean k* over the sequences. */
  rank: number;
  /** m(h,l): mean m* over the sequences. */
  mass: number;
}

export interface LayerStats {
  /** 0-based. */
  layer: number;
  maxRank: number;
  avgMass: number;
  /** MaxRank(l) = 1: every head was rank 1 on every sequence. */
  lazy: boolean;
  /** floor(MaxRank(l)) = 1: the paper's lazy group (near rank 1), a superset of `lazy`. */
  nearLazy: boolean;
  heads: HeadStats[];
}

/**
 * Cumulative sums are compared with a relative slack so that ties that are exact in real arithmetic
 * (identity: k of T equal values reaching exactly tau) are not lost to rounding.
 */
const SLACK = 1e-9;

/** Smallest count of `values` (taken in the given order) whose running sum reaches `fraction` of `total`. */
function countToReach(values: ArrayLike<number>, total: number, fraction: number): number {
  if (total <= 0) return 0;
  const goal = fraction * total - SLACK * total;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (sum >= goal) return i + 1;
  }
  return values.length;
}

/**
 * Eigenvalues of the symmetric n x n matrix `a` (row-major, float64, overwritten), unsorted.
 * Householder reduction to tridiagonal form, then the implicit QL algorithm with Wilkinson shifts
 * (Numerical Recipes' tred2/tqli, without eigenvectors).
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    const ri = i * n;
    let h = 0;
    if (l > 0) {
      let scale = 0;
      for (let k = 0; k <= l; k++) scale += Math.abs(a[ri + k]);
      if (scale === 0) {
        e[i] = a[ri + l];
      } else {
        for (let k = 0; k <= l; k++) {
          a[ri + k] /= scale;
          h += a[ri + k] * a[ri + k];
        }
        let f = a[ri + l];
        let g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
        e[i] = scale * g;
        h -= f * g;
        a[ri + l] = f - g;
        f = 0;
        for (let j = 0; j <= l; j++) {
          g = 0;
          for (let k = 0; k <= j; k++) g += a[j * n + k] * a[ri + k];
          for (let k = j + 1; k <= l; k++) g += a[k * n + j] * a[ri + k];
          e[j] = g / h;
          f += e[j] * a[ri + j];
        }
        const hh = f / (h + h);
        for (let j = 0; j <= l; j++) {
          f = a[ri + j];
          g = e[j] - hh * f;
          e[j] = g;
          const rj = j * n;
          for (let k = 0; k <= j; k++) a[rj + k] -= f * e[k] + g * a[ri + k];
        }
      }
    } else {
      e[i] = a[ri + l];
    }
    d[i] = h;
  }
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];

  // e[i] now couples rows i-1 and i; QL wants it to couple i and i+1.
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m !== l) {
        if (iter++ === 60) throw new Error('symmetricEigenvalues: QL iteration did not converge');
        let g = (d[l + 1] - d[l]) / (2 * e[l]);
        let r = Math.hypot(g, 1);
        g = d[m] - d[l] + e[l] / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
        let s = 1;
        let c = 1;
        let p = 0;
        let i: number;
        for (i = m - 1; i >= l; i--) {
          const f = s * e[i];
          const b = c * e[i];
          r = Math.hypot(f, g);
          e[i + 1] = r;
          if (r === 0) {
            d[i + 1] -= p;
            e[m] = 0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
        }
        if (r === 0 && i >= l) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
  return d;
}

/** Squared singular values of the T x T matrix at `offset` in `data`, in decreasing order. */
export function singularValuesSquared(data: ArrayLike<number>, T: number, offset = 0): Float64Array {
  // G = A^T A, whose eigenvalues are the s_i^2. Only the lower triangle is read by the reduction.
  const g = new Float64Array(T * T);
  for (let r = 0; r < T; r++) {
    const row = offset + r * T;
    for (let i = 0; i < T; i++) {
      const ai = data[row + i];
      if (ai === 0) continue;
      const gi = i * T;
      for (let j = 0; j <= i; j++) g[gi + j] += ai * data[row + j];
    }
  }
  for (let i = 0; i < T; i++) for (let j = 0; j < i; j++) g[j * T + i] = g[i * T + j];
  const ev = symmetricEigenvalues(g, T);
  // A^T A is positive semi-definite; rounding can leave tiny negative eigenvalues.
  for (let i = 0; i < T; i++) if (ev[i] < 0) ev[i] = 0;
  return ev.sort().reverse();
}

/**
 * Squared singular values of `count` consecutive T x T matrices from `offset`, T a matrix, each
 * decreasing: float32 matrices on the native kernels when the addon loads (all at once, on its
 * threads: some 10x faster), others one by one here.
 */
export function singularValuesSquaredOf(data: ArrayLike<number>, T: number, count: number, offset = 0): Float64Array {
  const out = new Float64Array(count * T);
  const addon = loadAddon().addon;
  if (addon !== undefined && data instanceof Float32Array) addon.singularValuesSquared(data, offset, count, T, out, 0);
  else for (let m = 0; m < count; m++) out.set(singularValuesSquared(data, T, offset + m * T * T), m * T);
  return out;
}

/** k* from a matrix's squared singular values in decreasing order. */
function rankOf(s2: ArrayLike<number>, tau: number): number {
  let total = 0;
  for (let i = 0; i < s2.length; i++) total += s2[i];
  return countToReach(s2, total, tau);
}

/** k*: the approximate rank of the T x T matrix at `offset` (0 for an all-zero matrix). */
export function approxRank(data: ArrayLike<number>, T: number, tau: number, offset = 0): number {
  return rankOf(singularValuesSquared(data, T, offset), tau);
}

/** m*: the number of columns of the T x T matrix at `offset` whose mass reaches eta. */
export function columnMass(data: ArrayLike<number>, T: number, eta: number, mode: MassMode, offset = 0): number {
  const cols = new Float64Array(T);
  let total = 0;
  for (let r = 0; r < T; r++) {
    const row = offset + r * T;
    for (let j = 0; j < T; j++) {
      const v = data[row + j] * data[row + j];
      cols[j] += v;
      total += v;
    }
  }
  if (mode === 'sorted') cols.sort().reverse();
  return countToReach(cols, total, eta);
}

/**
 * A head whose attention holds NaN or infinity (its model's weights or activations are not
 * finite): the rank of such a matrix is meaningless and its eigenvalues never converge. Callers
 * that know the model's file name it (analysisOf).
 */
export class NonFiniteAttention extends InherituneError {
  constructor(
    readonly layer: number,
    readonly head: number,
  ) {
    super('attention', `layer ${layer + 1}, head ${head + 1}: the attention is not finite (NaN or infinity), so the model's weights or activations are not finite`);
  }
}

/**
 * Per (layer, head) over sequences, fed one forward pass at a time: sums k* and m* (mean-of-ranks),
 * or sums the matrices themselves (rank-of-mean: k* and m* are taken of their mean at the end).
 */
export class AttentionAccumulator {
  private readonly rankSum: Float64Array;
  private readonly massSum: Float64Array;
  private readonly counts: Int32Array;
  /** rank-of-mean: per slot the T x T sum of the matrices, in float64. */
  private readonly matrixSums: Float64Array[] | undefined;

  constructor(
    readonly nLayer: number,
    readonly nHead: number,
    readonly seqLen: number,
    readonly options: StatsOptions,
  ) {
    this.rankSum = new Float64Array(nLayer * nHead);
    this.massSum = new Float64Array(nLayer * nHead);
    this.counts = new Int32Array(nLayer * nHead);
    if (options.convention === 'rank-of-mean') this.matrixSums = Array.from({ length: nLayer * nHead }, () => new Float64Array(seqLen * seqLen));
  }

  /** One head's matrix for one sequence, at `offset` in `data`. */
  add(layer: number, head: number, data: ArrayLike<number>, offset = 0): void {
    const { tau, eta, mass } = this.options;
    const slot = layer * this.nHead + head;
    this.counts[slot] += 1;
    const sum = this.matrixSums?.[slot];
    if (sum) {
      for (let i = 0; i < sum.length; i++) sum[i] += data[offset + i];
      return;
    }
    this.rankSum[slot] += approxRank(data, this.seqLen, tau, offset);
    this.massSum[slot] += columnMass(data, this.seqLen, eta, mass, offset);
  }

  /** A slot's k* and m* for one sequence, its squared singular values computed already. */
  private addRanked(slot: number, s2: ArrayLike<number>, data: ArrayLike<number>, offset: number): void {
    const { tau, eta, mass } = this.options;
    this.counts[slot] += 1;
    this.rankSum[slot] += rankOf(s2, tau);
    this.massSum[slot] += columnMass(data, this.seqLen, eta, mass, offset);
  }

  /** Rank(h,l) and m(h,l) of one slot under the convention. */
  private headStats(slot: number): HeadStats {
    const n = this.counts[slot];
    if (n === 0) return { rank: 0, mass: 0 };
    const sum = this.matrixSums?.[slot];
    if (!sum) return { rank: this.rankSum[slot] / n, mass: this.massSum[slot] / n };
    const { tau, eta, mass } = this.options;
    const mean = sum.map((v) => v / n);
    return { rank: approxRank(mean, this.seqLen, tau), mass: columnMass(mean, this.seqLen, eta, mass) };
  }

  /** A layer's attention for `batch` sequences: [batch, heads, T, T], row-major. */
  addBatch(layer: number, data: ArrayLike<number>, batch: number): void {
    const T = this.seqLen;
    if (data.length !== batch * this.nHead * T * T) {
      throw new Error(`attention of layer ${layer}: ${data.length} values, expected ${batch}x${this.nHead}x${T}x${T}`);
    }
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < this.nHead; h++) {
        const offset = (b * this.nHead + h) * T * T;
        // O(T^2) beside the O(T^3) rank: a NaN would otherwise surface as a non-converging eigensolver.
        for (let i = offset; i < offset + T * T; i++) if (!Number.isFinite(data[i])) throw new NonFiniteAttention(layer, h);
      }
    }
    if (this.matrixSums) {
      for (let b = 0; b < batch; b++) for (let h = 0; h < this.nHead; h++) this.add(layer, h, data, (b * this.nHead + h) * T * T);
      return;
    }
    // The batch's singular values at once (the costly part), then k* and m* per (sequence, head).
    const s2 = singularValuesSquaredOf(data, T, batch * this.nHead);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < this.nHead; h++) {
        const m = b * this.nHead + h;
        this.addRanked(layer * this.nHead + h, s2.subarray(m * T, (m + 1) * T), data, m * T * T);
      }
    }
  }

  result(): LayerStats[] {
    const layers: LayerStats[] = [];
    for (let l = 0; l < this.nLayer; l++) {
      const heads: HeadStats[] = [];
      for (let h = 0; h < this.nHead; h++) heads.push(this.headStats(l * this.nHead + h));
      const maxRank = Math.max(...heads.map((s) => s.rank));
      const avgMass = heads.reduce((a, s) => a + s.mass, 0) / heads.length;
      layers.push({ layer: l, maxRank, avgMass, lazy: maxRank === 1, nearLazy: Math.floor(maxRank) === 1, heads });
    }
    return layers;
  }
}

/** 0-based indices of the lazy layers. */
export function lazyLayers(layers: readonly LayerStats[]): number[] {
  return layers.filter((l) => l.lazy).map((l) => l.layer);
}

/** 0-based indices of the near-lazy layers (floor(MaxRank) = 1, the paper's lazy group). */
export function nearLazyLayers(layers: readonly LayerStats[]): number[] {
  return layers.filter((l) => l.nearLazy).map((l) => l.layer);
}

/** A one-line verdict (strict, then the near-lazy group), layers numbered from 1 as in the paper's plots. */
export function describeLazy(layers: readonly LayerStats[]): string {
  const lazy = lazyLayers(layers).map((l) => l + 1);
  const near = nearLazyLayers(layers).map((l) => l + 1);
  const list = (xs: number[]) => `layer${xs.length > 1 ? 's' : ''} ${xs.join(', ')}`;
  const nearText = near.length > lazy.length ? ` Near-lazy (floor(MaxRank) = 1, the paper's lazy group): ${near.length} of ${layers.length}, ${list(near)}.` : '';
  if (lazy.length === 0) {
    const lowest = layers.reduce((a, b) => (b.maxRank < a.maxRank ? b : a), layers[0]);
    return `No lazy layers: every layer has a head above rank 1 (lowest MaxRank ${lowest.maxRank.toFixed(2)} at layer ${lowest.layer + 1}).${nearText}`;
  }
  return `${lazy.length} of ${layers.length} layers are lazy (every head rank 1 on every window): ${list(lazy)}.${nearText}`;
}
