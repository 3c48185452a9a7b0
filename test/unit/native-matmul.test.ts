/**
 * The native kernels (server/engine/native) against tfjs's own kernels, on the wasm and cpu
 * backends: matrix products with every transpose combination and batch broadcasting, the
 * elementwise, reduction, copy and softmax kernels, the fallbacks for other dtypes, and a heap that
 * grows under a kernel. Skipped, with the reason, where the addon is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../server/engine/tf.js';
import { initBackend } from '../../server/engine/backend.js';
import { installNativeKernels, loadAddon, nativeStatus, uninstallNativeKernels } from '../../server/engine/native/index.js';
import { seededRandom } from '../../server/engine/init.js';
import { initWeightsOf, type GPT2Config } from '../../server/engine/modelFamily.js';
import { GPT2 } from '../../server/engine/gpt2.js';

const loaded = loadAddon();
const skip = loaded.addon === undefined ? `native addon unavailable: ${loaded.reason}` : false;
const BACKENDS = ['wasm', 'cpu'] as const;

function randomTensor(shape: number[], rand: () => number, scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (rand() * 2 - 1) * scale;
  return tf.tensor(data, shape, 'float32');
}

/** Runs f with tfjs's kernels and with the native ones; returns both results as host arrays. */
function both(f: () => tf.Tensor | tf.Tensor[]): { ref: { shape: number[]; data: Float32Array }[]; got: { shape: number[]; data: Float32Array }[] } {
  const run = () => {
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const r = list.map((t) => ({ shape: [...t.shape], data: new Float32Array(t.dataSync()) }));
    tf.dispose(list);
    return r;
  };
  uninstallNativeKernels();
  const ref = run();
  installNativeKernels();
  const got = run();
  return { ref, got };
}

function assertClose(
  r: ReturnType<typeof both>,
  what: string,
  tol: { abs: number; rel: number } = { abs: 0, rel: 0 },
): void {
  assert.equal(r.got.length, r.ref.length, `${what}: output count`);
  r.ref.forEach((ref, k) => {
    const got = r.got[k];
    assert.deepEqual(got.shape, ref.shape, `${what}: shape`);
    for (let i = 0; i < ref.data.length; i++) {
      const a = got.data[i];
      const b = ref.data[i];
      if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) continue;
      const d = Math.abs(a - b);
      assert.ok(d <= tol.abs + tol.rel * Math.abs(b), `${what}: output ${k} element ${i} is ${a}, tfjs gives ${b}`);
    }
  });
}

for (const backend of BACKENDS) {
  test(`native BatchMatMul equals tfjs's on ${backend}: transposes, batches, broadcasting`, { skip }, async () => {
    await initBackend(backend);
    installNativeKernels();
    assert.ok(nativeStatus().active);
    const rand = seededRandom(7);
    const dims = () => 1 + Math.floor(rand() * 40);
    // Batch shapes of a and b whose broadcast tfjs computes correctly (it indexes batches modulo).
    const batchPairs: [number[], number[]][] = [
      [[], []],
      [[3], [3]],
      [[2, 3], [2, 3]],
      [[4], []],
      [[], [5]],
      [[1], [3]],
      [[2, 3], [3]],
      [[2, 3], [1]],
      [[6], [1]],
    ];
    let cases = 0;
    for (const [ba, bb] of batchPairs) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          const M = dims();
          const N = dims();
          const K = dims();
          const aShape = [...ba, ...(transposeA ? [K, M] : [M, K])];
          const bShape = [...bb, ...(transposeB ? [N, K] : [K, N])];
          const a = randomTensor(aShape, rand);
          const b = randomTensor(bShape, rand);
          const r = both(() => tf.matMul(a, b, transposeA, transposeB));
          // float32 sums in another order: a few ulps of the sum of |terms| (|terms| <= 1, K <= 40).
          assertClose(r, `[${aShape}] x [${bShape}] tA=${transposeA} tB=${transposeB}`, { abs: 2e-5 * K, rel: 1e-5 });
          tf.dispose([a, b]);
          cases++;
        }
      }
    }
    assert.equal(cases, batchPairs.length * 4);
  });

  test(`native BatchMatMul broadcasts batch dims that tfjs's modulo indexing gets wrong, on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    installNativeKernels();
    const rand = seededRandom(11);
    const a = randomTensor([2, 1, 3, 4], rand);
    const b = randomTensor([1, 3, 4, 5], rand);
    const got = tf.tidy(() => tf.matMul(a, b));
    assert.deepEqual(got.shape, [2, 3, 3, 5]);
    // Reference: each pair of 2-D matrices on its own.
    const expected = tf.tidy(() => {
      const rows: tf.Tensor[] = [];
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) rows.push(tf.matMul(a.slice([i, 0, 0, 0], [1, 1, 3, 4]).reshape([3, 4]), b.slice([0, j, 0, 0], [1, 1, 4, 5]).reshape([4, 5])));
      }
      return tf.stack(rows).reshape([2, 3, 3, 5]);
    });
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]);
    assert.ok(d <= 1e-6, `max difference ${d}`);
    tf.dispose([a, b, got, expected]);
  });

  test(`native elementwise, reduction, copy and softmax kernels equal tfjs's on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    installNativeKernels();
    const rand = seededRandom(3);
    const x = randomTensor([2, 3, 5, 7], rand, 3);
    const pos = tf.tidy(() => tf.abs(randomTensor([2, 3, 5, 7], rand, 3)).add(0.1));
    const shapes: number[][] = [[2, 3, 5, 7], [7], [5, 1], [3, 1, 7], [1], [], [2, 1, 1, 7], [1, 3, 5, 1]];
    for (const shape of shapes) {
      const y = tf.tidy(() => randomTensor(shape, rand, 2).add(shape.length === 0 ? 3 : 0));
      const ypos = tf.tidy(() => tf.abs(y).add(0.5));
      const exact = { abs: 0, rel: 0 };
      assertClose(both(() => tf.add(x, y)), `add [${shape}]`, exact);
      assertClose(both(() => tf.add(y, x)), `add [${shape}] (swapped)`, exact);
      assertClose(both(() => tf.sub(x, y)), `sub [${shape}]`, exact);
      assertClose(both(() => tf.mul(x, y)), `mul [${shape}]`, exact);
      assertClose(both(() => tf.div(x, ypos)), `div [${shape}]`, { abs: 0, rel: 1.2e-7 });
      assertClose(both(() => tf.squaredDifference(x, y)), `squaredDifference [${shape}]`, exact);
      assertClose(both(() => tf.maximum(x, y)), `maximum [${shape}]`, exact);
      assertClose(both(() => tf.minimum(x, y)), `minimum [${shape}]`, exact);
      assertClose(both(() => tf.pow(pos, y)), `pow [${shape}]`, { abs: 0, rel: 1e-6 });
      tf.dispose([y, ypos]);
    }
    for (const e of [2, 3, 0.5, 1, 0]) assertClose(both(() => tf.pow(x, e)), `pow(x, ${e})`, { abs: 0, rel: 3e-7 });
    const ulp = { abs: 1e-7, rel: 2.5e-7 };
    // The native tanh is float32 arithmetic (within 3 ulp); the others are libm's.
    assertClose(both(() => tf.tanh(x)), 'tanh', { abs: 1e-7, rel: 4e-7 });
    assertClose(both(() => tf.exp(x)), 'exp', ulp);
    assertClose(both(() => tf.log(pos)), 'log', ulp);
    assertClose(both(() => tf.sqrt(pos)), 'sqrt', ulp);
    assertClose(both(() => tf.rsqrt(pos)), 'rsqrt', ulp);
    assertClose(both(() => tf.square(x)), 'square', ulp);
    assertClose(both(() => tf.neg(x)), 'neg', ulp);
    assertClose(both(() => tf.abs(x)), 'abs', ulp);
    assertClose(both(() => tf.sigmoid(x)), 'sigmoid', ulp);
    assertClose(both(() => tf.reciprocal(pos)), 'reciprocal', ulp);
    const sums = { abs: 1e-6, rel: 1e-6 };
    for (const axis of [-1, 0, 1, 2, [1, 2], [0, 1], [2, 3], [0, 1, 2, 3], [0, 2], [1, 3]]) {
      for (const keepDims of [false, true]) {
        const tag = `axis ${JSON.stringify(axis)} keepDims ${keepDims}`;
        assertClose(both(() => tf.sum(x, axis, keepDims)), `sum ${tag}`, sums);
        assertClose(both(() => tf.mean(x, axis, keepDims)), `mean ${tag}`, sums);
        assertClose(both(() => tf.max(x, axis, keepDims)), `max ${tag}`);
        assertClose(both(() => tf.min(x, axis, keepDims)), `min ${tag}`);
      }
    }
    for (const perm of [[0, 2, 1, 3], [3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 2, 3], [2, 0, 3, 1]]) {
      assertClose(both(() => tf.transpose(x, perm)), `transpose [${perm}]`);
    }
    for (const axis of [0, 1, 2, 3, -1]) {
      const n = x.shape[axis < 0 ? 3 : axis];
      assertClose(both(() => tf.split(x, [1, n - 1], axis)), `split axis ${axis}`);
      if (n % 1 === 0) assertClose(both(() => tf.split(x, 1, axis)), `split into 1, axis ${axis}`);
      assertClose(both(() => tf.concat([x, tf.square(x)], axis)), `concat axis ${axis}`);
    }
    assertClose(both(() => tf.split(x, 3, 1)), 'split into 3');
    assertClose(both(() => tf.concat([x.slice([0, 0, 0, 0], [2, 3, 0, 7]), x], 2)), 'concat with an empty part');
    assertClose(both(() => tf.softmax(x)), 'softmax', { abs: 1e-7, rel: 1e-6 });
    assertClose(both(() => tf.softmax(tf.tensor2d([[1, 2, 3], [-1e9, 0, 1e9]]))), 'softmax with extremes', { abs: 1e-7, rel: 1e-6 });
    const table = randomTensor([9, 2, 3], rand, 2);
    assertClose(both(() => tf.gather(table, tf.tensor2d([[0, 8, 3], [3, 3, 1]], [2, 3], 'int32'))), 'gather rows (ids repeated)', { abs: 0, rel: 0 });
    assert.throws(() => tf.gather(table, tf.tensor1d([2, 9], 'int32')), /GatherV2: the index value 9 is not in \[0, 8\]/);
    table.dispose();
    tf.dispose([x, pos]);
  });

  test(`int32 and bool tensors go to tfjs's kernels on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    installNativeKernels();
    const a = tf.tensor1d([1, 2, 3], 'int32');
    const b = tf.tensor1d([4, 5, 6], 'int32');
    const out = tf.tidy(() => [tf.add(a, b), tf.mul(a, b), tf.sum(a), tf.max(a), tf.transpose(tf.stack([a, b])), tf.concat([a, b])]);
    assert.deepEqual(Array.from(out[0].dataSync()), [5, 7, 9]);
    assert.equal(out[0].dtype, 'int32');
    assert.deepEqual(Array.from(out[1].dataSync()), [4, 10, 18]);
    assert.equal(out[2].dataSync()[0], 6);
    assert.equal(out[3].dataSync()[0], 3);
    assert.deepEqual(Array.from(out[4].dataSync()), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(Array.from(out[5].dataSync()), [1, 2, 3, 4, 5, 6]);
    tf.dispose([a, b, ...out]);
  });
}

test('native kernels write into a wasm heap that grows while they allocate', { skip }, async () => {
  await initBackend('wasm');
  installNativeKernels();
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  const before = heap();
  // An outer product bigger than the heap's free space: makeOutput grows the heap, the kernel
  // must then write through a fresh view.
  const n = Math.ceil((before / 4) * 1.5);
  const a = tf.tensor2d([2, 3], [2, 1]);
  const b = tf.tidy(() => tf.ones([1, n]));
  const c = tf.matMul(a, b);
  assert.ok(heap() > before, 'the heap did not grow; the test did not test growth');
  const data = c.dataSync();
  assert.equal(data[0], 2);
  assert.equal(data[n - 1], 2);
  assert.equal(data[n], 3);
  assert.equal(data[2 * n - 1], 3);
  const s = tf.tidy(() => tf.add(c, 1).sum().dataSync()[0]);
  assert.equal(s, 7 * n);
  tf.dispose([a, b, c]);
});

for (const backend of BACKENDS) {
  test(`a GPT-2 forward, loss and gradients agree with and without the native kernels on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    const cfg: GPT2Config = {
      family: 'gpt2',
      vocabSize: 97,
      nPositions: 16,
      nEmbd: 32,
      nLayer: 2,
      nHead: 4,
      nInner: 128,
      layerNormEpsilon: 1e-5,
      bias: true,
      scaleAttnByInverseLayerIdx: true,
      tieWordEmbeddings: true,
    };
    const model = new GPT2(cfg, initWeightsOf(cfg, 5));
    const rand = seededRandom(9);
    const ids = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * cfg.vocabSize));
    const x = tf.tensor2d(ids(3 * 16), [3, 16], 'int32');
    const y = tf.tensor2d(ids(3 * 16), [3, 16], 'int32');
    const run = () =>
      tf.tidy(() => {
        const { attention } = model.forward(x, { attention: true });
        const { value, grads } = tf.variableGrads(() => model.loss(x, y), [...model.params.values()]);
        return [value, ...attention, ...Object.keys(grads).sort().map((k) => grads[k])];
      });
    const r = both(run);
    // Loss and attention as tight as the parity tests ask of the model; gradients to float32 noise.
    assertClose({ ref: r.ref.slice(0, 1 + cfg.nLayer), got: r.got.slice(0, 1 + cfg.nLayer) }, 'loss and attention', { abs: 1e-6, rel: 1e-5 });
    assertClose({ ref: r.ref.slice(1 + cfg.nLayer), got: r.got.slice(1 + cfg.nLayer) }, 'gradients', { abs: 1e-6, rel: 1e-4 });
    tf.dispose([x, y]);
    model.dispose();
  });
}

for (const backend of BACKENDS) {
  test(`large outputs (written with streaming stores) equal tfjs's on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    installNativeKernels();
    const rand = seededRandom(21);
    // 2 x 2,100,007 elements: past the streaming threshold (2^22), odd so the tails are exercised.
    const n = 2_100_007;
    const x = randomTensor([2, n], rand, 2);
    const y = randomTensor([2, n], rand, 2);
    const row = randomTensor([n], rand, 2);
    const exact = { abs: 0, rel: 0 };
    assertClose(both(() => tf.add(x, y)), 'add', exact);
    assertClose(both(() => tf.mul(x, 1.5)), 'mul by a scalar', exact);
    assertClose(both(() => tf.sub(0.25, x)), 'scalar minus', exact);
    assertClose(both(() => tf.mul(x, row)), 'mul by a row', exact);
    assertClose(both(() => tf.square(x)), 'square', exact);
    assertClose(both(() => tf.tanh(x)), 'tanh', { abs: 1e-7, rel: 4e-7 });
    assertClose(both(() => tf.concat([x, y], 0)), 'concat rows', exact);
    assertClose(both(() => tf.split(tf.concat([x, y], 0), 2, 0)), 'split rows', exact);
    assertClose(both(() => tf.transpose(x.reshape([2, 1, n]), [1, 0, 2])), 'transpose keeping the long axis', exact);
    // Many rows past the threshold for splitting among threads (2^18): a bias added to each row, and
    // the columns' sums (a bias's gradient), split by rows and by columns.
    const acts = randomTensor([600, 3001], rand, 2);
    const bias = randomTensor([3001], rand, 2);
    assertClose(both(() => tf.add(acts, bias)), 'a bias added to 600 rows', exact);
    // Sums of 600 and 3,001 terms: tfjs's, in float32, are off by up to some 1e-4 here; ours are in double.
    assertClose(both(() => tf.sum(acts, 0)), "the columns' sums", { abs: 1e-3, rel: 0 });
    assertClose(both(() => tf.sum(acts, 1)), "the rows' sums", { abs: 1e-3, rel: 0 });
    tf.dispose([x, y, row, acts, bias]);
  });
}
