/**
 * The native kernels: installs them over tfjs's wasm and cpu kernels when the addon loads, and
 * says once, on one line, why not when it does not (the engine then runs tfjs's own kernels).
 */
import * as os from 'node:os';
import * as tf from '../tf.js';
import { loadAddon, type NativeAddon } from './addon.js';
import { memoryFor, NATIVE_KERNELS, type BackendKind, type Memory } from './kernels.js';

export { loadAddon } from './addon.js';

const BACKENDS: readonly BackendKind[] = ['wasm', 'cpu'];

/** The kernels replaced, to restore them. */
const replaced = new Map<string, tf.KernelConfig>();
let noticeShown = false;
let heapTuned = false;

export interface NativeStatus {
  /** True while the native kernels are registered. */
  active: boolean;
  /** e.g. "OpenBLAS 0.3.21 ... Haswell"; absent when inactive. */
  blas?: string;
  threads?: number;
  /** Why the native kernels are not in use. */
  reason?: string;
  kernels: string[];
}

const key = (kernel: string, backend: string) => `${backend}/${kernel}`;

/** Threads for the BLAS: INHERITUNE_THREADS, else one per available core. */
function defaultThreads(): number {
  const env = Number(process.env.INHERITUNE_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

function register(addon: NativeAddon): void {
  for (const backendName of BACKENDS) {
    for (const [kernelName, { make, backends }] of NATIVE_KERNELS) {
      if (backends !== undefined && !backends.includes(backendName)) continue;
      const k = key(kernelName, backendName);
      if (replaced.has(k)) continue;
      const original = tf.getKernel(kernelName, backendName);
      if (original === undefined) continue;
      const fallback = original.kernelFunc;
      tf.unregisterKernel(kernelName, backendName);
      // The original's setup (wasm kernels bind their functions in it) still runs with ours, so the
      // fallback works whether or not the backend was initialised before this.
      tf.registerKernel({ ...original, kernelFunc: make(addon, backendName, fallback) });
      replaced.set(k, original);
    }
  }
}

/**
 * Registers the native kernels (once per process). Where the addon cannot load, prints one notice
 * line on stderr (once, and only when `backend` is one they serve) and leaves tfjs's kernels in
 * place. Never throws.
 */
export function installNativeKernels(opts: { quiet?: boolean; backend?: string } = {}): NativeStatus {
  const loaded = loadAddon();
  if (loaded.addon === undefined) {
    const relevant = opts.backend === undefined || (BACKENDS as readonly string[]).includes(opts.backend);
    if (!noticeShown && relevant && !opts.quiet && process.env.INHERITUNE_NATIVE !== '0') {
      process.stderr.write(`note: native kernels unavailable, using tfjs's own (slower): ${loaded.reason}\n`);
    }
    noticeShown = true;
    return nativeStatus();
  }
  if (replaced.size === 0) loaded.addon.setThreads(defaultThreads());
  register(loaded.addon);
  // The cpu backend's tensors are malloc'd JavaScript arrays. Keeping large blocks in malloc's heap
  // (INHERITUNE_MALLOC=keep) saved page faults when every op made large temporaries; with the fused
  // training kernels it no longer pays (GPT-2-small training: same step time, 150 MB more peak RSS
  // from the heap's fragmentation), so glibc's default, which returns large blocks, is kept.
  if (opts.backend === 'cpu' && !heapTuned && process.env.INHERITUNE_MALLOC === 'keep') heapTuned = loaded.addon.keepHeapMemory();
  return nativeStatus();
}

/** Puts tfjs's own kernels back (tests compare the two). */
export function uninstallNativeKernels(): void {
  for (const original of replaced.values()) {
    tf.unregisterKernel(original.kernelName, original.backendName);
    tf.registerKernel(original);
  }
  replaced.clear();
}

/** Sets the BLAS thread count (no effect without the addon). */
export function setNativeThreads(n: number): void {
  loadAddon().addon?.setThreads(n);
}

/**
 * The addon and the current backend's memory when the native kernels serve that backend, for the
 * fused operations beyond tfjs's kernels (optimizer step, cross-entropy); undefined otherwise.
 */
export function nativeBackend(): { addon: NativeAddon; kind: BackendKind; memory: Memory } | undefined {
  const addon = loadAddon().addon;
  const kind = tf.getBackend();
  if (addon === undefined || replaced.size === 0 || (kind !== 'wasm' && kind !== 'cpu')) return undefined;
  return { addon, kind, memory: memoryFor(kind, tf.backend()) };
}

export function nativeStatus(): NativeStatus {
  const loaded = loadAddon();
  const kernels = [...new Set([...replaced.values()].map((c) => c.kernelName))];
  if (loaded.addon === undefined) return { active: false, reason: loaded.reason, kernels };
  if (replaced.size === 0) return { active: false, reason: 'not installed', blas: loaded.addon.blasInfo(), kernels };
  return { active: true, blas: loaded.addon.blasInfo(), threads: loaded.addon.threads(), kernels };
}
