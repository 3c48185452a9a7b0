/** `inheritune evaluate-tasks` through the real command: the parity fixtures' metrics, its table, its errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../helpers/cli.js';

const ROOT = path.resolve('test/fixtures/tasks');
const MODEL = path.join(ROOT, 'model');
const DATA = path.resolve('examples/tasks');
const expected = JSON.parse(fs.readFileSync(path.join(ROOT, 'expected.json'), 'utf8')) as { tasks: Record<string, { metrics: Record<string, number> }> };

test('evaluate-tasks --json gives the metrics of the independent harness; the table lists each task and metric', async () => {
  const r = await runCli(['evaluate-tasks', MODEL, '--tasks', 'lambada,piqa,wikitext', '--data-dir', DATA, '--tokenizer', 'bytes', '--backend', 'cpu', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { tasks: { task: string; items: number; metrics: Record<string, number> }[] };
  assert.deepEqual(out.tasks.map((t) => t.task), ['lambada', 'piqa', 'wikitext']);
  for (const t of out.tasks) {
    for (const [name, v] of Object.entries(expected.tasks[t.task].metrics)) {
      if (name.startsWith('acc')) assert.equal(t.metrics[name], v, `${t.task} ${name}`);
      else assert.ok(Math.abs(t.metrics[name] / v - 1) < 1e-5, `${t.task} ${name}: ${t.metrics[name]} vs ${v}`);
    }
  }
  const table = await runCli(['evaluate-tasks', MODEL, '--tasks', 'sciq', '--limit', '3', '--data-dir', DATA, '--tokenizer', 'bytes', '--backend', 'cpu']);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^task\s+metric\s+n\s+model\nsciq\s+acc\s+3\s+\d\.\d{4}\nsciq\s+acc_norm\s+3\s+\d\.\d{4}\n$/);
});

test('evaluate-tasks: an unknown task, a missing data folder, a tokenizer larger than the model are one line each', async () => {
  const cases: [string[], RegExp][] = [
    [['--tasks', 'piqa,mmlu'], /^error: --tasks: unknown task "mmlu"; the tasks are wikitext, lambada, arc_easy, piqa, sciq, hellaswag\n$/],
    [['--tasks', 'piqa,piqa'], /^error: --tasks: lists task "piqa" twice\n$/],
    [['--data-dir', path.join(ROOT, 'nowhere'), '--tokenizer', 'bytes'], /^error: --data-dir: .*nowhere is not a folder\n$/],
    [['--data-dir', DATA, '--tokenizer', 'gpt2'], /^error: --tokenizer: gpt2 has 50257 ids, more than the 257 of the model/],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(['evaluate-tasks', MODEL, ...args, '--backend', 'cpu', '--json']);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, want);
  }
});
