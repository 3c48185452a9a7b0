/**
 * The GPT-2 family: hyper-parameters, the config.json round trip, the exact set of tensors (HF
 * names, HF shapes) a model holds, what each is to inherit and its fresh initialisation.
 * Names carry no `transformer.` prefix; Conv1D weights are [in, out] as in HF checkpoints.
 */
import type { ConfigFields } from './configFields.js';
import type { FamilyOps, HostTensor, TensorPart, TensorShapes } from './familyOps.js';
import { fillNormal } from './init.js';

export interface GPT2Config {
  family: 'gpt2';
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP hidden width; HF's `n_inner: null` means 4 * nEmbd. */
  nInner: number;
  layerNormEpsilon: number;
  /** HF GPT-2 always has biases; the paper's nanoGPT models have none. */
  bias: boolean;
  /** Attention logits additionally divided by (layer index + 1). */
  scaleAttnByInverseLayerIdx: boolean;
  /** Tied wte / lm_head (GPT-2's default). When false the model holds its own `lm_head.weight`. */
  tieWordEmbeddings: boolean;
}


/** Names and shapes of the tensors of block `i`. */
export function blockShapes(cfg: GPT2Config, i: number): TensorShapes {
  const C = cfg.nEmbd;
  const F = cfg.nInner;
  const p = `h.${i}.`;
  const shapes: TensorShapes = new Map();
  const add = (name: string, shape: number[], isBias = false) => {
    if (!isBias || cfg.bias) shapes.set(p + name, shape);
  };
  add('ln_1.weight', [C]);
  add('ln_1.bias', [C], true);
  add('attn.c_attn.weight', [C, 3 * C]);
  add('attn.c_attn.bias', [3 * C], true);
  add('attn.c_proj.weight', [C, C]);
  add('attn.c_proj.bias', [C], true);
  add('ln_2.weight', [C]);
  add('ln_2.bias', [C], true);
  add('mlp.c_fc.weight', [C, F]);
  add('mlp.c_fc.bias', [F], true);
  add('mlp.c_proj.weight', [F, C]);
  add('mlp.c_proj.bias', [C], true);
  return shapes;
}

/** Every tensor of the model, in checkpoint order. */
export function modelShapes(cfg: GPT2Config): TensorShapes {
  const shapes: TensorShapes = new Map();
  shapes.set('wte.weight', [cfg.vocabSize, cfg.nEmbd]);
  shapes.set('wpe.weight', [cfg.nPositions, cfg.nEmbd]);
  for (let i = 0; i < cfg.nLayer; i++) for (const [k, v] of blockShapes(cfg, i)) shapes.set(k, v);
  shapes.set('ln_f.weight', [cfg.nEmbd]);
  if (cfg.bias) shapes.set('ln_f.bias', [cfg.nEmbd]);
  if (!cfg.tieWordEmbeddings) shapes.set('lm_head.weight', [cfg.vocabSize, cfg.nEmbd]);
  return shapes;
}

export function parameterCount(cfg: GPT2Config): number {
  let n = 0;
  for (const shape of modelShapes(cfg).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}


// ---------------------------------------------------------------------------------------------
// config.json

/** Activations equal to GPT-2's tanh-approximated GELU, the one the engine implements. */
const ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh'];
/** GPT-2's <|endoftext|> token. */
const GPT2_EOS = 50256;

/** Reads an HF GPT-2 config.json (model_type "gpt2" or absent). */
function parseGPT2Fields(f: ConfigFields): GPT2Config {
  const json = f.json;
  const nEmbd = f.size('n_embd', 'width');
  const nHead = f.size('n_head', 'heads');
  if (nEmbd % nHead !== 0) f.fail(`field "n_embd" (${nEmbd}) must be divisible by "n_head" (${nHead})`);
  // HF's default; false drops the 1/sqrt(head dim) attention scaling, which the engine always applies.
  f.only('scale_attn_weights', true, "only true (GPT-2's default) is supported");
  const act = json.activation_function ?? 'gelu_new';
  if (typeof act !== 'string' || !ACTIVATIONS.includes(act)) {
    f.fail(`field "activation_function" is ${JSON.stringify(act)}; supported: ${ACTIVATIONS.join(', ')}`);
  }
  const positionsField = !f.has('n_positions') && f.has('n_ctx') ? 'n_ctx' : 'n_positions';
  if (!f.has(positionsField)) f.fail('missing field "n_positions" (or "n_ctx")');
  return {
    family: 'gpt2',
    vocabSize: f.size('vocab_size', 'vocab'),
    nPositions: f.size(positionsField, 'positions'),
    nEmbd,
    nLayer: f.size('n_layer', 'layers'),
    nHead,
    nInner: f.size('n_inner', 'mlp', 4 * nEmbd),
    layerNormEpsilon: f.positive('layer_norm_epsilon', 1e-5),
    bias: f.bool('bias', true),
    scaleAttnByInverseLayerIdx: f.bool('scale_attn_by_inverse_layer_idx', false),
    tieWordEmbeddings: f.bool('tie_word_embeddings', true),
  };
}

/** A config.json that transformers' GPT2LMHeadModel loads (and parseGPT2Fields reads back). */
export function gpt2ConfigToHF(cfg: GPT2Config, torchDtype = 'float32'): Record<string, unknown> {
  // GPT-2's tokenizer ends text with token 50256; a smaller test vocabulary uses its last id.
  const eos = cfg.vocabSize > GPT2_EOS ? GPT2_EOS : cfg.vocabSize - 1;
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: cfg.vocabSize,
    n_positions: cfg.nPositions,
    n_ctx: cfg.nPositions,
    n_embd: cfg.nEmbd,
    n_layer: cfg.nLayer,
    n_head: cfg.nHead,
    n_inner: cfg.nInner === 4 * cfg.nEmbd ? null : cfg.nInner,
    activation_function: 'gelu_new',
    layer_norm_epsilon: cfg.layerNormEpsilon,
    scale_attn_by_inverse_layer_idx: cfg.scaleAttnByInverseLayerIdx,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    resid_pdrop: 0.0,
    embd_pdrop: 0.0,
    attn_pdrop: 0.0,
    initializer_range: 0.02,
    bos_token_id: eos,
    eos_token_id: eos,
    torch_dtype: torchDtype,
    // Our own field: HF's GPT-2 always has biases and ignores it (it would init them randomly).
    ...(cfg.bias ? {} : { bias: false }),
  };
}

// ---------------------------------------------------------------------------------------------
// Initialisation

/**
 * A freshly initialised tensor, as HF transformers and nanoGPT do it: weights ~ N(0, 0.02), the
 * residual projections (`c_proj`) scaled by 1/sqrt(2 * nLayer) (GPT-2 paper), biases 0, LayerNorm
 * gains 1.
 */
function initTensor(cfg: GPT2Config, name: string, shape: number[], rand: () => number): HostTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const isNorm = /(^|\.)ln_(1|2|f)\./.test(name);
  if (isNorm && name.endsWith('.weight')) data.fill(1);
  else if (!name.endsWith('.bias')) {
    const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * cfg.nLayer) : 0.02;
    fillNormal(data, std, rand);
  }
  return { shape: [...shape], data };
}

// ---------------------------------------------------------------------------------------------
// The family's entry in modelFamily.ts's table

function blockIndex(name: string): number | undefined {
  const m = /^h\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

function partOf(name: string): TensorPart {
  if (name === 'wte.weight' || name === 'lm_head.weight') return 'embeddings';
  if (name === 'wpe.weight') return 'positions';
  if (name.startsWith('ln_f.')) return 'finalNorm';
  const sub = /^h\.\d+\.(attn|mlp|ln_1|ln_2)\./.exec(name)?.[1];
  if (sub === 'attn' || sub === 'mlp' || sub === 'ln_1' || sub === 'ln_2') return sub;
  throw new Error(`GPT-2: unexpected tensor ${name}`);
}

export const GPT2_FAMILY: FamilyOps<GPT2Config> = {
  modelType: 'gpt2',
  decoder: 'gpt2',
  parse: parseGPT2Fields,
  toHF: gpt2ConfigToHF,
  modelShapes,
  blockShapes,
  blockIndex,
  canonicalName(key, cfg) {
    const name = key.startsWith('transformer.') ? key.slice('transformer.'.length) : key;
    // Causal-mask buffers `h.N.attn.bias` / `h.N.attn.masked_bias` (not `h.N.attn.c_attn.bias`).
    if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)) return undefined;
    // Tied models compute the head from wte; a stored copy is redundant.
    if (name === 'lm_head.weight' && cfg.tieWordEmbeddings) return undefined;
    return name;
  },
  exampleNames: 'wte.weight, h.0.ln_1.weight',
  partOf,
  initTensor,
  kvHeads: (cfg) => cfg.nHead,
  outline: (cfg) => `${cfg.nLayer} layers, bias ${cfg.bias}, tied ${cfg.tieWordEmbeddings}`,
};
