/**
 * Inheritance (method.md section 2): inheritFromReference copies exactly the chosen tensors of the
 * reference's first n blocks (and embeddings / positions / final norm as asked), bit for bit, and
 * initialises everything else afresh as GPT-2 does: weights ~ N(0, 0.02), residual projections
 * (c_proj) ~ N(0, 0.02 / sqrt(2 n)) with n the DERIVED model's layer count (what HF and nanoGPT do
 * when the n-layer model is built), LayerNorm gains 1, biases 0.
 *
 * References are built here: initWeights, then every tensor rescaled and shifted so that no
 * reference tensor looks like a fresh one (not N(0, 0.02), norms not 1, biases not 0).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../server/engine/backend.js';
import { InherituneError } from '../../server/engine/errors.js';
import { evaluate } from '../../server/engine/evaluate.js';
import { GPT2 } from '../../server/engine/gpt2.js';
import type { HostTensor } from '../../server/engine/familyOps.js';
import { modelShapes, type GPT2Config } from '../../server/engine/gpt2Config.js';
import { loadGPT2, saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { DEFAULT_INHERIT, inheritFromReference, type BlockPart, type InheritOptions } from '../../server/engine/inherit.js';
import { seededRandom } from '../../server/engine/init.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { contiguousStarts } from '../../server/engine/data/windows.js';

const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'bin', 'inheritune.js');

const withBias: GPT2Config = {
  family: 'gpt2',
  vocabSize: 64,
  nPositions: 64,
  nEmbd: 32,
  nLayer: 4,
  nHead: 4,
  nInner: 128,
  layerNormEpsilon: 1e-5,
  bias: true,
  scaleAttnByInverseLayerIdx: false,
  tieWordEmbeddings: true,
};
/** The paper's nanoGPT flavour: no biases, inverse-layer-index scaling; untied to cover lm_head. */
const noBias: GPT2Config = { ...withBias, bias: false, scaleAttnByInverseLayerIdx: true, tieWordEmbeddings: false };

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-inherit-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** A reference model directory whose every tensor is unlike a fresh initialisation. */
function buildReference(name: string, cfg: GPT2Config, seed: number): string {
  const dir = path.join(tmpRoot, name);
  const weights = initWeightsOf(cfg, seed);
  const rand = seededRandom(seed + 1000);
  for (const t of weights.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = 2.5 * t.data[i] + 0.05 + 0.1 * (rand() - 0.5);
  saveGPT2(dir, cfg, weights);
  return dir;
}

const refBias = buildReference('ref-bias', withBias, 1);
const refNoBias = buildReference('ref-nobias', noBias, 2);
const REFERENCES = [
  { label: 'bias', dir: refBias, cfg: withBias },
  { label: 'no-bias, untied', dir: refNoBias, cfg: noBias },
];

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sameBits = (a: Float32Array, b: Float32Array) => bytes(a).equals(bytes(b));

/** Written independently of inherit.ts from method.md section 2: should `name` be copied? */
function shouldCopy(name: string, o: Omit<InheritOptions, 'layers' | 'seed'>): boolean {
  if (name === 'wte.weight' || name === 'lm_head.weight') return o.embeddings;
  if (name === 'wpe.weight') return o.positions;
  if (name === 'ln_f.weight' || name === 'ln_f.bias') return o.finalNorm;
  const m = /^h\.\d+\.(attn|mlp|ln_1|ln_2)\./.exec(name);
  assert.ok(m, `unexpected tensor ${name}`);
  const part = m[1];
  if (part === 'ln_1' || part === 'ln_2') return o.parts.includes('norms') || o.parts.includes(part as BlockPart);
  return o.parts.includes(part as BlockPart);
}

function meanStd(values: Float32Array[]): { mean: number; std: number; n: number } {
  let n = 0;
  let s = 0;
  let s2 = 0;
  for (const v of values) for (const x of v) {
    n++;
    s += x;
    s2 += x * x;
  }
  const mean = s / n;
  return { mean, std: Math.sqrt(s2 / n - mean * mean), n };
}

/**
 * Checks every tensor of a derived model against the reference: the copied ones bit for bit, the
 * others as a fresh GPT-2 init for `layers` layers, and unlike the reference. Returns the names of
 * fresh tensors.
 */
function checkDerived(refDir: string, o: InheritOptions): string[] {
  const ref = loadGPT2(refDir);
  const r = inheritFromReference(refDir, o);
  assert.deepEqual(r.config, { ...ref.config, nLayer: o.layers }, 'config: nLayer = layers, the rest from the reference');
  const shapes = modelShapes(r.config);
  assert.deepEqual([...r.tensors.keys()], [...shapes.keys()], 'exactly the derived config\'s tensors, in checkpoint order');

  const copied: string[] = [];
  const fresh: string[] = [];
  const normalW: Float32Array[] = [];
  const projW: Float32Array[] = [];
  for (const [name, shape] of shapes) {
    const t = r.tensors.get(name) as HostTensor;
    assert.deepEqual(t.shape, shape, `${name} shape`);
    const refData = (ref.tensors.get(name) as HostTensor).data;
    if (shouldCopy(name, o)) {
      copied.push(name);
      assert.ok(sameBits(t.data, refData), `${name} should be the reference's, bit for bit`);
      continue;
    }
    fresh.push(name);
    assert.ok(!t.data.some((x, i) => x === refData[i]), `${name} is initialised, yet shares values with the reference`);
    const isNorm = /^(h\.\d+\.)?ln_(1|2|f)\./.test(name);
    if (name.endsWith('.bias')) assert.ok(t.data.every((x) => Object.is(x, 0)), `${name}: biases start at 0`);
    else if (isNorm) assert.ok(t.data.every((x) => x === 1), `${name}: LayerNorm gains start at 1`);
    else if (name.endsWith('c_proj.weight')) projW.push(t.data);
    else normalW.push(t.data);
  }
  assert.deepEqual(r.inherited, copied, 'inherited lists exactly the copied tensors');

  // Fresh weights: N(0, 0.02) and N(0, 0.02/sqrt(2 layers)). The sample std of n normals has a
  // relative error of about 1/sqrt(2n); 6% is nearly 4 sigma for the smallest pool (2048 values).
  const checkPool = (pool: Float32Array[], std: number, what: string) => {
    if (pool.length === 0) return;
    const s = meanStd(pool);
    assert.ok(s.n >= 2048, `${what}: pool of ${s.n} values is too small to test`);
    assert.ok(Math.abs(s.std - std) <= 0.06 * std, `${what}: std ${s.std}, expected ${std} (${s.n} values)`);
    assert.ok(Math.abs(s.mean) <= (4.5 * std) / Math.sqrt(s.n), `${what}: mean ${s.mean}, expected 0 (${s.n} values)`);
  };
  checkPool(normalW, 0.02, `fresh weights of ${fresh.join(',')}`);
  checkPool(projW, 0.02 / Math.sqrt(2 * o.layers), 'fresh c_proj weights');
  return fresh;
}

const base = { ...DEFAULT_INHERIT, seed: 0 };

test('default inheritance copies every tensor of the first n blocks, embeddings, positions and final norm bit for bit', () => {
  for (const { label, dir, cfg } of REFERENCES) {
    for (const layers of [1, 2, 4]) {
      const fresh = checkDerived(dir, { ...base, layers });
      assert.deepEqual(fresh, [], `${label}, ${layers} layers: nothing is initialised by default`);
    }
    // The untied reference's LM head comes with the embeddings.
    if (!cfg.tieWordEmbeddings) assert.ok(inheritFromReference(dir, { ...base, layers: 1 }).inherited.includes('lm_head.weight'));
  }
});

test("parts: attn only copies h.i.attn.*; mlp, ln_1 and ln_2 are initialised (c_proj std 0.02/sqrt(2n) for the derived n)", () => {
  for (const { label, dir, cfg } of REFERENCES) {
    const fresh = checkDerived(dir, { ...base, layers: 2, parts: ['attn'] });
    const expect = [...modelShapes({ ...cfg, nLayer: 2 }).keys()].filter((n) => n.startsWith('h.') && !n.includes('.attn.'));
    assert.deepEqual(fresh, expect, label);
  }
});

test('parts: mlp only copies h.i.mlp.*; attention and both norms are initialised', () => {
  for (const { label, dir } of REFERENCES) {
    const fresh = checkDerived(dir, { ...base, layers: 3, parts: ['mlp'] });
    assert.ok(fresh.length > 0 && fresh.every((n) => /^h\.[0-2]\.(attn|ln_1|ln_2)\./.test(n)), `${label}: ${fresh}`);
    assert.ok(fresh.some((n) => n.endsWith('attn.c_proj.weight')), `${label}: attention c_proj is fresh`);
  }
});

test('parts: norms only copies ln_1 and ln_2; ln_1 alone copies just ln_1; no parts copies no block tensor', () => {
  for (const { label, dir, cfg } of REFERENCES) {
    const normsOnly = checkDerived(dir, { ...base, layers: 2, parts: ['norms'] });
    assert.ok(normsOnly.every((n) => /^h\.[01]\.(attn|mlp)\./.test(n)), `${label}: ${normsOnly}`);
    const ln1 = checkDerived(dir, { ...base, layers: 2, parts: ['ln_1'] });
    assert.ok(ln1.every((n) => /^h\.[01]\.(attn|mlp|ln_2)\./.test(n)) && ln1.some((n) => n.includes('ln_2')), `${label}: ${ln1}`);
    const none = checkDerived(dir, { ...base, layers: 2, parts: [] });
    assert.ok(none.every((n) => n.startsWith('h.')), `${label}: ${none}`);
    // Outside the blocks: wte, wpe, ln_f.weight and ln_f.bias (bias) or lm_head.weight (untied).
    assert.equal(none.length, modelShapes({ ...cfg, nLayer: 2 }).size - 4, `${label}: every block tensor fresh`);
  }
});

test('embeddings, positions and final norm off: wte (and an untied lm_head), wpe and ln_f are initialised', () => {
  for (const { label, dir, cfg } of REFERENCES) {
    const fresh = checkDerived(dir, { ...base, layers: 2, embeddings: false, positions: false, finalNorm: false });
    const want = ['wte.weight', 'wpe.weight', 'ln_f.weight', ...(cfg.bias ? ['ln_f.bias'] : []), ...(cfg.tieWordEmbeddings ? [] : ['lm_head.weight'])];
    assert.deepEqual([...fresh].sort(), want.sort(), label);
    for (const only of [{ embeddings: false }, { positions: false }, { finalNorm: false }]) checkDerived(dir, { ...base, layers: 2, ...only });
  }
});

test('the seed decides the fresh tensors and nothing else', () => {
  const o: InheritOptions = { ...base, layers: 2, parts: ['attn'], embeddings: false };
  const a = inheritFromReference(refBias, o);
  const again = inheritFromReference(refBias, o);
  const b = inheritFromReference(refBias, { ...o, seed: 1 });
  for (const [name, t] of a.tensors) {
    assert.ok(sameBits(t.data, (again.tensors.get(name) as HostTensor).data), `${name}: same seed, same tensor`);
    const other = (b.tensors.get(name) as HostTensor).data;
    if (a.inherited.includes(name)) assert.ok(sameBits(t.data, other), `${name}: inherited regardless of seed`);
    else if (!/(\.bias|ln_\d\.weight)$/.test(name)) assert.ok(!sameBits(t.data, other), `${name}: another seed, another init`);
  }
});

test('layers outside 1..k are refused naming "layers"', () => {
  for (const layers of [0, 5, 1.5]) {
    assert.throws(
      () => inheritFromReference(refBias, { ...base, layers }),
      (e: unknown) => e instanceof InherituneError && e.source === 'layers' && /within 1\.\.4/.test(e.message),
      `layers ${layers}`,
    );
  }
});

test('a derived model saved with saveGPT2 loads back unchanged and evaluates to a finite loss; all 4 layers reproduce the reference loss', async () => {
  await initBackend('cpu');
  const rand = seededRandom(9);
  const tokens = Int32Array.from({ length: 200 }, () => Math.floor(rand() * withBias.vocabSize));
  const starts = contiguousStarts(tokens.length, 32, true);
  const lossOf = async (dir: string) => {
    const { config, tensors } = loadGPT2(dir);
    const model = new GPT2(config, tensors);
    try {
      return (await evaluate(model, tokens, starts, 32, 4)).valLoss;
    } finally {
      model.dispose();
    }
  };
  for (const { label, dir } of REFERENCES) {
    const o: InheritOptions = { ...base, layers: 2, parts: ['attn', 'norms'], positions: false };
    const r = inheritFromReference(dir, o);
    const out = path.join(tmpRoot, `derived-${label.replace(/\W+/g, '-')}`);
    saveGPT2(out, r.config as GPT2Config, r.tensors);
    const back = loadGPT2(out);
    assert.deepEqual(back.config, r.config, `${label}: config round trip`);
    for (const [name, t] of r.tensors) assert.ok(sameBits((back.tensors.get(name) as HostTensor).data, t.data), `${label}: ${name} round trip`);
    const loss = await lossOf(out);
    assert.ok(Number.isFinite(loss) && loss > 0, `${label}: loss ${loss}`);

    const full = inheritFromReference(dir, { ...base, layers: 4 });
    const fullDir = path.join(tmpRoot, `full-${label.replace(/\W+/g, '-')}`);
    saveGPT2(fullDir, full.config as GPT2Config, full.tensors);
    assert.equal(await lossOf(fullDir), await lossOf(dir), `${label}: inheriting every layer gives the reference itself`);
  }
});

function runCli(args: string[]) {
  assert.ok(fs.existsSync(path.join(REPO, 'dist', 'cli.js')), 'dist/cli.js is missing: run `npm run build` first');
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO });
}

test('CLI `inheritune inherit <ref> --layers 2 --out D` writes the library result, tensor for tensor', () => {
  const cases: { args: string[]; o: InheritOptions }[] = [
    { args: [], o: { ...base, layers: 2 } },
    {
      args: ['--parts', 'attn,ln_1', '--no-embeddings', '--no-final-norm', '--seed', '7'],
      o: { ...base, layers: 2, parts: ['attn', 'ln_1'], embeddings: false, finalNorm: false, seed: 7 },
    },
  ];
  for (const { label, dir } of REFERENCES) {
    for (const [k, { args, o }] of cases.entries()) {
      const out = path.join(tmpRoot, `cli-${label.replace(/\W+/g, '-')}-${k}`);
      const res = runCli(['inherit', dir, '--layers', '2', ...args, '--out', out]);
      assert.equal(res.status, 0, `${label} ${args.join(' ')}: exit ${res.status}\n${res.stderr}`);
      const r = inheritFromReference(dir, o);
      const fresh = r.tensors.size - r.inherited.length;
      assert.match(res.stdout, new RegExp(`wrote .*: 2 layers, [\\d,]+ parameters; ${r.inherited.length} tensors inherited, ${fresh} initialised`));
      const written = loadGPT2(out);
      assert.deepEqual(written.config, r.config);
      assert.deepEqual([...written.tensors.keys()], [...r.tensors.keys()]);
      for (const [name, t] of r.tensors) assert.ok(sameBits((written.tensors.get(name) as HostTensor).data, t.data), `${label} ${args.join(' ')}: ${name}`);
    }
  }
});

test('CLI inherit rejects too many layers and unknown parts with one line naming the fault, writing nothing', () => {
  const out = path.join(tmpRoot, 'cli-bad');
  const tooMany = runCli(['inherit', refBias, '--layers', '5', '--out', out]);
  assert.notEqual(tooMany.status, 0);
  assert.match(tooMany.stderr, /layers.*5 is not within 1\.\.4/);
  const badPart = runCli(['inherit', refBias, '--layers', '2', '--parts', 'attn,heads', '--out', out]);
  assert.notEqual(badPart.status, 0);
  assert.match(badPart.stderr, /unknown part "heads"/);
  assert.equal(fs.existsSync(out), false);
});
