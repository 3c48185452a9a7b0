/**
 * LLaMA model directories: config.json by model_type, HF key names, dropped RoPE buffers, BF16/F16
 * storage, sharded writing, reading in pieces (byte ranges, embedding rows), the streaming
 * safetensors writer, and errors that name the file and field at fault.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InherituneError } from '../../server/engine/errors.js';
import { configToHF, loadGPT2, loadModelDir, ModelDir, saveModelDir, writeModelDir } from '../../server/engine/hfCheckpoint.js';
import { llamaModelShapes } from '../../server/engine/llamaConfig.js';
import { describeModelShape } from '../../server/protocol/format.js';
import { initWeightsOf, modelShapeOf, parameterCountOf, parseConfigOf, parseModelConfig, type HostTensor } from '../../server/engine/modelFamily.js';
import { bf16BitsToF32, f32ToBF16Bits, SafetensorsReader, SafetensorsWriter, writeSafetensors } from '../../server/engine/safetensors.js';
import { distinctWeights, tinyLlama, writeLlama } from '../helpers/llama.js';
import { tinyGPT2 } from '../helpers/models.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-llama-ckpt-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => path.join(root, `${name}-${n++}`);

function throwsFor(fn: () => unknown, source: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InherituneError, `not an InherituneError: ${String(e)}`);
    assert.equal(e.source, source, `error names ${e.source}, expected ${source} (${e.message})`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function assertSameTensors(actual: Map<string, HostTensor>, expected: Map<string, HostTensor>): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, t] of expected) {
    const a = actual.get(name) as HostTensor;
    assert.deepEqual(a.shape, t.shape, `${name} shape`);
    assert.ok(bytesOf(a.data).equals(bytesOf(t.data)), `${name} data differs`);
  }
}

// OpenLLaMA-3B's config.json as published (open_llama_3b, with the fields transformers adds).
const OPEN_LLAMA_3B = {
  architectures: ['LlamaForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 3200,
  initializer_range: 0.02,
  intermediate_size: 8640,
  max_position_embeddings: 2048,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 26,
  pad_token_id: 0,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: false,
  torch_dtype: 'float16',
  transformers_version: '4.30.0.dev0',
  use_cache: true,
  vocab_size: 32000,
};

test("OpenLLaMA-3B's config.json parses to its shape: 26 layers, d 3200, 32 heads, MLP 8640, 3.43B parameters", () => {
  const cfg = parseModelConfig(OPEN_LLAMA_3B, 'config.json');
  assert.ok(cfg.family === 'llama');
  assert.deepEqual(cfg, {
    family: 'llama',
    vocabSize: 32000,
    nPositions: 2048,
    nEmbd: 3200,
    nLayer: 26,
    nHead: 32,
    nKvHead: 32,
    headDim: 100,
    nInner: 8640,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    qkvBias: false,
    tieWordEmbeddings: false,
    bosTokenId: 1,
    eosTokenId: 2,
  });
  // 2 x 32000 x 3200 (embeddings, head) + 26 x (4 x 3200^2 + 3 x 3200 x 8640 + 2 x 3200) + 3200
  assert.equal(parameterCountOf(cfg), 2 * 32000 * 3200 + 26 * (4 * 3200 * 3200 + 3 * 3200 * 8640 + 2 * 3200) + 3200);
  assert.equal(parameterCountOf({ ...cfg, nLayer: 13 }), 2 * 32000 * 3200 + 13 * (4 * 3200 * 3200 + 3 * 3200 * 8640 + 2 * 3200) + 3200);
  assert.equal(describeModelShape(modelShapeOf(cfg)), 'LLaMA · 26 layers · width 3200 · 32 heads · MLP 8640 · vocabulary 32,000 · context 2048 · 3.43B parameters');
  // LLaMA-2-70B-style grouped-query attention.
  const gqa = parseModelConfig({ ...OPEN_LLAMA_3B, num_attention_heads: 32, num_key_value_heads: 8, rope_theta: 500000 }, 'c.json');
  assert.ok(gqa.family === 'llama' && gqa.nKvHead === 8 && gqa.ropeTheta === 500000);
  assert.deepEqual(llamaModelShapes({ ...(gqa as typeof cfg), nLayer: 1 }).get('model.layers.0.self_attn.k_proj.weight'), [800, 3200]);
});

test('configToHF then parseModelConfig gives back the same LLaMA config (GQA, tied, head_dim, ids)', () => {
  for (const cfg of [tinyLlama(), tinyLlama({ nKvHead: 4, tieWordEmbeddings: true, bosTokenId: undefined, eosTokenId: undefined }), tinyLlama({ headDim: 6 })]) {
    const json = JSON.parse(JSON.stringify(configToHF(cfg, 'BF16'))) as Record<string, unknown>;
    assert.equal(json.torch_dtype, 'bfloat16');
    assert.equal(json.model_type, 'llama');
    assert.deepEqual(json.architectures, ['LlamaForCausalLM']);
    assert.deepEqual(parseModelConfig(json, 'c.json'), cfg);
  }
});

test('parseModelConfig dispatches on model_type and rejects what the engine cannot run, naming the field', () => {
  const src = '/m/config.json';
  assert.ok(parseModelConfig({ ...configToHF(tinyGPT2()), model_type: undefined }, src).family !== 'llama', 'no model_type reads as GPT-2');
  const base = configToHF(tinyLlama());
  const cases: [unknown, RegExp][] = [
    [{ ...base, model_type: 'mistral' }, /"model_type" is "mistral"; supported: "gpt2" \(GPT-2\), "llama" \(LLaMA\) and "qwen2" \(Qwen2\)/],
    [{ ...base, hidden_act: 'gelu' }, /"hidden_act" is "gelu"; only "silu"/],
    [{ ...base, rope_scaling: { type: 'linear', factor: 2 } }, /"rope_scaling" is .*only plain rotary/],
    [{ ...base, attention_bias: true }, /"attention_bias" is true/],
    [{ ...base, num_key_value_heads: 3 }, /"num_attention_heads" \(4\) must be a multiple of "num_key_value_heads" \(3\)/],
    [{ ...base, hidden_size: 18 }, /"hidden_size" \(18\) must be divisible by "num_attention_heads" \(4\)/],
    [{ ...base, head_dim: 5 }, /head width \(5\) must be even/],
    [{ ...base, intermediate_size: undefined }, /missing field "intermediate_size"/],
    [{ ...base, num_hidden_layers: 0 }, /"num_hidden_layers" must be a positive integer, got 0/],
    [{ ...base, rms_norm_eps: -1 }, /"rms_norm_eps" must be a positive number/],
    [{ ...base, tie_word_embeddings: 'no' }, /"tie_word_embeddings" must be true or false/],
  ];
  for (const [json, re] of cases) throwsFor(() => parseModelConfig(json, src), src, re);
  throwsFor(() => parseConfigOf([1], src, 'llama'), src, /config must be a JSON object/);
});

test('saveModelDir then loadModelDir is bit-exact (F32), with HF LLaMA key names in checkpoint order; loadGPT2 refuses it', () => {
  const cfg = tinyLlama();
  const dir = fresh('f32');
  const w = writeLlama(dir, cfg);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
  const back = loadModelDir(dir);
  assert.deepEqual(back.config, cfg);
  assertSameTensors(back.tensors, w);
  const r = SafetensorsReader.open(path.join(dir, 'model.safetensors'));
  try {
    assert.deepEqual(r.names(), [...llamaModelShapes(cfg).keys()]);
    assert.equal(r.names()[1], 'model.layers.0.self_attn.q_proj.weight');
    assert.deepEqual(r.info('model.layers.0.self_attn.k_proj.weight').shape, [8, 16], 'k_proj is [kv heads x head dim, hidden]');
    assert.equal(r.metadata.format, 'pt');
  } finally {
    r.close();
  }
  throwsFor(() => loadGPT2(dir), path.join(dir, 'config.json'), /"model_type" is "llama"/);
});

test('BF16 and F16 saves hold the nearest-even bits and load as exactly their values; config.json says torch_dtype', () => {
  const cfg = tinyLlama({ nLayer: 1 });
  for (const [dtype, torch] of [['BF16', 'bfloat16'], ['F16', 'float16']] as const) {
    const dir = fresh(dtype);
    const w = writeLlama(dir, cfg, 3, { dtype });
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).torch_dtype, torch);
    const m = ModelDir.open(dir);
    try {
      assert.deepEqual(Object.keys(m.storage()), [dtype]);
      const q = 'model.layers.0.self_attn.q_proj.weight';
      assert.equal(m.info(q).dtype, dtype);
      const got = m.read(q);
      const src = (w.get(q) as HostTensor).data;
      if (dtype === 'BF16') for (let i = 0; i < src.length; i++) assert.equal(got[i], bf16BitsToF32(f32ToBF16Bits(src[i])));
      else for (let i = 0; i < src.length; i++) assert.ok(Math.abs(got[i] - src[i]) <= Math.abs(src[i]) * 2 ** -11 + 2 ** -24);
    } finally {
      m.close();
    }
  }
});

test('a model larger than maxShardBytes is written as HF shards with an index, and reads back identically', () => {
  const cfg = tinyLlama();
  const dir = fresh('sharded');
  const w = writeLlama(dir, cfg, 5, { maxShardBytes: 12_000 });
  const files = fs.readdirSync(dir).sort();
  const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  assert.ok(shards.length >= 3, `several shards: ${files.join(', ')}`);
  assert.ok(files.includes('model.safetensors.index.json') && !files.includes('model.safetensors'));
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
  assert.deepEqual(Object.keys(index.weight_map), [...llamaModelShapes(cfg).keys()]);
  assert.equal(index.metadata.total_size, parameterCountOf(cfg) * 4);
  for (const s of shards) {
    const r = SafetensorsReader.open(path.join(dir, s));
    const bytes = r.names().reduce((a, k) => a + r.info(k).byteLength, 0);
    assert.ok(bytes <= 12_000 || r.names().length === 1, `${s}: ${bytes} bytes in ${r.names().length} tensors; the limit holds (or it is one large tensor)`);
    r.close();
  }
  assertSameTensors(loadModelDir(dir).tensors, w);
  // Opening 1 layer never touches shards that hold only later blocks.
  const later = Object.entries(index.weight_map).filter(([k]) => /^model\.layers\.2\./.test(k)).map(([, f]) => f);
  const onlyLater = [...new Set(later)].filter((f) => Object.entries(index.weight_map).every(([k, g]) => g !== f || /^model\.layers\.2\./.test(k)));
  for (const f of onlyLater) fs.rmSync(path.join(dir, f));
  assert.equal(loadModelDir(dir, { layers: 2 }).config.nLayer, 2);
});

test('keys of a bare LlamaModel get the model. prefix; rotary_emb.inv_freq buffers and a tied head copy are dropped', () => {
  const cfg = tinyLlama({ nLayer: 1, tieWordEmbeddings: true });
  const w = distinctWeights(cfg, 9);
  const dir = fresh('hand');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configToHF(cfg)));
  const entries: [string, HostTensor][] = [];
  for (const [k, t] of w) entries.push([k.replace(/^model\./, ''), t]);
  entries.push(['layers.0.self_attn.rotary_emb.inv_freq', { shape: [2], data: Float32Array.from([1, 0.01]) }]);
  entries.push(['lm_head.weight', w.get('model.embed_tokens.weight') as HostTensor]);
  writeSafetensors(path.join(dir, 'model.safetensors'), entries, { format: 'pt' });
  assertSameTensors(loadModelDir(dir).tensors, w);
});

test('missing and unexpected tensors, wrong shapes and bad names are errors naming the file and the tensors', () => {
  const cfg = tinyLlama({ nLayer: 2 });
  const dir = fresh('bad');
  writeLlama(dir, cfg);
  const weights = path.join(dir, 'model.safetensors');
  const configFile = path.join(dir, 'config.json');
  const hf = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(configFile, JSON.stringify({ ...hf, num_hidden_layers: 1 }));
  throwsFor(() => loadModelDir(dir), weights, /9 tensor\(s\) do not belong to the model that config\.json describes \(LLaMA, 1 layers, 4 heads \(2 key\/value\), tied false\)/, /model\.layers\.1\./);
  fs.writeFileSync(configFile, JSON.stringify({ ...hf, num_hidden_layers: 3 }));
  throwsFor(() => loadModelDir(dir), weights, /missing 9 tensor\(s\) that .*config\.json calls for: model\.layers\.2\.self_attn\.q_proj\.weight/);
  fs.writeFileSync(configFile, JSON.stringify({ ...hf, num_key_value_heads: 4 }));
  throwsFor(() => loadModelDir(dir), weights, /tensor "model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[8, 16\] but config\.json implies \[16, 16\]/);
  fs.writeFileSync(configFile, JSON.stringify(hf));
  const m = ModelDir.open(dir);
  try {
    throwsFor(() => m.read('h.0.ln_1.weight'), dir, /not a tensor of this model \(names look like model\.embed_tokens\.weight, model\.layers\.0\.self_attn\.q_proj\.weight\)/);
  } finally {
    m.close();
  }
});

test('ModelDir.readRows and readBytes read only the pieces asked for, in any storage dtype', () => {
  const cfg = tinyLlama({ nLayer: 1 });
  for (const dtype of ['F32', 'BF16'] as const) {
    const dir = fresh(`rows-${dtype}`);
    writeLlama(dir, cfg, 4, { dtype });
    const m = ModelDir.open(dir);
    try {
      const full = m.read('model.embed_tokens.weight');
      const C = cfg.nEmbd;
      const rows = [5, 0, 319, 5];
      const got = m.readRows('model.embed_tokens.weight', rows);
      rows.forEach((r, i) => assert.deepEqual(got.subarray(i * C, (i + 1) * C), full.subarray(r * C, (r + 1) * C)));
      throwsFor(() => m.readRows('model.embed_tokens.weight', [320]), dir, /row 320 .* outside 0\.\.319/);
      const info = m.info('model.norm.weight');
      assert.equal(m.readBytes('model.norm.weight', 0, info.byteLength).length, info.byteLength);
    } finally {
      m.close();
    }
  }
});

test('SafetensorsWriter streams tensors in pieces (raw bytes and float32), refuses overruns and incomplete files', () => {
  const dir = fresh('stream');
  fs.mkdirSync(dir);
  const file = path.join(dir, 'x.safetensors');
  const w = SafetensorsWriter.open(file, [
    { name: 'a', shape: [2, 3], dtype: 'F32' },
    { name: 'empty', shape: [0], dtype: 'F32' },
    { name: 'b', shape: [4], dtype: 'BF16' },
  ]);
  w.writeFloat32(Float32Array.from([1, 2, 3]));
  w.writeFloat32(Float32Array.from([4, 5, 6]));
  assert.equal(w.current?.name, 'b', 'empty tensors are skipped');
  throwsFor(() => w.writeBytes(new Uint8Array(10)), file, /only 8 of its 8 bytes are left/);
  w.writeBytes(Uint8Array.from([0x80, 0x3f, 0x00, 0x40])); // 1, 2 in BF16
  w.writeFloat32(Float32Array.from([-1, 0.5]));
  w.finish();
  const r = SafetensorsReader.open(file);
  try {
    assert.deepEqual(Array.from(r.readFloat32('a')), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(r.readFloat32('b')), [1, 2, -1, 0.5]);
    assert.deepEqual(r.info('empty').shape, [0]);
  } finally {
    r.close();
  }
  const before = fs.readFileSync(file);
  const partial = SafetensorsWriter.open(file, [{ name: 'a', shape: [4], dtype: 'F32' }]);
  partial.writeFloat32(Float32Array.from([1]));
  throwsFor(() => partial.finish(), file, /cannot finish: tensor "a" has 4 of its 16 bytes/);
  assert.deepEqual(fs.readdirSync(dir), ['x.safetensors'], 'no temp file left');
  assert.deepEqual(fs.readFileSync(file), before, 'the old file is untouched');
});

test('writeModelDir streams tensor by tensor and refuses a tensor left incomplete, leaving nothing behind', () => {
  const cfg = tinyLlama({ nLayer: 1 });
  const w = initWeightsOf(cfg, 2);
  const dir = fresh('streamdir');
  writeModelDir(dir, cfg, (sink) => {
    const data = (w.get(sink.name) as HostTensor).data;
    for (let i = 0; i < data.length; i += 7) sink.writeFloat32(data.subarray(i, i + 7));
  });
  assertSameTensors(loadModelDir(dir).tensors, w);
  const bad = fresh('incomplete');
  throwsFor(
    () => writeModelDir(bad, cfg, (sink) => sink.writeFloat32((w.get(sink.name) as HostTensor).data.subarray(0, 1))),
    bad,
    /cannot write the model: model\.safetensors: tensor "model\.embed_tokens\.weight" was not written completely/,
  );
  assert.ok(!fs.existsSync(bad));
  assert.deepEqual(fs.readdirSync(path.dirname(bad)).filter((f) => f.includes('incomplete')), []);
});

test('saveModelDir refuses tensors that do not match a LLaMA config', () => {
  const cfg = tinyLlama({ nLayer: 1 });
  const w = initWeightsOf(cfg, 1);
  w.delete('model.norm.weight');
  const dir = fresh('refuse');
  throwsFor(() => saveModelDir(dir, cfg, w), dir, /cannot save: tensors do not match the config \(missing model\.norm\.weight\)/);
});
