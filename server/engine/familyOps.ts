/**
 * What each model family provides (one object per family, gathered in modelFamily.ts's table): the
 * config.json round trip, the tensors a model holds and their HF key names, what each tensor is for
 * Inheritune, fresh initialisation, and which tfjs decoder runs it. Pure: no tfjs at run time, so
 * the config checks and the language server use it cheaply.
 */
import type { SaveDtype } from '../protocol/config.js';
import type { ConfigFields } from './configFields.js';

/** Tensor names (canonical HF names) and shapes, in checkpoint order. */
export type TensorShapes = Map<string, number[]>;

/** A tensor held on the host (float32, row-major): what checkpoints read and write. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * What a tensor is to inherit: a block's attention, MLP, norm before attention (ln_1) or before the
 * MLP (ln_2); or the token embedding (and head), the learned positions, the final norm.
 */
export type TensorPart = 'attn' | 'mlp' | 'ln_1' | 'ln_2' | 'embeddings' | 'positions' | 'finalNorm';

/**
 * The tfjs decoder that runs a family (models.ts): GPT-2's, or the rotary one (LLaMA's layout, with
 * or without q/k/v biases), which can also run a checkpoint block by block (layerwise.ts).
 */
export type Decoder = 'gpt2' | 'rotary';

export interface FamilyOps<C> {
  /** config.json's model_type. */
  readonly modelType: string;
  readonly decoder: Decoder;
  /** The config from config.json's fields (model_type already matched). */
  parse(fields: ConfigFields): C;
  /** A config.json that transformers loads (and parse reads back); torch_dtype as given. */
  toHF(cfg: C, torchDtype: SaveDtype): Record<string, unknown>;
  /** Every tensor, in checkpoint order, by canonical HF name. */
  modelShapes(cfg: C): TensorShapes;
  /** The tensors of block i. */
  blockShapes(cfg: C, i: number): TensorShapes;
  /** Block index of a tensor name; undefined outside the blocks. */
  blockIndex(name: string): number | undefined;
  /** Canonical name of a stored key; undefined for keys that are not weights (buffers, a tied head's copy). */
  canonicalName(key: string, cfg: C): string | undefined;
  /** Example names, for messages about a name that is not the model's. */
  readonly exampleNames: string;
  /** What tensor `name` (a canonical name of the model) is to inherit. */
  partOf(name: string): TensorPart;
  /** A freshly initialised tensor, as HF's _init_weights does it, from the seeded generator. */
  initTensor(cfg: C, name: string, shape: number[], rand: () => number): HostTensor;
  /** Key/value heads (nHead without grouped-query attention). */
  kvHeads(cfg: C): number;
  /** A short outline for messages ("12 layers, bias true, tied true"). */
  outline(cfg: C): string;
}
