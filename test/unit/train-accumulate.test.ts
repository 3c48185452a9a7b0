/**
 * train.accumulate: 'sum' (the authors' code) adds the micro-batch gradients where 'mean' (default)
 * averages them, so with k micro-batches a step's gradient norm is k times larger: what grad_clip sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../server/engine/backend.js';
import { GPT2 } from '../../server/engine/gpt2.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { Trainer, type TrainConfig, type AccumulateMode } from '../../server/engine/train/trainer.js';
import { tinyGPT2 } from '../helpers/models.js';

const config = tinyGPT2({ vocabSize: 64, nPositions: 16 });
const base: TrainConfig = {
  steps: 1,
  batchTokens: 3 * 2 * 16, // 3 micro-batches of 2 x 16 tokens
  microBatch: 2,
  blockSize: 16,
  lr: 1e-3,
  minLr: 1e-4,
  warmup: 0,
  weightDecay: 0.1,
  betas: [0.9, 0.95],
  gradClip: 0,
  evalEvery: 0,
  seed: 5,
  checkpointEvery: 0,
};
const tokens = Array.from({ length: 600 }, (_, i) => (i * 29 + (i >> 2)) % 64);

async function firstStep(accumulate: AccumulateMode | undefined): Promise<{ gradNorm: number; trainLoss: number }> {
  const model = new GPT2(config, initWeightsOf(config, 7));
  try {
    const trainer = new Trainer(model, { ...base, ...(accumulate ? { accumulate } : {}) }, { train: tokens, val: tokens, valStarts: [0] });
    let first: { gradNorm: number; trainLoss: number } | undefined;
    await trainer.run({ callbacks: { onStep: (m) => void (first ??= { gradNorm: m.gradNorm, trainLoss: m.trainLoss }) } });
    return first!;
  } finally {
    model.dispose();
  }
}

test("accumulate 'sum' gives 3 x the gradient norm of 'mean' over 3 micro-batches; the default is 'mean'; the loss shown is the mean either way", async () => {
  await initBackend('cpu');
  const mean = await firstStep('mean');
  const sum = await firstStep('sum');
  const byDefault = await firstStep(undefined);
  assert.ok(Math.abs(sum.gradNorm / mean.gradNorm - 3) < 1e-4, `${sum.gradNorm} / ${mean.gradNorm}`);
  assert.equal(byDefault.gradNorm, mean.gradNorm);
  assert.equal(sum.trainLoss, mean.trainLoss);
});
