/** Embedding lookup shared by the model families. */
import * as tf from './tf.js';
import { rowsIntoGradientSum } from './native/embeddingGrad.js';

/**
 * Row lookup table[ids] whose gradient scatters dy back with scatterND (which sums repeated ids):
 * tfjs's own gather gradient needs UnsortedSegmentSum, which the wasm backend lacks. Where the
 * table's gradient sum so far may be written in place (a tied head's), the rows go straight into it.
 */
export const embeddingLookup = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [table, ids, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([ids]);
  return {
    value: tf.gather(table, ids),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [savedIds] = saved;
      const rows = rowsIntoGradientSum(table, savedIds, dy as tf.Tensor) ?? tf.scatterND(savedIds.reshape([-1, 1]), dy as tf.Tensor, table.shape);
      return [rows, tf.zerosLike(savedIds)];
    },
  };
});
