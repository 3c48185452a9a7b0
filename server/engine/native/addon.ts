/**
 * Finding and loading the optional native addon (native/): in a checkout, what node-gyp-build finds
 * in native/ (a local build in native/build/Release, else the prebuilt one for this platform in
 * native/prebuilds/); in the bundle, dist/inheritune_native.node beside it (copied there by
 * scripts/build.mjs). INHERITUNE_NATIVE=0 turns it off; INHERITUNE_NATIVE_PATH names a specific file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import abiFile from './abi.json';

/** abi.json: the version of the addon's functions' arguments this engine calls. */
const ABI: number = abiFile.abi;

/** The op codes of binary(), unary() and reduce() (addon.cc's BinaryOp, UnaryOp and ReduceOp). */
export const BinaryOp = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, squaredDifference: 5, maximum: 6, minimum: 7, squaredDifferenceF64: 8 } as const;
export const UnaryOp = { tanh: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, square: 5, neg: 6, abs: 7, sigmoid: 8, reciprocal: 9, copy: 10 } as const;
export const ReduceOp = { sum: 0, mean: 1, max: 2, min: 3 } as const;

/** The addon's functions (native/src/addon.cc). Offsets and strides count float32 elements. */
export interface NativeAddon {
  /**
   * For b < batch: C[cOff + b*M*N ..] (M x N, row-major) = op(A at aOff + b*aStride) @ op(B at bOff + b*bStride),
   * op(A) M x K (stored K x M when transA), op(B) K x N (stored N x K when transB); stride 0 broadcasts.
   * With accumulate, the products are added to C's values.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    aOff: number,
    aStride: number,
    B: Float32Array,
    bOff: number,
    bStride: number,
    C: Float32Array,
    cOff: number,
    batch: number,
    accumulate: boolean,
  ): void;
  /**
   * C[cOff ..] = A op B over a broadcast layout [ndim, dims..., aStrides..., bStrides...] (strides of
   * 0 broadcast); op: 0 add, 1 sub, 2 mul, 3 div, 4 pow, 5 squared difference, 6 maximum, 7 minimum,
   * 8 squared difference computed in double.
   */
  binary(op: number, A: Float32Array, aOff: number, B: Float32Array, bOff: number, C: Float32Array, cOff: number, layout: Float64Array): void;
  /** Y = f(X) over n elements; op: 0 tanh, 1 exp, 2 log, 3 sqrt, 4 rsqrt, 5 square, 6 neg, 7 abs, 8 sigmoid, 9 reciprocal, 10 copy. */
  unary(op: number, X: Float32Array, xOff: number, Y: Float32Array, yOff: number, n: number): void;
  /** Y[o, i] = reduction over k of X[o, k, i] for X [outer, r, inner]; op: 0 sum, 1 mean, 2 max, 3 min. */
  reduce(op: number, X: Float32Array, xOff: number, Y: Float32Array, yOff: number, outer: number, r: number, inner: number): void;
  /** Y[yOff + sum i*yStride] = X[xOff + sum i*xStride] over the layout [ndim, dims..., xStrides..., yStrides...]. */
  copy(X: Float32Array, xOff: number, Y: Float32Array, yOff: number, layout: Float64Array): void;
  /** Softmax of each of `rows` rows of `cols` elements. */
  softmax(X: Float32Array, xOff: number, Y: Float32Array, yOff: number, rows: number, cols: number): void;
  /**
   * Causal self-attention of GPT-2 from its fused projection QKV [B, T, 3C] (C = H * D): Y [B, T, C]
   * and the probabilities P [B, H, T, T]; logits scaled by `scale`, masked with -1e9 above the diagonal.
   */
  attention(QKV: Float32Array, qkvOff: number, B: number, T: number, H: number, D: number, scale: number, Y: Float32Array, yOff: number, P: Float32Array, pOff: number): void;
  /** The gradient of attention in QKV, DQKV [B, T, 3C], from its probabilities P and the output's gradient DY [B, T, C]. */
  attentionGrad(
    QKV: Float32Array,
    qkvOff: number,
    P: Float32Array,
    pOff: number,
    DY: Float32Array,
    dyOff: number,
    B: number,
    T: number,
    H: number,
    D: number,
    scale: number,
    DQKV: Float32Array,
    dqkvOff: number,
  ): void;
  /**
   * One AdamW step in place on n elements of P and its moments M, V; hyper = [beta1, 1 - beta1, beta2,
   * 1 - beta2, c1, c2, eps, lr, decay, scale] (scale: the gradient's clipping factor, or 1; float32
   * arithmetic, as the tfjs ops of clipping and train/adamw.ts).
   */
  adamw(P: Float32Array, pOff: number, G: Float32Array, gOff: number, M: Float32Array, mOff: number, V: Float32Array, vOff: number, n: number, hyper: Float64Array): void;
  /** The sum of the squares of n elements of X without the squares' copy (in fixed blocks: the same on any number of threads). */
  sumSquares(X: Float32Array, xOff: number, n: number): number;
  /** Per row of logits X [rows, cols] and target T (< 0: none): NLL[r], E[r, :] = exp(x - max) and S[r] = their sum. */
  xentForward(X: Float32Array, xOff: number, T: Int32Array, tOff: number, NLL: Float32Array, nllOff: number, S: Float32Array, sOff: number, E: Float32Array, eOff: number, rows: number, cols: number): void;
  /** DX = (softmax - onehot(T)) * DY per row from xentForward's E and S (DX may be E); 0 on rows without a target. */
  xentBackward(E: Float32Array, eOff: number, T: Int32Array, tOff: number, S: Float32Array, sOff: number, DY: Float32Array, dyOff: number, DX: Float32Array, dxOff: number, rows: number, cols: number): void;
  /** Y = GPT-2's gelu_new(X) over n elements (the float32 operations of gpt2.ts's tfjs ops). */
  gelu(X: Float32Array, xOff: number, Y: Float32Array, yOff: number, n: number): void;
  /** DX = DY * gelu_new'(X) over n elements. */
  geluGrad(X: Float32Array, xOff: number, DY: Float32Array, dyOff: number, DX: Float32Array, dxOff: number, n: number): void;
  /** Y = layer norm of each row of X [rows, cols] with weight W (and bias B); S[2r..2r+1] = mean, rsqrt. */
  layerNorm(X: Float32Array, xOff: number, W: Float32Array, wOff: number, B: Float32Array, bOff: number, hasBias: boolean, eps: number, Y: Float32Array, yOff: number, S: Float32Array, sOff: number, rows: number, cols: number): void;
  /** The gradients of layerNorm in X, W (and B) from its S. */
  layerNormGrad(X: Float32Array, xOff: number, W: Float32Array, wOff: number, S: Float32Array, sOff: number, DY: Float32Array, dyOff: number, DX: Float32Array, dxOff: number, DW: Float32Array, dwOff: number, DB: Float32Array, dbOff: number, hasBias: boolean, rows: number, cols: number): void;
  /**
   * For each of `count` T x T matrices at X[xOff + m*T*T]: its squared singular values (eigenvalues of
   * A^T A in double), decreasing, into S[sOff + m*T ..]; the matrices shared among the BLAS threads.
   */
  singularValuesSquared(X: Float32Array, xOff: number, count: number, T: number, S: Float64Array, sOff: number): void;
  /** glibc: large blocks from the heap, freed memory kept (see addon.cc); false where not applicable. */
  keepHeapMemory(): boolean;
  setThreads(n: number): void;
  threads(): number;
  blasInfo(): string;
}

const FILE = 'inheritune_native.node';

/**
 * The functions an addon must have, and its `abi` (abi.json, raised when a function's
 * arguments change): one built from older sources is refused (rebuild it).
 */
const REQUIRED = ['gemm', 'binary', 'unary', 'reduce', 'copy', 'softmax', 'attention', 'attentionGrad', 'adamw', 'sumSquares', 'xentForward', 'xentBackward', 'gelu', 'geluGrad', 'layerNorm', 'layerNormGrad', 'singularValuesSquared'] as const;

/** Where the addon may be, most specific first. */
function candidates(): string[] {
  const explicit = process.env.INHERITUNE_NATIVE_PATH;
  if (explicit) return [path.resolve(explicit)];
  const out: string[] = [];
  // A checkout: walk up from this file (server/engine/native/, or dist/ in the bundle) to native/.
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const native = path.join(dir, 'native');
    if (fs.existsSync(path.join(native, 'binding.gyp'))) {
      try {
        out.push(nodeGypBuild.path(native));
      } catch {
        // Neither built nor prebuilt for this platform.
      }
      // node-gyp-build prefers a local build even when it is stale (built from older sources, and
      // refused below): the prebuilt one is the next to try.
      const prebuilt = path.join(native, 'prebuilds', `${process.platform}-${process.arch}`);
      if (fs.existsSync(prebuilt)) {
        for (const f of fs.readdirSync(prebuilt)) if (f.endsWith('.node') && !out.includes(path.join(prebuilt, f))) out.push(path.join(prebuilt, f));
      }
      break;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // Beside the bundle (dist/cli.js -> dist/inheritune_native.node): a packaged extension.
  out.push(path.join(__dirname, FILE));
  return out;
}

export type LoadResult = { addon: NativeAddon; file: string } | { addon: undefined; reason: string };

let cached: LoadResult | undefined;

/** Loads the addon once per process; never throws. */
export function loadAddon(): LoadResult {
  if (cached !== undefined) return cached;
  const flag = process.env.INHERITUNE_NATIVE;
  if (flag === '0' || flag === 'off' || flag === 'false') {
    cached = { addon: undefined, reason: 'turned off by INHERITUNE_NATIVE=0' };
    return cached;
  }
  const files = candidates().filter((f) => fs.existsSync(f));
  if (files.length === 0) {
    cached = { addon: undefined, reason: `${FILE} is neither prebuilt for ${process.platform}-${process.arch} nor built (run \`npm install\`; building needs g++, make, python3 and libopenblas-dev)` };
    return cached;
  }
  // OpenBLAS's idle threads spin for 2^28 cycles before sleeping; on a machine whose cores are
  // busy that spinning takes CPU from the engine's own thread. 2^4: they sleep at once (read when
  // the library loads, below).
  if (process.env.OPENBLAS_THREAD_TIMEOUT === undefined) process.env.OPENBLAS_THREAD_TIMEOUT = '4';
  let reason = '';
  for (const file of files) {
    try {
      const mod = { exports: {} as NativeAddon };
      process.dlopen(mod, file);
      for (const fn of REQUIRED) {
        if (typeof mod.exports[fn] !== 'function') throw new Error(`it lacks ${fn}(); rebuild it with \`npm rebuild\``);
      }
      const abi = (mod.exports as unknown as { abi?: unknown }).abi;
      if (abi !== ABI) throw new Error(`it was built from older sources (abi ${String(abi)}, not ${ABI}); rebuild it with \`npm rebuild\``);
      cached = { addon: mod.exports, file };
      return cached;
    } catch (e) {
      // Keep the first line only: dlopen errors name the missing library.
      reason = `${file} failed to load: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
    }
  }
  cached = { addon: undefined, reason };
  return cached;
}
