/**
 * The paper's comparison models (method.md section 6; arXiv 2404.08634 Table 1), each trained with the
 * run's data and seed for the run's steps (scratch_2x: twice). n = the derived model's layers, k = the
 * reference's, h = ceil(n / 2):
 *
 * - scratch / scratch_2x: n layers, random init.
 * - stacking (Gong et al. 2019, "Efficient Training of BERT by Progressively Stacking", ICML): an
 *   h-layer model from random init trained for floor(T/2) steps (stage 1), then its trained blocks
 *   stacked, block i <- trained block (i mod h) for i < n (embeddings, positions, final norm kept), and
 *   trained for the remaining T - floor(T/2) steps with a fresh optimizer and schedule. One doubling,
 *   as the paper's baseline; the total is T steps.
 * - hybrid_stacking (method.md): the reference's first h blocks placed twice, block i <- reference
 *   block (i mod h), embeddings and the rest as Inheritune inherits them; trained T steps.
 * - half_width: n layers, half the width, heads (and key/value heads) and MLP width, random init.
 * - kd: n layers, DistilBERT-style init (Sanh et al. 2019: one reference block out of k/n, block i <-
 *   reference block floor(i * k / n), the rest as Inheritune inherits it), trained T steps on the
 *   distillation loss of train/distill.ts with the reference as teacher.
 * - full_scratch: the reference's shape (k layers), random init.
 *
 * A copied block keeps its new index i, so with inverse-layer-index attention scaling it is scaled by
 * 1/(i + 1), not by its source's index.
 */
import { InherituneError } from '../errors.js';
import { inheritFromReference, type InheritOptions } from '../inherit.js';
import { blockShapesOf, initWeightsOf, shapesOf, type HostTensor, type ModelConfig } from '../modelFamily.js';
import type { Baseline } from '../../protocol/config.js';

export interface Weights {
  config: ModelConfig;
  tensors: Map<string, HostTensor>;
}

/** Steps a baseline trains (stacking: both stages together). */
export function baselineSteps(name: Baseline, steps: number): number {
  return name === 'scratch_2x' ? 2 * steps : steps;
}

/** Stacking's two stages: stage 1 trains `first` steps at h layers, stage 2 the rest at n layers. */
export function stackingStages(steps: number, layers: number): { first: number; second: number; half: number } {
  if (steps < 2) throw new InherituneError('baselines', `stacking trains two stages of half the steps each: it needs train.steps >= 2, got ${steps}`);
  if (layers < 2) throw new InherituneError('baselines', `stacking doubles a model of half the layers: it needs at least 2 layers, got ${layers}`);
  const first = Math.floor(steps / 2);
  return { first, second: steps - first, half: Math.ceil(layers / 2) };
}

/**
 * A model of `layers` blocks whose block i is block `sourceOf(i)` of `source` (bitwise: the same
 * data), and whose tensors outside the blocks are `source`'s.
 */
export function remapBlocks(source: Weights, layers: number, sourceOf: (i: number) => number): Weights {
  const config: ModelConfig = { ...source.config, nLayer: layers };
  const tensors = new Map<string, HostTensor>();
  const blockNames = new Set<string>();
  for (let i = 0; i < layers; i++) {
    const j = sourceOf(i);
    if (!Number.isInteger(j) || j < 0 || j >= source.config.nLayer) throw new Error(`block ${i} maps to block ${j} of a ${source.config.nLayer}-block model`);
    // A family lists a block's tensors in the same order for every index.
    const from = [...blockShapesOf(source.config, j).keys()];
    const to = [...blockShapesOf(config, i).keys()];
    to.forEach((name, k) => {
      tensors.set(name, take(source, from[k]));
      blockNames.add(name);
    });
  }
  const ordered = new Map<string, HostTensor>();
  for (const name of shapesOf(config).keys()) ordered.set(name, blockNames.has(name) ? (tensors.get(name) as HostTensor) : take(source, name));
  return { config, tensors: ordered };
}

function take(source: Weights, name: string): HostTensor {
  const t = source.tensors.get(name);
  if (!t) throw new Error(`the source model lacks tensor "${name}"`);
  return t;
}

/** The config of half_width: half the width, heads, key/value heads and MLP width of `cfg` at `layers` blocks. */
export function halfWidthConfig(cfg: ModelConfig, layers: number): ModelConfig {
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new InherituneError('baselines', `half_width halves ${what}; the reference's cannot be halved`);
  };
  need(cfg.nEmbd % 2 === 0, `the width (n_embd ${cfg.nEmbd})`);
  need(cfg.nHead % 2 === 0, `the heads (n_head ${cfg.nHead})`);
  const half = { nLayer: layers, nEmbd: cfg.nEmbd / 2, nHead: cfg.nHead / 2, nInner: Math.max(1, Math.floor(cfg.nInner / 2)) };
  if (cfg.family === 'gpt2') return { ...cfg, ...half };
  // Rotary families keep the head width; grouped key/value heads halve too (one stays one).
  need(cfg.nKvHead === 1 || cfg.nKvHead % 2 === 0, `the key/value heads (${cfg.nKvHead})`);
  return { ...cfg, ...half, nKvHead: cfg.nKvHead === 1 ? 1 : cfg.nKvHead / 2 };
}

/** What a baseline starts from, for the models that need nothing trained first (not stacking's stage 2). */
export function baselineWeights(
  name: Exclude<Baseline, 'stacking'>,
  o: { referenceDir: string; referenceConfig: ModelConfig; layers: number; seed: number; inherit: Omit<InheritOptions, 'layers' | 'seed'> },
): Weights {
  const { referenceConfig: ref, layers, seed } = o;
  const fresh = (config: ModelConfig): Weights => ({ config, tensors: initWeightsOf(config, seed) });
  switch (name) {
    case 'scratch':
    case 'scratch_2x':
      return fresh({ ...ref, nLayer: layers });
    case 'half_width':
      return fresh(halfWidthConfig(ref, layers));
    case 'full_scratch':
      return fresh(ref);
    case 'hybrid_stacking': {
      const h = Math.ceil(layers / 2);
      return remapBlocks(inheritFromReference(o.referenceDir, { layers: h, ...o.inherit, seed }), layers, (i) => i % h);
    }
    case 'kd': {
      const k = ref.nLayer;
      return remapBlocks(inheritFromReference(o.referenceDir, { layers: k, ...o.inherit, seed }), layers, (i) => Math.floor((i * k) / layers));
    }
  }
}
