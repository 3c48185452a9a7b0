/**
 * Time spent in the native kernels, by kind, for `inheritune bench`: wraps the addon's functions
 * with timers (once per process) and measures the machine's sgemm rate with the same BLAS.
 */
import { loadAddon, type NativeAddon } from './addon.js';

/**
 * The kinds a step's time is split into; matmul: products with one matrix pair (linear layers, the
 * head); attention: batched products, or the fused attention kernel (products, mask and softmax);
 * adamw: the update and the gradient norm that clipping reads.
 */
export const KERNEL_KINDS = ['matmul', 'attention', 'softmax', 'layer_norm', 'gelu', 'adamw', 'cross_entropy', 'elementwise'] as const;
export type KernelKind = (typeof KERNEL_KINDS)[number];

const KIND_OF: Partial<Record<keyof NativeAddon, KernelKind>> = {
  attention: 'attention',
  attentionGrad: 'attention',
  softmax: 'softmax',
  layerNorm: 'layer_norm',
  layerNormGrad: 'layer_norm',
  gelu: 'gelu',
  geluGrad: 'gelu',
  adamw: 'adamw',
  sumSquares: 'adamw',
  xentForward: 'cross_entropy',
  xentBackward: 'cross_entropy',
  binary: 'elementwise',
  unary: 'elementwise',
  reduce: 'elementwise',
  copy: 'elementwise',
};

const totals = new Map<KernelKind, number>();
let installed = false;

/** Starts timing the addon's kernels (no effect without the addon); returns false without it. */
export function profileKernels(): boolean {
  const addon = loadAddon().addon as unknown as Record<string, (...args: unknown[]) => unknown> | undefined;
  if (addon === undefined) return false;
  if (installed) return true;
  installed = true;
  for (const [name, fn] of Object.entries(addon)) {
    if (typeof fn !== 'function') continue;
    const fixed = name === 'gemm' ? undefined : KIND_OF[name as keyof NativeAddon];
    if (name !== 'gemm' && fixed === undefined) continue;
    addon[name] = (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return fn(...args);
      } finally {
        // gemm's last argument is its batch count.
        const kind = fixed ?? ((args[13] as number) > 1 ? 'attention' : 'matmul');
        totals.set(kind, (totals.get(kind) ?? 0) + performance.now() - t0);
      }
    };
  }
  return true;
}

/** Milliseconds per kind since the last reset. */
export function kernelTimes(): Record<KernelKind, number> {
  return Object.fromEntries(KERNEL_KINDS.map((k) => [k, totals.get(k) ?? 0])) as Record<KernelKind, number>;
}

export function resetKernelTimes(): void {
  totals.clear();
}

/**
 * The BLAS's sgemm rate on this machine now, GFLOP/s: the median of 21 n x n x n products after 3
 * unmeasured ones (n = 1024: as large as the engine's; about 0.3 s in all), under the same load as
 * the steps it is compared with; undefined without the addon. Fewer swung by 25% between runs on an
 * idle machine (the rate climbs over the first products).
 */
export function sgemmRate(n = 1024, reps = 21): number | undefined {
  const addon = loadAddon().addon;
  if (addon === undefined) return undefined;
  const a = new Float32Array(n * n).fill(0.5);
  const b = new Float32Array(n * n).fill(0.25);
  const c = new Float32Array(n * n);
  const times: number[] = [];
  const warmup = 3;
  for (let i = 0; i < reps + warmup; i++) {
    const t0 = performance.now();
    addon.gemm(false, false, n, n, n, a, 0, 0, b, 0, 0, c, 0, 1, false);
    if (i >= warmup) times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  return (2 * n * n * n) / (times[times.length >> 1] * 1e6);
}
