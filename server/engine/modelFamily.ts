/**
 * The model families the engine knows, in one table (FAMILIES): each family's operations (familyOps.ts)
 * live in its own config module, and everything here dispatches on a config's `family`. Adding a
 * family is one new module plus its row in the table (and, when its forward pass is new, a decoder
 * in models.ts). Pure (no tfjs at run time): config checks and the language server import it
 * cheaply; a model is built in tfjs by createModel (models.ts).
 */
import { MODEL_FAMILIES, type ModelFamilyName, type ModelShape, type SaveDtype } from '../protocol/config.js';
import { FAMILY_NAMES } from '../protocol/format.js';
import type * as tf from './tf.js';
import { ConfigFields } from './configFields.js';
import type { Decoder, FamilyOps, HostTensor, TensorShapes } from './familyOps.js';
import { GPT2_FAMILY, type GPT2Config } from './gpt2Config.js';
import { initAll } from './init.js';
import { LLAMA_FAMILY, type LlamaConfig, type RotaryConfig } from './llamaConfig.js';
import { QWEN2_FAMILY, type Qwen2Config } from './qwen2Config.js';

export type { LlamaConfig, RotaryConfig } from './llamaConfig.js';
export type { Qwen2Config } from './qwen2Config.js';
export type { GPT2Config } from './gpt2Config.js';
export type { HostTensor, TensorShapes } from './familyOps.js';

export type ModelFamily = ModelFamilyName;

/** Any family's config, told apart by `family`. vocabSize, nPositions, nEmbd, nLayer, nHead and nInner mean the same in all. */
export type ModelConfig = GPT2Config | LlamaConfig | Qwen2Config;

/** The configs the rotary decoder runs. */
export type RotaryModelConfig = Extract<ModelConfig, RotaryConfig>;

/** The config type of family F. */
export type ConfigOf<F extends ModelFamily> = Extract<ModelConfig, { family: F }>;

/** The table: every family's operations, by family name. */
const FAMILIES: { [F in ModelFamily]: FamilyOps<ConfigOf<F>> } = {
  gpt2: GPT2_FAMILY,
  llama: LLAMA_FAMILY,
  qwen2: QWEN2_FAMILY,
};

/**
 * The operations of cfg's family. The table row and the config agree on the family by construction,
 * which TypeScript cannot see through the union; this is the one place that says so.
 */
function opsOf(cfg: ModelConfig): FamilyOps<ModelConfig> {
  return FAMILIES[cfg.family] as unknown as FamilyOps<ModelConfig>;
}

/** The forward pass's outputs (every family). */
export interface ForwardResult {
  /** [B, T, vocab] */
  logits: tf.Tensor3D;
  /** Per layer, the post-softmax attention [B, heads, T, T]; empty unless requested. */
  attention: tf.Tensor4D[];
}

/** What training, evaluation and analysis need of a model held in tfjs variables (every family). */
export interface LanguageModel {
  readonly config: ModelConfig;
  /** Trainable parameters by HF name, in checkpoint order. */
  readonly params: Map<string, tf.Variable>;
  forward(inputs: tf.Tensor2D, opts?: { attention?: boolean }): ForwardResult;
  /** forward's attention alone (the head, a large share of an analysis' products, left out). */
  attentionMaps(inputs: tf.Tensor2D): tf.Tensor4D[];
  /** Mean next-token cross-entropy in nats; targets -1 are left out. */
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar;
  /** Asynchronous: a GPU backend has no synchronous read. */
  toHost(): Promise<Map<string, HostTensor>>;
  dispose(): void;
}

// ---------------------------------------------------------------------------------------------
// config.json

const supportedTypes = (): string => {
  const names = MODEL_FAMILIES.map((f) => `"${FAMILIES[f].modelType}" (${FAMILY_NAMES[f]})`);
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
};

/** The family config.json's model_type names; GPT-2 configs may omit it. */
function familyOfJson(f: ConfigFields): ModelFamily {
  const type = f.json.model_type;
  if (type === undefined) return 'gpt2';
  const family = MODEL_FAMILIES.find((name) => FAMILIES[name].modelType === type);
  if (family === undefined) f.fail(`field "model_type" is ${JSON.stringify(type)}; supported: ${supportedTypes()}`);
  return family;
}

/** Reads an HF config.json object of any family, by its model_type; `source` names the file in errors. */
export function parseModelConfig(json: unknown, source: string): ModelConfig {
  const f = ConfigFields.of(json, source);
  const family = familyOfJson(f);
  return FAMILIES[family].parse(f);
}

/** Reads a config.json that must be of `family` (any other model_type is an error naming the file). */
export function parseConfigOf<F extends ModelFamily>(json: unknown, source: string, family: F): ConfigOf<F> {
  const f = ConfigFields.of(json, source);
  const ops = FAMILIES[family] as FamilyOps<ConfigOf<F>>;
  const type = f.json.model_type;
  if (type !== ops.modelType && !(type === undefined && family === 'gpt2')) {
    f.fail(`field "model_type" is ${JSON.stringify(type)}; only ${FAMILY_NAMES[family]} models ("${ops.modelType}") are supported`);
  }
  return ops.parse(f);
}

/** The HF config.json of any family, with this torch_dtype. */
export function configToHFOf(cfg: ModelConfig, torchDtype: SaveDtype): Record<string, unknown> {
  return opsOf(cfg).toHF(cfg, torchDtype);
}

// ---------------------------------------------------------------------------------------------
// Tensors

/** Which tfjs decoder runs the model (models.ts; the rotary one also runs block by block). */
function decoderOf(cfg: ModelConfig): Decoder {
  return opsOf(cfg).decoder;
}

/**
 * Whether the rotary decoder runs the model (llama.ts). Such checkpoints are also evaluated and
 * analysed block by block (layerwise.ts), as these references may be billions of parameters;
 * GPT-2 models are small and run whole.
 */
export function isRotary(cfg: ModelConfig): cfg is RotaryModelConfig {
  return decoderOf(cfg) === 'rotary';
}

/** Every tensor of the model (HF names), in checkpoint order. */
export function shapesOf(cfg: ModelConfig): TensorShapes {
  return opsOf(cfg).modelShapes(cfg);
}

/** The tensors of block i. */
export function blockShapesOf(cfg: ModelConfig, i: number): TensorShapes {
  return opsOf(cfg).blockShapes(cfg, i);
}

/** Block index of a tensor name, or undefined for tensors outside the blocks (embeddings, final norm, head). */
export function blockIndexOf(cfg: ModelConfig, name: string): number | undefined {
  return opsOf(cfg).blockIndex(name);
}

/** Canonical name of a stored checkpoint key, or undefined for keys that are not weights (buffers, a tied head's copy). */
export function canonicalNameOf(cfg: ModelConfig, key: string): string | undefined {
  return opsOf(cfg).canonicalName(key, cfg);
}

/** Example tensor names, for messages about a name that is not the model's. */
export function exampleNames(cfg: ModelConfig): string {
  return opsOf(cfg).exampleNames;
}

/** "12 layers, bias true, tied true" / "LLaMA, 26 layers, 32 heads (32 key/value), tied false": for messages. */
export function outlineOf(cfg: ModelConfig): string {
  return opsOf(cfg).outline(cfg);
}

export function parameterCountOf(cfg: ModelConfig): number {
  let n = 0;
  for (const shape of shapesOf(cfg).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Key/value heads: nHead without grouped-query attention. */
export function kvHeadsOf(cfg: ModelConfig): number {
  return opsOf(cfg).kvHeads(cfg);
}

/** The family and shape of a model, as the protocol carries it (hovers, sidebar, CLI lines). */
export function modelShapeOf(cfg: ModelConfig): ModelShape {
  return {
    family: cfg.family,
    layers: cfg.nLayer,
    nEmbd: cfg.nEmbd,
    nHead: cfg.nHead,
    nKvHead: kvHeadsOf(cfg),
    nInner: cfg.nInner,
    vocabSize: cfg.vocabSize,
    nPositions: cfg.nPositions,
    params: parameterCountOf(cfg),
  };
}

/** The same model with n blocks (the derived model's config). */
export function withLayers<C extends ModelConfig>(cfg: C, nLayer: number): C {
  return { ...cfg, nLayer };
}

// ---------------------------------------------------------------------------------------------
// Initialisation

/** A freshly initialised tensor, by the family's rule (HF's _init_weights). */
export function initTensorOf(cfg: ModelConfig, name: string, shape: number[], rand: () => number): HostTensor {
  return opsOf(cfg).initTensor(cfg, name, shape, rand);
}

/** Every tensor of a fresh model (any family), from one seed. */
export function initWeightsOf(cfg: ModelConfig, seed: number): Map<string, HostTensor> {
  return initAll(shapesOf(cfg), seed, (name, shape, rand) => initTensorOf(cfg, name, shape, rand));
}

// ---------------------------------------------------------------------------------------------
// Inheritance rules

/** What Inheritune copies from the reference (inherit.ts's InheritOptions without layers and seed). */
export interface InheritRule {
  /** Block sub-modules: attn, mlp, norms (both norms), ln_1 (the norm before attention), ln_2 (before the MLP). */
  parts: readonly string[];
  /** Token embedding and the LM head. */
  embeddings: boolean;
  /** GPT-2's learned position embedding; rotary families have none (rotary positions hold no weights). */
  positions: boolean;
  finalNorm: boolean;
}

/** Whether the target tensor `name` is copied from the reference (the family says what the tensor is). */
export function isInheritedIn(cfg: ModelConfig, name: string, o: InheritRule): boolean {
  const part = opsOf(cfg).partOf(name);
  switch (part) {
    case 'embeddings':
      return o.embeddings;
    case 'positions':
      return o.positions;
    case 'finalNorm':
      return o.finalNorm;
    case 'attn':
    case 'mlp':
      return o.parts.includes(part);
    case 'ln_1':
    case 'ln_2':
      return o.parts.includes('norms') || o.parts.includes(part);
  }
}
