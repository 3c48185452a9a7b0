/**
 * The kd baseline's loss (server/engine/train/distill.ts) and its gradient against PyTorch (float64,
 * torch 1.13: kl_div / cross_entropy with ignore_index and autograd; scripts/fixtures/distill_torch.py
 * prints the values below), two hand-computed limits, and that the Trainer's kd step is that loss
 * with the teacher's logits on the step's own batch.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../server/engine/tf.js';
import { initBackend } from '../../server/engine/backend.js';
import { crossEntropy } from '../../server/engine/crossEntropy.js';
import { distillationLoss } from '../../server/engine/train/distill.js';
import { Trainer } from '../../server/engine/train/trainer.js';
import { makeBatch, WindowCursor } from '../../server/engine/data/windows.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { createModel } from '../../server/engine/models.js';
import { tinyGPT2 } from '../helpers/models.js';

before(async () => {
  await initBackend('cpu');
});

const student = [[[0.3, -1.2, 2.0, 0.5], [1.5, 0.1, -0.7, 0.0]], [[-0.4, 0.9, 0.2, -2.0], [0.0, 0.0, 1.0, 3.0]]];
const teacher = [[[1.0, 0.5, -0.5, 0.2], [0.3, 2.2, -1.0, 0.4]], [[0.1, -0.3, 1.7, 0.6], [-1.1, 0.8, 0.5, 0.9]]];
const targets = [[2, 0], [1, -1]];

// PyTorch (float64): loss and d loss / d student logits, flattened.
const TORCH = [
  {
    T: 1.0, alpha: 0.6, loss: 0.7061837497989345,
    grad: [-0.0456625625, -0.0438352257, 0.0775143755, 0.0119834127, 0.0555000542, -0.0955256916, 0.0173545841, 0.0226710533, 0.0256232215, 0.0331943274, -0.0290098438, -0.0298077051, 0, 0, 0, 0],
  },
  {
    T: 2.0, alpha: 0.3, loss: 0.6203855353548005,
    grad: [0.0016823377, -0.0275275124, -0.0092082346, 0.0350534092, -0.0375829037, -0.0206880277, 0.0250420833, 0.033228848, 0.0397454817, -0.054892885, 0.0372449701, -0.0220975668, 0, 0, 0, 0],
  },
];

test('distillation loss and its gradient equal PyTorch (masked target left out)', () => {
  const t = tf.tensor3d(teacher);
  const y = tf.tensor2d(targets, [2, 2], 'int32');
  for (const c of TORCH) {
    const o = { alpha: c.alpha, temperature: c.T };
    const loss = distillationLoss(tf.tensor3d(student), t, y, 4, o).dataSync()[0];
    assert.ok(Math.abs(loss - c.loss) < 2e-6, `T ${c.T}: loss ${loss} vs ${c.loss}`);
    const g = tf.grad((s: tf.Tensor) => distillationLoss(s, t, y, 4, o))(tf.tensor3d(student)).dataSync();
    g.forEach((v, i) => assert.ok(Math.abs(v - c.grad[i]) < 2e-7, `T ${c.T}: grad[${i}] ${v} vs ${c.grad[i]}`));
  }
});

test('limits: alpha 0 is the cross-entropy; alpha 1 with the teacher equal to the student is 0', () => {
  const s = tf.tensor3d(student);
  const y = tf.tensor2d(targets, [2, 2], 'int32');
  const ce = crossEntropy(s, y, 4).dataSync()[0];
  assert.ok(Math.abs(distillationLoss(s, tf.tensor3d(teacher), y, 4, { alpha: 0, temperature: 3 }).dataSync()[0] - ce) < 1e-6);
  assert.ok(Math.abs(distillationLoss(s, s, y, 4, { alpha: 1, temperature: 1 }).dataSync()[0]) < 1e-6);
});

test('the Trainer distils: its first step\'s loss is the distillation loss of the teacher\'s logits on that batch', async () => {
  const student = createModel(tinyGPT2({ nLayer: 1 }), initWeightsOf(tinyGPT2({ nLayer: 1 }), 3));
  const teacher = createModel(tinyGPT2({ nLayer: 2 }), initWeightsOf(tinyGPT2({ nLayer: 2 }), 4));
  const train = Array.from({ length: 400 }, (_, i) => (i * 7 + 3) % 64);
  const cfg = { steps: 1, batchTokens: 32, microBatch: 2, blockSize: 16, lr: 1e-3, minLr: 1e-4, warmup: 0, weightDecay: 0.1, betas: [0.9, 0.95] as [number, number], gradClip: 1, evalEvery: 0, seed: 5, checkpointEvery: 0 };
  const o = { alpha: 0.6, temperature: 2 };
  const batch = makeBatch(train, new WindowCursor({ nTokens: train.length, seqLen: 16, seed: 5, mode: 'random' }).next(2), 16);
  const x = tf.tensor2d(batch.inputs, [2, 16], 'int32');
  const y = tf.tensor2d(batch.targets, [2, 16], 'int32');
  const expected = distillationLoss(student.forward(x).logits, teacher.forward(x).logits, y, 64, o).dataSync()[0];
  const ce = student.loss(x, y).dataSync()[0];
  let first = NaN;
  await new Trainer(student, cfg, { train, val: train, valStarts: [0] }, { teacher, ...o }).run({ callbacks: { onStep: (m) => void (first = m.trainLoss) } });
  assert.ok(Math.abs(first - expected) < 1e-5, `step loss ${first} vs ${expected}`);
  assert.ok(Math.abs(first - ce) > 1e-3, 'and not the plain cross-entropy');
});
