/**
 * The native training paths against tfjs's own: the fused AdamW step in place equals the tfjs ops
 * it replaces to the bit (clipping's scale included), over steps and across a variable shared with
 * another tensor; the one-pass sum of squares is float64's within 1e-6 on any thread count; fused
 * causal attention equals gpt2.ts's ops to the bit, value and gradient, on any thread count; a
 * marked gradient sum is written in place only into unshared data; the fused
 * cross-entropy equals the one-hot one in value and gradient (targets -1 left out); GELU and layer
 * norm equal gpt2.ts's tfjs ops in value and gradient (GELU's forward to the bit where those ops
 * run on the native kernels, whose tanh it shares); and the
 * backward pass that frees as it goes gives tf.variableGrads's gradients (the tied embedding's rows
 * added into the head's gradient in place) and leaks no tensor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../server/engine/tf.js';
import { initBackend } from '../../server/engine/backend.js';
import { installNativeKernels, loadAddon, setNativeThreads, uninstallNativeKernels } from '../../server/engine/native/index.js';
import { seededRandom } from '../../server/engine/init.js';
import { AdamW } from '../../server/engine/train/adamw.js';
import { crossEntropy } from '../../server/engine/crossEntropy.js';
import { variableGradsFreeing } from '../../server/engine/train/backward.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { tinyGPT2 } from '../helpers/models.js';
import { nativeGelu } from '../../server/engine/native/gelu.js';
import { nativeLayerNorm } from '../../server/engine/native/layerNorm.js';
import { nativeSumSquares } from '../../server/engine/native/sumSquares.js';
import { nativeCausalAttention } from '../../server/engine/native/attention.js';
import { causalMask } from '../../server/engine/causalMask.js';
import { markAccumulation } from '../../server/engine/native/accumulate.js';
import { nativeAffine } from '../../server/engine/native/affine.js';
import { GPT2 } from '../../server/engine/gpt2.js';

const loaded = loadAddon();
const skip = loaded.addon === undefined ? `native addon unavailable: ${loaded.reason}` : false;
const BACKENDS = ['wasm', 'cpu'] as const;

function random(shape: number[], rand: () => number, scale = 1): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

/** Three AdamW steps on two parameters (of `shapes`), one of them clipped; the weights and moments after them. */
async function adamwRun(shapes = [[7, 5], [5]]): Promise<Float32Array[]> {
  const rand = seededRandom(3);
  const host = shapes.map((s) => random(s, rand));
  const params = new Map(shapes.map((s, i) => [`p${i}`, tf.tidy(() => tf.variable(tf.tensor(host[i].slice(), s)))]));
  // A tensor sharing the first parameter's data must keep its values (tensors are immutable).
  const alias = tf.clone(params.get('p0')!);
  const opt = new AdamW(params, { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
  for (let step = 0; step < 3; step++) {
    const grads = new Map(shapes.map((s, i) => [`p${i}`, tf.tensor(random(s, rand, 0.1), s)]));
    // The second step's gradients clipped (scaled by 0.37 inside the update).
    opt.apply(grads, 1e-2 * (step + 1), step === 1 ? 0.37 : 1);
    tf.dispose([...grads.values()]);
  }
  assert.deepEqual(Array.from(alias.dataSync()), Array.from(host[0]), 'a tensor sharing the parameter kept its values');
  const state = await opt.state();
  const out = [...params.values()].map((p) => new Float32Array(p.dataSync()));
  for (const x of [...state.m.values(), ...state.v.values()]) out.push(new Float32Array(x.data));
  tf.dispose([alias, ...params.values()]);
  opt.dispose();
  return out;
}

for (const backend of BACKENDS) {
  test(`the native AdamW step in place equals tfjs's ops to the bit on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    uninstallNativeKernels();
    const ref = await adamwRun();
    installNativeKernels();
    const got = await adamwRun();
    got.forEach((g, i) => assert.deepEqual(Array.from(g), Array.from(ref[i]), `tensor ${i}`));
    assert.equal(tf.memory().numTensors, before);
  });

  test(`the one-pass sum of squares is within 1e-6 of float64's and the same on 1 and 3 threads, on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    installNativeKernels();
    const rand = seededRandom(5);
    const threads = loaded.addon!.threads();
    try {
      for (const n of [1, 3, 4, 1001, 300_000, 1_000_003]) {
        const host = random([n], rand, 3);
        const x = tf.tensor1d(host);
        setNativeThreads(1);
        const one = nativeSumSquares(x);
        setNativeThreads(3);
        const three = nativeSumSquares(x);
        assert.equal(three, one, `n=${n}: the same on 1 and 3 threads`);
        const exact = host.reduce((s, v) => s + v * v, 0);
        assert.ok(Math.abs(one! - exact) <= 1e-6 * exact, `n=${n}: ${one} vs ${exact}`);
        x.dispose();
      }
    } finally {
      setNativeThreads(threads);
    }
  });

  test(`the native cross-entropy equals the one-hot one in value and gradient on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    const rand = seededRandom(4);
    const V = 37;
    const logits = tf.tensor(random([2, 5, V], rand, 4), [2, 5, V]);
    const targets = tf.tensor2d([3, 0, -1, 36, 5, 9, -1, 1, 2, 30], [2, 5], 'int32');
    const run = () => {
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => crossEntropy(x, targets, V))(logits);
      const r = [value.dataSync()[0], Array.from(grad.dataSync())] as const;
      tf.dispose([value, grad]);
      return r;
    };
    uninstallNativeKernels();
    const [refLoss, refGrad] = run();
    installNativeKernels();
    const [loss, grad] = run();
    assert.ok(Math.abs(loss - refLoss) <= 1e-6 * Math.abs(refLoss), `loss ${loss} vs ${refLoss}`);
    grad.forEach((g, i) => assert.ok(Math.abs(g - refGrad[i]) <= 1e-7 + 1e-5 * Math.abs(refGrad[i]), `grad ${i}: ${g} vs ${refGrad[i]}`));
    // Rows whose target is -1 get no gradient.
    for (const row of [2, 6]) assert.ok(grad.slice(row * V, (row + 1) * V).every((g) => g === 0));
    tf.dispose([logits, targets]);
  });
}

/** f's value and its gradients in every input, on the host. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): number[][] {
  return tf.tidy(() => {
    const dy = tf.tensor(random(f(...xs).shape, seededRandom(11)), f(...xs).shape);
    const { value, grads } = tf.valueAndGrads((...ys: tf.Tensor[]) => f(...ys).mul(dy).sum())(xs);
    return [Array.from(f(...xs).dataSync()), [value.dataSync()[0]], ...grads.map((g) => Array.from(g.dataSync()))];
  });
}

function assertNear(got: number[][], ref: number[][], tol: { abs: number; rel: number }, what: string): void {
  got.forEach((g, i) => g.forEach((x, j) => assert.ok(Math.abs(x - ref[i][j]) <= tol.abs + tol.rel * Math.abs(ref[i][j]), `${what} [${i}][${j}]: ${x} vs ${ref[i][j]}`)));
}

for (const backend of BACKENDS) {
  test(`native GELU and layer norm equal gpt2.ts's tfjs ops in value and gradient on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    const rand = seededRandom(6);
    const x = tf.tensor(random([3, 5, 16], rand, 3), [3, 5, 16]);
    const w = tf.tensor(random([16], rand), [16]);
    const b = tf.tensor(random([16], rand), [16]);
    // gpt2.ts's own ops: the reference.
    const gelu = (t: tf.Tensor) => t.mul(0.5).mul(tf.tanh(t.add(t.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1));
    const norm = (t: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) => {
      const { mean, variance } = tf.moments(t, -1, true);
      return t.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(wt).add(bt);
    };
    uninstallNativeKernels();
    const refGelu = valueAndGrads(gelu, [x]);
    const refNorm = valueAndGrads(norm, [x, w, b]);
    installNativeKernels();
    const opsGelu = valueAndGrads(gelu, [x]);
    const gotGelu = valueAndGrads((t) => nativeGelu(t)!, [x]);
    const gotNorm = valueAndGrads((t, wt, bt) => nativeLayerNorm(t, wt, bt, 1e-5)!, [x, w, b]);
    assert.deepEqual(gotGelu[0], opsGelu[0], "GELU's forward equals gpt2.ts's ops on the native kernels to the bit");
    assertNear(gotGelu, refGelu, { abs: 1e-6, rel: 1e-5 }, 'GELU');
    assertNear(gotNorm, refNorm, { abs: 1e-5, rel: 1e-4 }, 'layer norm');
    tf.dispose([x, w, b]);
  });
}

for (const backend of BACKENDS) {
  test(`the native affine map (a bias, a residual, or both) equals tfjs's product and adds in value and gradients on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    installNativeKernels();
    const before = tf.memory().numTensors;
    const rand = seededRandom(19);
    // 300 x 1000 outputs: past the size at which the adds and copies are split among threads.
    const [rows, nIn, nOut] = [300, 17, 1000];
    const x = tf.tensor(random([rows, nIn], rand), [rows, nIn]) as tf.Tensor2D;
    const w = tf.tensor(random([nIn, nOut], rand), [nIn, nOut]) as tf.Tensor2D;
    const b = tf.tensor(random([nOut], rand), [nOut]) as tf.Tensor1D;
    const r = tf.tensor(random([rows, nOut], rand), [rows, nOut]) as tf.Tensor2D;
    const cases: [string, tf.Tensor1D | undefined, tf.Tensor2D | undefined][] = [
      ['a bias', b, undefined],
      ['a residual', undefined, r],
      ['both', b, r],
    ];
    for (const [what, bias, residual] of cases) {
      const inputs = [x, w, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
      const split = (ts: tf.Tensor[]) => ({ bs: bias ? ts[2] : undefined, rs: residual ? ts[bias ? 3 : 2] : undefined });
      const ref = valueAndGrads((...ts) => {
        const { bs, rs } = split(ts);
        const y = tf.matMul(ts[0], ts[1]);
        const yb = bs === undefined ? y : y.add(bs);
        return rs === undefined ? yb : rs.add(yb);
      }, inputs);
      const got = valueAndGrads((...ts) => {
        const { bs, rs } = split(ts);
        return nativeAffine(ts[0] as tf.Tensor2D, ts[1] as tf.Tensor2D, bs as tf.Tensor1D | undefined, rs as tf.Tensor2D | undefined)!;
      }, inputs);
      // float32 sums of 17 products, the bias and residual first here: a few ulps.
      assertNear(got, ref, { abs: 2e-5, rel: 1e-5 }, what);
    }
    assert.equal(nativeAffine(x, w), undefined, 'a plain product is left to tfjs');
    tf.dispose([x, w, b, r]);
    assert.equal(tf.memory().numTensors, before);
  });
}

/** Fused causal attention against gpt2.ts's own ops (on the native kernels) for T positions, on 1 and 3 threads. */
function checkAttention(T: number): void {
  const [B, H, D] = [2, 2, 4];
  const C = H * D;
  const scale = 1 / Math.sqrt(D) / 3;
  const qkv = tf.tensor(random([B, T, 3 * C], seededRandom(13), 2), [B, T, 3 * C]);
  const ops = (t: tf.Tensor) => {
    const heads = (u: tf.Tensor) => u.reshape([B, T, H, D]).transpose([0, 2, 1, 3]);
    const [q, k, v] = tf.split(t, 3, -1).map(heads);
    const mask = causalMask(T);
    const probs = tf.softmax(tf.matMul(q, k, false, true).mul(scale).add(mask));
    return tf.matMul(probs, v).transpose([0, 2, 1, 3]).reshape([B, T, C]);
  };
  const ref = valueAndGrads(ops, [qkv]);
  const threads = loaded.addon!.threads();
  try {
    for (const n of [1, 3]) {
      setNativeThreads(n);
      const got = valueAndGrads((t) => nativeCausalAttention(t as tf.Tensor3D, H, scale)!, [qkv]);
      assert.deepEqual(got, ref, `T=${T}, ${n} thread(s): to the bit`);
    }
  } finally {
    setNativeThreads(threads);
    qkv.dispose();
  }
}

for (const backend of BACKENDS) {
  test(`native causal attention equals gpt2.ts's tfjs ops to the bit in value and gradient on ${backend} (2 heads, 1/(i+1) scaling, 1 and 3 threads; 7 and 150 positions: one block of query rows, and five with a partial one)`, { skip }, async () => {
    await initBackend(backend);
    installNativeKernels();
    const before = tf.memory().numTensors;
    checkAttention(7);
    checkAttention(150);
    assert.equal(tf.memory().numTensors, before);
  });
}

test('kernels split among threads (outputs over 2^18 elements, 3 threads) equal tfjs: AdamW to the bit, cross-entropy, softmax, GELU', { skip }, async () => {
  await initBackend('cpu');
  const before = tf.memory().numTensors;
  const threads = loaded.addon!.threads();
  setNativeThreads(3);
  try {
    uninstallNativeKernels();
    const refAdam = await adamwRun([[600, 500], [5]]);
    installNativeKernels();
    const gotAdam = await adamwRun([[600, 500], [5]]);
    gotAdam.forEach((g, i) => assert.deepEqual(g, refAdam[i], `AdamW tensor ${i}`));

    const rand = seededRandom(12);
    const V = 40_000;
    const logits = tf.tensor(random([2, 4, V], rand, 4), [2, 4, V]);
    const targets = tf.tensor2d([3, 0, -1, 39_999, 5, 9, -1, 1], [2, 4], 'int32');
    const x = tf.tensor(random([300_000], rand, 3), [300_000]);
    const gelu = (t: tf.Tensor) => t.mul(0.5).mul(tf.tanh(t.add(t.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1));
    const run = (useGelu: (t: tf.Tensor) => tf.Tensor) => [
      ...valueAndGrads((l) => crossEntropy(l, targets, V), [logits]),
      ...valueAndGrads((l) => tf.softmax(l), [logits]),
      ...valueAndGrads(useGelu, [x]),
    ];
    uninstallNativeKernels();
    const ref = run(gelu);
    installNativeKernels();
    const got = run((t) => nativeGelu(t)!);
    assertNear(got, ref, { abs: 1e-6, rel: 1e-5 }, 'cross-entropy, softmax, GELU');
    tf.dispose([logits, targets, x]);
  } finally {
    setNativeThreads(threads);
  }
  assert.equal(tf.memory().numTensors, before);
});

for (const backend of BACKENDS) {
  test(`a marked gradient sum is written into the first gradient's memory only when nothing else shares it, on ${backend}`, { skip }, async () => {
    await initBackend(backend);
    installNativeKernels();
    const before = tf.memory().numTensors;
    const first = tf.tensor1d([1, 2, 3]);
    const second = tf.tensor1d([10, 20, 30]);
    markAccumulation(first.dataId, second.dataId);
    const sum = tf.add(first, second);
    assert.equal(sum.dataId, first.dataId, 'marked: in place');
    assert.deepEqual(Array.from(sum.dataSync()), [11, 22, 33]);
    first.dispose();
    assert.deepEqual(Array.from(sum.dataSync()), [11, 22, 33], 'the sum outlives the first tensor');
    const unmarked = tf.add(sum, second);
    assert.notEqual(unmarked.dataId, sum.dataId, 'unmarked: a new tensor');
    const alias = sum.reshape([3]);
    markAccumulation(sum.dataId, second.dataId);
    const shared = tf.add(sum, second);
    assert.notEqual(shared.dataId, sum.dataId, 'shared data: a new tensor');
    assert.deepEqual(Array.from(alias.dataSync()), [11, 22, 33], 'the sharing tensor kept its values');
    tf.dispose([second, sum, unmarked, alias, shared]);
    assert.equal(tf.memory().numTensors, before);
  });
}

test('the backward pass that frees as it goes gives tf.variableGrads\'s gradients to the bit, the tied embedding\'s rows added into the head\'s gradient in place, and leaks no tensor', async () => {
  await initBackend('cpu');
  const cfg = tinyGPT2({ vocabSize: 61, nPositions: 8 });
  const model = new GPT2(cfg, initWeightsOf(cfg, 2));
  const rand = seededRandom(5);
  const ids = () => tf.tensor2d(Array.from({ length: 16 }, () => Math.floor(rand() * cfg.vocabSize)), [2, 8], 'int32');
  const x = ids();
  const y = ids();
  const vars = [...model.params.values()];
  const host = (g: tf.NamedTensorMap) => Object.keys(g).sort().map((k) => Array.from(g[k].dataSync()));
  const ref = tf.variableGrads(() => model.loss(x, y), vars);
  const before = tf.memory().numTensors;
  let got: ReturnType<typeof variableGradsFreeing> | undefined;
  const kernels = (await tf.profile(() => {
    got = variableGradsFreeing(() => model.loss(x, y), vars);
  })).kernelNames;
  if (got === undefined) throw new Error('no gradients');
  // The tied embedding's lookup added its rows into the head's gradient: no scatter of the table's size.
  assert.ok(!kernels.includes('ScatterNd'), kernels.join(' '));
  assert.equal(got.value.dataSync()[0], ref.value.dataSync()[0]);
  assert.deepEqual(host(got.grads), host(ref.grads));
  tf.dispose([got.value, ...Object.values(got.grads)]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([ref.value, ...Object.values(ref.grads), x, y]);
  model.dispose();
});
