/**
 * Parity of our tfjs GPT-2 with Hugging Face's GPT-2 (GPT2LMHeadModel, eager attention).
 *
 * The fixtures under test/fixtures/gpt2/ come from scripts/fixtures/make_gpt2_fixtures.py, a float64
 * PyTorch reference that mirrors transformers' modeling_gpt2.py op for op (see its README). Each model
 * runs on the cpu, wasm and webgpu backends and must reproduce the reference's loss within 1e-4 nats, every
 * post-softmax attention probability within 1e-5 and every logit within 1e-3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { initBackend } from '../../server/engine/backend.js';
import { GPT2 } from '../../server/engine/gpt2.js';
import { loadGPT2 } from '../../server/engine/hfCheckpoint.js';
import * as tf from '../../server/engine/tf.js';
import { attentionDiffs, ParityFixtures, type Observed } from '../helpers/parity.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const FIXTURES = resolve('test/fixtures/gpt2');
const MODELS = ['bias-noscale', 'bias-scale', 'nobias-noscale', 'nobias-scale', 'hf-layout'] as const;
const BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
const fixtures = new ParityFixtures(FIXTURES);

for (const backend of BACKENDS) {
  for (const name of MODELS) {
    test(`GPT2 ${name} on ${backend}: loss within 1e-4 nats and attention within 1e-5 of the PyTorch reference`, async (t) => {
      const unavailable = backend === 'webgpu' ? await webgpuUnavailable() : undefined;
      if (unavailable !== undefined) return t.skip(unavailable);
      assert.equal(await initBackend(backend), backend);
      const tensorsAtStart = tf.memory().numTensors;
      const { config, tensors } = loadGPT2(join(FIXTURES, name));
      assert.equal(config.bias, !name.startsWith('nobias'), `${name}: config.bias`);
      assert.equal(config.scaleAttnByInverseLayerIdx, name.endsWith('-scale'), `${name}: scaleAttnByInverseLayerIdx`);
      const figures = await fixtures.check(name, backend, new GPT2(config, tensors));
      assert.equal(tf.memory().numTensors, tensorsAtStart, 'model.dispose() left tensors behind');
      t.diagnostic(figures);
    });
  }
}

for (const name of ['bias-scale', 'hf-layout'] as const) {
  test(`GPT2 ${name} loaded with layers: 2 has 2 layers whose attention equals the reference's first 2`, async (t) => {
    assert.equal(await initBackend('cpu'), 'cpu');
    const { config, tensors } = loadGPT2(join(FIXTURES, name), { layers: 2 });
    assert.equal(config.nLayer, 2);
    for (const key of tensors.keys()) assert.ok(!key.startsWith('h.2.'), `layers: 2 still loaded ${key}`);
    const expected = fixtures.expected(name, 3);
    const model = new GPT2(config, tensors);
    let observed: Observed;
    try {
      observed = await fixtures.run(model);
    } finally {
      model.dispose();
    }
    const diffs = attentionDiffs(name, 'cpu', observed.attention, expected.attention.slice(0, 2));
    t.diagnostic(`attention max |diff| per layer [${diffs.map((d) => d.toExponential(2)).join(', ')}]`);
    assert.ok(Number.isFinite(observed.loss), 'the truncated model still produces a finite loss');
  });
}
