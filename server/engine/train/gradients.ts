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

/**
 * At most this many tensors per addN: on webgpu each is a storage buffer of one shader, and WebGPU
 * guarantees 8 per stage (one is the output).
 */
const ADDN_CHUNK = 7;

/** Sum of same-shaped tensors, added in chunks of ADDN_CHUNK (one addN over hundreds fails on webgpu). */
export function chunkedAddN(ts: tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => {
    let level = ts;
    while (level.length > 1) {
      const next: tf.Tensor[] = [];
      for (let i = 0; i < level.length; i += ADDN_CHUNK) {
        const chunk = level.slice(i, i + ADDN_CHUNK);
        next.push(chunk.length === 1 ? chunk[0] : tf.addN(chunk));
      }
      level = next;
    }
    return level[0].clone();
  });
}

/** The gradients' global L2 norm, left on the device (read with the step's loss, in one read). */
export function globalNorm(grads: Map<string, tf.Tensor>): tf.Scalar {
  // One tidy per gradient: the squares of one gradient at a time, not of all at once.
  const sums = [...grads.values()].map((g) => tf.tidy(() => g.square().sum()));
  const norm = tf.tidy(() => tf.sqrt(chunkedAddN(sums)) as tf.Scalar);
  tf.dispose(sums);
  return norm;
}

/** Scales the gradients in place so their global L2 norm (`norm`, read already) is at most maxNorm. */
export function clipToNorm(grads: Map<string, tf.Tensor>, norm: number, maxNorm: number): void {
  if (maxNorm > 0 && norm > maxNorm) {
    const coef = maxNorm / (norm + 1e-6);
    for (const [name, g] of grads) {
      grads.set(name, tf.tidy(() => g.mul(coef)));
      g.dispose();
    }
  }
}
