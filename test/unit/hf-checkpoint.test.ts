/**
 * Hugging Face GPT-2 model directories (server/engine/hfCheckpoint.ts): config.json parsing and
 * writing, save/load round trips, the key variants real checkpoints use (`transformer.` prefix, mask
 * buffers, optional lm_head, shards), lazy shard opening, and every error naming the file at fault.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InherituneError } from '../../server/engine/errors.js';
import type { HostTensor } from '../../server/engine/familyOps.js';
import { gpt2ConfigToHF, modelShapes, type GPT2Config } from '../../server/engine/gpt2Config.js';
import { ModelDir, loadGPT2, saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf, parseConfigOf } from '../../server/engine/modelFamily.js';
import { tinyGPT2 } from '../helpers/models.js';
import { SafetensorsReader, bf16BitsToF32, f32ToBF16Bits, writeSafetensors, type WriteDtype } from '../../server/engine/safetensors.js';

const parseGPT2Config = (json: unknown, source: string) => parseConfigOf(json, source, 'gpt2');

// ---------------------------------------------------------------------------------------------
// Helpers

const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-hf-'));
  dirs.push(d);
  return d;
}

const tinyConfig = tinyGPT2;

/**
 * Weights with distinct random values everywhere (LayerNorm gains and biases too, which a fresh
 * init sets to constants), so a tensor read from the wrong place cannot pass for the right one.
 */
function weights(cfg: GPT2Config, seed = 1): Map<string, HostTensor> {
  const w = initWeightsOf(cfg, seed);
  let s = seed * 7919;
  for (const t of w.values()) for (let i = 0; i < t.data.length; i++) t.data[i] += ((s = (s * 48271) % 2147483647) / 2147483647 - 0.5) * 0.1;
  return w;
}

/** A model folder written by saveGPT2. */
function savedModel(cfg = tinyConfig(), seed = 1): { dir: string; cfg: GPT2Config; w: Map<string, HostTensor> } {
  const dir = path.join(tmpDir(), 'model');
  const w = weights(cfg, seed);
  saveGPT2(dir, cfg, w);
  return { dir, cfg, w };
}

/** A model folder assembled by hand: config.json plus one model.safetensors holding `entries`. */
function handModel(cfgJson: unknown, entries: [string, HostTensor][], dtype: WriteDtype = 'F32'): string {
  const dir = path.join(tmpDir(), 'hand');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfgJson));
  writeSafetensors(path.join(dir, 'model.safetensors'), entries, { format: 'pt' }, { dtype });
  return dir;
}

function throwsFor(fn: () => unknown, source: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InherituneError, `not an InherituneError: ${String(e)}`);
    assert.equal(e.source, source, `error names ${e.source}, expected ${source} (${e.message})`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Same names in the same order, same shapes, bit-identical data. */
function assertSameTensors(actual: Map<string, HostTensor>, expected: Map<string, HostTensor>): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, t] of expected) {
    const a = actual.get(name) as HostTensor;
    assert.deepEqual(a.shape, t.shape, `${name} shape`);
    assert.ok(bytesOf(a.data).equals(bytesOf(t.data)), `${name} data differs`);
  }
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---------------------------------------------------------------------------------------------
// config.json

test('gpt2ConfigToHF then parseGPT2Config gives back the same config for every supported variant', () => {
  const variants: GPT2Config[] = [
    tinyConfig(),
    tinyConfig({ bias: false, tieWordEmbeddings: false, scaleAttnByInverseLayerIdx: true }),
    tinyConfig({ nInner: 24, layerNormEpsilon: 1e-6, nPositions: 1024 }),
    tinyConfig({ vocabSize: 50257, nEmbd: 768, nHead: 12, nLayer: 12, nInner: 3072, nPositions: 1024 }),
  ];
  for (const cfg of variants) {
    // Through JSON text, as it is stored.
    const back = parseGPT2Config(JSON.parse(JSON.stringify(gpt2ConfigToHF(cfg))), 'config.json');
    assert.deepEqual(back, cfg);
  }
});

test('the written config.json carries the fields HF transformers needs to build GPT2LMHeadModel', () => {
  const hf = gpt2ConfigToHF(tinyConfig({ bias: false }));
  assert.deepEqual(hf.architectures, ['GPT2LMHeadModel']);
  assert.equal(hf.model_type, 'gpt2');
  assert.equal(hf.n_embd, 16);
  assert.equal(hf.n_layer, 2);
  assert.equal(hf.n_head, 2);
  assert.equal(hf.n_positions, 16);
  assert.equal(hf.vocab_size, 64);
  assert.equal(hf.layer_norm_epsilon, 1e-5);
  assert.equal(hf.activation_function, 'gelu_new');
  assert.equal(hf.n_inner, null, 'n_inner null means 4 * n_embd in HF');
  assert.equal(hf.tie_word_embeddings, true);
  assert.equal(hf.eos_token_id, 63, 'a small vocabulary ends text with its last id');
  assert.equal(hf.bias, false, 'models without biases say so');
  assert.equal(gpt2ConfigToHF(tinyConfig()).bias, undefined, 'models with biases carry no extra field');
  assert.equal(gpt2ConfigToHF(tinyConfig({ nInner: 24 })).n_inner, 24);
  assert.equal(gpt2ConfigToHF(tinyConfig({ vocabSize: 50257 })).eos_token_id, 50256);
});

test("OpenAI's gpt2 config.json as published on the Hub parses to GPT-2 small", () => {
  const published = {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: 50256,
    embd_pdrop: 0.1,
    eos_token_id: 50256,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: 1024,
    n_embd: 768,
    n_head: 12,
    n_layer: 12,
    n_positions: 1024,
    resid_pdrop: 0.1,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
    vocab_size: 50257,
  };
  assert.deepEqual(parseGPT2Config(published, 'gpt2/config.json'), {
    family: 'gpt2',
    vocabSize: 50257,
    nPositions: 1024,
    nEmbd: 768,
    nLayer: 12,
    nHead: 12,
    nInner: 3072,
    layerNormEpsilon: 1e-5,
    bias: true,
    scaleAttnByInverseLayerIdx: false,
    tieWordEmbeddings: true,
  });
  // Old configs with only n_ctx.
  const { n_positions: _, ...old } = published;
  assert.equal(parseGPT2Config(old, 'old.json').nPositions, 1024);
});

test('parseGPT2Config rejects bad configs with a message naming the config file and the field', () => {
  const src = '/models/x/config.json';
  const base = gpt2ConfigToHF(tinyConfig());
  const cases: [unknown, RegExp[]][] = [
    [[1, 2], [/config must be a JSON object/]],
    [null, [/config must be a JSON object/]],
    [{ ...base, model_type: 'llama' }, [/"model_type" is "llama"/, /only GPT-2/]],
    [{ ...base, n_embd: 30, n_head: 4 }, [/"n_embd" \(30\) must be divisible by "n_head" \(4\)/]],
    [{ ...base, activation_function: 'relu' }, [/"activation_function" is "relu"/, /gelu_new/]],
    [{ ...base, activation_function: 'gelu' }, [/"activation_function" is "gelu"/]],
    [{ ...base, n_embd: undefined }, [/missing field "n_embd"/]],
    [{ ...base, n_layer: 0 }, [/"n_layer" must be a positive integer, got 0/]],
    [{ ...base, n_head: '2' }, [/"n_head" must be a positive integer, got "2"/]],
    [{ ...base, vocab_size: 64.5 }, [/"vocab_size" must be a positive integer/]],
    [{ ...base, n_positions: undefined, n_ctx: undefined }, [/missing field "n_positions" \(or "n_ctx"\)/]],
    [{ ...base, layer_norm_epsilon: -1 }, [/"layer_norm_epsilon" must be a positive number/]],
    [{ ...base, layer_norm_epsilon: '1e-5' }, [/"layer_norm_epsilon"/]],
    [{ ...base, tie_word_embeddings: 'yes' }, [/"tie_word_embeddings" must be true or false/]],
    [{ ...base, n_inner: 0 }, [/"n_inner" must be a positive integer/]],
    [{ ...base, scale_attn_weights: false }, [/"scale_attn_weights" is false/]],
  ];
  for (const [json, res] of cases) throwsFor(() => parseGPT2Config(json, src), src, ...res);
});

// ---------------------------------------------------------------------------------------------
// Round trips

test('saveGPT2 then loadGPT2 is bit-exact and writes exactly config.json and an F32 model.safetensors in HF order', () => {
  for (const cfg of [tinyConfig(), tinyConfig({ bias: false, tieWordEmbeddings: false, scaleAttnByInverseLayerIdx: true, nInner: 24 })]) {
    const { dir, w } = savedModel(cfg);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
    const configFile = path.join(dir, 'config.json');
    assert.deepEqual(parseGPT2Config(JSON.parse(fs.readFileSync(configFile, 'utf8')), configFile), cfg, 'config.json reads back identically');

    const loaded = loadGPT2(dir);
    assert.deepEqual(loaded.config, cfg);
    assertSameTensors(loaded.tensors, w);

    const r = SafetensorsReader.open(path.join(dir, 'model.safetensors'));
    try {
      assert.deepEqual(r.names(), [...modelShapes(cfg).keys()], 'tensors in modelShapes order, HF names without prefix');
      assert.ok(r.names().every((n) => r.info(n).dtype === 'F32'));
      assert.equal(r.metadata.format, 'pt', 'transformers needs format "pt"');
    } finally {
      r.close();
    }
  }
});

test('saveGPT2 keeps caller metadata beside its own mark, and replacing a model it wrote swaps the whole folder', () => {
  const { dir, cfg } = savedModel();
  const w2 = weights(cfg, 2);
  saveGPT2(dir, cfg, w2, { inheritune_steps: '42' });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['model'], 'no temp or .old folder left beside it');
  assertSameTensors(loadGPT2(dir).tensors, w2);
  const r = SafetensorsReader.open(path.join(dir, 'model.safetensors'));
  try {
    assert.deepEqual(r.metadata, { inheritune_format: '1', inheritune_steps: '42', format: 'pt' });
  } finally {
    r.close();
  }
});

test('the `transformer.` prefix is accepted, attn.bias/masked_bias buffers are ignored, a tied lm_head.weight is ignored', () => {
  const cfg = tinyConfig();
  const w = weights(cfg);
  const entries: [string, HostTensor][] = [];
  for (const [name, t] of w) {
    entries.push([`transformer.${name}`, t]);
    const block = /^h\.(\d+)\.ln_1\.weight$/.exec(name);
    if (block) {
      const mask = new Float32Array(16 * 16).map((_, i) => (i % 16 <= Math.floor(i / 16) ? 1 : 0));
      entries.push([`transformer.h.${block[1]}.attn.bias`, { shape: [1, 1, 16, 16], data: mask }]);
      entries.push([`transformer.h.${block[1]}.attn.masked_bias`, { shape: [], data: Float32Array.from([-1e4]) }]);
    }
  }
  // A stored head that differs from wte: a tied model must use wte, as HF does.
  entries.push(['lm_head.weight', { shape: [64, 16], data: new Float32Array(64 * 16).fill(9) }]);
  const dir = handModel(gpt2ConfigToHF(cfg), entries);
  const loaded = loadGPT2(dir);
  assert.deepEqual(loaded.config, cfg);
  assertSameTensors(loaded.tensors, w);
  const m = ModelDir.open(dir);
  try {
    assert.equal(m.has('h.0.attn.bias'), false);
    assert.equal(m.has('lm_head.weight'), false);
    assert.deepEqual(m.names(), [...w.keys()]);
  } finally {
    m.close();
  }
});

test('lm_head.weight is optional for tied models and required (and loaded) for untied ones', () => {
  const tied = tinyConfig();
  const wt = weights(tied);
  assertSameTensors(loadGPT2(handModel(gpt2ConfigToHF(tied), [...wt])).tensors, wt);

  const untied = tinyConfig({ tieWordEmbeddings: false });
  const wu = weights(untied);
  assert.ok(wu.has('lm_head.weight'));
  assertSameTensors(loadGPT2(handModel(gpt2ConfigToHF(untied), [...wu])).tensors, wu);

  const dir = handModel(gpt2ConfigToHF(untied), [...wu].filter(([n]) => n !== 'lm_head.weight'));
  throwsFor(() => loadGPT2(dir), path.join(dir, 'model.safetensors'), /missing 1 tensor\(s\)/, /lm_head\.weight/);
});

test('F16 and BF16 checkpoints load as the exact float32 values of their stored bits', () => {
  const cfg = tinyConfig();
  const w = weights(cfg);
  const dir = handModel(gpt2ConfigToHF(cfg), [...w], 'BF16');
  const loaded = loadGPT2(dir).tensors;
  for (const [name, t] of w) {
    const want = t.data.map((x) => bf16BitsToF32(f32ToBF16Bits(x)));
    assert.ok(bytesOf(loaded.get(name)!.data).equals(bytesOf(want)), name);
  }
  const dir16 = handModel(gpt2ConfigToHF(cfg), [...w], 'F16');
  const l16 = loadGPT2(dir16).tensors.get('wte.weight')!.data;
  const w16 = w.get('wte.weight')!.data;
  for (let i = 0; i < w16.length; i++) assert.ok(Math.abs(l16[i] - w16[i]) <= Math.abs(w16[i]) * 2 ** -11 + 2 ** -25);
});

// ---------------------------------------------------------------------------------------------
// Sharded checkpoints

/**
 * A 4-layer model in two BF16 shards: shard 1 holds embeddings, ln_f and blocks 0-1 (half the keys
 * with `transformer.`), shard 2 only blocks 2-3.
 */
function shardedModel(): { dir: string; cfg: GPT2Config; w: Map<string, HostTensor>; shard2: string; index: string } {
  const cfg = tinyConfig({ nLayer: 4 });
  const w = weights(cfg);
  const dir = path.join(tmpDir(), 'sharded');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(gpt2ConfigToHF(cfg)));
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const shards: [string, HostTensor][][] = [[], []];
  const weightMap: Record<string, string> = {};
  let i = 0;
  for (const [name, t] of w) {
    const s = /^h\.[23]\./.test(name) ? 1 : 0;
    const key = i++ % 2 === 0 ? `transformer.${name}` : name;
    shards[s].push([key, t]);
    weightMap[key] = names[s];
  }
  shards.forEach((entries, s) => writeSafetensors(path.join(dir, names[s]), entries, { format: 'pt' }, { dtype: 'BF16' }));
  const index = path.join(dir, 'model.safetensors.index.json');
  fs.writeFileSync(index, JSON.stringify({ metadata: { total_size: 12345 }, weight_map: weightMap }, null, 2));
  return { dir, cfg, w, shard2: path.join(dir, names[1]), index };
}

test('a sharded checkpoint (index, BF16 shards, mixed prefixes) loads every tensor from its shard', () => {
  const { dir, cfg, w } = shardedModel();
  const loaded = loadGPT2(dir);
  assert.deepEqual(loaded.config, cfg);
  assert.deepEqual([...loaded.tensors.keys()], [...w.keys()]);
  for (const [name, t] of w) {
    const want = t.data.map((x) => bf16BitsToF32(f32ToBF16Bits(x)));
    assert.ok(bytesOf(loaded.tensors.get(name)!.data).equals(bytesOf(want)), name);
  }
});

test('loadGPT2(dir, {layers: 2}) never opens the shard holding only blocks 2-3: it works with that shard deleted', () => {
  const { dir, cfg, w, shard2 } = shardedModel();
  fs.rmSync(shard2);
  const loaded = loadGPT2(dir, { layers: 2 });
  assert.deepEqual(loaded.config, { ...cfg, nLayer: 2 });
  assert.deepEqual([...loaded.tensors.keys()], [...modelShapes({ ...cfg, nLayer: 2 }).keys()]);
  for (const [name, t] of loaded.tensors) {
    const want = w.get(name)!.data.map((x) => bf16BitsToF32(f32ToBF16Bits(x)));
    assert.ok(bytesOf(t.data).equals(bytesOf(want)), name);
  }
  // The full model needs the missing shard, and says which file is gone and who listed it.
  throwsFor(() => loadGPT2(dir), shard2, /missing weights file/, /model\.safetensors\.index\.json/);
});

test('ModelDir.open refuses a layer count outside 1..nLayer, naming the folder', () => {
  const { dir } = savedModel();
  for (const n of [0, 3, 1.5]) throwsFor(() => ModelDir.open(dir, { layers: n }), dir, new RegExp(`cannot take ${n} layers: the model has 2`));
});

test('index errors: a shard outside the folder, a missing weight_map, a tensor not in its shard, a tensor stored twice', () => {
  const { dir, index } = shardedModel();
  const original = JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map: Record<string, string> };
  const withMap = (map: unknown) => fs.writeFileSync(index, JSON.stringify({ weight_map: map }));

  for (const bad of ['../model-00001-of-00002.safetensors', '/etc/passwd', 'sub/../../x.safetensors', '', 7]) {
    withMap({ ...original.weight_map, 'transformer.wte.weight': bad });
    throwsFor(() => loadGPT2(dir), index, /weight_map entry "transformer\.wte\.weight" must name a shard file inside the model directory/);
  }
  fs.writeFileSync(index, JSON.stringify({ metadata: {} }));
  throwsFor(() => loadGPT2(dir), index, /"weight_map" must be an object/);
  fs.writeFileSync(index, '{"weight_map": ');
  throwsFor(() => loadGPT2(dir), index, /not valid JSON/);

  // The index places ln_f.weight in shard 2, which does not hold it.
  const map = { ...original.weight_map };
  const lnKey = Object.keys(map).find((k) => k.endsWith('ln_f.weight')) as string;
  map[lnKey] = 'model-00002-of-00002.safetensors';
  withMap(map);
  throwsFor(() => loadGPT2(dir), path.join(dir, 'model-00002-of-00002.safetensors'), new RegExp(`places tensor "${esc(lnKey)}" in this file, but the file has no such tensor`));

  // Both spellings of one tensor.
  const twice = { ...original.weight_map };
  const wteKey = Object.keys(twice).find((k) => k.endsWith('wte.weight')) as string;
  twice[wteKey.startsWith('transformer.') ? 'wte.weight' : 'transformer.wte.weight'] = twice[wteKey];
  withMap(twice);
  throwsFor(() => loadGPT2(dir), index, /tensor "wte\.weight" is stored twice/);
});

// ---------------------------------------------------------------------------------------------
// Model folder errors

test('a missing folder, a file instead of a folder, an empty folder and a pytorch_model.bin-only folder are errors naming the folder', () => {
  const root = tmpDir();
  const missing = path.join(root, 'nope');
  throwsFor(() => loadGPT2(missing), missing, /model directory not found/);
  const file = path.join(root, 'file');
  fs.writeFileSync(file, 'x');
  throwsFor(() => loadGPT2(file), file, /is a file, not a model directory/);

  const { dir } = savedModel();
  fs.rmSync(path.join(dir, 'model.safetensors'));
  throwsFor(() => loadGPT2(dir), dir, /missing weights: no model\.safetensors or model\.safetensors\.index\.json/);
  fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'PK');
  throwsFor(() => loadGPT2(dir), dir, /pytorch_model\.bin is not supported; convert it to safetensors/);
});

test('a missing or unparsable config.json, or one with bad fields, is an error naming config.json', () => {
  const { dir } = savedModel();
  const configFile = path.join(dir, 'config.json');
  const good = fs.readFileSync(configFile, 'utf8');
  const hf = JSON.parse(good) as Record<string, unknown>;
  const cases: [string | null, RegExp][] = [
    [null, /missing config\.json/],
    ['{"n_embd": 16,', /config\.json is not valid JSON/],
    ['', /config\.json is not valid JSON/],
    [JSON.stringify({ ...hf, n_embd: 30, n_head: 4 }), /"n_embd" \(30\) must be divisible by "n_head" \(4\)/],
    [JSON.stringify({ ...hf, activation_function: 'silu' }), /"activation_function" is "silu"/],
    [JSON.stringify({ ...hf, model_type: 'llama' }), /"model_type" is "llama"/],
    [JSON.stringify({ ...hf, n_head: undefined }), /missing field "n_head"/],
  ];
  for (const [text, re] of cases) {
    if (text === null) fs.rmSync(configFile);
    else fs.writeFileSync(configFile, text);
    throwsFor(() => loadGPT2(dir), configFile, re);
  }
});

test('a tensor whose shape disagrees with config.json is an error naming the tensor, both shapes and the weights file', () => {
  const { dir } = savedModel();
  const configFile = path.join(dir, 'config.json');
  const hf = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(configFile, JSON.stringify({ ...hf, vocab_size: 65 }));
  throwsFor(() => loadGPT2(dir), path.join(dir, 'model.safetensors'), /tensor "wte\.weight" has shape \[64, 16\] but config\.json implies \[65, 16\]/);
  fs.writeFileSync(configFile, JSON.stringify({ ...hf, n_inner: 32 }));
  throwsFor(() => loadGPT2(dir), path.join(dir, 'model.safetensors'), /tensor "h\.0\.mlp\.c_fc\.weight" has shape \[16, 64\] but config\.json implies \[16, 32\]/);
});

test('missing tensors and tensors the config does not call for are errors listing them and naming the weights file', () => {
  const cfg = tinyConfig();
  const w = weights(cfg);
  const weightsFile = (dir: string) => path.join(dir, 'model.safetensors');

  const missingDir = handModel(gpt2ConfigToHF(cfg), [...w].filter(([n]) => n !== 'h.1.mlp.c_fc.weight' && n !== 'ln_f.bias'));
  throwsFor(() => loadGPT2(missingDir), weightsFile(missingDir), /missing 2 tensor\(s\) that .*config\.json calls for: h\.1\.mlp\.c_fc\.weight, ln_f\.bias/);

  // A 2-layer checkpoint under a config that says 1 layer: block 1 does not belong.
  const extraDir = handModel(gpt2ConfigToHF(tinyConfig({ nLayer: 1 })), [...w]);
  throwsFor(() => loadGPT2(extraDir), weightsFile(extraDir), /12 tensor\(s\) do not belong to the model that config\.json describes \(1 layers/, /h\.1\.ln_1\.weight/, /and 7 more/);

  // Biases stored for a config without biases.
  const biasDir = handModel({ ...gpt2ConfigToHF(cfg), bias: false }, [...w]);
  throwsFor(() => loadGPT2(biasDir), weightsFile(biasDir), /do not belong/, /h\.0\.ln_1\.bias/);

  // A stray tensor.
  const strayDir = handModel(gpt2ConfigToHF(cfg), [...w, ['score.weight', { shape: [1], data: new Float32Array(1) }]]);
  throwsFor(() => loadGPT2(strayDir), weightsFile(strayDir), /1 tensor\(s\) do not belong/, /score\.weight/);
});

test('an integer weight tensor and a corrupt model.safetensors are errors naming the weights file', () => {
  const { dir } = savedModel();
  const file = path.join(dir, 'model.safetensors');
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string }>;
  header['ln_f.bias'].dtype = 'I32';
  const hb = Buffer.from(JSON.stringify(header).padEnd(n, ' '));
  assert.equal(hb.length, n, 'same header length, so offsets stay valid');
  fs.writeFileSync(file, Buffer.concat([raw.subarray(0, 8), hb, raw.subarray(8 + n)]));
  throwsFor(() => loadGPT2(dir), file, /tensor "ln_f\.bias" has dtype I32; weights must be F32, F16, BF16 or F64/);

  fs.writeFileSync(file, raw.subarray(0, raw.length - 10));
  throwsFor(() => loadGPT2(dir), file, /truncated/);
});

test('ModelDir.read checks the name against the model', () => {
  const { dir, w } = savedModel();
  const m = ModelDir.open(dir);
  try {
    assert.ok(bytesOf(m.read('h.1.attn.c_attn.weight')).equals(bytesOf(w.get('h.1.attn.c_attn.weight')!.data)));
    throwsFor(() => m.read('h.7.ln_1.weight'), dir, /"h\.7\.ln_1\.weight" is not a tensor of this model/);
  } finally {
    m.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Writing errors

test('saveGPT2 refuses tensors that do not match the config and writes nothing', () => {
  const root = tmpDir();
  const dir = path.join(root, 'out');
  const cfg = tinyConfig();
  const w = weights(cfg);
  const without = new Map(w);
  without.delete('h.1.ln_2.bias');
  throwsFor(() => saveGPT2(dir, cfg, without), dir, /cannot save: tensors do not match the config \(missing h\.1\.ln_2\.bias\)/);
  const extra = new Map(w).set('lm_head.weight', { shape: [64, 16], data: new Float32Array(64 * 16) });
  throwsFor(() => saveGPT2(dir, cfg, extra), dir, /unexpected lm_head\.weight/);
  const wrong = new Map(w).set('wpe.weight', { shape: [16, 8], data: new Float32Array(128) });
  throwsFor(() => saveGPT2(dir, cfg, wrong), dir, /tensor "wpe\.weight" has shape \[16, 8\] \(128 values\), expected \[16, 16\]/);
  assert.deepEqual(fs.readdirSync(root), []);
});

test('saveGPT2 into a path that cannot be created is an error naming the folder, and leaves nothing behind', () => {
  const root = tmpDir();
  const blocker = path.join(root, 'a-file');
  fs.writeFileSync(blocker, 'x');
  const cfg = tinyConfig();
  const dir = path.join(blocker, 'model');
  throwsFor(() => saveGPT2(dir, cfg, weights(cfg)), dir, /cannot write the model/);
  assert.deepEqual(fs.readdirSync(root), ['a-file']);
  const tooLong = path.join(root, 'x'.repeat(300));
  throwsFor(() => saveGPT2(tooLong, cfg, weights(cfg)), tooLong, /cannot write the model/);
  assert.deepEqual(fs.readdirSync(root), ['a-file']);
});

test('saveGPT2 failing while writing the weights keeps the previous model intact and leaves no temp folder', () => {
  const { dir, cfg, w } = savedModel();
  const failing = weights(cfg, 3);
  const t = failing.get('ln_f.weight')!;
  Object.defineProperty(t.data, 'buffer', {
    get() {
      throw new Error('simulated disk failure');
    },
  });
  throwsFor(() => saveGPT2(dir, cfg, failing), dir, /cannot write the model: model\.safetensors: cannot write: simulated disk failure/);
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ['model']);
  assertSameTensors(loadGPT2(dir).tensors, w);
});

// ---------------------------------------------------------------------------------------------
// An independent reader

const python = spawnSync('python3', ['-c', 'import json, struct'], { encoding: 'utf8' });

test('python (json + struct, no safetensors package) reads our model.safetensors header and data', { skip: python.status !== 0 ? 'python3 not available' : false }, () => {
  const { dir, w } = savedModel();
  const script = `
import json, struct, sys
with open(sys.argv[1], 'rb') as f:
    raw = f.read()
(n,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n].decode('utf-8'))
meta = header.pop('__metadata__')
out = {'n': n, 'meta': meta, 'size': len(raw), 'tensors': {}}
for name, e in header.items():
    b, end = e['data_offsets']
    vals = struct.unpack('<%df' % ((end - b) // 4), raw[8 + n + b:8 + n + end])
    out['tensors'][name] = {'dtype': e['dtype'], 'shape': e['shape'], 'offsets': [b, end], 'sum': sum(vals), 'first': vals[0] if vals else None}
print(json.dumps(out))
`;
  const r = spawnSync('python3', ['-c', script, path.join(dir, 'model.safetensors')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as {
    n: number;
    meta: Record<string, string>;
    size: number;
    tensors: Record<string, { dtype: string; shape: number[]; offsets: number[]; sum: number; first: number }>;
  };
  assert.equal(got.n % 8, 0);
  assert.deepEqual(got.meta, { inheritune_format: '1', format: 'pt' });
  assert.deepEqual(Object.keys(got.tensors), [...w.keys()]);
  let end = 0;
  for (const [name, t] of w) {
    const p = got.tensors[name];
    assert.equal(p.dtype, 'F32');
    assert.deepEqual(p.shape, t.shape);
    assert.deepEqual(p.offsets, [end, end + 4 * t.data.length], `${name} is contiguous`);
    end += 4 * t.data.length;
    assert.equal(p.first, t.data[0], `${name}[0]`);
    const sum = t.data.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(p.sum - sum) <= 1e-9 * t.data.length + 1e-12, `${name} sum`);
  }
  assert.equal(got.size, 8 + got.n + end);
});
