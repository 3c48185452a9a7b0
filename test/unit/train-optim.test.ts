import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../server/engine/tf.js';
import { initBackend } from '../../server/engine/backend.js';
import { AdamW } from '../../server/engine/train/adamw.js';
import { accumulate, chunkedAddN, clipScale, globalNorm } from '../../server/engine/train/gradients.js';
import { learningRate } from '../../server/engine/train/schedule.js';

const close = (a: number, b: number, tol = 1e-6, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

test('learning rate: linear warm-up, cosine to min_lr, min_lr after the last step (nanoGPT schedule)', () => {
  const o = { lr: 1e-3, minLr: 1e-4, warmup: 9, steps: 109 };
  close(learningRate(0, o), 1e-4, 1e-12, 'first warm-up step is lr/(warmup+1)');
  close(learningRate(4, o), 5e-4, 1e-12);
  close(learningRate(9, o), 1e-3, 1e-12, 'peak right after warm-up');
  close(learningRate(59, o), 5.5e-4, 1e-12, 'half-way down the cosine is the midpoint');
  close(learningRate(109, o), 1e-4, 1e-12);
  close(learningRate(500, o), 1e-4, 1e-12);
});

test('AdamW step matches a hand-computed torch.optim.AdamW update; decay on matrices only', async () => {
  await initBackend('cpu');
  const mat = tf.variable(tf.ones([2, 2]));
  const vec = tf.variable(tf.ones([2]));
  const opt = new AdamW(new Map([['w', mat], ['b', vec]]), { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
  opt.apply(new Map([['w', tf.fill([2, 2], 0.5)], ['b', tf.fill([2], 0.5)]]), 0.1);
  // m = 0.05, v = 0.0125; bias-corrected 0.5 and 0.25; update = 0.1 * 0.5 / (0.5 + 1e-8).
  // Matrix: 1 * (1 - 0.1 * 0.1) - 0.1 = 0.89. Vector: no decay, 0.9.
  for (const x of mat.dataSync()) close(x, 0.89);
  for (const x of vec.dataSync()) close(x, 0.9);
  // Second step, gradient -1: m = 0.9*0.05 - 0.1 = -0.055, v = 0.95*0.0125 + 0.05 = 0.061875;
  // mhat = -0.055/0.19, vhat = 0.061875/0.0975.
  opt.apply(new Map([['w', tf.fill([2, 2], -1)], ['b', tf.fill([2], -1)]]), 0.1);
  const step2 = (0.1 * (-0.055 / 0.19)) / (Math.sqrt(0.061875 / 0.0975) + 1e-8);
  for (const x of mat.dataSync()) close(x, 0.89 * (1 - 0.01) - step2);
  for (const x of vec.dataSync()) close(x, 0.9 - step2);
  assert.equal(opt.updates, 2);
  opt.dispose();
  mat.dispose();
  vec.dispose();
});

test('AdamW state round-trips through the host: a restored optimizer continues identically', async () => {
  await initBackend('cpu');
  const make = () => tf.variable(tf.tensor2d([[1, -2], [3, 0.5]]));
  const a = make();
  const b = make();
  const optA = new AdamW(new Map([['w', a]]), { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
  const optB = new AdamW(new Map([['w', b]]), { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
  const g1 = new Map([['w', tf.tensor2d([[0.1, 0.2], [-0.3, 0.4]])]]);
  const g2 = new Map([['w', tf.tensor2d([[-0.5, 0.1], [0.2, 0.2]])]]);
  optA.apply(g1, 0.01);
  b.assign(a);
  optB.load(await optA.state());
  optA.apply(g2, 0.01);
  optB.apply(g2, 0.01);
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
});

test('clipping by global norm scales all gradients by max/(norm+1e-6) only when the norm exceeds max', async () => {
  await initBackend('cpu');
  const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d([3, 0])], ['b', tf.tensor1d([0, 4])]]);
  const normT = globalNorm(grads);
  const norm = (await normT.data())[0];
  normT.dispose();
  close(norm, 5, 1e-6);
  assert.equal(clipScale(norm, 1), 1 / (norm + 1e-6));
  assert.equal(clipScale(norm, 0), 1, 'max 0: no clipping');
  const small = new Map<string, tf.Tensor>([['a', tf.tensor1d([0.3, 0.4])]]);
  const smallNorm = globalNorm(small);
  close((await smallNorm.data())[0], 0.5);
  assert.equal(clipScale((await smallNorm.data())[0], 1), 1);
  smallNorm.dispose();
  tf.dispose([...grads.values(), ...small.values()]);
});

test('AdamW with a clipping scale equals AdamW on the gradients scaled first, to the bit', async () => {
  await initBackend('cpu');
  const scale = 1 / (5 + 1e-6);
  const run = (prescale: boolean) => {
    const w = tf.variable(tf.tensor2d([[0.5, -0.25], [1, 2]]));
    const opt = new AdamW(new Map([['w', w]]), { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
    for (const g of [[[3, -1], [0.5, 2]], [[-2, 4], [1, 0.25]]]) {
      const grad = tf.tensor2d(g);
      const used = prescale ? grad.mul(scale) : grad;
      opt.apply(new Map([['w', used]]), 0.01, prescale ? 1 : scale);
      tf.dispose([grad, used]);
    }
    const out = Array.from(w.dataSync());
    w.dispose();
    opt.dispose();
    return out;
  };
  assert.deepEqual(run(false), run(true));
});

test('chunkedAddN sums any number of tensors (7 per addN, the storage buffers a WebGPU stage guarantees) without leaking', async () => {
  await initBackend('cpu');
  for (const n of [1, 7, 8, 50]) {
    const ts = Array.from({ length: n }, (_, i) => tf.tensor1d([i, 1]));
    const before = tf.memory().numTensors;
    const sum = chunkedAddN(ts);
    assert.deepEqual(Array.from(await sum.data()), [(n * (n - 1)) / 2, n]);
    sum.dispose();
    assert.equal(tf.memory().numTensors, before, `n=${n} leaked`);
    for (const t of ts) t.dispose();
  }
});

test('gradient accumulation averages micro-batch gradients without leaking tensors', async () => {
  await initBackend('cpu');
  const before = tf.memory().numTensors;
  const acc = new Map<string, tf.Tensor>();
  for (const v of [1, 2, 6]) {
    const g = { w: tf.fill([2], v) };
    accumulate(acc, g, 1 / 3);
    g.w.dispose();
  }
  for (const x of acc.get('w')!.dataSync()) close(x, 3, 1e-6);
  acc.get('w')!.dispose();
  assert.equal(tf.memory().numTensors, before);
});
