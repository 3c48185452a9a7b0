/** Gradient accumulation over micro-batches and clipping by global norm (torch.nn.utils.clip_grad_norm_). */
import * as tf from '../tf.js';

/**
 * Adds `scale * grads` into `acc` (created on first use), one gradient at a time, taking ownership
 * of `grads`: each is disposed once added, or becomes the sum itself when it is the first and the
 * scale is 1 (no copy of the gradients then).
 */
export function accumulate(acc: Map<string, tf.Tensor>, grads: tf.NamedTensorMap, scale: number): void {
  for (const [name, g] of Object.entries(grads)) {
    const prev = acc.get(name);
    if (prev === undefined && scale === 1) {
      acc.set(name, g);
      continue;
    }
    const next = tf.tidy(() => (prev === undefined ? g.mul(scale) : prev.add(g.mul(scale))));
    prev?.dispose();
    g.dispose();
    acc.set(name, next);
  }
}

/** Scales the gradients in place so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  // One tidy per gradient: the squares of one gradient at a time, not of all at once.
  const sums = [...grads.values()].map((g) => tf.tidy(() => g.square().sum()));
  const norm = tf.tidy(() => tf.sqrt(tf.addN(sums)).dataSync()[0]);
  tf.dispose(sums);
  if (maxNorm > 0 && norm > maxNorm) {
    const coef = maxNorm / (norm + 1e-6);
    for (const [name, g] of grads) {
      grads.set(name, tf.tidy(() => g.mul(coef)));
      g.dispose();
    }
  }
  return norm;
}
