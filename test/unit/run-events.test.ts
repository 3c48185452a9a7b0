// Run events crossing a file or socket boundary are checked field by field (server/protocol/events.ts):
// the run store refuses to write what it could not read back, readers name the file, line and field
// of a bad line, and the extension's reader skips such a line instead of drawing it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readRunSummary, RunStore } from '../../server/engine/run/runStore.js';
import { parseEventLine, parseRunEvent, referenceModel, roundModel, type RunEvent } from '../../server/protocol/events.js';
import { readEventChunk } from '../../server/engine/run/eventLog.js';
import { readEvents } from '../../extension/runStore.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-events-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const base = { runId: 'r1', seq: 1, time: '2026-11-26T12:00:00.000Z' };
const metrics = { ...base, type: 'metrics', model: roundModel(1, 4), step: 3, steps: 40, trainLoss: 2.5, lr: 1e-3, gradNorm: 0.7, tokensPerSec: 8000, tokensSeen: 3072 };
const error = (v: unknown) => {
  const r = parseRunEvent(v);
  assert.ok(!r.ok, `rejected: ${JSON.stringify(v)}`);
  return r.error;
};

test('every kind of event the loop stores parses back to itself', () => {
  const model = referenceModel(8);
  const events: RunEvent[] = [
    { ...base, type: 'runStarted', name: 'demo', configPath: '/x/demo.inheritune.yaml', backend: 'wasm', resumed: false },
    { ...base, type: 'phase', phase: 'reference', model, message: 'evaluating the reference' },
    { ...base, type: 'phase', phase: 'done', message: 'saving' },
    metrics as RunEvent,
    { ...base, type: 'eval', model, step: 0, valLoss: 2.3, referenceValLoss: null },
    { ...base, type: 'attention', model, step: 0, tau: 0.9, eta: 0.9, sequences: 8, seqLen: 64, layers: [{ layer: 0, maxRank: 3.5, avgMass: 2, lazy: false, heads: [{ rank: 4, mass: 2 }] }], file: 'attention/reference-step0.safetensors' },
    { ...base, type: 'checkpoint', model, step: 8, dir: 'checkpoints/round-1' },
    { ...base, type: 'modelFinished', model, steps: 0, valLoss: 2.3, lazyLayers: null },
    { ...base, type: 'resumed', model: null, fromStep: 0 },
    { ...base, type: 'log', level: 'warn', message: 'slow' },
    { ...base, type: 'runFailed', error: 'stopped', interrupted: true },
    {
      ...base,
      type: 'runFinished',
      summary: {
        runId: 'r1', name: 'demo', backend: 'wasm',
        reference: { path: '/m', layers: 8, valLoss: 2.3, params: 1000 },
        rounds: [{ layers: 4, steps: 40, valLoss: 2.4 }],
        baselines: [{ name: 'scratch', layers: 4, steps: 40, valLoss: 2.9 }],
        final: { layers: 4, valLoss: 2.4, matchedReference: false, params: 500, modelDir: '/m2' },
        lazyLayers: { reference: [], final: [3] },
        seconds: 60,
      },
    },
  ];
  for (const e of events) {
    const r = parseEventLine(JSON.stringify(e));
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.event, e);
  }
});

test('a bad event is rejected naming the field: a NaN stored as null, a missing seq, an unknown type or field', () => {
  assert.equal(error({ ...metrics, trainLoss: null }), 'event.trainLoss must be a number, got null');
  const { seq: _seq, ...noSeq } = metrics;
  assert.equal(error(noSeq), 'event.seq is missing: it must be an integer >= 1');
  assert.match(error({ ...metrics, type: 'metricz' }), /^event\.type must be one of runStarted, phase, metrics, .*, got "metricz"$/);
  assert.match(error({ ...metrics, extra: 1 }), /^event has an unknown field "extra"/);
  assert.match(error({ ...metrics, model: { label: '', layers: 4 } }), /^event\.model\.label must be a non-empty string/);
  assert.equal(error([1]), 'event must be an object, got an array');
  const line = parseEventLine('{"type": "log", "level"');
  assert.ok(!line.ok && /^not valid JSON/.test(line.error));
});

test('the run store refuses to write an event it could not read back, and the file stays readable', () => {
  const store = RunStore.create(dir, 'guard', 'name: guard\n');
  store.append({ type: 'log', level: 'info', message: 'first' });
  assert.throws(
    () => store.append({ type: 'eval', model: roundModel(1, 2), step: 4, valLoss: NaN, referenceValLoss: null }),
    (e: Error) => e.message.includes('events.jsonl') && e.message.includes('refusing to store an invalid eval event: event.valLoss must be a number, got null'),
  );
  store.append({ type: 'log', level: 'info', message: 'second' });
  assert.deepEqual(RunStore.open(store.dir).events().map((e) => [e.seq, e.type === 'log' ? e.message : '']), [[1, 'first'], [2, 'second']]);
});

test('a hand-edited line: the store and the server name the file, line and field; the extension skips it', () => {
  const store = RunStore.create(dir, 'edited', 'name: edited\n');
  store.append({ type: 'log', level: 'info', message: 'ok' });
  store.append({ type: 'log', level: 'info', message: 'to be broken' });
  store.append({ type: 'log', level: 'info', message: 'after' });
  const file = path.join(store.dir, 'events.jsonl');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines[1] = lines[1].replace('"level":"info"', '"level":"loud"');
  fs.writeFileSync(file, lines.join('\n'));
  assert.throws(() => RunStore.open(store.dir), (e: Error) => e.message.startsWith(file) && e.message.includes('line 2 is not a run event: event.level must be one of "info", "warn", "error", got "loud"'));
  assert.throws(() => readEventChunk(store.dir, 0), (e: Error) => e.message.startsWith(file) && e.message.includes('event.level must be one of'));
  assert.deepEqual(readEvents(store.dir).map((e) => e.seq), [1, 3]);
});

test('summary.json is read through the same schema: absent is undefined, an edited one an error naming file and field', () => {
  const store = RunStore.create(dir, 'summary', 'name: summary\n');
  assert.equal(readRunSummary(store.dir), undefined);
  fs.writeFileSync(path.join(store.dir, 'summary.json'), JSON.stringify({ runId: 'x' }));
  assert.throws(() => readRunSummary(store.dir), (e: Error) => e.message === `${path.join(store.dir, 'summary.json')}: summary.name is missing: it must be a string of at most 1048576 characters`);
});
