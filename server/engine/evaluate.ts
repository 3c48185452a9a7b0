/** Mean next-token cross-entropy of a model over fixed windows of a token array. */
import * as tf from './tf.js';
import type { LanguageModel } from './modelFamily.js';
import { makeBatch } from './data/windows.js';
import { InherituneError } from './errors.js';

export interface EvalResult {
  /** Mean cross-entropy in nats over every target token. */
  valLoss: number;
  tokens: number;
  windows: number;
}

/** The result of `sum` over `windows` windows of `seqLen` tokens; a NaN or infinite loss is an error, not a number to report. */
export function evalResult(sum: number, windows: number, seqLen: number): EvalResult {
  const valLoss = sum / windows;
  if (!Number.isFinite(valLoss)) {
    throw new InherituneError('evaluation', `the validation loss is ${valLoss}: the model's weights hold NaN or infinite values (a diverged or corrupt checkpoint?)`);
  }
  return { valLoss, tokens: windows * seqLen, windows };
}

/** The windows at `starts` as int32 inputs and targets [windows, seqLen] (call inside tf.tidy). */
export function windowTensors(tokens: ArrayLike<number>, starts: number[], seqLen: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const batch = makeBatch(tokens, starts, seqLen);
  return {
    x: tf.tensor2d(batch.inputs, [starts.length, seqLen], 'int32'),
    y: tf.tensor2d(batch.targets, [starts.length, seqLen], 'int32'),
  };
}

export async function evaluate(
  model: Pick<LanguageModel, 'loss'>,
  tokens: ArrayLike<number>,
  starts: number[],
  seqLen: number,
  batchSize: number,
  onProgress?: (done: number, total: number) => void,
): Promise<EvalResult> {
  let sum = 0;
  for (let i = 0; i < starts.length; i += batchSize) {
    const chunk = starts.slice(i, i + batchSize);
    const loss = tf.tidy(() => {
      const { x, y } = windowTensors(tokens, chunk, seqLen);
      return model.loss(x, y);
    });
    // Every window has the same length, so weighting by window count is weighting by token.
    sum += (await loss.data())[0] * chunk.length;
    loss.dispose();
    onProgress?.(Math.min(i + batchSize, starts.length), starts.length);
  }
  return evalResult(sum, starts.length, seqLen);
}
