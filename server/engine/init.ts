/**
 * Seeded randomness for weight initialisation, computed on the host so a given seed gives the same
 * weights on every backend. Each family's init rule is in its own config module.
 */
import type { HostTensor, TensorShapes } from './familyOps.js';

/** mulberry32: small, fast, seedable; quality is ample for weight initialisation. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** N(0, std^2) values from a seeded uniform generator, into `out`. */
export function fillNormal(out: Float32Array, std: number, rand: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    // Box-Muller: two independent normals per pair of uniforms.
    const u = Math.max(rand(), 1e-12);
    const r = std * Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * rand();
    out[i] = r * Math.cos(theta);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
  }
}

/** Every tensor of `shapes`, initialised in order by `init` from one seeded generator. */
export function initAll(shapes: TensorShapes, seed: number, init: (name: string, shape: number[], rand: () => number) => HostTensor): Map<string, HostTensor> {
  const rand = seededRandom(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of shapes) out.set(name, init(name, shape, rand));
  return out;
}
