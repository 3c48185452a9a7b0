/**
 * The rotary decoder in tfjs: LLaMA, numerically equal to Hugging Face's LlamaForCausalLM (eager
 * attention), and Qwen2 (Qwen2ForCausalLM), the same with biases on q, k and v (config.qkvBias):
 *
 *   x = embed_tokens[idx]
 *   for each block i:  x = x + attn_i(rmsnorm(x));  x = x + mlp_i(rmsnorm(x))
 *   logits = rmsnorm(x) @ lm_head^T            (untied; a tied model uses embed_tokens)
 *
 * rmsnorm(x) = w * x / sqrt(mean(x^2) + rms_norm_eps) (no mean subtraction, no bias).
 * attn: q, k, v projections (with bias when qkvBias); rotary position embedding on q and k in HF's rotate-half
 * convention (the first and second halves of each head's channels form the rotated pairs, frequencies
 * rope_theta^(-2j/D)); causal softmax(q k^T / sqrt(D)); grouped-query attention when
 * num_key_value_heads < num_attention_heads (query head h reads key/value head h / (H / KV), HF's
 * repeat_kv); o_proj. mlp: down_proj(silu(gate_proj(x)) * up_proj(x)) (SwiGLU).
 *
 * Weights keep HF's names and nn.Linear's [out, in] layout. The pieces (embed, block, head) are
 * plain functions of a parameter lookup, so the same code runs a whole model held in tfjs variables
 * (class Llama) and a multi-GB checkpoint streamed one block at a time (layerwise.ts). Only tfjs-core
 * ops are used, so every backend runs it.
 */
import * as tf from './tf.js';
import { DecoderModel } from './decoderModel.js';
import { embeddingLookup } from './embedding.js';
import type { HostTensor } from './familyOps.js';
import { InherituneError } from './errors.js';
import { causalMask } from './causalMask.js';
import { LLAMA_EMBED, LLAMA_FINAL_NORM, LLAMA_HEAD, llamaBlockPrefix, llamaModelShapes, type RotaryConfig } from './llamaConfig.js';
import type { ForwardResult } from './modelFamily.js';

/** A parameter by its HF name. */
export type ParamLookup = (name: string) => tf.Tensor;

/** What every block of one forward pass shares: rotary tables and the causal mask for T tokens. */
export interface LlamaContext {
  /** [T, D]: cos and sin of position t times frequency j (the D/2 frequencies repeated twice, as HF's emb = cat(freqs, freqs)). */
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  /** [T, T] additive causal mask: 0 on and below the diagonal, -1e9 above. */
  mask: tf.Tensor2D;
}

/**
 * Rotary tables for positions 0..T-1. Angles are computed in float64 on the host and rounded once
 * to float32 (HF computes them in float32; the difference is far below the parity tolerances).
 */
export function ropeTables(cfg: RotaryConfig, T: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const D = cfg.headDim;
  const half = D / 2;
  const cos = new Float32Array(T * D);
  const sin = new Float32Array(T * D);
  for (let j = 0; j < half; j++) {
    const invFreq = 1 / cfg.ropeTheta ** ((2 * j) / D);
    for (let t = 0; t < T; t++) {
      const angle = t * invFreq;
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[t * D + j] = cos[t * D + j + half] = c;
      sin[t * D + j] = sin[t * D + j + half] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [T, D]), sin: tf.tensor2d(sin, [T, D]) };
}

/** Tables and mask for T tokens; the caller disposes them (or builds them inside a tidy). */
export function llamaContext(cfg: RotaryConfig, T: number): LlamaContext {
  const { cos, sin } = ropeTables(cfg, T);
  return { cos, sin, mask: causalMask(T) };
}

export function disposeContext(ctx: LlamaContext): void {
  ctx.cos.dispose();
  ctx.sin.dispose();
  ctx.mask.dispose();
}

/** x [.., in] @ W^T (+ b) with W [out, in] (nn.Linear). */
function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const [nOut, nIn] = w.shape;
  const lead = x.shape.slice(0, -1);
  const y = tf.matMul(x.reshape([-1, nIn]), w, false, true);
  return (b ? y.add(b) : y).reshape([...lead, nOut]);
}

function rmsNorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  const variance = x.square().mean(-1, true);
  return x.mul(tf.rsqrt(variance.add(eps))).mul(w);
}

/** HF's rotate_half: [x1, x2] -> [-x2, x1] over the last axis (halves of each head's channels). */
function rotateHalf(x: tf.Tensor): tf.Tensor {
  const [x1, x2] = tf.split(x, 2, -1);
  return tf.concat([x2.neg(), x1], -1);
}

/** x [B, heads, T, D] rotated by position: x cos + rotate_half(x) sin. */
function applyRope(x: tf.Tensor, ctx: LlamaContext): tf.Tensor {
  return x.mul(ctx.cos).add(rotateHalf(x).mul(ctx.sin));
}

/** Token embeddings [B, T, C] of int32 ids [B, T]. */
export function llamaEmbed(cfg: RotaryConfig, p: ParamLookup, inputs: tf.Tensor2D): tf.Tensor3D {
  const [B, T] = inputs.shape;
  return embeddingLookup(p(LLAMA_EMBED), inputs.reshape([-1])).reshape([B, T, cfg.nEmbd]) as tf.Tensor3D;
}

function attention(cfg: RotaryConfig, p: ParamLookup, i: number, x: tf.Tensor3D, ctx: LlamaContext, capture: tf.Tensor4D[] | undefined): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const { nHead: H, nKvHead: KV, headDim: D } = cfg;
  const rep = H / KV;
  const pre = `${llamaBlockPrefix(i)}self_attn.`;
  const heads = (t: tf.Tensor, n: number) => t.reshape([B, T, n, D]).transpose([0, 2, 1, 3]);
  const proj = (name: string) => linear(x, p(`${pre}${name}.weight`), cfg.qkvBias ? p(`${pre}${name}.bias`) : undefined);
  const q = applyRope(heads(proj('q_proj'), H), ctx);
  const k = applyRope(heads(proj('k_proj'), KV), ctx);
  const v = heads(proj('v_proj'), KV);
  // Grouped-query attention without copying k and v: the `rep` query heads of key/value head g are
  // stacked along the time axis [B, KV, rep*T, D], so one batched matMul serves them all. With
  // rep = 1 this is ordinary multi-head attention.
  const qGrouped = q.reshape([B, KV, rep * T, D]);
  const scores = tf.matMul(qGrouped, k, false, true).reshape([B, H, T, T]).mul(1 / Math.sqrt(D)).add(ctx.mask);
  const probs = tf.softmax(scores) as tf.Tensor4D;
  capture?.push(probs);
  const y = tf.matMul(probs.reshape([B, KV, rep * T, T]), v).reshape([B, H, T, D]).transpose([0, 2, 1, 3]).reshape([B, T, H * D]);
  return linear(y, p(`${pre}o_proj.weight`)).reshape([B, T, C]) as tf.Tensor3D;
}

function mlp(p: ParamLookup, i: number, x: tf.Tensor): tf.Tensor {
  const pre = `${llamaBlockPrefix(i)}mlp.`;
  const gate = linear(x, p(`${pre}gate_proj.weight`));
  // silu(g) = g * sigmoid(g)
  const h = gate.mul(tf.sigmoid(gate)).mul(linear(x, p(`${pre}up_proj.weight`)));
  return linear(h, p(`${pre}down_proj.weight`));
}

/** Decoder block i: x + attn(norm(x)), then + mlp(norm(...)). Appends the attention to `capture`. */
export function llamaBlock(cfg: RotaryConfig, p: ParamLookup, i: number, x: tf.Tensor3D, ctx: LlamaContext, capture?: tf.Tensor4D[]): tf.Tensor3D {
  const pre = llamaBlockPrefix(i);
  const h = x.add(attention(cfg, p, i, rmsNorm(x, p(`${pre}input_layernorm.weight`), cfg.rmsNormEps) as tf.Tensor3D, ctx, capture)) as tf.Tensor3D;
  return h.add(mlp(p, i, rmsNorm(h, p(`${pre}post_attention_layernorm.weight`), cfg.rmsNormEps))) as tf.Tensor3D;
}

/** Final norm and LM head: logits [B, T, vocab]. */
export function llamaHead(cfg: RotaryConfig, p: ParamLookup, x: tf.Tensor3D): tf.Tensor3D {
  const [B, T, C] = x.shape;
  const head = cfg.tieWordEmbeddings ? p(LLAMA_EMBED) : p(LLAMA_HEAD);
  const h = rmsNorm(x, p(LLAMA_FINAL_NORM), cfg.rmsNormEps).reshape([B * T, C]);
  return tf.matMul(h, head, false, true).reshape([B, T, cfg.vocabSize]) as tf.Tensor3D;
}

/** A rotary-decoder model (LLaMA, Qwen2) held in tfjs variables. */
export class Llama extends DecoderModel<RotaryConfig> {
  private readonly lookup: ParamLookup;

  constructor(config: RotaryConfig, weights: Map<string, HostTensor>) {
    super(config, llamaModelShapes(config), weights);
    this.lookup = (name) => {
      const v = this.params.get(name);
      if (v === undefined) throw new Error(`Llama: no parameter ${name}`);
      return v;
    };
  }

  /** inputs: int32 token ids [B, T] with T <= nPositions. */
  forward(inputs: tf.Tensor2D, opts: { attention?: boolean } = {}): ForwardResult {
    const capture: tf.Tensor4D[] | undefined = opts.attention ? [] : undefined;
    const [logits, ...attention] = tf.tidy(() => [llamaHead(this.config, this.lookup, this.hidden(inputs, capture)), ...(capture ?? [])] as tf.Tensor[]);
    return { logits: logits as tf.Tensor3D, attention: attention as tf.Tensor4D[] };
  }

  /** The residual stream after the blocks, capturing each block's attention when asked. */
  protected hidden(inputs: tf.Tensor2D, capture: tf.Tensor4D[] | undefined): tf.Tensor3D {
    const T = inputs.shape[1];
    const cfg = this.config;
    if (T > cfg.nPositions) throw new InherituneError('inputs', `sequence length ${T} exceeds the model's ${cfg.nPositions} positions`);
    const ctx = llamaContext(cfg, T);
    let x = llamaEmbed(cfg, this.lookup, inputs);
    for (let i = 0; i < cfg.nLayer; i++) x = llamaBlock(cfg, this.lookup, i, x, ctx, capture);
    return x;
  }
}
