/**
 * Gradient sums written into the earlier gradient. tfjs's backward pass adds a tensor's second
 * gradient to the first with add(first, second) and then disposes the first; train/backward.ts,
 * which sees each gradient as it is returned, marks that pair, and the native Add kernel then
 * writes the sum into the first one's memory (when no other tensor shares it) instead of a new
 * tensor: for GPT-2's tied embedding, 154 MB a step not allocated and written afresh. A gradient of
 * a few rows (the embedding lookup's) can be added into that memory by the op's own gradient
 * (native/embeddingGrad.ts), which returns the sum's data itself: that Add is then already done.
 */
import type * as tf from '../tf.js';

let pending: { target: object; addend: object } | undefined;
let sums: ((x: tf.Tensor) => object | undefined) | undefined;

/** The next Add will sum `addend`'s data into `target`'s (tfjs's add(first, second)); the same data: already summed. */
export function markAccumulation(target: object, addend: object): void {
  pending = { target, addend };
}

/**
 * Whether Add(a, b) is the marked sum ('sum'), or the marked sum already done (b is a's data:
 * 'done'); the mark is used up by the next Add either way.
 */
export function takeAccumulation(a: tf.TensorInfo, b: tf.TensorInfo): 'sum' | 'done' | undefined {
  const p = pending;
  pending = undefined;
  if (p === undefined || p.target !== a.dataId || p.addend !== b.dataId) return undefined;
  return a.dataId === b.dataId ? 'done' : 'sum';
}

/**
 * While a backward pass of train/backward.ts runs: the data of the gradient sum of x that may be
 * written in place (its first gradient, which no other tensor shares), if there is one.
 */
export function setGradientSums(lookup: ((x: tf.Tensor) => object | undefined) | undefined): void {
  sums = lookup;
}

export function gradientSumData(x: tf.Tensor): object | undefined {
  return sums?.(x);
}
