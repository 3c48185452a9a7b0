/**
 * Parity of our tfjs LLaMA with Hugging Face's LlamaForCausalLM (eager attention).
 *
 * The fixtures under test/fixtures/llama/ come from scripts/fixtures/make_llama_fixtures.py, a
 * float64 PyTorch reference that mirrors transformers' modeling_llama.py op for op and is
 * cross-checked there against an independent numpy formulation (see test/fixtures/llama/README.md).
 * They cover multi-head and grouped-query attention (4, 2 and 1 key/value heads), two rope_theta
 * values (1e4 and 5e5), two rms_norm_eps, tied and untied heads, and a BF16 sharded hub layout with
 * rotary_emb.inv_freq buffers. Each runs on the cpu, wasm and webgpu backends and must reproduce the
 * reference's loss within 1e-4 nats, every attention probability within 1e-5, every logit within 1e-3.
 * The layer-by-layer path used for large references must give the same figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { initBackend } from '../../server/engine/backend.js';
import { loadModelDir, ModelDir } from '../../server/engine/hfCheckpoint.js';
import { LayerwiseLlama } from '../../server/engine/layerwise.js';
import { Llama } from '../../server/engine/llama.js';
import type { LlamaConfig } from '../../server/engine/modelFamily.js';
import * as tf from '../../server/engine/tf.js';
import { attentionDiffs, ParityFixtures, type Observed } from '../helpers/parity.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const FIXTURES = resolve('test/fixtures/llama');
const MODELS = ['mha-rope1e4', 'gqa-rope1e4', 'gqa-rope5e5', 'mqa-tied', 'hf-layout'] as const;
const BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
const fixtures = new ParityFixtures(FIXTURES);
const B = fixtures.batch;
const T = fixtures.length;

function loadLlama(name: string, layers?: number): { config: LlamaConfig; model: Llama } {
  const { config, tensors } = loadModelDir(join(FIXTURES, name), { layers });
  assert.ok(config.family === 'llama', `${name} reads as a LLaMA config`);
  return { config, model: new Llama(config, tensors) };
}

for (const backend of BACKENDS) {
  for (const name of MODELS) {
    test(`LLaMA ${name} on ${backend}: loss within 1e-4 nats and attention within 1e-5 of the PyTorch reference`, async (t) => {
      const unavailable = backend === 'webgpu' ? await webgpuUnavailable() : undefined;
      if (unavailable !== undefined) return t.skip(unavailable);
      assert.equal(await initBackend(backend), backend);
      const tensorsAtStart = tf.memory().numTensors;
      const figures = await fixtures.check(name, backend, loadLlama(name).model);
      assert.equal(tf.memory().numTensors, tensorsAtStart, 'model.dispose() left tensors behind');
      t.diagnostic(figures);
    });
  }
}

test('the fixtures cover what the issue asks: GQA and not, two rope_theta values, tied and untied, BF16 shards', () => {
  const configs = MODELS.map((name) => loadModelDir(join(FIXTURES, name)).config as LlamaConfig);
  assert.ok(configs.some((c) => c.nKvHead === c.nHead), 'a multi-head model');
  assert.ok(configs.some((c) => c.nKvHead < c.nHead && c.nKvHead > 1), 'a grouped-query model');
  assert.deepEqual([...new Set(configs.map((c) => c.ropeTheta))].sort((a, b) => a - b), [10000, 500000]);
  assert.ok(configs.some((c) => c.tieWordEmbeddings) && configs.some((c) => !c.tieWordEmbeddings));
  const hf = ModelDir.open(join(FIXTURES, 'hf-layout'));
  try {
    assert.deepEqual(hf.storage(), { BF16: hf.storage().BF16 }, 'hf-layout weights are BF16 (the inv_freq buffers are not weights)');
    assert.ok(!hf.names().some((n) => n.includes('inv_freq')));
  } finally {
    hf.close();
  }
});

for (const name of ['gqa-rope5e5', 'hf-layout'] as const) {
  test(`LLaMA ${name}: the layer-by-layer path gives the whole model's loss and attention, bit for bit (cpu)`, async () => {
    assert.equal(await initBackend('cpu'), 'cpu');
    const { config, model } = loadLlama(name);
    const whole = await fixtures.run(model);
    model.dispose();
    const before = tf.memory().numTensors;
    const dir = ModelDir.open(join(FIXTURES, name));
    try {
      const attention: Float32Array[] = Array.from({ length: config.nLayer }, () => new Float32Array(B * config.nHead * T * T));
      const losses = await new LayerwiseLlama(dir).run(
        { inputs: Int32Array.from(fixtures.inputs.flat()), targets: Int32Array.from(fixtures.targets.flat()), count: B, seqLen: T },
        {
          batchSize: B,
          onAttention: (layer, data, first, count) => {
            assert.equal(data.length, count * config.nHead * T * T);
            attention[layer].set(data, first * config.nHead * T * T);
          },
        },
      );
      assert.equal(tf.memory().numTensors, before, 'the layer-by-layer run leaked tensors');
      assert.deepEqual(losses, [whole.loss]);
      for (let l = 0; l < config.nLayer; l++) assert.deepEqual(attention[l], whole.attention[l].data, `layer ${l}`);
    } finally {
      dir.close();
    }
  });
}

test('LLaMA loaded with layers: 2 has 2 blocks whose attention equals the reference\'s first 2', async () => {
  assert.equal(await initBackend('cpu'), 'cpu');
  const { config, model } = loadLlama('gqa-rope1e4', 2);
  assert.equal(config.nLayer, 2);
  assert.ok(![...model.params.keys()].some((k) => k.startsWith('model.layers.2.')));
  const expected = fixtures.expected('gqa-rope1e4', 3);
  let observed: Observed;
  try {
    observed = await fixtures.run(model);
  } finally {
    model.dispose();
  }
  attentionDiffs('gqa-rope1e4 (2 layers)', 'cpu', observed.attention, expected.attention.slice(0, 2));
  assert.ok(Number.isFinite(observed.loss));
});
