/**
 * Inheritune on LLaMA references: which tensors are copied (bit for bit) and which are initialised
 * as HF's LLaMA does; the streaming inherit (straight to disk, in any save precision) equals the
 * in-memory one; continue-mode growth; training a derived LLaMA; and the CLI's inherit, eval and
 * analyze on LLaMA folders (eval and analyze run LLaMA block by block and must give the figures of
 * the whole model).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analysisStarts, analyzeAttention } from '../../server/engine/analyze.js';
import { initBackend } from '../../server/engine/backend.js';
import { contiguousStarts } from '../../server/engine/data/windows.js';
import { evaluate } from '../../server/engine/evaluate.js';
import { loadModelDir, ModelDir } from '../../server/engine/hfCheckpoint.js';
import { DEFAULT_INHERIT, inheritFromReference, inheritToDir, type InheritOptions } from '../../server/engine/inherit.js';
import { analyzeDir, evaluateDir } from '../../server/engine/layerwise.js';
import { isInheritedIn, shapesOf, type HostTensor } from '../../server/engine/modelFamily.js';
import { createModel } from '../../server/engine/models.js';
import { growFromReference } from '../../server/engine/run/grow.js';
import { bf16BitsToF32, f32ToBF16Bits } from '../../server/engine/safetensors.js';
import { Trainer } from '../../server/engine/train/trainer.js';
import { runCli } from '../helpers/cli.js';
import { tinyLlama, writeLlama } from '../helpers/llama.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-llama-inherit-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const cfg = tinyLlama({ nLayer: 4 });
const refF32 = path.join(root, 'ref-f32');
const refWeights = writeLlama(refF32, cfg, 21);
const refBF16 = path.join(root, 'ref-bf16');
writeLlama(refBF16, cfg, 21, { dtype: 'BF16', maxShardBytes: 20_000 });

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sameBits = (a: Float32Array, b: Float32Array) => bytes(a).equals(bytes(b));
const base = { ...DEFAULT_INHERIT, seed: 0 };

/** Written from method.md section 2 and the LLaMA key names, independently of modelFamily.ts. */
function shouldCopy(name: string, o: Omit<InheritOptions, 'layers' | 'seed'>): boolean {
  if (name === 'model.embed_tokens.weight' || name === 'lm_head.weight') return o.embeddings;
  if (name === 'model.norm.weight') return o.finalNorm;
  const m = /^model\.layers\.\d+\.(self_attn|mlp|input_layernorm|post_attention_layernorm)\./.exec(name);
  assert.ok(m, `unexpected tensor ${name}`);
  if (m[1] === 'self_attn') return o.parts.includes('attn');
  if (m[1] === 'mlp') return o.parts.includes('mlp');
  if (m[1] === 'input_layernorm') return o.parts.includes('norms') || o.parts.includes('ln_1');
  return o.parts.includes('norms') || o.parts.includes('ln_2');
}

test('inheritFromReference on LLaMA copies exactly the chosen tensors bit for bit and initialises the rest as HF LLaMA does', () => {
  const cases: InheritOptions[] = [
    { ...base, layers: 2 },
    { ...base, layers: 3, parts: ['attn', 'ln_1'], embeddings: false, finalNorm: false, seed: 5 },
    { ...base, layers: 1, parts: ['mlp', 'ln_2'] },
  ];
  for (const o of cases) {
    const r = inheritFromReference(refF32, o);
    assert.deepEqual(r.config, { ...cfg, nLayer: o.layers });
    assert.deepEqual([...r.tensors.keys()], [...shapesOf(r.config).keys()]);
    const copied: string[] = [];
    const normal: Float32Array[] = [];
    for (const [name, t] of r.tensors) {
      const ref = (refWeights.get(name) as HostTensor).data;
      assert.equal(isInheritedIn(r.config, name, o), shouldCopy(name, o), name);
      if (shouldCopy(name, o)) {
        copied.push(name);
        assert.ok(sameBits(t.data, ref), `${name} is the reference's, bit for bit`);
      } else if (name.endsWith('layernorm.weight') || name === 'model.norm.weight') {
        assert.ok(t.data.every((x) => x === 1), `${name}: RMSNorm gains start at 1`);
      } else {
        assert.ok(!t.data.some((x, i) => x === ref[i]), `${name} is fresh`);
        normal.push(t.data);
      }
    }
    assert.deepEqual(r.inherited, copied);
    if (normal.length > 0) {
      const all = normal.flatMap((a) => Array.from(a));
      const mean = all.reduce((a, b) => a + b, 0) / all.length;
      const std = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length);
      assert.ok(Math.abs(std - 0.02) < 0.002 && Math.abs(mean) < 0.002, `fresh weights ~ N(0, 0.02): mean ${mean}, std ${std} over ${all.length}`);
    }
  }
});

test('inheritToDir streams the same model to disk: F32 bit-exact with inheritFromReference, BF16 its rounding, and BF16 -> BF16 copies the stored bits', () => {
  const o: InheritOptions = { ...base, layers: 3, parts: ['attn', 'norms'], embeddings: false, seed: 3 };
  const mem = inheritFromReference(refF32, o);
  const f32Dir = path.join(root, 'stream-f32');
  const r = inheritToDir(refF32, o, f32Dir);
  assert.deepEqual(r.inherited, mem.inherited);
  assert.equal(r.inherited.length + r.fresh.length, mem.tensors.size);
  const back = loadModelDir(f32Dir);
  assert.deepEqual(back.config, mem.config);
  for (const [name, t] of mem.tensors) assert.ok(sameBits((back.tensors.get(name) as HostTensor).data, t.data), name);
  const meta = ModelDir.open(f32Dir);
  meta.close();

  const bf16Dir = path.join(root, 'stream-bf16');
  inheritToDir(refF32, o, bf16Dir, { dtype: 'BF16', maxShardBytes: 10_000 });
  assert.ok(fs.existsSync(path.join(bf16Dir, 'model.safetensors.index.json')), 'sharded as asked');
  const b = loadModelDir(bf16Dir);
  for (const [name, t] of mem.tensors) {
    const got = (b.tensors.get(name) as HostTensor).data;
    for (let i = 0; i < t.data.length; i++) assert.equal(got[i], bf16BitsToF32(f32ToBF16Bits(t.data[i])), `${name}[${i}]`);
  }

  // A BF16 reference inherited into BF16: the copied tensors' bytes are the reference's bytes.
  const copyDir = path.join(root, 'stream-bf16-copy');
  inheritToDir(refBF16, { ...base, layers: 2 }, copyDir, { dtype: 'BF16' });
  const src = ModelDir.open(refBF16);
  const dst = ModelDir.open(copyDir);
  try {
    for (const name of dst.names()) {
      const n = dst.info(name).byteLength;
      assert.ok(Buffer.from(dst.readBytes(name, 0, n)).equals(Buffer.from(src.readBytes(name, 0, n))), `${name} stored bits copied`);
    }
  } finally {
    src.close();
    dst.close();
  }
});

test('continue-mode growth of a LLaMA target keeps its trained blocks and appends the reference\'s next ones', () => {
  const trained = inheritFromReference(refF32, { ...base, layers: 2, embeddings: false, seed: 9 });
  const g = growFromReference(trained, refBF16, 4);
  assert.equal(g.config.nLayer, 4);
  assert.deepEqual(g.fromReference, [...shapesOf(g.config).keys()].filter((n) => /^model\.layers\.[23]\./.test(n)));
  for (const [name, t] of trained.tensors) assert.equal((g.tensors.get(name) as HostTensor).data, t.data, `${name} kept`);
});

test('a derived LLaMA trains (loss falls on repetitive data) and its layer-by-layer evaluation equals the whole model\'s', async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  const r = inheritFromReference(refF32, { ...base, layers: 2 });
  const tokens = Uint16Array.from({ length: 4000 }, (_, i) => (i * 7) % 13);
  const model = createModel(r.config, r.tensors);
  try {
    const starts = contiguousStarts(tokens.length, 16, true, 8);
    const before = (await evaluate(model, tokens, starts, 16, 4)).valLoss;
    const trainer = new Trainer(
      model,
      { steps: 12, batchTokens: 64, microBatch: 4, blockSize: 16, lr: 1e-2, minLr: 1e-3, warmup: 2, weightDecay: 0.1, betas: [0.9, 0.95], gradClip: 1, evalEvery: 0, seed: 1, checkpointEvery: 0 },
      { train: tokens, val: tokens, valStarts: starts },
    );
    const res = await trainer.run();
    assert.ok(res.valLoss !== undefined && res.valLoss < before - 0.5, `loss ${before} -> ${res.valLoss}`);
  } finally {
    model.dispose();
  }
  const whole = createModel(cfg, refWeights);
  try {
    const starts = contiguousStarts(tokens.length, 32, true, 6);
    const direct = (await evaluate(whole, tokens, starts, 32, 4)).valLoss;
    assert.equal((await evaluateDir(refF32, tokens, starts, 32, 4)).valLoss, direct);
    const o = { sequences: 5, seqLen: 24, windows: 'random' as const, seed: 3, tau: 0.9, eta: 0.9, mass: 'sorted' as const };
    const aStarts = analysisStarts(tokens.length, o, 'tokens');
    assert.deepEqual(await analyzeDir(refF32, tokens, aStarts, o), await analyzeAttention(whole, tokens, aStarts, o));
  } finally {
    whole.dispose();
  }
});

test('CLI: inherit, eval and analyze accept LLaMA folders (BF16 shards in, BF16 out with --dtype)', async () => {
  const out = path.join(root, 'cli-derived');
  const res = await runCli(['inherit', refBF16, '--layers', '2', '--dtype', 'bfloat16', '--out', out]);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /wrote .*: 2 layers, [\d,]+ parameters; 21 tensors inherited, 0 initialised/);
  const m = ModelDir.open(out);
  try {
    assert.deepEqual(Object.keys(m.storage()), ['BF16']);
    assert.equal(m.config.nLayer, 2);
  } finally {
    m.close();
  }
  const data = path.join(root, 'tokens.bin');
  fs.writeFileSync(data, Buffer.from(Uint16Array.from({ length: 600 }, (_, i) => (i * 31 + 7) % 320).buffer));
  const ev = await runCli(['eval', refBF16, '--data', data, '--block-size', '32', '--json', '--backend', 'cpu']);
  assert.equal(ev.status, 0, ev.stderr);
  const evj = JSON.parse(ev.stdout) as { valLoss: number; windows: number };
  await initBackend('cpu');
  const tokens = Uint16Array.from({ length: 600 }, (_, i) => (i * 31 + 7) % 320);
  assert.equal(evj.windows, 18);
  assert.ok(Math.abs(evj.valLoss - (await evaluateDir(refBF16, tokens, contiguousStarts(600, 32, true), 32, 8)).valLoss) < 1e-6);
  const an = await runCli(['analyze', refBF16, '--data', data, '--sequences', '3', '--seq-len', '16', '--json', '--backend', 'cpu']);
  assert.equal(an.status, 0, an.stderr);
  const anj = JSON.parse(an.stdout) as { layers: unknown[]; sequences: number };
  assert.equal(anj.layers.length, 4);
  assert.equal(anj.sequences, 3);
});
