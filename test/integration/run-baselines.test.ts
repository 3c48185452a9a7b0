/**
 * The paper's baselines (run/baselines.ts) and seeds (train.seeds) in the loop, on a tiny 4-layer
 * reference: what each baseline starts from (bitwise: stacking's duplicated blocks, hybrid stacking's
 * and kd's reference blocks), the shapes of half_width and full_scratch, the statistics in the summary
 * and the results table, and that a run with seeds stopped in its second seed resumes to the same figures.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../server/engine/backend.js';
import type { HostTensor } from '../../server/engine/familyOps.js';
import type { GPT2Config } from '../../server/engine/gpt2Config.js';
import { loadGPT2, saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { InherituneRun, type RunPlan } from '../../server/engine/run/inherituneRun.js';
import { RunStore } from '../../server/engine/run/runStore.js';
import { resultsTable } from '../../server/cli/runReport.js';
import type { RunEvent } from '../../server/protocol/events.js';
import { tinyGPT2 } from '../helpers/models.js';

let dir: string;
let referenceDir: string;
let reference: Map<string, HostTensor>;
const refConfig: GPT2Config = tinyGPT2({ vocabSize: 257, nLayer: 4 });

before(async () => {
  await initBackend('wasm');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-baselines-'));
  referenceDir = path.join(dir, 'reference');
  saveGPT2(referenceDir, refConfig, initWeightsOf(refConfig, 11));
  reference = loadGPT2(referenceDir).tensors;
  const text = (seed: number) => Array.from({ length: 200 }, (_, i) => JSON.stringify({ text: `Line ${i * seed}: the quick brown fox jumps over the lazy dog.` })).join('\n');
  fs.writeFileSync(path.join(dir, 'train.jsonl'), text(7));
  fs.writeFileSync(path.join(dir, 'val.jsonl'), text(13));
  process.env.INHERITUNE_CACHE_DIR = path.join(dir, 'cache');
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

function plan(baselines: RunPlan['baselines'], seeds?: number[]): RunPlan {
  return {
    name: 'tiny',
    configPath: path.join(dir, 'tiny.inheritune.yaml'),
    referenceDir,
    layers: 2,
    inherit: { parts: ['attn', 'mlp', 'norms'], embeddings: true, positions: true, finalNorm: true },
    grow: { enabled: false, step: 1, maxLayers: 4, mode: 'restart', tolerance: 0 },
    data: { train: path.join(dir, 'train.jsonl'), val: path.join(dir, 'val.jsonl'), tokenizer: 'bytes', subset: 1 },
    train: { steps: 2, batchTokens: 64, microBatch: 4, blockSize: 16, lr: 3e-3, minLr: 3e-4, warmup: 1, weightDecay: 0.1, betas: [0.9, 0.95], gradClip: 1, evalEvery: 0, seed: 1, checkpointEvery: 1, evalWindows: 8 },
    baselines,
    ...(seeds ? { seeds } : {}),
    distill: { alpha: 0.6, temperature: 1 },
    analysis: { every: 0, sequences: 2, seqLen: 16, windows: 'random', seed: 0, tau: 0.9, eta: 0.9, mass: 'sorted' },
  };
}

const bytes = (t: HostTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const same = (a: HostTensor | undefined, b: HostTensor | undefined) => a !== undefined && b !== undefined && bytes(a).equals(bytes(b));
/** Block i's tensor names of a GPT-2 model (h.i.*), stripped of the index. */
const blockOf = (tensors: Map<string, HostTensor>, i: number) => new Map([...tensors].filter(([n]) => n.startsWith(`h.${i}.`)).map(([n, t]) => [n.slice(`h.${i}.`.length), t]));

async function runOnce(p: RunPlan, opts: { store?: RunStore; signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {}) {
  const store = opts.store ?? RunStore.create(path.join(dir, 'runs'), p.name, 'name: tiny\n');
  const inits = new Map<string, Map<string, HostTensor>>();
  const run = new InherituneRun(p, store, { backend: 'wasm', signal: opts.signal, onEvent: opts.onEvent, onModelInit: (m, t) => inits.set(m.label, new Map(t)) });
  return { store, inits, outcome: await run.run() };
}

test('every baseline: what it starts from, its shape and steps, and its row in the results table', async () => {
  const all: RunPlan['baselines'] = ['scratch', 'scratch_2x', 'stacking', 'hybrid_stacking', 'half_width', 'kd', 'full_scratch'];
  const { store, inits, outcome } = await runOnce(plan(all));
  const s = outcome.summary!;
  assert.deepEqual(s.baselines.map((b) => [b.name, b.layers, b.steps]), [['scratch', 2, 2], ['scratch_2x', 2, 4], ['stacking', 2, 2], ['hybrid_stacking', 2, 2], ['half_width', 2, 2], ['kd', 2, 2], ['full_scratch', 4, 2]]);
  for (const b of s.baselines) assert.ok(Number.isFinite(b.valLoss) && b.vsReference?.windows === 8, `${b.name}: finite loss, paired over 8 windows`);

  // stacking: stage 1 is 1 layer for 1 step; stage 2 starts from its trained block twice, bit for bit.
  const stage1 = loadGPT2(store.checkpointDir('stacking-stage1')).tensors;
  const stacked = inits.get('stacking')!;
  assert.equal(inits.get('stacking-stage1')!.has('h.1.ln_1.weight'), false, 'stage 1 has 1 block');
  for (const i of [0, 1]) for (const [name, t] of blockOf(stacked, i)) assert.ok(same(t, stage1.get(`h.0.${name}`)), `stacking block ${i}: ${name} is stage 1's trained block 0`);
  for (const name of ['wte.weight', 'wpe.weight', 'ln_f.weight']) assert.ok(same(stacked.get(name), stage1.get(name)), `stacking keeps stage 1's ${name}`);
  assert.ok(!same(stage1.get('h.0.attn.c_attn.weight'), inits.get('stacking-stage1')!.get('h.0.attn.c_attn.weight')), 'stage 1 was trained (so the check means something)');

  // hybrid_stacking: reference block 0 twice (h = 1); kd: reference blocks 0 and 2 (DistilBERT-style, k/n = 2).
  for (const [label, sources] of [['hybrid_stacking', [0, 0]], ['kd', [0, 2]]] as const) {
    const init = inits.get(label)!;
    sources.forEach((j, i) => {
      for (const [name, t] of blockOf(init, i)) assert.ok(same(t, reference.get(`h.${j}.${name}`)), `${label} block ${i}: ${name} is reference block ${j}'s`);
    });
    assert.ok(same(init.get('wte.weight'), reference.get('wte.weight')), `${label}: embeddings inherited`);
  }

  // half_width: 2 layers, d 8, 1 head (the reference: d 16, 2 heads); full_scratch: the reference's 4 layers.
  const half = inits.get('half_width')!;
  assert.deepEqual(half.get('h.0.attn.c_attn.weight')!.shape, [8, 24]);
  assert.deepEqual(half.get('h.1.mlp.c_fc.weight')!.shape, [8, 32]);
  assert.equal(half.has('h.2.ln_1.weight'), false);
  const full = inits.get('full_scratch')!;
  assert.deepEqual([...full.keys()], [...reference.keys()], 'full_scratch has every tensor of the reference');
  assert.ok(!same(full.get('h.3.attn.c_attn.weight'), reference.get('h.3.attn.c_attn.weight')), 'full_scratch is a fresh init');

  const table = resultsTable(s, store.events());
  for (const b of all) assert.match(table, new RegExp(`^${b} `, 'm'), `${b} has a row`);
  assert.match(table, /evaluation: the same 8 windows \(128 tokens\)/);
});

test('train.seeds: every model once per seed, kept apart in the run store, mean and 95% interval, and a resume mid-seed gives the same figures', async () => {
  const p = plan(['scratch'], [1, 2, 3]);
  const straight = await runOnce(p);
  const s = straight.outcome.summary!;
  assert.deepEqual(s.seeds, [1, 2, 3]);
  for (const label of ['round-1-seed1', 'round-1-seed2', 'round-1-seed3', 'scratch-seed1', 'scratch-seed3']) assert.ok(fs.existsSync(path.join(straight.store.checkpointDir(label), 'trainer.json')), `${label} has its own checkpoint`);
  const r = s.rounds[0];
  assert.equal(r.seedValLosses?.length, 3);
  assert.ok(Math.abs(r.valLoss - r.seedValLosses!.reduce((a, b) => a + b) / 3) < 1e-12, 'the mean over seeds');
  assert.ok(r.ci95 !== undefined && r.ci95 > 0 && new Set(r.seedValLosses).size === 3, 'the seeds differ, so the interval is positive');
  assert.ok(r.vsReference && r.vsReference.se > 0 && r.vsReference.ci95[0] < r.vsReference.meanDiff && r.vsReference.meanDiff < r.vsReference.ci95[1]);
  assert.equal(s.final.matchedReference, r.vsReference.ci95[1] <= 0, 'the verdict is the paired test at tolerance 0');
  assert.match(resultsTable(s, straight.store.events()), /val loss \(mean ± 95%, 3 seeds\)/);

  const abort = new AbortController();
  const first = await runOnce(p, { signal: abort.signal, onEvent: (e) => (e.type === 'metrics' && e.model.label === 'round-1-seed2' && e.step === 1 ? abort.abort() : undefined) });
  assert.equal(first.outcome.interrupted, true);
  const resumed = await runOnce(p, { store: RunStore.open(first.store.dir) });
  assert.ok(!resumed.inits.has('round-1-seed1'), 'the finished seed is not trained again');
  const t = resumed.outcome.summary!;
  t.rounds[0].seedValLosses!.forEach((v, i) => assert.ok(Math.abs(v - r.seedValLosses![i]) < 1e-5, `seed ${i + 1}: ${v} vs ${r.seedValLosses![i]}`));
  assert.ok(Math.abs(t.baselines[0].valLoss - s.baselines[0].valLoss) < 1e-5);
  assert.ok(Math.abs(t.final.vsReference!.meanDiff - s.final.vsReference!.meanDiff) < 1e-5);
});
