/** What GPT-2's and LLaMA's decoders share for an analysis: their attention, without the head. */
import * as tf from './tf.js';

/** The attention maps `hidden` pushes into its capture list, kept past one tidy (the rest is freed). */
export function captureAttention(hidden: (capture: tf.Tensor4D[]) => unknown): tf.Tensor4D[] {
  const capture: tf.Tensor4D[] = [];
  return tf.tidy(() => {
    hidden(capture);
    return capture;
  });
}
