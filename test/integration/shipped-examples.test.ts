// The configs shipped in examples/ with a local reference (the Hub one needs the network) pass every
// check `inheritune run` makes, and the paper config's task sample is readable for each of its tasks
// (so its Tasks table needs no dataset host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadRunConfig } from '../../server/engine/configCheck.js';
import { loadTaskRows } from '../../server/engine/tasks/taskData.js';
import { REPO } from '../helpers/cli.js';

for (const name of ['demo', 'paper', 'deep']) {
  test(`examples/${name}.inheritune.yaml passes every config check with no warnings`, async () => {
    const { warnings } = await loadRunConfig(path.join(REPO, 'examples', `${name}.inheritune.yaml`));
    assert.deepEqual(warnings, []);
  });
}

test("the paper config evaluates all six of Table 1's tasks from its offline sample", async () => {
  const { config } = await loadRunConfig(path.join(REPO, 'examples', 'paper.inheritune.yaml'));
  const evaluation = config.evaluation;
  assert.ok(evaluation !== undefined, 'the paper config has evaluation.tasks');
  assert.deepEqual([...evaluation.tasks].sort(), ['arc_easy', 'hellaswag', 'lambada', 'piqa', 'sciq', 'wikitext']);
  assert.ok(evaluation.data_dir !== 'hf-cache');
  for (const task of evaluation.tasks) {
    const { rows } = await loadTaskRows(task, evaluation.data_dir);
    assert.ok(rows.length >= 6, `${task}: ${rows.length} rows`);
  }
});
