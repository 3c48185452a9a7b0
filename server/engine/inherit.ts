/**
 * Inheritune's first step: a target with the reference's first n blocks. Which parts are copied is
 * configurable (the paper's sub-module ablation); everything not copied gets a fresh GPT-2 init.
 * Block i keeps index i, which matters for inverse-layer-index attention scaling.
 */
import type { GPT2Config, HostTensor } from './gpt2Config.js';
import { modelShapes } from './gpt2Config.js';
import { InherituneError } from './errors.js';
import { ModelDir } from './hfCheckpoint.js';
import { initTensor, seededRandom } from './init.js';

/** Block sub-modules: attn and mlp weights; norms = both LayerNorms, or ln_1 / ln_2 alone. */
export const BLOCK_PARTS = ['attn', 'mlp', 'norms', 'ln_1', 'ln_2'] as const;
export type BlockPart = (typeof BLOCK_PARTS)[number];

export interface InheritOptions {
  layers: number;
  parts: BlockPart[];
  /** Token embedding (and the LM head: tied, or lm_head.weight when untied). */
  embeddings: boolean;
  /** Learned position embedding wpe. */
  positions: boolean;
  finalNorm: boolean;
  /** Seed for the fresh initialisation of what is not inherited. */
  seed: number;
}

export const DEFAULT_INHERIT: Omit<InheritOptions, 'layers'> = {
  parts: ['attn', 'mlp', 'norms'],
  embeddings: true,
  positions: true,
  finalNorm: true,
  seed: 0,
};

export interface InheritResult {
  config: GPT2Config;
  tensors: Map<string, HostTensor>;
  /** Names of the tensors copied from the reference; the rest were initialised. */
  inherited: string[];
}

/** Whether the target tensor `name` is copied from the reference under these options. */
export function isInherited(name: string, o: Omit<InheritOptions, 'layers' | 'seed'>): boolean {
  if (name === 'wte.weight' || name === 'lm_head.weight') return o.embeddings;
  if (name === 'wpe.weight') return o.positions;
  if (name.startsWith('ln_f.')) return o.finalNorm;
  const sub = /^h\.\d+\.(attn|mlp|ln_1|ln_2)\./.exec(name)?.[1];
  if (sub === 'attn' || sub === 'mlp') return o.parts.includes(sub);
  if (sub === 'ln_1' || sub === 'ln_2') return o.parts.includes('norms') || o.parts.includes(sub);
  throw new Error(`inherit: unexpected tensor ${name}`);
}

export function inheritFromReference(referenceDir: string, o: InheritOptions): InheritResult {
  const probe = ModelDir.open(referenceDir, { layers: 1 });
  probe.close();
  const k = probe.config.nLayer;
  if (!Number.isInteger(o.layers) || o.layers < 1 || o.layers > k) {
    throw new InherituneError('layers', `${o.layers} is not within 1..${k} (the reference ${referenceDir} has ${k} layers)`);
  }
  // Opened with `layers`, only the shards holding blocks 0..n-1 are checked and read.
  const ref = ModelDir.open(referenceDir, { layers: o.layers });
  try {
    const config: GPT2Config = { ...ref.config, nLayer: o.layers };
    const rand = seededRandom(o.seed);
    const tensors = new Map<string, HostTensor>();
    const inherited: string[] = [];
    for (const [name, shape] of modelShapes(config)) {
      if (isInherited(name, o)) {
        tensors.set(name, { shape, data: ref.read(name) });
        inherited.push(name);
      } else {
        tensors.set(name, initTensor(config, name, shape, rand));
      }
    }
    return { config, tensors, inherited };
  } finally {
    ref.close();
  }
}
