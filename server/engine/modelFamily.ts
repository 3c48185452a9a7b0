/**
 * The model families the engine knows (GPT-2 and LLaMA) behind one small interface: the tensors a
 * model holds, which of them are per-block, fresh
 * initialisation, which tensors Inheritune copies, and the common model interface that training,
 * evaluation and analysis use. Pure (no tfjs at run time): config checks and the language server
 * import it cheaply. config.json of either family is read by parseModelConfig (hfCheckpoint.ts, by
 * `model_type`); a model is built in tfjs by createModel (models.ts).
 */
import type { ModelFamilyName, ModelShape } from '../protocol/config.js';
import type * as tf from './tf.js';
import { blockShapes, modelShapes, type GPT2Config, type HostTensor, type TensorShapes } from './gpt2Config.js';
import { fillNormal, initAll, initTensor } from './init.js';
import { LLAMA_EMBED, LLAMA_FINAL_NORM, LLAMA_HEAD, llamaBlockIndex, llamaBlockShapes, llamaCanonicalName, llamaModelShapes, type LlamaConfig } from './llamaConfig.js';

export type { LlamaConfig } from './llamaConfig.js';
export type { GPT2Config, HostTensor, TensorShapes } from './gpt2Config.js';

export type ModelFamily = ModelFamilyName;

/**
 * Either family's config. GPT2Config has no `family` field (it predates LLaMA support); LLaMA
 * configs carry family: 'llama'. Both have vocabSize, nPositions, nEmbd, nLayer, nHead and nInner
 * with the same meaning, so code that needs only those reads either.
 */
export type ModelConfig = GPT2Config | LlamaConfig;

export function isLlama(cfg: ModelConfig): cfg is LlamaConfig {
  return (cfg as Partial<LlamaConfig>).family === 'llama';
}

export function familyOf(cfg: ModelConfig): ModelFamily {
  return isLlama(cfg) ? 'llama' : 'gpt2';
}

/** The forward pass's outputs (both families). */
export interface ForwardResult {
  /** [B, T, vocab] */
  logits: tf.Tensor3D;
  /** Per layer, the post-softmax attention [B, heads, T, T]; empty unless requested. */
  attention: tf.Tensor4D[];
}

/** What training, evaluation and analysis need of a model held in tfjs variables (GPT2 and Llama). */
export interface LanguageModel {
  readonly config: ModelConfig;
  /** Trainable parameters by HF name, in checkpoint order. */
  readonly params: Map<string, tf.Variable>;
  forward(inputs: tf.Tensor2D, opts?: { attention?: boolean }): ForwardResult;
  /** Mean next-token cross-entropy in nats; targets -1 are left out. */
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar;
  toHost(): Map<string, HostTensor>;
  dispose(): void;
}

// ---------------------------------------------------------------------------------------------
// Tensors

/** Every tensor of the model (HF names), in checkpoint order. */
export function shapesOf(cfg: ModelConfig): TensorShapes {
  return isLlama(cfg) ? llamaModelShapes(cfg) : modelShapes(cfg);
}

/** The tensors of block i. */
export function blockShapesOf(cfg: ModelConfig, i: number): TensorShapes {
  return isLlama(cfg) ? llamaBlockShapes(cfg, i) : blockShapes(cfg, i);
}

/** Block index of a tensor name, or undefined for tensors outside the blocks (embeddings, final norm, head). */
export function blockIndexOf(cfg: ModelConfig, name: string): number | undefined {
  if (isLlama(cfg)) return llamaBlockIndex(name);
  const m = /^h\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Canonical name of a stored checkpoint key, or undefined for keys that are not weights (buffers, a tied head's copy). */
export function canonicalNameOf(cfg: ModelConfig, key: string): string | undefined {
  if (isLlama(cfg)) return llamaCanonicalName(key, cfg);
  const name = key.startsWith('transformer.') ? key.slice('transformer.'.length) : key;
  // Causal-mask buffers `h.N.attn.bias` / `h.N.attn.masked_bias` (not `h.N.attn.c_attn.bias`).
  if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)) return undefined;
  // Tied models compute the head from wte; a stored copy is redundant.
  if (name === 'lm_head.weight' && cfg.tieWordEmbeddings) return undefined;
  return name;
}

/** Example tensor names, for messages about a name that is not the model's. */
export function exampleNames(cfg: ModelConfig): string {
  return isLlama(cfg) ? `${LLAMA_EMBED}, model.layers.0.self_attn.q_proj.weight` : 'wte.weight, h.0.ln_1.weight';
}

export function parameterCountOf(cfg: ModelConfig): number {
  let n = 0;
  for (const shape of shapesOf(cfg).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Key/value heads: nHead for GPT-2 (no grouped-query attention). */
export function kvHeadsOf(cfg: ModelConfig): number {
  return isLlama(cfg) ? cfg.nKvHead : cfg.nHead;
}

/** The family and shape of a model, as the protocol carries it (hovers, sidebar, CLI lines). */
export function modelShapeOf(cfg: ModelConfig): ModelShape {
  return {
    family: familyOf(cfg),
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

/** LLaMA's norm gains (input/post-attention layernorms, model.norm). */
const isLlamaNorm = (name: string): boolean => name.endsWith('layernorm.weight') || name === LLAMA_FINAL_NORM;

/**
 * A freshly initialised tensor. GPT-2: init.ts (N(0, 0.02), residual projections scaled, biases 0,
 * LayerNorm gains 1). LLaMA, as HF's LlamaPreTrainedModel._init_weights: every linear weight and the
 * embedding ~ N(0, initializer_range = 0.02), RMSNorm gains 1.
 */
export function initTensorOf(cfg: ModelConfig, name: string, shape: number[], rand: () => number): HostTensor {
  if (!isLlama(cfg)) return initTensor(cfg, name, shape, rand);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (isLlamaNorm(name)) data.fill(1);
  else fillNormal(data, 0.02, rand);
  return { shape: [...shape], data };
}

/** Every tensor of a fresh model (either family), from one seed. */
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
  /** GPT-2's learned position embedding; LLaMA has none (rotary positions hold no weights). */
  positions: boolean;
  finalNorm: boolean;
}

/**
 * Whether the target tensor `name` is copied from the reference. LLaMA's parts map as:
 * attn = self_attn.{q,k,v,o}_proj, mlp = mlp.{gate,up,down}_proj, ln_1 = input_layernorm,
 * ln_2 = post_attention_layernorm, final norm = model.norm, embeddings = embed_tokens and lm_head.
 */
export function isInheritedIn(cfg: ModelConfig, name: string, o: InheritRule): boolean {
  const norm = (which: 'ln_1' | 'ln_2') => o.parts.includes('norms') || o.parts.includes(which);
  if (isLlama(cfg)) {
    if (name === LLAMA_EMBED || name === LLAMA_HEAD) return o.embeddings;
    if (name === LLAMA_FINAL_NORM) return o.finalNorm;
    const sub = /^model\.layers\.\d+\.(self_attn|mlp|input_layernorm|post_attention_layernorm)\./.exec(name)?.[1];
    if (sub === 'self_attn') return o.parts.includes('attn');
    if (sub === 'mlp') return o.parts.includes('mlp');
    if (sub === 'input_layernorm') return norm('ln_1');
    if (sub === 'post_attention_layernorm') return norm('ln_2');
    throw new Error(`inherit: unexpected tensor ${name}`);
  }
  if (name === 'wte.weight' || name === 'lm_head.weight') return o.embeddings;
  if (name === 'wpe.weight') return o.positions;
  if (name.startsWith('ln_f.')) return o.finalNorm;
  const sub = /^h\.\d+\.(attn|mlp|ln_1|ln_2)\./.exec(name)?.[1];
  if (sub === 'attn' || sub === 'mlp') return o.parts.includes(sub);
  if (sub === 'ln_1' || sub === 'ln_2') return norm(sub);
  throw new Error(`inherit: unexpected tensor ${name}`);
}
