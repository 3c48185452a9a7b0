/**
 * Gradient sums written into the earlier gradient. tfjs's backward pass adds a tensor's second
 * gradient to the first with add(first, second) and then disposes the first; train/backward.ts,
 * which sees each gradient as it is returned, marks that pair, and the native Add kernel then
 * writes the sum into the first one's memory (when no other tensor shares it) instead of a new
 * tensor: for GPT-2's tied embedding, 154 MB a step not allocated and written afresh.
 */
import type * as tf from '../tf.js';

let pending: { target: object; addend: object } | undefined;

/** The next Add will sum `addend`'s data into `target`'s (tfjs's add(first, second)). */
export function markAccumulation(target: object, addend: object): void {
  pending = { target, addend };
}

/** Whether Add(a, b) is the marked sum; the mark is used up by the next Add either way. */
export function takeAccumulation(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  const p = pending;
  pending = undefined;
  return p !== undefined && p.target === a.dataId && p.addend === b.dataId;
}
