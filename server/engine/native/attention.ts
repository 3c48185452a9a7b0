/**
 * GPT-2's causal self-attention as one native pass forward and one backward, read straight from the
 * fused q/k/v projection: the same operations as gpt2.ts's tfjs ops (split, heads transposed out,
 * q k^T, scale, mask, softmax, p v, transposed back), without the copies of the heads, the scaled and
 * masked logits or the softmax gradient's temporaries, and with the heads shared among the threads.
 * Keeps for the gradient its input and the probabilities (the tfjs ops keep those and more).
 */
import * as tf from '../tf.js';
import { nativeBackend } from './index.js';

/**
 * Attention of qkv [B, T, 3C] with `heads` heads, logits times `scale`, causal: [B, T, C] (heads
 * side by side), differentiable; undefined where the native kernels do not serve the backend.
 */
export function nativeCausalAttention(qkv: tf.Tensor3D, heads: number, scale: number): tf.Tensor3D | undefined {
  const native = nativeBackend();
  if (native === undefined || qkv.dtype !== 'float32' || native.memory.input(qkv) === undefined) return undefined;
  const { addon, memory } = native;
  const engine = tf.engine();
  const [B, T, C3] = qkv.shape;
  const C = C3 / 3;
  const D = C / heads;
  const attention = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const out = memory.output([B, T, C]);
    const probs = memory.output([B, heads, T, T]);
    const Q = memory.input(input)!;
    const Y = out.place();
    const P = probs.place();
    addon.attention(Q.array, Q.offset, B, T, heads, D, scale, Y.array, Y.offset, P.array, P.offset);
    save([input, engine.makeTensorFromTensorInfo(probs.info)]);
    return {
      value: engine.makeTensorFromTensorInfo(out.info),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dqkv = memory.output([B, T, C3]);
        const [QS, PS] = saved.map((t) => memory.input(t)!);
        const DY = memory.input(dy as tf.Tensor)!;
        const DQ = dqkv.place();
        addon.attentionGrad(QS.array, QS.offset, PS.array, PS.offset, DY.array, DY.offset, B, T, heads, D, scale, DQ.array, DQ.offset);
        return engine.makeTensorFromTensorInfo(dqkv.info);
      },
    };
  });
  return attention(qkv) as tf.Tensor3D;
}
