// The server and its training processes check every IPC message against the schemas of
// server/training/workerProtocol.ts, both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundModel } from '../../server/protocol/events.js';
import { parseFromWorker, parseToWorker } from '../../server/training/workerProtocol.js';

test('messages to a training process: each kind accepted, anything else refused naming the field', () => {
  for (const m of [
    { type: 'run', dir: '/runs/r1', backend: 'cpu', lockWaitMs: 1000 },
    { type: 'analyze', modelDir: '/m', data: '/d.jsonl', options: { tokenizer: 'bytes' }, backend: 'auto' },
    { type: 'stop', mode: 'shutdown' },
  ]) assert.deepEqual(parseToWorker(m), { ok: true, message: m });
  assert.deepEqual(parseToWorker({ type: 'stop', mode: 'pause' }), { ok: false, error: 'toWorker.mode must be one of "cancel", "finish-and-save", "shutdown", got "pause"' });
  assert.deepEqual(parseToWorker({ type: 'run', dir: '/r', backend: 'gpu', lockWaitMs: 1 }).ok, false);
  assert.deepEqual(parseToWorker('run').ok, false);
});

test('messages from a training process: each kind accepted, anything else refused naming the field', () => {
  const event = { runId: 'r1', seq: 1, time: '2026-11-26T12:00:00.000Z', type: 'checkpoint', model: roundModel(1, 2), step: 4, dir: 'checkpoints/round-1' };
  for (const m of [
    { type: 'started', backend: 'wasm' },
    { type: 'event', event },
    { type: 'done', status: 'interrupted', error: 'stopped' },
    { type: 'analysis', backend: 'cpu', result: { tau: 0.9, eta: 0.9, sequences: 1, seqLen: 4, layers: [] }, heatmaps: [{ layer: 0, head: 0, size: 2, max: 1, seqLen: 4, cells: 'AAAAAA==' }] },
    { type: 'analysisFailed', error: 'no such file' },
  ]) assert.deepEqual(parseFromWorker(m), { ok: true, message: m });
  assert.deepEqual(parseFromWorker({ type: 'event', event: { ...event, seq: 0 } }), { ok: false, error: 'fromWorker.event.seq must be an integer >= 1, got 0' });
  assert.deepEqual(parseFromWorker({ type: 'done', status: 'crashed' }).ok, false);
});
