/**
 * The embedding lookup's gradient added straight into the table's gradient sum: with tied
 * embeddings (GPT-2), the head's gradient of the table comes first, and the lookup's is a few rows
 * of it; tfjs would scatter them into a zero tensor of the table's size and add that (two passes
 * over 154 MB for GPT-2 small). The rows are summed per id as scatterND sums them, then added.
 */
import * as tf from '../tf.js';
import { gradientSumData } from './accumulate.js';
import { nativeBackend } from './index.js';

/**
 * Adds dy [n, ...row] at rows ids [n] into the gradient sum of `table` and returns a tensor sharing
 * that sum's data (train/backward.ts then marks tfjs's Add as done); undefined where the sum may not
 * be written in place (no backward pass of train/backward.ts, no earlier gradient, shared data).
 */
export function rowsIntoGradientSum(table: tf.Tensor, ids: tf.Tensor, dy: tf.Tensor): tf.Tensor | undefined {
  const native = nativeBackend();
  const target = gradientSumData(table);
  if (native === undefined || target === undefined || table.dtype !== 'float32' || dy.dtype !== 'float32') return undefined;
  const { memory } = native;
  const sum: tf.TensorInfo = { dataId: target, shape: [...table.shape], dtype: 'float32' };
  const S = memory.input(sum);
  const D = memory.input(dy);
  const I = memory.inputInt32(ids);
  if (S === undefined || D === undefined || I === undefined || memory.refCount(sum) !== 1) return undefined;
  const width = tf.util.sizeFromShape(table.shape.slice(1));
  const count = ids.size;
  // Each id's rows summed first (from zero, in order, as scatterND does), then added to the sum.
  const rows = new Map<number, Float32Array>();
  for (let i = 0; i < count; i++) {
    const id = I.array[I.offset + i];
    const row = D.array.subarray(D.offset + i * width, D.offset + (i + 1) * width);
    const acc = rows.get(id);
    if (acc === undefined) rows.set(id, Float32Array.from(row));
    else for (let c = 0; c < width; c++) acc[c] += row[c];
  }
  for (const [id, row] of rows) {
    const base = S.offset + id * width;
    for (let c = 0; c < width; c++) S.array[base + c] += row[c];
  }
  return tf.engine().makeTensorFromTensorInfo(memory.share(sum));
}
