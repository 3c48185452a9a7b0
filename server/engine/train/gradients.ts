/** Gradient accumulation over micro-batches and clipping by global norm (torch.nn.utils.clip_grad_norm_). */
import * as tf from '../tf.js';
import { nativeSumSquares } from '../native/sumSquares.js';

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
  // One pass per gradient with the native kernels; else one tidy per gradient, so that only one
  // gradient's squares exist at a time.
  const sums = [...grads.values()].map((g) => {
    const native = nativeSumSquares(g);
    return native !== undefined ? tf.scalar(native) : tf.tidy(() => g.square().sum());
  });
  const norm = tf.tidy(() => tf.sqrt(chunkedAddN(sums)) as tf.Scalar);
  tf.dispose(sums);
  return norm;
}

/**
 * The factor clipping by global norm scales every gradient by: maxNorm / (norm + 1e-6) when the
 * norm (read already) exceeds maxNorm > 0, else 1. The optimizer applies it (AdamW.apply), so the
 * gradients are not copied to be scaled.
 */
export function clipScale(norm: number, maxNorm: number): number {
  return maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}
