/**
 * evaluation.tasks in a run: the reference, every round and the baseline are evaluated at the end,
 * each as one `tasks` event and in summary.tasks, the reference's figures equal to `evaluate-tasks`
 * on the same model; the results show a Tasks table and say that the analysis used fewer windows
 * than the paper. Task data missing is refused before any work.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunEvent, RunSummary } from '../../server/protocol/events.js';
import { REPO, runCli, runCliEvents } from '../helpers/cli.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'tasks');
const VAL_TEXT = path.join(REPO, 'examples', 'data', 'val.jsonl');
let dir: string;

const CONFIG = (dataDir: string) => `name: tasks
reference: { path: ${path.join(FIXTURES, 'model')} }
target: { layers: 1 }
grow: { enabled: false }
data: { train: ${VAL_TEXT}, val: ${VAL_TEXT}, tokenizer: bytes, subset: 0.05 }
train: { steps: 2, batch_tokens: 64, micro_batch: 2, block_size: 32, warmup: 1, eval_every: 0, eval_windows: 2 }
baselines: [scratch]
analysis: { sequences: 2, seq_len: 16, every: 0, convention: rank-of-mean }
evaluation: { tasks: [piqa, wikitext], limit: 4, data_dir: ${dataDir} }
runtime: { out_dir: runs, checkpoint_every: 0, backend: cpu }
`;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-tasks-run-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a run with evaluation.tasks evaluates the reference, the round and the baseline, and reports a Tasks table', async () => {
  const config = path.join(dir, 'tasks.inheritune.yaml');
  fs.writeFileSync(config, CONFIG(path.join(REPO, 'examples', 'tasks')));
  const json = await runCliEvents<RunEvent>(['run', config, '--json'], { cwd: dir, env: { INHERITUNE_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(json.status, 0, json.stderr);
  const tasks = json.events.filter((e): e is Extract<RunEvent, { type: 'tasks' }> => e.type === 'tasks');
  assert.deepEqual(tasks.map((e) => e.model.label), ['reference', 'round-1', 'scratch']);
  for (const e of tasks) assert.deepEqual(e.results.map((r) => [r.task, r.items]), [['piqa', 4], ['wikitext', 4]]);
  const attention = json.events.filter((e) => e.type === 'attention');
  assert.ok(attention.length > 0 && attention.every((e) => e.type === 'attention' && e.convention === 'rank-of-mean' && e.layers.every((l) => typeof l.nearLazy === 'boolean')));
  const finished = json.events.find((e) => e.type === 'runFinished') as Extract<RunEvent, { type: 'runFinished' }>;
  const summary: RunSummary = finished.summary;
  assert.deepEqual(summary.tasks, tasks.map(({ model, results }) => ({ model, results })));
  assert.match(summary.analysisNote ?? '', /^analysis on 2 windows of 16 tokens, fewer than the paper's 100 x 100 because analysis.sequences \/ analysis.seq_len are set so/);

  // The reference's figures are those of evaluate-tasks on the same model and items.
  const direct = await runCli(['evaluate-tasks', path.join(FIXTURES, 'model'), '--tasks', 'piqa,wikitext', '--limit', '4', '--data-dir', path.join(REPO, 'examples', 'tasks'), '--tokenizer', 'bytes', '--backend', 'cpu', '--json']);
  assert.equal(direct.status, 0, direct.stderr);
  const want = (JSON.parse(direct.stdout) as { tasks: { task: string; items: number; metrics: Record<string, number> }[] }).tasks.map(({ task, items, metrics }) => ({ task, items, metrics }));
  assert.deepEqual(tasks[0].results, want);

  // The plain results: the Tasks table, one column per model, and the note on the analysis windows.
  const plain = await runCli(['run', config, '--out', path.join(dir, 'plain')], { cwd: dir, env: { INHERITUNE_CACHE_DIR: path.join(dir, 'cache') } });
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /Tasks \(zero-shot\)\ntask\s+metric\s+n\s+reference \(2L\)\s+derived 1 \(1L\)\s+scratch \(1L\)\npiqa\s+acc\s+4 /);
  assert.match(plain.stdout, /wikitext\s+bits_per_byte\s+4 /);
  assert.match(plain.stdout, /Note: analysis on 2 windows of 16 tokens, fewer than the paper's 100 x 100/);
});

test('a run whose task data is missing is refused before any work, naming the folder and the task', async () => {
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  const config = path.join(dir, 'missing.inheritune.yaml');
  fs.writeFileSync(config, CONFIG(empty));
  const r = await runCli(['run', config, '--out', path.join(dir, 'missing-runs')], { cwd: dir });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error: .*empty: holds neither piqa.jsonl nor piqa.parquet/);
  assert.ok(!fs.existsSync(path.join(dir, 'missing-runs')), 'no run folder for a refused run');
});
