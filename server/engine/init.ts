/**
 * GPT-2 initialisation (as HF transformers and nanoGPT do it), computed on the host with a seeded
 * generator so a given seed gives the same weights on every backend.
 */
import type { GPT2Config, HostTensor, TensorShapes } from './gpt2Config.js';
import { modelShapes } from './gpt2Config.js';


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

/**
 * A freshly initialised tensor: weights ~ N(0, 0.02), the residual projections (`c_proj`) scaled by
 * 1/sqrt(2 * nLayer) (GPT-2 paper), biases 0, LayerNorm gains 1.
 */
export function initTensor(cfg: GPT2Config, name: string, shape: number[], rand: () => number): HostTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const isNorm = /(^|\.)ln_(1|2|f)\./.test(name);
  if (isNorm && name.endsWith('.weight')) data.fill(1);
  else if (!name.endsWith('.bias')) {
    const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * cfg.nLayer) : 0.02;
    fillNormal(data, std, rand);
  }
  return { shape: [...shape], data };
}

/** Every tensor of `shapes`, initialised in order by `init` from one seeded generator. */
export function initAll(shapes: TensorShapes, seed: number, init: (name: string, shape: number[], rand: () => number) => HostTensor): Map<string, HostTensor> {
  const rand = seededRandom(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of shapes) out.set(name, init(name, shape, rand));
  return out;
}

/** Every tensor of a fresh GPT-2. */
export function initWeights(cfg: GPT2Config, seed: number): Map<string, HostTensor> {
  return initAll(modelShapes(cfg), seed, (name, shape, rand) => initTensor(cfg, name, shape, rand));
}
