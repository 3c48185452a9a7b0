import * as tf from './tf.js';

/**
 * The additive causal mask [T, T] every decoder adds to its attention logits: 0 on and below the
 * diagonal, -1e9 above, which gives exactly zero probability after softmax, as HF's fill with the
 * dtype's minimum does.
 */
export function causalMask(T: number): tf.Tensor2D {
  return tf.tidy(() => tf.sub(tf.linalg.bandPart(tf.ones([T, T]), -1, 0), 1).mul(1e9) as tf.Tensor2D);
}
