// The one progress text (server/protocol/progress.ts) of the status bar, the sidebar and the
// dashboard, over the events a run emits in the order the engine emits them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baselineModel, referenceModel, roundModel, type ModelRef, type RunEventBody } from '../../server/protocol/events.js';
import { advanceProgress, NO_PROGRESS, progressText, type RunProgress } from '../../server/protocol/progress.js';

const metrics = (model: ModelRef, step: number, steps: number, trainLoss: number): RunEventBody => ({ type: 'metrics', model, step, steps, trainLoss, lr: 1e-3, gradNorm: 1, tokensPerSec: 100, tokensSeen: step * 512 });
const ref = referenceModel(8);
const r1 = roundModel(1, 4);
const r2 = roundModel(2, 6);
const scratch = baselineModel('scratch', 4);

/** The long and short texts after each event. */
function texts(events: RunEventBody[]): { long: string[]; short: string[] } {
  let p: RunProgress = NO_PROGRESS;
  const long: string[] = [];
  const short: string[] = [];
  for (const e of events) {
    p = advanceProgress(p, e);
    long.push(progressText(p));
    short.push(progressText(p, 'short'));
  }
  return { long, short };
}

test('each phase shows its own counts: the reference without "reference reference", a round from step 0 of its own total, never 0/0, never the new label with the old count', () => {
  const { long, short } = texts([
    { type: 'phase', phase: 'reference', model: ref, message: 'evaluating and analysing the reference (8 layers)' },
    { type: 'eval', model: ref, step: 0, valLoss: 2.4, referenceValLoss: 2.4 },
    { type: 'phase', phase: 'inherit', model: r1, message: "inheriting the reference's first 4 blocks" },
    { type: 'phase', phase: 'train', model: r1, message: 'training 4 layers for 40 steps', steps: 40 },
    metrics(r1, 1, 40, 5.5),
    metrics(r1, 40, 40, 2.5),
    { type: 'phase', phase: 'grow', model: r1, message: 'val loss 2.5 > reference 2.4: growing to 6 layers (restart)' },
    { type: 'phase', phase: 'inherit', model: r2, message: 'keeping 4 trained blocks, appending reference blocks 5..6' },
    { type: 'phase', phase: 'train', model: r2, message: 'training 6 layers for 30 steps', steps: 30 },
    metrics(r2, 3, 30, 3.25),
    { type: 'phase', phase: 'baseline', model: scratch, message: 'training 4 layers for 40 steps', steps: 40 },
  ]);
  assert.deepEqual(long, [
    'reference: evaluating and analysing the reference (8 layers)',
    'reference: evaluating and analysing the reference (8 layers)',
    "inherit round-1: inheriting the reference's first 4 blocks",
    'train round-1: step 0/40',
    'train round-1: step 1/40, loss 5.5000',
    'train round-1: step 40/40, loss 2.5000',
    'grow round-1: val loss 2.5 > reference 2.4: growing to 6 layers (restart)',
    'inherit round-2: keeping 4 trained blocks, appending reference blocks 5..6',
    'train round-2: step 0/30',
    'train round-2: step 3/30, loss 3.2500',
    'baseline scratch: step 0/40',
  ]);
  assert.deepEqual(short, [
    'reference',
    'reference',
    'inherit round-1',
    'train round-1 0/40',
    'train round-1 1/40 · loss 5.500',
    'train round-1 40/40 · loss 2.500',
    'grow round-1',
    'inherit round-2',
    'train round-2 0/30',
    'train round-2 3/30 · loss 3.250',
    'baseline scratch 0/40',
  ]);
});

test('a resumed model counts on from its checkpoint; a run stored before phases named their totals shows the message until its first metrics', () => {
  const resumed = texts([
    { type: 'resumed', model: r1, fromStep: 20 },
    { type: 'phase', phase: 'train', model: r1, message: 'training 4 layers for 40 steps', steps: 40 },
    metrics(r1, 21, 40, 2.75),
  ]).long;
  assert.deepEqual(resumed.slice(1), ['train round-1: step 20/40', 'train round-1: step 21/40, loss 2.7500']);
  const old = texts([
    { type: 'phase', phase: 'train', model: r1, message: 'training 4 layers for 40 steps' },
    metrics(r1, 1, 40, 5.5),
  ]).long;
  assert.deepEqual(old, ['train round-1: training 4 layers for 40 steps', 'train round-1: step 1/40, loss 5.5000']);
  assert.equal(progressText(NO_PROGRESS), 'starting');
});
