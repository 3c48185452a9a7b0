/**
 * Mean next-token cross-entropy of each evaluation window on its own: what the paired test of
 * run/stats.ts compares between a model and the reference (the same windows, in the same order).
 */
import * as tf from './tf.js';
import type { LanguageModel } from './modelFamily.js';
import { windowTensors } from './evaluate.js';

export async function windowLosses(model: Pick<LanguageModel, 'forward' | 'config'>, tokens: ArrayLike<number>, starts: number[], seqLen: number, batchSize: number): Promise<number[]> {
  const V = model.config.vocabSize;
  const out: number[] = [];
  for (let i = 0; i < starts.length; i += batchSize) {
    const chunk = starts.slice(i, i + batchSize);
    const perWindow = tf.tidy(() => {
      const { x, y } = windowTensors(tokens, chunk, seqLen);
      const logp = tf.logSoftmax(model.forward(x).logits);
      // Targets -1 (none in evaluation windows, which always have targets) would pick nothing.
      const mask = y.greaterEqual(0).toFloat();
      const picked = logp.mul(tf.oneHot(y, V).toFloat()).sum(2);
      return picked.sum(1).div(mask.sum(1)).neg();
    });
    // Read asynchronously: WebGPU has no synchronous read outside a browser.
    out.push(...(await perWindow.data()));
    perWindow.dispose();
  }
  return out;
}
