/**
 * Parity of the Qwen2 family (the rotary decoder with q/k/v biases) with Hugging Face's
 * Qwen2ForCausalLM (eager attention), and Qwen2 wherever a LLaMA goes: block-by-block runs, inherit
 * (the biases are attention parts) and saving in HF's layout.
 *
 * The fixtures under test/fixtures/qwen2/ come from scripts/fixtures/make_qwen2_fixtures.py, a
 * float64 PyTorch reference that mirrors transformers' modeling_qwen2.py op for op and is
 * cross-checked there against an independent numpy formulation (see test/fixtures/qwen2/README.md).
 * They cover multi-head and grouped-query attention, tied and untied heads, and a BF16 sharded hub
 * layout. Each runs on the cpu, wasm and webgpu backends and must reproduce the reference's loss within 1e-4
 * nats, every attention probability within 1e-5, every logit within 1e-3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../../server/engine/backend.js';
import { loadModelDir, ModelDir, saveModelDir } from '../../server/engine/hfCheckpoint.js';
import { inheritFromReference, DEFAULT_INHERIT } from '../../server/engine/inherit.js';
import { LayerwiseLlama } from '../../server/engine/layerwise.js';
import { createModel } from '../../server/engine/models.js';
import { modelShapeOf, parameterCountOf, parseModelConfig, type ModelConfig } from '../../server/engine/modelFamily.js';
import { describeModelShape } from '../../server/protocol/format.js';
import { SafetensorsReader } from '../../server/engine/safetensors.js';
import * as tf from '../../server/engine/tf.js';
import { ParityFixtures } from '../helpers/parity.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const FIXTURES = resolve('test/fixtures/qwen2');
const MODELS = ['mha-untied', 'gqa-tied', 'hf-layout'] as const;
const BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
const fixtures = new ParityFixtures(FIXTURES);
const B = fixtures.batch;
const T = fixtures.length;

function load(name: string): { config: ModelConfig; tensors: ReturnType<typeof loadModelDir>['tensors'] } {
  const loaded = loadModelDir(join(FIXTURES, name));
  assert.equal(loaded.config.family, 'qwen2', `${name} reads as a Qwen2 config`);
  return loaded;
}

for (const backend of BACKENDS) {
  for (const name of MODELS) {
    test(`Qwen2 ${name} on ${backend}: loss within 1e-4 nats and attention within 1e-5 of the PyTorch reference`, async (t) => {
      const unavailable = backend === 'webgpu' ? await webgpuUnavailable() : undefined;
      if (unavailable !== undefined) return t.skip(unavailable);
      assert.equal(await initBackend(backend), backend);
      const tensorsAtStart = tf.memory().numTensors;
      const { config, tensors } = load(name);
      const figures = await fixtures.check(name, backend, createModel(config, tensors));
      assert.equal(tf.memory().numTensors, tensorsAtStart, 'model.dispose() left tensors behind');
      t.diagnostic(figures);
    });
  }
}

test('the Qwen2 fixtures cover GQA and not, tied and untied heads, q/k/v biases and BF16 shards', () => {
  const configs = MODELS.map((name) => load(name).config);
  assert.ok(configs.every((c) => c.family === 'qwen2' && c.qkvBias));
  assert.ok(configs.some((c) => c.family === 'qwen2' && c.nKvHead === c.nHead));
  assert.ok(configs.some((c) => c.family === 'qwen2' && c.nKvHead < c.nHead));
  assert.ok(configs.some((c) => c.tieWordEmbeddings) && configs.some((c) => !c.tieWordEmbeddings));
  const hf = ModelDir.open(join(FIXTURES, 'hf-layout'));
  try {
    assert.deepEqual(Object.keys(hf.storage()), ['BF16']);
    assert.ok(hf.names().includes('model.layers.0.self_attn.q_proj.bias'));
  } finally {
    hf.close();
  }
});

test('Qwen2 hf-layout: the layer-by-layer path gives the whole model\'s loss and attention, bit for bit (cpu)', async () => {
  assert.equal(await initBackend('cpu'), 'cpu');
  const { config, tensors } = load('hf-layout');
  const whole = await fixtures.run(createModel(config, tensors));
  const dir = ModelDir.open(join(FIXTURES, 'hf-layout'));
  try {
    const attention: Float32Array[] = Array.from({ length: config.nLayer }, () => new Float32Array(B * config.nHead * T * T));
    const losses = await new LayerwiseLlama(dir).run(
      { inputs: Int32Array.from(fixtures.inputs.flat()), targets: Int32Array.from(fixtures.targets.flat()), count: B, seqLen: T },
      { batchSize: B, onAttention: (layer, data, first) => attention[layer].set(data, first * config.nHead * T * T) },
    );
    assert.deepEqual(losses, [whole.loss]);
    for (let l = 0; l < config.nLayer; l++) assert.deepEqual(attention[l], whole.attention[l].data, `layer ${l}`);
  } finally {
    dir.close();
  }
});

test('Qwen2 saves in HF layout: model_type qwen2, Qwen2ForCausalLM, the same key names as the hub checkpoint, and reads back identically', () => {
  const { config, tensors } = load('gqa-tied');
  const out = fs.mkdtempSync(join(os.tmpdir(), 'qwen2-save-'));
  try {
    const dir = join(out, 'model');
    saveModelDir(dir, config, tensors);
    const json = JSON.parse(fs.readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(json.model_type, 'qwen2');
    assert.deepEqual(json.architectures, ['Qwen2ForCausalLM']);
    assert.equal(json.use_sliding_window, false);
    assert.deepEqual(parseModelConfig(json, 'config.json'), config);
    const keys = (file: string) => {
      const r = SafetensorsReader.open(file);
      try {
        return r.names();
      } finally {
        r.close();
      }
    };
    assert.deepEqual(keys(join(dir, 'model.safetensors')), keys(join(FIXTURES, 'gqa-tied', 'model.safetensors')));
    const back = loadModelDir(dir);
    for (const [name, t] of tensors) assert.deepEqual(back.tensors.get(name)?.data, t.data, name);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('Qwen2 inherit: the q/k/v biases are attention parts (copied with attn, fresh zeros without)', () => {
  const ref = load('mha-untied');
  const bias = 'model.layers.0.self_attn.k_proj.bias';
  const withAttn = inheritFromReference(join(FIXTURES, 'mha-untied'), { ...DEFAULT_INHERIT, layers: 1 });
  assert.equal(withAttn.config.family, 'qwen2');
  assert.ok(withAttn.inherited.includes(bias));
  assert.deepEqual(withAttn.tensors.get(bias)?.data, ref.tensors.get(bias)?.data);
  const noAttn = inheritFromReference(join(FIXTURES, 'mha-untied'), { ...DEFAULT_INHERIT, layers: 1, parts: ['mlp', 'norms'] });
  assert.ok(!noAttn.inherited.some((n) => n.includes('self_attn')));
  assert.ok(noAttn.tensors.get(bias)?.data.every((v) => v === 0));
  assert.ok(noAttn.inherited.includes('model.layers.0.mlp.up_proj.weight'));
});

test('a Qwen2 reference reads as "Qwen2 · ..." with the parameters its tensors hold', () => {
  const { config, tensors } = load('mha-untied');
  let n = 0;
  for (const t of tensors.values()) n += t.data.length;
  assert.equal(parameterCountOf(config), n);
  assert.match(describeModelShape(modelShapeOf(config)), /^Qwen2 · 2 layers · width 32 · 4 heads · MLP 72 · vocabulary 97 · context 64 · /);
});

test('Qwen2 config.json: sliding-window attention and a missing num_key_value_heads are refused naming the file and field', () => {
  const json = JSON.parse(fs.readFileSync(join(FIXTURES, 'hf-layout', 'config.json'), 'utf8')) as Record<string, unknown>;
  const src = '/m/config.json';
  const fails = (j: unknown, re: RegExp) => assert.throws(() => parseModelConfig(j, src), (e: Error) => e.message.startsWith(`${src}: `) && re.test(e.message));
  fails({ ...json, use_sliding_window: true }, /field "use_sliding_window" is true; sliding-window attention is not supported/);
  fails({ ...json, num_key_value_heads: undefined }, /missing field "num_key_value_heads"/);
  fails({ ...json, rope_scaling: { type: 'yarn', factor: 4 } }, /"rope_scaling" is .*only plain rotary/);
});
