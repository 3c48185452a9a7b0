/**
 * `inheritune run` as a user runs it: a bad config is refused before any work with file:line:col
 * messages, a run killed with SIGKILL resumes with --resume to the figures of an uninterrupted
 * run, its events.jsonl numbered without gap or repeat, and Ctrl-C is the user's stop (stopped, not
 * an error) where SIGTERM is not.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRunConfig } from '../../server/engine/configCheck.js';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { planFromConfig, writePlan } from '../../server/engine/run/plan.js';
import { RunStore } from '../../server/engine/run/runStore.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import type { GPT2Config } from '../../server/engine/gpt2Config.js';
import type { RunEvent, RunSummary } from '../../server/protocol/events.js';
import { runOutcome } from '../../server/protocol/runOutcome.js';
import { tinyGPT2 } from '../helpers/models.js';
import { REPO, runCliEvents, type CliEventsResult } from '../helpers/cli.js';

const VAL_TEXT = path.join(REPO, 'examples', 'data', 'val.jsonl');

let dir: string;

const refConfig: GPT2Config = tinyGPT2({ vocabSize: 257, nPositions: 32, nLayer: 4 });

const CONFIG = `name: tiny
reference: { path: ref }
target: { layers: 2 }
grow: { step: 1, max_layers: 4, tolerance: -100.0 }
data: { train: ${VAL_TEXT}, val: ${VAL_TEXT}, tokenizer: bytes }
train: { steps: 6, batch_tokens: 128, micro_batch: 4, block_size: 32, warmup: 1, eval_every: 3, eval_windows: 8 }
baselines: [scratch]
analysis: { sequences: 2, seq_len: 32 }
runtime: { out_dir: runs, checkpoint_every: 1, backend: wasm }
`;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-runcli-'));
  saveGPT2(path.join(dir, 'ref'), refConfig, initWeightsOf(refConfig, 2));
  fs.writeFileSync(path.join(dir, 'tiny.inheritune.yaml'), CONFIG);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

type Result = CliEventsResult<RunEvent>;

const inheritune = (args: string[], kill?: (e: RunEvent) => boolean, signal?: NodeJS.Signals): Promise<Result> =>
  runCliEvents<RunEvent>(args, { cwd: dir, env: { INHERITUNE_CACHE_DIR: path.join(dir, 'cache') }, kill, signal });

test('a config with errors is refused before any work, each error with file:line:col, and no run folder is created', async () => {
  const bad = path.join(dir, 'bad.inheritune.yaml');
  fs.writeFileSync(
    bad,
    CONFIG.replace('target: { layers: 2 }', 'target: { layers: 9 }')
      .replace('batch_tokens: 128', 'batch_tokens: 100')
      .replace('baselines: [scratch]', 'baselines: [scratch]\nbaseline: [scratch]'),
  );
  const r = await inheritune(['run', bad, '--out', path.join(dir, 'bad-runs')]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /bad\.inheritune\.yaml:8:1: .*unknown key "baseline".*did you mean "baselines"/);
  assert.match(r.stderr, /bad\.inheritune\.yaml:6:\d+: .*batch_tokens/);
  assert.ok(!fs.existsSync(path.join(dir, 'bad-runs')), 'nothing is written for a refused config');
});

test('every check runs on a config that parses: target.layers 99 on the 8-layer demo reference is refused on both keys, file:line:col each', async () => {
  const examples = path.join(REPO, 'examples');
  const demo = fs.readFileSync(path.join(examples, 'demo.inheritune.yaml'), 'utf8');
  const bad = path.join(dir, 'demo99.inheritune.yaml');
  fs.writeFileSync(
    bad,
    demo
      .replace('layers: 4 ', 'layers: 99')
      .replace('path: models/reference', `path: ${path.join(examples, 'models', 'reference')}`)
      .replace(/ data\//g, ` ${path.join(examples, 'data')}/`),
  );
  const r = await inheritune(['run', bad, '--out', path.join(dir, 'demo99-runs')]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /2 errors in the run config:/);
  assert.match(r.stderr, /demo99\.inheritune\.yaml:6:11: target\.layers \(99\) exceeds the reference's 8 layers$/m);
  assert.match(r.stderr, /demo99\.inheritune\.yaml:11:45: grow\.max_layers \(6\) must be at least target\.layers \(99\)$/m);
  assert.ok(!fs.existsSync(path.join(dir, 'demo99-runs')), 'nothing is written for a refused config');
});

test('inheritune run killed with SIGKILL mid-round resumes with --resume: same figures as an uninterrupted run, events without gap or repeat', async () => {
  const straight = await inheritune(['run', 'tiny.inheritune.yaml', '--json', '--out', 'straight']);
  assert.equal(straight.status, 0, straight.stderr);
  // The config trains and validates on one file: the editor's warning, listed as the CLI lists issues.
  const col = CONFIG.split('\n')[4].indexOf('val: ') + 'val: '.length + 1;
  assert.deepEqual(
    straight.stderr.split('\n').filter((l) => l.includes('warning:')),
    [`tiny.inheritune.yaml:5:${col}: warning: data.val is the same file as data.train: the validation loss will not measure generalisation`],
  );
  const expected = (straight.events.at(-1) as Extract<RunEvent, { type: 'runFinished' }>).summary;
  assert.deepEqual(expected.rounds.map((r) => r.layers), [2, 3, 4]);

  // Kill right after round 2 has checkpointed its 4th step.
  const killed = await inheritune(['run', 'tiny.inheritune.yaml', '--json', '--out', 'killed'], (e) => e.type === 'checkpoint' && e.model.label === 'round-2' && e.step === 4);
  assert.equal(killed.signal, 'SIGKILL');
  const runDir = path.join(dir, 'killed', killed.events[0].runId);
  assert.ok(!fs.existsSync(path.join(runDir, 'summary.json')));

  const resumed = await inheritune(['run', '--resume', runDir, '--json']);
  assert.equal(resumed.status, 0, resumed.stderr);
  const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary;
  assert.deepEqual(summary.rounds.map((r) => [r.layers, r.steps]), expected.rounds.map((r) => [r.layers, r.steps]));
  summary.rounds.forEach((r, i) => assert.ok(Math.abs(r.valLoss - expected.rounds[i].valLoss) < 1e-5, `round ${i + 1}: ${r.valLoss} vs ${expected.rounds[i].valLoss}`));
  assert.ok(Math.abs(summary.baselines[0].valLoss - expected.baselines[0].valLoss) < 1e-5);
  assert.ok(Math.abs(summary.reference.valLoss - expected.reference.valLoss) < 1e-6);

  const lines = fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').trim().split('\n');
  const seqs = lines.map((l) => (JSON.parse(l) as RunEvent).seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'seq 1..N with no gap and no repeat');
  // What the resumed process printed is exactly the tail of the store's log.
  assert.deepEqual(resumed.events.map((e) => e.seq), seqs.slice(seqs.length - resumed.events.length));
  const resumedEvent = resumed.events.find((e) => e.type === 'resumed');
  assert.ok(resumedEvent?.type === 'resumed' && resumedEvent.model?.label === 'round-2' && resumedEvent.fromStep >= 4);

  const again = await inheritune(['run', '--resume', runDir]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already finished/);
});

test("Ctrl-C (SIGINT) is the user's stop: the run reads stopped at its step, checkpointed; SIGTERM reads interrupted", async () => {
  const atStep2 = (e: RunEvent) => e.type === 'checkpoint' && e.model.label === 'round-1' && e.step === 2;
  const stopped = await inheritune(['run', 'tiny.inheritune.yaml', '--json', '--out', 'ctrl-c'], atStep2, 'SIGINT');
  assert.equal(stopped.status, 130, stopped.stderr);
  const runDir = path.join(dir, 'ctrl-c', stopped.events[0].runId);
  assert.match(stopped.stderr, new RegExp(`stopped; continue with: inheritune run --resume ${runDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  const last = stopped.events.at(-1)!;
  assert.ok(last.type === 'runFailed' && last.interrupted && last.byUser === true, JSON.stringify(last));
  assert.match(last.error, /^stopped at step [2-6] of round-1 \(checkpoint saved\)$/);
  assert.deepEqual(runOutcome(stopped.events), { status: 'stopped', error: last.error });

  const terminated = await inheritune(['run', 'tiny.inheritune.yaml', '--json', '--out', 'sigterm'], atStep2, 'SIGTERM');
  assert.equal(terminated.status, 130, terminated.stderr);
  const end = terminated.events.at(-1)!;
  assert.ok(end.type === 'runFailed' && end.interrupted && end.byUser === undefined, JSON.stringify(end));
  assert.equal(runOutcome(terminated.events).status, 'interrupted');
});

test('--resume of a run folder whose plan.json was edited wrongly is refused, naming the file and field; nothing is appended', async () => {
  const configFile = path.join(dir, 'tiny.inheritune.yaml');
  const { config } = await loadRunConfig(configFile);
  const store = RunStore.create(path.join(dir, 'edited'), 'tiny', CONFIG);
  const plan = planFromConfig(config, configFile);
  writePlan(store.dir, { ...plan, train: { ...plan.train, lr: 'fast' as unknown as number } });
  const r = await inheritune(['run', '--resume', store.dir]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^error: ${path.join(store.dir, 'plan.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: plan\\.train\\.lr must be a number >= 0, got "fast"$`, 'm'));
  assert.equal(fs.readFileSync(path.join(store.dir, 'events.jsonl'), 'utf8'), '', 'no event was appended');
});
