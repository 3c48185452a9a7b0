/** Gradient accumulation over micro-batches and clipping by global norm (torch.nn.utils.clip_grad_norm_). */
import * as tf from '../tf.js';

/** Adds `scale * grads` into `acc` (created on first use), disposing the replaced sums. */
export function accumulate(acc: Map<string, tf.Tensor>, grads: tf.NamedTensorMap, scale: number): void {
  for (const [name, g] of Object.entries(grads)) {
    const prev = acc.get(name);
    const next = tf.tidy(() => (prev === undefined ? g.mul(scale) : prev.add(g.mul(scale))));
    prev?.dispose();
    acc.set(name, next);
  }
}

/** Scales the gradients in place so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  const norm = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => g.square().sum()))).dataSync()[0]);
  if (maxNorm > 0 && norm > maxNorm) {
    const coef = maxNorm / (norm + 1e-6);
    for (const [name, g] of grads) {
      grads.set(name, tf.tidy(() => g.mul(coef)));
      g.dispose();
    }
  }
  return norm;
}
