/**
 * Parity of our tfjs GPT-2 with Hugging Face's GPT-2 (GPT2LMHeadModel, eager attention).
 *
 * The fixtures under test/fixtures/gpt2/ come from scripts/fixtures/make_gpt2_fixtures.py, a float64
 * PyTorch reference that mirrors transformers' modeling_gpt2.py op for op (see its README). Each model
 * runs on the cpu and wasm backends and must reproduce the reference's loss within 1e-4 nats, every
 * post-softmax attention probability within 1e-5 and every logit within 1e-3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../server/engine/backend.js';
import { loadGPT2 } from '../../server/engine/hfCheckpoint.js';
import { SafetensorsReader } from '../../server/engine/safetensors.js';
import { GPT2 } from '../../server/engine/gpt2.js';

const FIXTURES = resolve('test/fixtures/gpt2');
const MODELS = ['bias-noscale', 'bias-scale', 'nobias-noscale', 'nobias-scale', 'hf-layout'] as const;
const BACKENDS = ['cpu', 'wasm'] as const;

const LOSS_TOL = 1e-4;
const ATTN_TOL = 1e-5;
const LOGITS_TOL = 1e-3;

interface Inputs {
  inputs: number[][];
  targets: number[][];
}

interface Expected {
  loss: number;
  logits: { shape: number[]; data: Float32Array };
  attention: { shape: number[]; data: Float32Array }[];
}

const fixtureInputs: Inputs = JSON.parse(readFileSync(join(FIXTURES, 'inputs.json'), 'utf8'));
const B = fixtureInputs.inputs.length;
const T = fixtureInputs.inputs[0].length;

function readExpected(name: string, nLayer: number): Expected {
  const dir = join(FIXTURES, name);
  // The float64 loss is also in expected.safetensors as F64; the JSON copy holds the same number.
  const loss = (JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { loss: number }).loss;
  const reader = SafetensorsReader.open(join(dir, 'expected.safetensors'));
  try {
    const read = (key: string) => ({ shape: [...reader.info(key).shape], data: reader.readFloat32(key) });
    // The two copies of the loss agree (readFloat32 rounds the F64 one to float32).
    assert.ok(Math.abs(reader.readFloat32('loss')[0] - loss) <= 1e-6, `${name}: expected.json and expected.safetensors disagree on the loss`);
    const attention = [];
    for (let l = 0; l < nLayer; l++) attention.push(read(`attn.${l}`));
    return { loss, logits: read('logits'), attention };
  } finally {
    reader.close();
  }
}

/** Largest |a[i] - b[i]|; NaN anywhere makes it Infinity so the comparison fails. */
function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'element counts differ');
  let m = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

interface Observed {
  loss: number;
  logitsShape: number[];
  logits: Float32Array;
  attention: { shape: number[]; data: Float32Array }[];
}

/** Runs forward (with attention) and loss on the fixture batch; leaves no tensor behind. */
async function runModel(model: GPT2): Promise<Observed> {
  const before = tf.memory().numTensors;
  const x = tf.tensor2d(fixtureInputs.inputs, [B, T], 'int32');
  const y = tf.tensor2d(fixtureInputs.targets, [B, T], 'int32');
  try {
    const { logits, attention } = model.forward(x, { attention: true });
    let observed: Observed;
    try {
      observed = {
        loss: NaN,
        logitsShape: [...logits.shape],
        logits: (await logits.data()) as Float32Array,
        attention: await Promise.all(
          attention.map(async (a) => ({ shape: [...a.shape], data: (await a.data()) as Float32Array })),
        ),
      };
    } finally {
      logits.dispose();
      for (const a of attention) a.dispose();
    }
    const loss = model.loss(x, y);
    try {
      observed.loss = (await loss.data())[0];
    } finally {
      loss.dispose();
    }
    return observed;
  } finally {
    x.dispose();
    y.dispose();
    assert.equal(tf.memory().numTensors, before, 'forward/loss leaked tensors');
  }
}

function compareAttention(name: string, backend: string, observed: Observed['attention'], expected: Expected['attention']) {
  assert.equal(observed.length, expected.length, `${name}: ${observed.length} attention maps, expected ${expected.length}`);
  const diffs: number[] = [];
  for (let l = 0; l < expected.length; l++) {
    assert.deepEqual(observed[l].shape, expected[l].shape, `${name}: attention ${l} shape`);
    diffs.push(maxAbsDiff(observed[l].data, expected[l].data));
  }
  const worst = Math.max(...diffs);
  assert.ok(
    worst <= ATTN_TOL,
    `${name} on ${backend}: attention max |diff| per layer [${diffs.map((d) => d.toExponential(2)).join(', ')}] exceeds ${ATTN_TOL}`,
  );
  return diffs;
}

for (const backend of BACKENDS) {
  for (const name of MODELS) {
    test(`GPT2 ${name} on ${backend}: loss within 1e-4 nats and attention within 1e-5 of the PyTorch reference`, async (t) => {
      assert.equal(await initBackend(backend), backend);
      const tensorsAtStart = tf.memory().numTensors;
      const { config, tensors } = loadGPT2(join(FIXTURES, name));
      assert.equal(config.bias, !name.startsWith('nobias'), `${name}: config.bias`);
      assert.equal(config.scaleAttnByInverseLayerIdx, name.endsWith('-scale'), `${name}: scaleAttnByInverseLayerIdx`);
      const expected = readExpected(name, config.nLayer);

      const model = new GPT2(config, tensors);
      let observed: Observed;
      try {
        observed = await runModel(model);
      } finally {
        model.dispose();
      }
      assert.equal(tf.memory().numTensors, tensorsAtStart, 'model.dispose() left tensors behind');

      const lossDiff = Math.abs(observed.loss - expected.loss);
      assert.deepEqual(observed.logitsShape, expected.logits.shape, `${name}: logits shape`);
      const logitsDiff = maxAbsDiff(observed.logits, expected.logits.data);
      const attnDiffs = compareAttention(name, backend, observed.attention, expected.attention);
      t.diagnostic(
        `loss ${observed.loss} vs ${expected.loss} (|diff| ${lossDiff.toExponential(2)}), ` +
          `attention max |diff| ${Math.max(...attnDiffs).toExponential(2)}, logits max |diff| ${logitsDiff.toExponential(2)}`,
      );
      assert.ok(
        lossDiff <= LOSS_TOL,
        `${name} on ${backend}: loss ${observed.loss} vs reference ${expected.loss}: |diff| ${lossDiff.toExponential(3)} > ${LOSS_TOL}`,
      );
      assert.ok(
        logitsDiff <= LOGITS_TOL,
        `${name} on ${backend}: logits max |diff| ${logitsDiff.toExponential(3)} > ${LOGITS_TOL}`,
      );
    });
  }
}

for (const name of ['bias-scale', 'hf-layout'] as const) {
  test(`GPT2 ${name} loaded with layers: 2 has 2 layers whose attention equals the reference's first 2`, async (t) => {
    assert.equal(await initBackend('cpu'), 'cpu');
    const { config, tensors } = loadGPT2(join(FIXTURES, name), { layers: 2 });
    assert.equal(config.nLayer, 2);
    for (const key of tensors.keys()) assert.ok(!key.startsWith('h.2.'), `layers: 2 still loaded ${key}`);
    const expected = readExpected(name, 3);

    const model = new GPT2(config, tensors);
    let observed: Observed;
    try {
      observed = await runModel(model);
    } finally {
      model.dispose();
    }
    const diffs = compareAttention(name, 'cpu', observed.attention, expected.attention.slice(0, 2));
    t.diagnostic(`attention max |diff| per layer [${diffs.map((d) => d.toExponential(2)).join(', ')}]`);
    assert.ok(Number.isFinite(observed.loss), 'the truncated model still produces a finite loss');
  });
}
