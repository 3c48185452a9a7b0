/**
 * The LLaMA family (HF `LlamaConfig`): hyper-parameters, the exact set of tensors a model holds (HF
 * key names and layouts, method.md section 4), the config.json round trip, what each tensor is to
 * inherit and the fresh initialisation. Its layout is shared with families built the same way
 * (Qwen2: the same decoder with q/k/v biases), which reuse the rotary pieces exported here.
 *
 * Field names shared with GPT2Config (vocabSize, nPositions, nEmbd, nLayer, nHead, nInner) mean the
 * same thing in both families, so code that needs only the model's outline reads either config.
 * Linear weights keep nn.Linear's layout [out, in] (y = x W^T), exactly as HF stores them.
 */
import type { ConfigFields } from './configFields.js';
import type { FamilyOps, TensorPart } from './familyOps.js';
import type { HostTensor, TensorShapes } from './familyOps.js';
import { fillNormal } from './init.js';

/** What the rotary decoder (llama.ts) runs: LLaMA's layout, q/k/v biases or not. */
export interface RotaryConfig {
  family: 'llama' | 'qwen2';
  vocabSize: number;
  /** max_position_embeddings: the context the model was trained for (RoPE itself has no table). */
  nPositions: number;
  /** hidden_size */
  nEmbd: number;
  /** num_hidden_layers */
  nLayer: number;
  /** num_attention_heads */
  nHead: number;
  /** num_key_value_heads: fewer than nHead is grouped-query attention (nHead / nKvHead queries per key). */
  nKvHead: number;
  /** Per-head width; HF's default hidden_size / num_attention_heads. */
  headDim: number;
  /** intermediate_size: the SwiGLU MLP's hidden width. */
  nInner: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Biases on the q, k and v projections (Qwen2); none on o_proj or the MLP. */
  qkvBias: boolean;
  /** LLaMA's head is its own lm_head.weight (false); true computes logits from embed_tokens. */
  tieWordEmbeddings: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
}

export interface LlamaConfig extends RotaryConfig {
  family: 'llama';
}

export const LLAMA_EMBED = 'model.embed_tokens.weight';
export const LLAMA_FINAL_NORM = 'model.norm.weight';
export const LLAMA_HEAD = 'lm_head.weight';

export const llamaBlockPrefix = (i: number): string => `model.layers.${i}.`;

/** Names and shapes of the tensors of block `i`, in HF's state_dict order. */
export function llamaBlockShapes(cfg: RotaryConfig, i: number): TensorShapes {
  const C = cfg.nEmbd;
  const F = cfg.nInner;
  const q = cfg.nHead * cfg.headDim;
  const kv = cfg.nKvHead * cfg.headDim;
  const p = llamaBlockPrefix(i);
  const shapes: TensorShapes = new Map();
  const proj = (name: string, out: number, inp: number, bias: boolean) => {
    shapes.set(`${p}${name}.weight`, [out, inp]);
    if (bias) shapes.set(`${p}${name}.bias`, [out]);
  };
  proj('self_attn.q_proj', q, C, cfg.qkvBias);
  proj('self_attn.k_proj', kv, C, cfg.qkvBias);
  proj('self_attn.v_proj', kv, C, cfg.qkvBias);
  proj('self_attn.o_proj', C, q, false);
  proj('mlp.gate_proj', F, C, false);
  proj('mlp.up_proj', F, C, false);
  proj('mlp.down_proj', C, F, false);
  shapes.set(`${p}input_layernorm.weight`, [C]);
  shapes.set(`${p}post_attention_layernorm.weight`, [C]);
  return shapes;
}

/** Every tensor of the model, in checkpoint order. */
export function llamaModelShapes(cfg: RotaryConfig): TensorShapes {
  const shapes: TensorShapes = new Map();
  shapes.set(LLAMA_EMBED, [cfg.vocabSize, cfg.nEmbd]);
  for (let i = 0; i < cfg.nLayer; i++) for (const [k, v] of llamaBlockShapes(cfg, i)) shapes.set(k, v);
  shapes.set(LLAMA_FINAL_NORM, [cfg.nEmbd]);
  if (!cfg.tieWordEmbeddings) shapes.set(LLAMA_HEAD, [cfg.vocabSize, cfg.nEmbd]);
  return shapes;
}

/** Block index of a tensor name, or undefined for the embedding, final norm and head. */
function llamaBlockIndex(name: string): number | undefined {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Canonical name of a stored key, or undefined for keys that are not weights: RoPE's
 * `rotary_emb.inv_freq` buffers (recomputed from rope_theta) and a stored head copy of a tied model.
 * Keys of a bare base model (`layers.0...`, `embed_tokens...`, `norm...`) get the `model.` prefix.
 */
function llamaCanonicalName(key: string, cfg: RotaryConfig): string | undefined {
  if (key.endsWith('rotary_emb.inv_freq')) return undefined;
  let name = key;
  if (/^(layers\.\d+\.|embed_tokens\.|norm\.)/.test(name)) name = `model.${name}`;
  if (name === LLAMA_HEAD && cfg.tieWordEmbeddings) return undefined;
  return name;
}

/**
 * What a tensor is to inherit: attn = self_attn.{q,k,v,o}_proj (weights and biases), mlp =
 * mlp.{gate,up,down}_proj, ln_1 = input_layernorm, ln_2 = post_attention_layernorm, final norm =
 * model.norm, embeddings = embed_tokens and lm_head.
 */
function llamaPartOf(name: string): TensorPart {
  if (name === LLAMA_EMBED || name === LLAMA_HEAD) return 'embeddings';
  if (name === LLAMA_FINAL_NORM) return 'finalNorm';
  const sub = /^model\.layers\.\d+\.(self_attn|mlp|input_layernorm|post_attention_layernorm)\./.exec(name)?.[1];
  if (sub === 'self_attn') return 'attn';
  if (sub === 'mlp') return 'mlp';
  if (sub === 'input_layernorm') return 'ln_1';
  if (sub === 'post_attention_layernorm') return 'ln_2';
  throw new Error(`unexpected tensor ${name}`);
}

/**
 * A freshly initialised tensor, as HF's _init_weights: every linear weight and the embedding
 * ~ N(0, initializer_range = 0.02), biases 0, RMSNorm gains 1.
 */
function llamaInitTensor(_cfg: RotaryConfig, name: string, shape: number[], rand: () => number): HostTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (name.endsWith('layernorm.weight') || name === LLAMA_FINAL_NORM) data.fill(1);
  else if (!name.endsWith('.bias')) fillNormal(data, 0.02, rand);
  return { shape: [...shape], data };
}

// ---------------------------------------------------------------------------------------------
// config.json

/**
 * The fields every rotary family reads alike (hidden_act silu, plain RoPE, heads and head width),
 * with the defaults its family's HF config class has.
 */
export function parseRotaryFields<F extends RotaryConfig['family']>(
  f: ConfigFields,
  family: F,
  d: { nPositions: number; qkvBias: boolean; tieWordEmbeddings: boolean; kvHeadsRequired: boolean },
): RotaryConfig & { family: F } {
  const act = f.json.hidden_act ?? 'silu';
  if (act !== 'silu') f.fail(`field "hidden_act" is ${JSON.stringify(act)}; only "silu" (SwiGLU) is supported`);
  if (f.has('rope_scaling')) {
    f.fail(`field "rope_scaling" is ${JSON.stringify(f.json.rope_scaling)}; only plain rotary embeddings (rope_scaling null) are supported`);
  }
  const nEmbd = f.size('hidden_size', 'width');
  const nHead = f.size('num_attention_heads', 'heads');
  const nKvHead = f.size('num_key_value_heads', 'heads', d.kvHeadsRequired ? undefined : nHead);
  if (nHead % nKvHead !== 0) f.fail(`field "num_attention_heads" (${nHead}) must be a multiple of "num_key_value_heads" (${nKvHead})`);
  if (!f.has('head_dim') && nEmbd % nHead !== 0) f.fail(`field "hidden_size" (${nEmbd}) must be divisible by "num_attention_heads" (${nHead})`);
  const headDim = f.size('head_dim', 'headDim', nEmbd / nHead);
  if (headDim % 2 !== 0) f.fail(`the head width (${headDim}) must be even for rotary position embedding`);
  return {
    family,
    vocabSize: f.size('vocab_size', 'vocab'),
    nPositions: f.size('max_position_embeddings', 'positions', d.nPositions),
    nEmbd,
    nLayer: f.size('num_hidden_layers', 'layers'),
    nHead,
    nKvHead,
    headDim,
    nInner: f.size('intermediate_size', 'mlp'),
    rmsNormEps: f.positive('rms_norm_eps', 1e-6),
    ropeTheta: f.positive('rope_theta', 10000),
    qkvBias: d.qkvBias,
    tieWordEmbeddings: f.bool('tie_word_embeddings', d.tieWordEmbeddings),
    bosTokenId: f.tokenId('bos_token_id'),
    eosTokenId: f.tokenId('eos_token_id'),
  };
}

/** The config.json fields every rotary family writes alike (its own add model_type and the rest). */
export function rotaryFieldsToHF(cfg: RotaryConfig, torchDtype: string): Record<string, unknown> {
  return {
    vocab_size: cfg.vocabSize,
    max_position_embeddings: cfg.nPositions,
    hidden_size: cfg.nEmbd,
    intermediate_size: cfg.nInner,
    num_hidden_layers: cfg.nLayer,
    num_attention_heads: cfg.nHead,
    num_key_value_heads: cfg.nKvHead,
    ...(cfg.headDim !== cfg.nEmbd / cfg.nHead ? { head_dim: cfg.headDim } : {}),
    hidden_act: 'silu',
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    initializer_range: 0.02,
    ...(cfg.bosTokenId !== undefined ? { bos_token_id: cfg.bosTokenId } : {}),
    ...(cfg.eosTokenId !== undefined ? { eos_token_id: cfg.eosTokenId } : {}),
    torch_dtype: torchDtype,
  };
}

function parseLlamaFields(f: ConfigFields): LlamaConfig {
  for (const field of ['attention_bias', 'mlp_bias']) f.only(field, false, "only false (LLaMA's default: no biases) is supported");
  return parseRotaryFields(f, 'llama', { nPositions: 2048, qkvBias: false, tieWordEmbeddings: false, kvHeadsRequired: false });
}

/** A config.json that transformers' LlamaForCausalLM loads (and the parser reads back). */
export function llamaConfigToHF(cfg: RotaryConfig, torchDtype = 'float32'): Record<string, unknown> {
  return { architectures: ['LlamaForCausalLM'], model_type: 'llama', ...rotaryFieldsToHF(cfg, torchDtype), attention_bias: false, mlp_bias: false };
}

/** The parts of the table entry every rotary family shares. */
export const ROTARY_OPS = {
  decoder: 'rotary',
  modelShapes: llamaModelShapes,
  blockShapes: llamaBlockShapes,
  blockIndex: llamaBlockIndex,
  canonicalName: llamaCanonicalName,
  exampleNames: `${LLAMA_EMBED}, model.layers.0.self_attn.q_proj.weight`,
  partOf: llamaPartOf,
  initTensor: llamaInitTensor,
  kvHeads: (cfg: RotaryConfig) => cfg.nKvHead,
} as const satisfies Partial<FamilyOps<RotaryConfig>>;

export const LLAMA_FAMILY: FamilyOps<LlamaConfig> = {
  ...ROTARY_OPS,
  modelType: 'llama',
  parse: parseLlamaFields,
  toHF: llamaConfigToHF,
  outline: (cfg) => `LLaMA, ${cfg.nLayer} layers, ${cfg.nHead} heads (${cfg.nKvHead} key/value), tied ${cfg.tieWordEmbeddings}`,
};
