/**
 * The extension's pure rules around a run's end: which status changes are news (a notification),
 * what each notification says and offers, how "Open Model Folder" shows a folder, and that
 * "Analyze Reference Attention" asks for the run's own analysis windows.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { endedNow, endNotice } from '../../extension/runEndNotice.js';
import { folderView, isInside } from '../../extension/modelFolder.js';
import { runAnalysis } from '../../server/protocol/analysisWindows.js';
import { parseRunConfig } from '../../server/protocol/config.js';
import type { RunInfo } from '../../server/protocol/messages.js';

const run: RunInfo = { runId: 'r1', name: 'demo', dir: '/w/.inheritune/runs/r1', status: 'finished', lastSeq: 9 };

test('a run seen training that now has a final status has ended now; a replayed or first-seen end has not', () => {
  assert.equal(endedNow('running', 'finished'), true);
  assert.equal(endedNow('stopping', 'stopped'), true);
  assert.equal(endedNow('queued', 'failed'), true);
  assert.equal(endedNow('running', 'interrupted'), true);
  assert.equal(endedNow(undefined, 'finished'), false, 'first seen already finished: an old run');
  assert.equal(endedNow('finished', 'finished'), false);
  assert.equal(endedNow('running', 'stopping'), false);
  assert.equal(endedNow('queued', 'created'), false, 'taken off the queue before it started');
});

test('each end says what happened and offers what to do next', () => {
  const final = { layers: 4, valLoss: 1.23456, matchedReference: true, params: 1, modelDir: '/m' };
  assert.deepEqual(endNotice({ ...run, final }, true), { level: 'info', text: 'Inheritune: demo finished: 4 layers, val loss 1.2346, matches the reference.', actions: ['Open Dashboard', 'Open Model Folder'] });
  const stopped = endNotice({ ...run, status: 'stopped', error: 'stopped at step 12 of round-1 (checkpoint saved)' }, false);
  assert.deepEqual(stopped, { level: 'info', text: 'Inheritune: demo stopped at step 12 of round-1 (checkpoint saved).', actions: ['Open Dashboard', 'Resume'] });
  assert.deepEqual(endNotice({ ...run, status: 'stopped', error: 'stopped at step 3 of round-1 (checkpoint saved)' }, true).actions, ['Open Dashboard', 'Open Model Folder', 'Resume'], 'stopped with the model saved');
  assert.deepEqual(endNotice({ ...run, status: 'failed', error: 'data.train: no such file' }, false), { level: 'error', text: 'Inheritune: demo failed: data.train: no such file.', actions: ['Open Dashboard', 'Show Server Log'] });
  assert.equal(endNotice({ ...run, status: 'interrupted', error: 'the training process ended unexpectedly' }, false).level, 'warning');
});

test('Open Model Folder: the Explorer inside an opened folder, the OS file manager on a local desktop, else it asks', () => {
  const ws = path.join('/home', 'u', 'examples');
  const inside = path.join(ws, '.inheritune', 'runs', 'r1', 'model');
  const outside = path.join('/home', 'u', '.inheritune', 'runs', 'r1', 'model');
  assert.equal(isInside(inside, ws), true);
  assert.equal(isInside(ws, ws), true);
  assert.equal(isInside(outside, ws), false);
  assert.equal(isInside(path.join('/home', 'u', 'examples-2'), ws), false, 'a sibling whose name starts alike');
  assert.equal(folderView(inside, [ws], false), 'explorer');
  assert.equal(folderView(outside, [ws], true), 'os');
  assert.equal(folderView(outside, [ws], false), 'ask');
  assert.equal(folderView(outside, [], false), 'ask');
});

test("Analyze Reference Attention asks for the run's analysis: its windows (sequences, seq_len, train.seed) and statistics", () => {
  const text = `name: t
reference: { path: ref }
data: { train: a.bin, val: b.bin, tokenizer: bytes }
train: { seed: 7 }
analysis: { sequences: 5, seq_len: 32, tau: 0.8, eta: 0.7, mass: prefix, convention: rank-of-mean }
`;
  const parsed = parseRunConfig(text, '/w/t.inheritune.yaml');
  assert.ok(parsed.config, JSON.stringify(parsed.issues));
  assert.deepEqual(runAnalysis(parsed.config), { sequences: 5, seqLen: 32, windows: 'random', seed: 7, tau: 0.8, eta: 0.7, mass: 'prefix', convention: 'rank-of-mean' });
});
