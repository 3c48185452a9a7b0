/** The language-model loss both model families use. */
import * as tf from './tf.js';
import { nativeNll } from './native/crossEntropy.js';

/**
 * Mean next-token cross-entropy in nats of logits [..., V] against int32 targets (-1: no target,
 * e.g. a window cut by the end of the data, left out of the mean). With the native kernels, a
 * fused pass that holds no tokens x V temporaries; otherwise a one-hot product rather than a
 * gather, differentiable on every backend (a -1 target has an all-zero one-hot row).
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, vocabSize: number): tf.Scalar {
  return tf.tidy(() => {
    const rows = logits.reshape([-1, vocabSize]) as tf.Tensor2D;
    const flat = targets.reshape([-1]) as tf.Tensor1D;
    const count = flat.greaterEqual(0).toFloat().sum();
    const nll = nativeNll(rows, flat);
    if (nll !== undefined) return nll.sum().div(count) as tf.Scalar;
    const picked = tf.logSoftmax(rows).mul(tf.oneHot(flat, vocabSize).toFloat()).sum();
    return picked.div(count).neg() as tf.Scalar;
  });
}
