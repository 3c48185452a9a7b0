/**
 * LLaMA family hyper-parameters (HF `LlamaConfig`), the exact set of tensors a model holds (HF key
 * names and layouts, method.md section 4) and the config.json round trip.
 *
 * Field names shared with GPT2Config (vocabSize, nPositions, nEmbd, nLayer, nHead, nInner) mean the
 * same thing in both families, so code that needs only the model's outline reads either config.
 * Linear weights keep nn.Linear's layout [out, in] (y = x W^T), exactly as HF stores them.
 */
import { InherituneError } from './errors.js';
import type { TensorShapes } from './gpt2Config.js';

export interface LlamaConfig {
  family: 'llama';
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
  /** LLaMA's head is its own lm_head.weight (false); true computes logits from embed_tokens. */
  tieWordEmbeddings: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
}

const BLOCK_TENSORS = [
  'self_attn.q_proj.weight',
  'self_attn.k_proj.weight',
  'self_attn.v_proj.weight',
  'self_attn.o_proj.weight',
  'mlp.gate_proj.weight',
  'mlp.up_proj.weight',
  'mlp.down_proj.weight',
  'input_layernorm.weight',
  'post_attention_layernorm.weight',
] as const;

export const LLAMA_EMBED = 'model.embed_tokens.weight';
export const LLAMA_FINAL_NORM = 'model.norm.weight';
export const LLAMA_HEAD = 'lm_head.weight';

export const llamaBlockPrefix = (i: number): string => `model.layers.${i}.`;

/** Names and shapes of the tensors of block `i`, in HF's state_dict order. */
export function llamaBlockShapes(cfg: LlamaConfig, i: number): TensorShapes {
  const C = cfg.nEmbd;
  const F = cfg.nInner;
  const q = cfg.nHead * cfg.headDim;
  const kv = cfg.nKvHead * cfg.headDim;
  const shape: Record<(typeof BLOCK_TENSORS)[number], number[]> = {
    'self_attn.q_proj.weight': [q, C],
    'self_attn.k_proj.weight': [kv, C],
    'self_attn.v_proj.weight': [kv, C],
    'self_attn.o_proj.weight': [C, q],
    'mlp.gate_proj.weight': [F, C],
    'mlp.up_proj.weight': [F, C],
    'mlp.down_proj.weight': [C, F],
    'input_layernorm.weight': [C],
    'post_attention_layernorm.weight': [C],
  };
  const p = llamaBlockPrefix(i);
  return new Map(BLOCK_TENSORS.map((n) => [p + n, shape[n]]));
}

/** Every tensor of the model, in checkpoint order. */
export function llamaModelShapes(cfg: LlamaConfig): TensorShapes {
  const shapes: TensorShapes = new Map();
  shapes.set(LLAMA_EMBED, [cfg.vocabSize, cfg.nEmbd]);
  for (let i = 0; i < cfg.nLayer; i++) for (const [k, v] of llamaBlockShapes(cfg, i)) shapes.set(k, v);
  shapes.set(LLAMA_FINAL_NORM, [cfg.nEmbd]);
  if (!cfg.tieWordEmbeddings) shapes.set(LLAMA_HEAD, [cfg.vocabSize, cfg.nEmbd]);
  return shapes;
}

/** Block index of a LLaMA tensor name, or undefined for the embedding, final norm and head. */
export function llamaBlockIndex(name: string): number | undefined {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Canonical name of a stored LLaMA key, or undefined for keys that are not weights: RoPE's
 * `rotary_emb.inv_freq` buffers (recomputed from rope_theta) and a stored head copy of a tied model.
 * Keys of a bare LlamaModel (`layers.0...`, `embed_tokens...`, `norm...`) get the `model.` prefix.
 */
export function llamaCanonicalName(key: string, cfg: LlamaConfig): string | undefined {
  if (key.endsWith('rotary_emb.inv_freq')) return undefined;
  let name = key;
  if (/^(layers\.\d+\.|embed_tokens\.|norm\.)/.test(name)) name = `model.${name}`;
  if (name === LLAMA_HEAD && cfg.tieWordEmbeddings) return undefined;
  return name;
}

// ---------------------------------------------------------------------------------------------
// config.json

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads an HF LLaMA config.json object (model_type "llama"); `source` names the file in errors. */
export function parseLlamaConfig(json: unknown, source: string): LlamaConfig {
  if (!isRecord(json)) throw new InherituneError(source, 'config must be a JSON object');
  const bad = (field: string, want: string): never => {
    throw new InherituneError(source, `field "${field}" must be ${want}, got ${JSON.stringify(json[field])}`);
  };
  const posInt = (field: string, dflt?: number): number => {
    const v = json[field];
    if (v === undefined || v === null) {
      if (dflt !== undefined) return dflt;
      throw new InherituneError(source, `missing field "${field}"`);
    }
    if (!Number.isSafeInteger(v) || (v as number) < 1) bad(field, 'a positive integer');
    return v as number;
  };
  const posNum = (field: string, dflt: number): number => {
    const v = json[field] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) bad(field, 'a positive number');
    return v as number;
  };
  const bool = (field: string, dflt: boolean): boolean => {
    const v = json[field];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') bad(field, 'true or false');
    return v as boolean;
  };
  const optId = (field: string): number | undefined => {
    const v = json[field];
    // Some configs list several end ids; the first is the one text data ends with.
    const id = Array.isArray(v) ? v[0] : v;
    return Number.isSafeInteger(id) && (id as number) >= 0 ? (id as number) : undefined;
  };

  if (json.model_type !== 'llama') {
    throw new InherituneError(source, `field "model_type" is ${JSON.stringify(json.model_type)}; expected "llama"`);
  }
  const act = json.hidden_act ?? 'silu';
  if (act !== 'silu') throw new InherituneError(source, `field "hidden_act" is ${JSON.stringify(act)}; only "silu" (LLaMA's SwiGLU) is supported`);
  if (json.rope_scaling !== undefined && json.rope_scaling !== null) {
    throw new InherituneError(source, `field "rope_scaling" is ${JSON.stringify(json.rope_scaling)}; only plain rotary embeddings (rope_scaling null) are supported`);
  }
  for (const field of ['attention_bias', 'mlp_bias']) {
    if (json[field] !== undefined && json[field] !== false) {
      throw new InherituneError(source, `field "${field}" is ${JSON.stringify(json[field])}; only false (LLaMA's default: no biases) is supported`);
    }
  }
  const nEmbd = posInt('hidden_size');
  const nHead = posInt('num_attention_heads');
  const nKvHead = posInt('num_key_value_heads', nHead);
  if (nHead % nKvHead !== 0) {
    throw new InherituneError(source, `field "num_attention_heads" (${nHead}) must be a multiple of "num_key_value_heads" (${nKvHead})`);
  }
  let headDim: number;
  if (json.head_dim === undefined || json.head_dim === null) {
    if (nEmbd % nHead !== 0) throw new InherituneError(source, `field "hidden_size" (${nEmbd}) must be divisible by "num_attention_heads" (${nHead})`);
    headDim = nEmbd / nHead;
  } else headDim = posInt('head_dim');
  if (headDim % 2 !== 0) throw new InherituneError(source, `the head width (${headDim}) must be even for rotary position embedding`);
  return {
    family: 'llama',
    vocabSize: posInt('vocab_size'),
    nPositions: posInt('max_position_embeddings', 2048),
    nEmbd,
    nLayer: posInt('num_hidden_layers'),
    nHead,
    nKvHead,
    headDim,
    nInner: posInt('intermediate_size'),
    rmsNormEps: posNum('rms_norm_eps', 1e-6),
    ropeTheta: posNum('rope_theta', 10000),
    tieWordEmbeddings: bool('tie_word_embeddings', false),
    bosTokenId: optId('bos_token_id'),
    eosTokenId: optId('eos_token_id'),
  };
}

/** A config.json that transformers' LlamaForCausalLM loads (and parseLlamaConfig reads back). */
export function llamaConfigToHF(cfg: LlamaConfig, torchDtype = 'float32'): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
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
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    initializer_range: 0.02,
    ...(cfg.bosTokenId !== undefined ? { bos_token_id: cfg.bosTokenId } : {}),
    ...(cfg.eosTokenId !== undefined ? { eos_token_id: cfg.eosTokenId } : {}),
    torch_dtype: torchDtype,
  };
}
