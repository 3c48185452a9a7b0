/**
 * The Inheritune loop on a tiny reference: what each round starts from (bitwise), when growing
 * stops, what the run store holds, and that an interrupted run resumes to the same figures.
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
import type { RunEvent } from '../../server/protocol/events.js';
import { tinyGPT2 } from '../helpers/models.js';

let dir: string;
let referenceDir: string;
let reference: Map<string, HostTensor>;

const refConfig: GPT2Config = tinyGPT2({ vocabSize: 257, nLayer: 4 });

before(async () => {
  await initBackend('wasm');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-run-'));
  referenceDir = path.join(dir, 'reference');
  saveGPT2(referenceDir, refConfig, initWeightsOf(refConfig, 11));
  reference = loadGPT2(referenceDir).tensors;
  const text = (seed: number) =>
    Array.from({ length: 300 }, (_, i) => JSON.stringify({ text: `Line ${i * seed} of a small corpus: the quick brown fox jumps over the lazy dog.` })).join('\n');
  fs.writeFileSync(path.join(dir, 'train.jsonl'), text(7));
  fs.writeFileSync(path.join(dir, 'val.jsonl'), text(13));
  process.env.INHERITUNE_CACHE_DIR = path.join(dir, 'cache');
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

function plan(overrides: { grow?: Partial<RunPlan['grow']>; baselines?: RunPlan['baselines']; steps?: number } = {}): RunPlan {
  return {
    name: 'tiny',
    configPath: path.join(dir, 'tiny.inheritune.yaml'),
    referenceDir,
    layers: 2,
    inherit: { parts: ['attn', 'mlp', 'norms'], embeddings: true, positions: true, finalNorm: true },
    grow: { enabled: true, step: 1, maxLayers: 4, mode: 'restart', tolerance: -100, ...overrides.grow },
    data: { train: path.join(dir, 'train.jsonl'), val: path.join(dir, 'val.jsonl'), tokenizer: 'bytes', subset: 1 },
    train: {
      steps: overrides.steps ?? 4,
      batchTokens: 64,
      microBatch: 4,
      blockSize: 16,
      lr: 3e-3,
      minLr: 3e-4,
      warmup: 1,
      weightDecay: 0.1,
      betas: [0.9, 0.95],
      gradClip: 1,
      evalEvery: 2,
      seed: 1,
      checkpointEvery: 1,
      evalWindows: 8,
    },
    baselines: overrides.baselines ?? [],
    analysis: { every: 0, sequences: 2, seqLen: 16, windows: 'random', seed: 0, tau: 0.9, eta: 0.9, mass: 'sorted' },
  };
}

const bitwiseEqual = (a: HostTensor, b: HostTensor) => Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength));

async function runOnce(p: RunPlan, opts: { store?: RunStore; signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {}) {
  const store = opts.store ?? RunStore.create(path.join(dir, 'runs'), p.name, 'name: tiny\n');
  const inits = new Map<string, Map<string, HostTensor>>();
  const run = new InherituneRun(p, store, {
    backend: 'wasm',
    signal: opts.signal,
    onEvent: opts.onEvent,
    onModelInit: (m, t) => inits.set(m.label, new Map(t)),
  });
  return { store, inits, outcome: await run.run() };
}

test('restart mode: every round starts from the reference\'s first n blocks bit for bit, and growing stops at max_layers', async () => {
  const { store, inits, outcome } = await runOnce(plan());
  const s = outcome.summary!;
  assert.deepEqual(s.rounds.map((r) => r.layers), [2, 3, 4], 'grows by step 1 from 2 up to max_layers 4');
  assert.equal(s.final.layers, 4);
  assert.equal(s.final.matchedReference, false);
  for (const [label, layers] of [['round-1', 2], ['round-2', 3], ['round-3', 4]] as const) {
    const init = inits.get(label)!;
    assert.equal(init.size, 4 + 12 * layers, `${label}: wte, wpe, ln_f (2) and 12 tensors per block`);
    for (const [name, t] of init) assert.ok(bitwiseEqual(t, reference.get(name)!), `${label}: ${name} equals the reference's`);
  }
  // The run store is complete.
  for (const f of ['config.yaml', 'events.jsonl', 'summary.json', 'model/config.json', 'model/model.safetensors', 'checkpoints/round-3/trainer.json']) {
    assert.ok(fs.existsSync(path.join(store.dir, f)), `${f} exists`);
  }
  const summary = JSON.parse(fs.readFileSync(path.join(store.dir, 'summary.json'), 'utf8'));
  assert.deepEqual(summary, JSON.parse(JSON.stringify(s)));
  assert.equal(loadGPT2(store.modelDir).config.nLayer, 4);
  const events = store.events();
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
  assert.equal(events.at(-1)?.type, 'runFinished');
});

test('continue mode: a grown round keeps the trained blocks bit for bit and appends the reference\'s next block', async () => {
  const { store, inits, outcome } = await runOnce(plan({ grow: { mode: 'continue', maxLayers: 3 } }));
  assert.deepEqual(outcome.summary!.rounds.map((r) => r.layers), [2, 3]);
  const round2 = inits.get('round-2')!;
  // round-1's trained weights, as its final checkpoint holds them.
  const trained = loadGPT2(path.join(store.checkpointDir('round-1'))).tensors;
  for (const [name, t] of round2) {
    if (name.startsWith('h.2.')) assert.ok(bitwiseEqual(t, reference.get(name)!), `${name} comes from the reference`);
    else {
      assert.ok(bitwiseEqual(t, trained.get(name)!), `${name} is round-1's trained tensor`);
      assert.ok(!bitwiseEqual(t, reference.get(name)!), `${name} was changed by training (so the check means something)`);
    }
  }
});

test('the loop stops at the first round that reaches the reference (within tolerance) and runs the baselines at that size', async () => {
  const { outcome } = await runOnce(plan({ grow: { tolerance: 100 }, baselines: ['scratch', 'scratch_2x'] }));
  const s = outcome.summary!;
  assert.deepEqual(s.rounds.map((r) => r.layers), [2]);
  assert.equal(s.final.matchedReference, true);
  assert.deepEqual(s.baselines.map((b) => [b.name, b.layers, b.steps]), [['scratch', 2, 4], ['scratch_2x', 2, 8]]);
});

test('an interrupted run resumes from its checkpoints: same figures as an uninterrupted run, events numbered without gap or repeat', async () => {
  const p = plan({ grow: { maxLayers: 3 }, baselines: ['scratch'] });
  const straight = (await runOnce(p)).outcome.summary!;

  const abort = new AbortController();
  let metrics = 0;
  const first = await runOnce(p, {
    signal: abort.signal,
    // Stop in the middle of round 2.
    onEvent: (e) => (e.type === 'metrics' && e.model.label === 'round-2' && ++metrics === 2 ? abort.abort() : undefined),
  });
  assert.equal(first.outcome.interrupted, true);
  assert.equal(first.store.events().at(-1)?.type, 'runFailed');
  const resumed = await runOnce(p, { store: RunStore.open(first.store.dir) });
  const s = resumed.outcome.summary!;
  assert.ok(!resumed.inits.has('round-1'), 'the finished round is not trained again');
  assert.deepEqual(s.rounds.map((r) => r.layers), straight.rounds.map((r) => r.layers));
  s.rounds.forEach((r, i) => assert.ok(Math.abs(r.valLoss - straight.rounds[i].valLoss) < 1e-5, `round ${i + 1}: ${r.valLoss} vs ${straight.rounds[i].valLoss}`));
  assert.ok(Math.abs(s.baselines[0].valLoss - straight.baselines[0].valLoss) < 1e-5);
  const events = resumed.store.events();
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
  const resumedEvent = events.find((e) => e.type === 'resumed');
  assert.ok(resumedEvent && resumedEvent.type === 'resumed' && resumedEvent.model?.label === 'round-2' && resumedEvent.fromStep === 2);
});
