import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../server/engine/tf.js';
import { initBackend } from '../../server/engine/backend.js';
import { GPT2 } from '../../server/engine/gpt2.js';
import type { GPT2Config } from '../../server/engine/gpt2Config.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';

const cfg: GPT2Config = {
  family: 'gpt2',
  vocabSize: 11,
  nPositions: 8,
  nEmbd: 8,
  nLayer: 1,
  nHead: 2,
  nInner: 32,
  layerNormEpsilon: 1e-5,
  bias: true,
  scaleAttnByInverseLayerIdx: false,
  tieWordEmbeddings: true,
};

test('loss is the mean cross-entropy over positions with a target; target -1 is left out of the mean', async () => {
  await initBackend('cpu');
  const model = new GPT2(cfg, initWeightsOf(cfg, 4));
  const inputs = [[1, 2, 3, 4], [5, 6, 7, 8]];
  const targets = [[2, 3, 4, 5], [6, 7, -1, -1]];
  const x = tf.tensor2d(inputs, [2, 4], 'int32');
  const y = tf.tensor2d(targets, [2, 4], 'int32');
  const loss = model.loss(x, y);
  const { logits } = model.forward(x);
  const rows = logits.arraySync() as number[][][];
  // Cross-entropy in float64 from the logits: -log softmax(row)[target], over the 6 real targets.
  let sum = 0;
  let n = 0;
  rows.forEach((seq, b) =>
    seq.forEach((row, t) => {
      const target = targets[b][t];
      if (target < 0) return;
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      sum += logZ - row[target];
      n += 1;
    }),
  );
  assert.equal(n, 6);
  assert.ok(Math.abs(loss.dataSync()[0] - sum / n) < 1e-5, `${loss.dataSync()[0]} vs ${sum / n}`);
  tf.dispose([x, y, loss, logits]);
  model.dispose();
});
