/** The language-model loss both model families use. */
import * as tf from './tf.js';

/**
 * Mean next-token cross-entropy in nats of logits [..., V] against int32 targets (-1: no target).
 * A one-hot product rather than a gather: differentiable on every backend. Target -1 (a window cut by
 * the end of the data) has an all-zero one-hot row and is left out of the mean.
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, vocabSize: number): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits.reshape([-1, vocabSize]));
    const flat = targets.reshape([-1]);
    const picked = logp.mul(tf.oneHot(flat, vocabSize).toFloat()).sum();
    return picked.div(flat.greaterEqual(0).toFloat().sum()).neg() as tf.Scalar;
  });
}
