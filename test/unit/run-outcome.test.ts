// One reader of events.jsonl and one status rule (server/protocol/runOutcome.ts): the training
// server, the extension and the language server say the same of every run folder, including the
// sequence finish-and-save writes (a log after the final runFailed) and a torn last line.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from '../../server/engine/run/runStore.js';
import { readRunEnds } from '../../server/engine/run/eventLog.js';
import { referenceModel, roundModel, type RunEventBody, type RunSummary } from '../../server/protocol/events.js';
import { NO_FINAL_EVENT, runOutcome } from '../../server/protocol/runOutcome.js';
import { RunManager } from '../../server/training/runManager.js';
import { ServerRoots } from '../../server/training/serverFiles.js';
import { Facts } from '../../server/language/facts.js';
import { readRun } from '../../extension/runStore.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-outcome-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const summary: RunSummary = {
  runId: 'r',
  name: 'demo',
  backend: 'cpu',
  reference: { path: '/m', layers: 4, valLoss: 2.3, params: 1000 },
  rounds: [{ layers: 2, steps: 4, valLoss: 2.4 }],
  baselines: [],
  final: { layers: 2, valLoss: 2.4, matchedReference: false, params: 500, modelDir: '/m2' },
  lazyLayers: { reference: [], final: [] },
  seconds: 3,
};
const started: RunEventBody = { type: 'runStarted', name: 'demo', configPath: '/w/demo.inheritune.yaml', backend: 'cpu', resumed: false };
const metrics: RunEventBody = { type: 'metrics', model: roundModel(1, 2), step: 1, steps: 4, trainLoss: 3, lr: 1e-3, gradNorm: 1, tokensPerSec: 10, tokensSeen: 8 };
const log: RunEventBody = { type: 'log', level: 'info', message: 'finish-and-save: saved round-1' };
const failed = (interrupted: boolean): RunEventBody => ({ type: 'runFailed', error: interrupted ? 'stopped' : 'boom: bad data', interrupted });

/** The events as a run store holds them. */
function stored(name: string, bodies: RunEventBody[]): RunStore {
  const store = RunStore.create(path.join(dir, name), name, `name: ${name}\n`);
  for (const b of bodies) store.append(b);
  return store;
}

test('the statuses each sequence of events gives', () => {
  const cases: [string, RunEventBody[], { status: string; error?: string; summary?: RunSummary }][] = [
    ['no events', [], { status: 'created' }],
    ['started, no final event', [started, metrics], { status: 'interrupted', error: NO_FINAL_EVENT }],
    ['only a log', [log], { status: 'interrupted', error: NO_FINAL_EVENT }],
    ['finished', [started, metrics, { type: 'runFinished', summary }], { status: 'finished', summary }],
    ['finished, then shutdown logs', [started, { type: 'runFinished', summary }, log, log], { status: 'finished', summary }],
    ['interrupted (resumable)', [started, failed(true)], { status: 'interrupted', error: 'stopped' }],
    ["a user's stop (resumable)", [started, { type: 'runFailed', error: 'stopped at step 3 of round-1 (checkpoint saved)', interrupted: true, byUser: true }], { status: 'stopped', error: 'stopped at step 3 of round-1 (checkpoint saved)' }],
    ["finish-and-save: a log after a user's stop", [started, { type: 'runFailed', error: 'stopped', interrupted: true, byUser: true }, log], { status: 'stopped', error: 'stopped' }],
    ['finish-and-save: a log after runFailed', [started, failed(true), log], { status: 'interrupted', error: 'stopped' }],
    ['failed, then a log', [started, failed(false), log], { status: 'failed', error: 'boom: bad data' }],
    ['failed, then resumed and running', [started, failed(false), { ...started, resumed: true }, metrics], { status: 'interrupted', error: NO_FINAL_EVENT }],
    ['stopped, then resumed and finished', [started, failed(true), { ...started, resumed: true }, { type: 'runFinished', summary }], { status: 'finished', summary }],
  ];
  for (const [what, bodies, want] of cases) {
    const store = stored(what.replace(/\W+/g, '-'), bodies);
    assert.deepEqual(runOutcome(store.events()), want, what);
    assert.deepEqual(readRunEnds(store.dir).outcome, want, `${what} (from the file's end)`);
  }
});

test('runStarted, runFailed{interrupted:false}, log: failed with its error text at the server, in the extension and in the language server', async () => {
  const out = path.join(dir, 'store');
  const store = RunStore.create(out, 'seq', 'name: seq\n');
  fs.writeFileSync(path.join(store.dir, 'plan.json'), JSON.stringify({ name: 'seq', configPath: path.join(dir, 'seq.inheritune.yaml') }));
  const attention: RunEventBody = { type: 'attention', model: referenceModel(2), step: 0, tau: 0.9, eta: 0.9, sequences: 1, seqLen: 4, layers: [], file: 'a' };
  for (const b of [started, attention, failed(false), log]) store.append(b);
  // A kill tore the line being written after them: not an event, for every reader.
  fs.appendFileSync(path.join(store.dir, 'events.jsonl'), '{"runId":"x","seq":5,"time":"2026-11-26T12:00:00.000Z","type":"runFini');

  const manager = new RunManager({
    runsDir: out,
    cwd: dir,
    roots: ServerRoots.resolve([], dir, out),
    backend: 'cpu',
    worker: { modulePath: '/nonexistent', args: [], execArgv: [] },
    log: () => undefined,
    onRunUpdate: () => undefined,
  });
  manager.load();
  const [server] = manager.list();
  assert.equal(server.status, 'failed');
  assert.equal(server.error, 'boom: bad data');
  assert.equal(server.lastSeq, 4);

  const local = readRun(store.dir);
  assert.equal(local?.status, 'failed');
  assert.equal(local?.error, 'boom: bad data');
  assert.equal(local?.lastSeq, 4);

  const facts = new Facts();
  const [fact] = facts.runsIn(out);
  assert.equal(fact.state, 'failed');
  assert.equal(fact.referenceAttention?.seq, 2);
  facts.dispose();
});

test('events stored before ModelRef had a kind read with the kind derived from the label, once, in the reader', () => {
  const store = RunStore.create(path.join(dir, 'old'), 'old', 'name: old\n');
  const line = (seq: number, label: string) => JSON.stringify({ runId: store.runId, seq, time: '2026-11-26T12:00:00.000Z', type: 'checkpoint', model: { label, layers: 2 }, step: 1, dir: 'c' });
  fs.writeFileSync(path.join(store.dir, 'events.jsonl'), `${['reference', 'round-12', 'scratch', 'scratch_2x'].map((l, i) => line(i + 1, l)).join('\n')}\n`);
  const models = RunStore.open(store.dir).events().map((e) => (e.type === 'checkpoint' ? e.model : undefined));
  assert.deepEqual(models, [
    { kind: 'reference', label: 'reference', layers: 2 },
    { kind: 'round', round: 12, label: 'round-12', layers: 2 },
    { kind: 'baseline', baseline: 'scratch', label: 'scratch', layers: 2 },
    { kind: 'baseline', baseline: 'scratch_2x', label: 'scratch_2x', layers: 2 },
  ]);
  fs.writeFileSync(path.join(store.dir, 'events.jsonl'), `${line(1, 'round-x')}\n`);
  assert.throws(() => RunStore.open(store.dir), /event\.model\.kind is missing, and event\.model\.label "round-x" is not "reference", "round-<n>" or a baseline/);
});
