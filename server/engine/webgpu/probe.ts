/**
 * Whether `auto` should train on the GPU: only a hardware adapter, and only when a short probe of the
 * run's own matrix products is faster there than on the CPU path. The probe's timings are cached
 * per adapter and shapes, so a machine pays for it once.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../tf.js';
import type { AdapterSummary } from './device.js';

/** A matrix product [m, k] x [k, n]. */
export type MatmulShape = [m: number, k: number, n: number];

/** A GPT-2-small training step's products (4 x 128 tokens, d 768), when the caller names none. */
export const DEFAULT_MATMULS: MatmulShape[] = [
  [512, 768, 2304],
  [512, 768, 3072],
  [512, 3072, 768],
];

/** The products of a decoder's step: attention projections and the MLP for `tokens` rows. */
export function decoderMatmuls(tokens: number, width: number, inner: number): MatmulShape[] {
  return [
    [tokens, width, 3 * width],
    [tokens, width, inner],
    [tokens, inner, width],
  ];
}

export interface ProbeTimes {
  gpuSeconds: number;
  cpuSeconds: number;
}

export function probeCacheFile(): string {
  const dir = process.env.INHERITUNE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'inheritune');
  return path.join(dir, 'webgpu-probe.json');
}

function cacheKey(a: AdapterSummary, shapes: MatmulShape[]): string {
  return `${a.vendor}|${a.architecture}|${a.description}|${shapes.map((s) => s.join('x')).join(',')}`;
}

export function readProbeCache(file: string, a: AdapterSummary, shapes: MatmulShape[]): ProbeTimes | undefined {
  try {
    const all = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, ProbeTimes>;
    const t = all[cacheKey(a, shapes)];
    return t !== undefined && Number.isFinite(t.gpuSeconds) && Number.isFinite(t.cpuSeconds) ? t : undefined;
  } catch {
    return undefined; // No cache yet, or unreadable: probe again.
  }
}

export function writeProbeCache(file: string, a: AdapterSummary, shapes: MatmulShape[], t: ProbeTimes): void {
  let all: Record<string, ProbeTimes> = {};
  try {
    all = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, ProbeTimes>;
  } catch {
    // Start a new cache.
  }
  all[cacheKey(a, shapes)] = t;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp-${process.pid}`, JSON.stringify(all));
    fs.renameSync(`${file}.tmp-${process.pid}`, file);
  } catch {
    // A read-only cache only costs a probe next time.
  }
}

/** Median seconds of one round of the products on the active backend (after a warm-up round). */
export async function timeMatmuls(shapes: MatmulShape[], rounds = 3): Promise<number> {
  const pairs = shapes.map(([m, k, n]) => [tf.randomUniform([m, k]), tf.randomUniform([k, n])] as const);
  const once = async () => {
    const t0 = performance.now();
    const outs = pairs.map(([a, b]) => tf.matMul(a, b));
    // One read of a scalar waits for every product (the queue runs in order).
    const s = tf.tidy(() => tf.addN(outs.map((o) => o.sum())));
    await s.data();
    s.dispose();
    for (const o of outs) o.dispose();
    return (performance.now() - t0) / 1000;
  };
  try {
    await once();
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) times.push(await once());
    return times.sort((x, y) => x - y)[Math.floor(rounds / 2)];
  } finally {
    for (const [a, b] of pairs) {
      a.dispose();
      b.dispose();
    }
  }
}

/** The decision `auto` makes and the line that says why. */
export function webgpuVerdict(a: AdapterSummary, t: ProbeTimes | undefined, probeError?: string): { use: boolean; why: string } {
  if (a.fallback) return { use: false, why: 'it is a software adapter (slower than the CPU path; --backend webgpu uses it anyway)' };
  if (t === undefined) return { use: false, why: `its probe failed${probeError ? `: ${probeError}` : ''}` };
  const ratio = t.cpuSeconds / t.gpuSeconds;
  const figures = `probe of the run's matrix products: ${(t.gpuSeconds * 1000).toFixed(1)} ms on it, ${(t.cpuSeconds * 1000).toFixed(1)} ms on the CPU path`;
  return ratio > 1 ? { use: true, why: `${figures} (${ratio.toFixed(1)}x faster)` } : { use: false, why: `${figures}: not faster` };
}
