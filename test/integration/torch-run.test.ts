/**
 * `inheritune run` with runtime.engine: torch, as a user runs it: the whole loop gives the figures of
 * the tfjs engine; a run SIGKILLed mid-training resumes with --resume to the figures of an
 * uninterrupted one, events.jsonl numbered without gap or repeat; runtime.nproc: 2 (torchrun, gloo)
 * trains to the single-process figures; and bad runtime settings are refused before any run folder
 * exists, each naming its setting.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import type { GPT2Config } from '../../server/engine/gpt2Config.js';
import type { RunEvent, RunSummary } from '../../server/protocol/events.js';
import { tinyGPT2 } from '../helpers/models.js';
import { REPO, runCliEvents, type CliEventsResult } from '../helpers/cli.js';
import { TEST_PYTHON, torchMissing } from '../helpers/torch.js';

const VAL_TEXT = path.join(REPO, 'examples', 'data', 'val.jsonl');
const refConfig: GPT2Config = tinyGPT2({ vocabSize: 257, nPositions: 32, nLayer: 3 });

const config = (runtime: string) => `name: tiny
reference: { path: ref }
target: { layers: 2 }
grow: { step: 1, max_layers: 3, tolerance: -100.0 }
data: { train: ${VAL_TEXT}, val: ${VAL_TEXT}, tokenizer: bytes }
train: { steps: 8, batch_tokens: 256, micro_batch: 4, block_size: 32, warmup: 1, eval_every: 4, eval_windows: 8 }
baselines: []
analysis: { sequences: 2, seq_len: 32, every: 0 }
runtime: { out_dir: runs, checkpoint_every: 1, backend: wasm, ${runtime} }
`;

let dir: string;
let skip: string | undefined;

before(async () => {
  skip = await torchMissing();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-torchrun-'));
  saveGPT2(path.join(dir, 'ref'), refConfig, initWeightsOf(refConfig, 2));
  fs.writeFileSync(path.join(dir, 'tfjs.inheritune.yaml'), config('engine: tfjs'));
  fs.writeFileSync(path.join(dir, 'torch.inheritune.yaml'), config(`engine: torch, python: ${TEST_PYTHON}`));
  fs.writeFileSync(path.join(dir, 'torch2.inheritune.yaml'), config(`engine: torch, python: ${TEST_PYTHON}, nproc: 2`));
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

type Result = CliEventsResult<RunEvent>;
const inheritune = (args: string[], kill?: (e: RunEvent) => boolean): Promise<Result> =>
  runCliEvents<RunEvent>(args, { cwd: dir, env: { INHERITUNE_CACHE_DIR: path.join(dir, 'cache') }, kill });

const summaryOf = (r: Result): RunSummary => {
  const last = r.events.at(-1);
  assert.ok(last?.type === 'runFinished', `the run finished (stderr: ${r.stderr.slice(-2000)})`);
  return last.summary;
};

function assertSameFigures(a: RunSummary, b: RunSummary, tol: number, what: string): void {
  assert.deepEqual(a.rounds.map((r) => [r.layers, r.steps]), b.rounds.map((r) => [r.layers, r.steps]), what);
  a.rounds.forEach((r, i) => assert.ok(Math.abs(r.valLoss - b.rounds[i].valLoss) <= tol, `${what}, round ${i + 1}: ${r.valLoss} vs ${b.rounds[i].valLoss}`));
}

const trainLosses = (r: Result): number[] => r.events.flatMap((e) => (e.type === 'metrics' ? [e.trainLoss] : []));

let straight: Result | undefined;

test('a torch run gives the tfjs run figures: per-step losses and round val losses within 1e-4', async (t) => {
  if (skip) return t.skip(skip);
  const tfjs = await inheritune(['run', 'tfjs.inheritune.yaml', '--json', '--out', 'tfjs']);
  straight = await inheritune(['run', 'torch.inheritune.yaml', '--json', '--out', 'straight']);
  assert.equal(straight.status, 0, straight.stderr);
  assertSameFigures(summaryOf(straight), summaryOf(tfjs), 1e-4, 'torch vs tfjs');
  const a = trainLosses(straight);
  const b = trainLosses(tfjs);
  assert.equal(a.length, b.length);
  const d = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
  t.diagnostic(`max |train loss diff| over ${a.length} steps of 2 rounds: ${d.toExponential(2)}`);
  assert.ok(d <= 1e-4);
});

test('a torch run killed with SIGKILL mid-round resumes with --resume: same figures, events without gap or repeat', async (t) => {
  if (skip || !straight) return t.skip(skip ?? 'needs the uninterrupted run');
  const killed = await inheritune(['run', 'torch.inheritune.yaml', '--json', '--out', 'killed'], (e) => e.type === 'checkpoint' && e.model.label === 'round-2' && e.step === 3);
  assert.equal(killed.signal, 'SIGKILL');
  const runDir = path.join(dir, 'killed', killed.events[0].runId);
  const resumed = await inheritune(['run', '--resume', runDir, '--json']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assertSameFigures(summaryOf(resumed), summaryOf(straight), 1e-6, 'resumed vs uninterrupted');
  const seqs = fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as RunEvent).seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'seq 1..N with no gap and no repeat');
  const r = resumed.events.find((e) => e.type === 'resumed');
  assert.ok(r?.type === 'resumed' && r.model?.label === 'round-2' && r.fromStep >= 3);
});

test('runtime.nproc: 2 (torchrun, gloo) trains to the single-process losses within 1e-4', async (t) => {
  if (skip || !straight) return t.skip(skip ?? 'needs the uninterrupted run');
  const two = await inheritune(['run', 'torch2.inheritune.yaml', '--json', '--out', 'two']);
  assert.equal(two.status, 0, two.stderr);
  assertSameFigures(summaryOf(two), summaryOf(straight), 1e-4, 'nproc 2 vs 1');
  const a = trainLosses(two);
  const b = trainLosses(straight);
  assert.equal(a.length, b.length);
  const d = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
  t.diagnostic(`nproc 2 vs 1: max |train loss diff| ${d.toExponential(2)}`);
  assert.ok(d <= 1e-4);
});

test('bad torch settings are refused before a run folder exists, naming the setting', async () => {
  const cases: [string, RegExp][] = [
    ['engine: torch, python: /nonexistent/python3', /runtime\.python: "\/nonexistent\/python3" was not found/],
    ['engine: torch, python: /bin/true', /runtime\.python: .*instead of the probe's answer/],
  ];
  if (!skip) {
    cases.push([`engine: torch, python: ${TEST_PYTHON}, devices: cuda`, /runtime\.devices: cuda was asked for, but torch .* sees no CUDA device/]);
    cases.push([`engine: torch, python: ${TEST_PYTHON}, nproc: ${os.cpus().length + 1}`, /runtime\.nproc: \d+ processes on the CPU, but this machine has \d+ cores/]);
  }
  for (const [i, [runtime, message]] of cases.entries()) {
    fs.writeFileSync(path.join(dir, `bad${i}.inheritune.yaml`), config(runtime));
    const r = await inheritune(['run', `bad${i}.inheritune.yaml`, '--out', `bad${i}`]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.ok(!fs.existsSync(path.join(dir, `bad${i}`)), `nothing is written for ${runtime}`);
  }
});
