/**
 * GPT-2 in tfjs, numerically equal to Hugging Face's GPT2LMHeadModel (eager attention):
 *
 *   x = wte[idx] + wpe[0..T-1]
 *   for each block i:  x = x + attn_i(ln_1(x));  x = x + mlp_i(ln_2(x))
 *   logits = ln_f(x) @ wte^T            (tied; an untied model has its own lm_head)
 *
 * attn: causal multi-head self-attention, logits scaled by 1/sqrt(head_dim) and, with
 * scale_attn_by_inverse_layer_idx, by 1/(i+1) as well. mlp: c_fc -> gelu_new -> c_proj.
 * Weights keep HF's names and layouts (Conv1D weights are [in, out]: y = x W + b), so checkpoints
 * map one to one onto `params`. Only tfjs-core ops are used, so every backend runs it.
 */
import * as tf from './tf.js';
import { nativeGelu } from './native/gelu.js';
import { nativeLayerNorm } from './native/layerNorm.js';
import { nativeCausalAttention } from './native/attention.js';
import { nativeAffine } from './native/affine.js';
import { DecoderModel } from './decoderModel.js';
import { embeddingLookup } from './embedding.js';
import type { HostTensor } from './familyOps.js';
import type { GPT2Config } from './gpt2Config.js';
import { modelShapes } from './gpt2Config.js';
import { InherituneError } from './errors.js';
import { causalMask } from './causalMask.js';
import type { ForwardResult } from './modelFamily.js';

export class GPT2 extends DecoderModel<GPT2Config> {
  constructor(config: GPT2Config, weights: Map<string, HostTensor>) {
    super(config, modelShapes(config), weights);
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (v === undefined) throw new Error(`GPT2: no parameter ${name}`);
    return v;
  }

  /**
   * Affine map of the last axis, x [.., in] @ W [in, out] (+ b), added to `residual` (the residual
   * stream) when given; the bias and the residual go in the product's kernel where native.
   */
  private linear(x: tf.Tensor, prefix: string, residual?: tf.Tensor): tf.Tensor {
    const w = this.p(`${prefix}.weight`) as tf.Tensor2D;
    const [nIn, nOut] = w.shape;
    const lead = x.shape.slice(0, -1);
    const x2 = x.reshape([-1, nIn]) as tf.Tensor2D;
    const b = this.config.bias ? (this.p(`${prefix}.bias`) as tf.Tensor1D) : undefined;
    const r2 = residual?.reshape([-1, nOut]) as tf.Tensor2D | undefined;
    let y: tf.Tensor | undefined = nativeAffine(x2, w, b, r2);
    if (y === undefined) {
      y = tf.matMul(x2, w);
      if (b !== undefined) y = y.add(b);
      if (r2 !== undefined) y = r2.add(y);
    }
    return y.reshape([...lead, nOut]);
  }

  private layerNorm(x: tf.Tensor, prefix: string): tf.Tensor {
    const bias = this.config.bias ? this.p(`${prefix}.bias`) : undefined;
    const fused = nativeLayerNorm(x, this.p(`${prefix}.weight`), bias, this.config.layerNormEpsilon);
    if (fused !== undefined) return fused;
    const { mean, variance } = tf.moments(x, -1, true);
    const y = x.sub(mean).mul(tf.rsqrt(variance.add(this.config.layerNormEpsilon))).mul(this.p(`${prefix}.weight`));
    return bias !== undefined ? y.add(bias) : y;
  }

  /** HF's gelu_new: the tanh approximation of GELU (fused where the native kernels serve the backend). */
  private static gelu(x: tf.Tensor): tf.Tensor {
    const fused = nativeGelu(x);
    if (fused !== undefined) return fused;
    const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(0.5).mul(tf.tanh(inner).add(1));
  }

  /** The heads' outputs, merged [B, T, C], before the output projection. */
  private attention(i: number, x: tf.Tensor3D, mask: tf.Tensor2D, capture: tf.Tensor4D[] | undefined): tf.Tensor3D {
    const [B, T, C] = x.shape;
    const H = this.config.nHead;
    const D = C / H;
    const qkv = this.linear(x, `h.${i}.attn.c_attn`) as tf.Tensor3D;
    let scale = 1 / Math.sqrt(D);
    if (this.config.scaleAttnByInverseLayerIdx) scale /= i + 1;
    // The fused native kernel where it serves the backend, unless the probabilities are wanted.
    const fused = capture === undefined ? nativeCausalAttention(qkv, H, scale) : undefined;
    if (fused !== undefined) return fused;
    const heads = (t: tf.Tensor) => t.reshape([B, T, H, D]).transpose([0, 2, 1, 3]);
    const [q, k, v] = tf.split(qkv, 3, -1).map(heads);
    const scores = tf.matMul(q, k, false, true).mul(scale).add(mask);
    const probs = tf.softmax(scores) as tf.Tensor4D;
    capture?.push(probs);
    return tf.matMul(probs, v).transpose([0, 2, 1, 3]).reshape([B, T, C]);
  }

  private block(i: number, x: tf.Tensor3D, mask: tf.Tensor2D, capture: tf.Tensor4D[] | undefined): tf.Tensor3D {
    const heads = this.attention(i, this.layerNorm(x, `h.${i}.ln_1`) as tf.Tensor3D, mask, capture);
    x = this.linear(heads, `h.${i}.attn.c_proj`, x) as tf.Tensor3D;
    const h = GPT2.gelu(this.linear(this.layerNorm(x, `h.${i}.ln_2`), `h.${i}.mlp.c_fc`));
    return this.linear(h, `h.${i}.mlp.c_proj`, x) as tf.Tensor3D;
  }

  /** inputs: int32 token ids [B, T] with T <= nPositions. */
  forward(inputs: tf.Tensor2D, opts: { attention?: boolean } = {}): ForwardResult {
    const [B, T] = inputs.shape;
    const { nEmbd: C, vocabSize } = this.config;
    const capture: tf.Tensor4D[] | undefined = opts.attention ? [] : undefined;
    const logits = tf.tidy(() => {
      const x = this.hidden(inputs, capture);
      const head = this.config.tieWordEmbeddings ? this.p('wte.weight') : this.p('lm_head.weight');
      const out = tf.matMul(this.layerNorm(x, 'ln_f').reshape([B * T, C]), head, false, true);
      const result: tf.Tensor[] = [out.reshape([B, T, vocabSize]), ...(capture ?? [])];
      return result;
    });
    const [l, ...attention] = logits;
    return { logits: l as tf.Tensor3D, attention: attention as tf.Tensor4D[] };
  }

  /** The residual stream after the blocks, [B, T, C]; inputs: int32 token ids [B, T] with T <= nPositions. */
  protected hidden(inputs: tf.Tensor2D, capture: tf.Tensor4D[] | undefined): tf.Tensor3D {
    const [B, T] = inputs.shape;
    const { nPositions, nEmbd: C } = this.config;
    if (T > nPositions) throw new InherituneError('inputs', `sequence length ${T} exceeds the model's ${nPositions} positions`);
    const mask = causalMask(T);
    const tok = embeddingLookup(this.p('wte.weight'), inputs.reshape([-1])).reshape([B, T, C]);
    let x = tok.add(this.p('wpe.weight').slice([0, 0], [T, C])) as tf.Tensor3D;
    for (let i = 0; i < this.config.nLayer; i++) x = this.block(i, x, mask, capture);
    return x;
  }
}
