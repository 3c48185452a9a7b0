/**
 * Zero-shot tasks against an independent implementation of lm-evaluation-harness v0.4:
 * scripts/fixtures/make_task_fixtures.py writes the prompt formats, request handling and metrics in
 * Python and scores every item with a float64 PyTorch GPT-2 read from the same safetensors file
 * (test/fixtures/tasks/; the items are examples/tasks/). Here the engine must render the same contexts and choices (exactly), the
 * same per-request log-likelihoods (within 1e-4 nats), the same predictions and greedy flags (exactly)
 * and so the same accuracies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '../../server/engine/backend.js';
import { getTokenizer } from '../../server/engine/data/tokenizer.js';
import { loadModelDir } from '../../server/engine/hfCheckpoint.js';
import { createModel } from '../../server/engine/models.js';
import { TASK_NAMES, taskDoc, type TaskName } from '../../server/engine/tasks/formats.js';
import { evaluateTask } from '../../server/engine/tasks/evaluateTasks.js';
import { loadTaskRows } from '../../server/engine/tasks/taskData.js';

const ROOT = resolve('test/fixtures/tasks');
const DATA = resolve('examples/tasks');

interface ExpectedItem {
  context?: string;
  choices?: string[];
  target?: string;
  text?: string;
  gold?: number;
  lls?: number[];
  ll?: number;
  pred?: number;
  pred_norm?: number;
  greedy?: boolean;
  windows?: number;
  words?: number;
  bytes?: number;
}
interface Expected {
  max_length: number;
  tasks: Record<TaskName, { items: ExpectedItem[]; metrics: Record<string, number> }>;
}
const expected = JSON.parse(fs.readFileSync(join(ROOT, 'expected.json'), 'utf8')) as Expected;

test('task formats render the contexts, choices and targets the Python harness renders, character for character', async () => {
  for (const task of TASK_NAMES) {
    const { rows } = await loadTaskRows(task, DATA);
    const want = expected.tasks[task].items;
    assert.equal(rows.length, want.length, task);
    rows.forEach(({ row, where }, i) => {
      const doc = taskDoc(task, row, where);
      const w = want[i];
      if (doc.kind === 'choice') assert.deepEqual({ context: doc.context, choices: doc.choices, gold: doc.gold }, { context: w.context, choices: w.choices, gold: w.gold }, where);
      else if (doc.kind === 'target') assert.deepEqual({ context: doc.context, target: doc.target }, { context: w.context, target: w.target }, where);
      else assert.deepEqual({ text: doc.text, words: doc.words, bytes: doc.bytes }, { text: w.text, words: w.words, bytes: w.bytes }, where);
    });
  }
});

test('task scores: every log-likelihood within 1e-4 nats of the PyTorch harness, predictions and accuracies exact', async (t) => {
  assert.equal(await initBackend('cpu'), 'cpu');
  const { config, tensors } = loadModelDir(join(ROOT, 'model'));
  assert.equal(config.nPositions, expected.max_length);
  const model = createModel(config, tensors);
  const tok = getTokenizer('bytes');
  try {
    let worst = 0;
    for (const task of TASK_NAMES) {
      const r = await evaluateTask(model, tok, task, { sourceOf: () => DATA });
      const want = expected.tasks[task];
      r.itemResults.forEach((item, i) => {
        const w = want.items[i];
        const label = `${task} item ${i + 1}`;
        if (item.kind === 'choice') {
          item.lls.forEach((ll, k) => {
            worst = Math.max(worst, Math.abs(ll - w.lls![k]));
            assert.ok(Math.abs(ll - w.lls![k]) <= 1e-4, `${label} choice ${k}: ${ll} vs ${w.lls![k]}`);
          });
          assert.equal(item.pred, w.pred, `${label}: pred`);
          assert.equal(item.predNorm, w.pred_norm, `${label}: pred_norm`);
        } else {
          worst = Math.max(worst, Math.abs(item.ll - w.ll!));
          assert.ok(Math.abs(item.ll - w.ll!) <= 1e-4, `${label}: ${item.ll} vs ${w.ll}`);
          if (item.kind === 'target') assert.equal(item.greedy, w.greedy, `${label}: greedy`);
          else assert.equal(item.windows, w.windows, `${label}: windows`);
        }
      });
      for (const [name, v] of Object.entries(want.metrics)) {
        if (name.startsWith('acc')) assert.equal(r.metrics[name], v, `${task} ${name}`);
        else assert.ok(Math.abs(r.metrics[name] / v - 1) < 1e-5, `${task} ${name}: ${r.metrics[name]} vs ${v}`);
      }
      assert.deepEqual(Object.keys(r.metrics).sort(), Object.keys(want.metrics).sort(), `${task}: metric names`);
    }
    t.diagnostic(`largest log-likelihood difference ${worst.toExponential(2)} nats`);
  } finally {
    model.dispose();
  }
});
