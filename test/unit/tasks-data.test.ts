/** Task data: JSONL and parquet files, folders, the Hugging Face cache layout, and bad rows named precisely. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import { taskDoc, wikitextDetokenize, hellaswagPreprocess } from '../../server/engine/tasks/formats.js';
import { loadTaskRows } from '../../server/engine/tasks/taskData.js';
import { TaskEncoder } from '../../server/engine/tasks/loglikelihood.js';
import { getTokenizer, type Tokenizer } from '../../server/engine/data/tokenizer.js';
import { storable } from '../../server/engine/tasks/runTasks.js';
import { baselineModel } from '../../server/protocol/events.js';

const DATA = resolve('examples/tasks');
const COMMIT = 'a'.repeat(40);

function tmp(): string {
  return fs.mkdtempSync(join(os.tmpdir(), 'inheritune-tasks-'));
}

/** A dataset snapshot in the HF cache layout: refs/main, blobs, snapshot files as relative symlinks. */
function cacheDataset(cache: string, repo: string, files: Record<string, string>): void {
  const folder = join(cache, `datasets--${repo.replace('/', '--')}`);
  fs.mkdirSync(join(folder, 'refs'), { recursive: true });
  fs.writeFileSync(join(folder, 'refs', 'main'), COMMIT);
  fs.mkdirSync(join(folder, 'blobs'), { recursive: true });
  Object.entries(files).forEach(([rel, src], i) => {
    const blob = join(folder, 'blobs', `blob${i}`);
    fs.copyFileSync(src, blob);
    const link = join(folder, 'snapshots', COMMIT, rel);
    fs.mkdirSync(join(link, '..'), { recursive: true });
    fs.symlinkSync(join('..', '..', ...rel.split('/').slice(1).map(() => '..'), 'blobs', `blob${i}`), link);
  });
}

async function withCache<T>(cache: string, f: () => Promise<T>): Promise<T> {
  const before = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = cache;
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = before;
  }
}

test('parquet rows (hand-written file: PLAIN pages, int64 label) give the same items as the JSONL rows', async () => {
  const pq = await loadTaskRows('piqa', join(DATA, 'piqa.parquet'));
  const js = await loadTaskRows('piqa', join(DATA, 'piqa.jsonl'));
  assert.equal(pq.rows.length, 24);
  assert.equal(typeof pq.rows[0].row.label, 'bigint');
  assert.deepEqual(
    pq.rows.map((r) => taskDoc('piqa', r.row, r.where)),
    js.rows.map((r) => taskDoc('piqa', r.row, r.where)),
  );
  assert.equal((await loadTaskRows('piqa', join(DATA, 'piqa.parquet'), 5)).rows.length, 5);
});

test('datasets are found in the Hugging Face cache: the split file, in the config folder when there is one', async () => {
  const cache = tmp();
  try {
    cacheDataset(cache, 'baber/piqa', { 'data/train-00000-of-00001.parquet': join(DATA, 'sciq.jsonl'), 'data/validation-00000-of-00001.parquet': join(DATA, 'piqa.parquet') });
    cacheDataset(cache, 'allenai/ai2_arc', { 'ARC-Challenge/test-00000-of-00001.jsonl': join(DATA, 'sciq.jsonl'), 'ARC-Easy/test-00000-of-00001.jsonl': join(DATA, 'arc_easy.jsonl') });
    await withCache(cache, async () => {
      const piqa = await loadTaskRows('piqa', undefined, 3);
      assert.match(piqa.files[0], /validation-00000-of-00001\.parquet$/);
      assert.equal(piqa.rows.length, 3);
      const arc = await loadTaskRows('arc_easy', undefined);
      assert.match(arc.files[0], /ARC-Easy\/test-00000-of-00001\.jsonl$/);
      assert.equal(arc.rows.length, 24);
      await assert.rejects(loadTaskRows('sciq', undefined), /dataset allenai\/sciq is not in the Hugging Face cache .*--data-dir/);
    });
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
});

test('bad task data is one error naming the file, the line or row, and the column', async () => {
  const dir = tmp();
  try {
    const f = join(dir, 'arc_easy.jsonl');
    fs.writeFileSync(f, '{"question": "q", "choices": {"text": ["a"], "label": ["A"]}, "answerKey": "A"}\n{not json\n');
    await assert.rejects(loadTaskRows('arc_easy', dir), new RegExp(`${f}:2.*not valid JSON`));
    fs.writeFileSync(f, '[1]\n');
    await assert.rejects(loadTaskRows('arc_easy', f), /arc_easy.jsonl:1.*must be a JSON object/);
    fs.writeFileSync(f, '\n');
    await assert.rejects(loadTaskRows('arc_easy', f), /holds no rows/);
    await assert.rejects(loadTaskRows('sciq', dir), /holds neither sciq.jsonl nor sciq.parquet/);
    fs.writeFileSync(join(dir, 'bad.parquet'), 'PAR1 not really');
    await assert.rejects(loadTaskRows('piqa', join(dir, 'bad.parquet')), /bad.parquet.*not a parquet file/);
    assert.throws(() => taskDoc('arc_easy', { question: 'q', choices: { text: ['a'], label: ['A'] }, answerKey: 'B' }, 'f:3'), /f:3.*"answerKey" \("B"\) is none of choices.label/);
    assert.throws(() => taskDoc('piqa', { goal: 'g', sol1: 'a', sol2: 'b', label: 2 }, 'f:4'), /f:4.*column "label" must be an index in \[0, 2\)/);
    assert.throws(() => taskDoc('hellaswag', { activity_label: 'x', ctx_a: 'a', ctx_b: 'b', endings: [], label: '0' }, 'f:5'), /f:5.*column "endings" must be a non-empty list of strings/);
    assert.throws(() => taskDoc('sciq', { question: 'q' }, 'f:6'), /f:6.*column "support" must be a string, got nothing/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('HellaSwag preprocessing and the wikitext detokenizer follow the harness on their awkward cases', () => {
  // One pass of "  " -> " ": three spaces left by a removed bracket become two, as in Python.
  assert.equal(hellaswagPreprocess(' How to [header] clean [title] Gather tools.  [step] Go. '), 'How to clean. Gather tools.  Go.');
  const doc = taskDoc('hellaswag', { activity_label: 'Sport', ctx_a: 'A man', ctx_b: 'tHEN RUNS', endings: ['x [y] z'], label: '0' }, 'f');
  assert.deepEqual(doc, { kind: 'choice', context: 'Sport: A man Then runs', choices: ['x z'], gold: 0 });
  assert.equal(wikitextDetokenize(' = = Rise = = \n 1 @,@ 000 @-@ year ( old ) , 20 ° C . \n'), ' == Rise ==\n1,000-year (old), 20°C.\n');
  const wt = taskDoc('wikitext', { page: ' a  b\nc ' }, 'f');
  // Python's len(re.split(r'\s+', page)): empty strings at both ends count, as they do here.
  assert.deepEqual(wt.kind === 'rolling' && [wt.words, wt.bytes], [5, 8]);
});

test('encoding: trailing context spaces move into the continuation; rolling windows are disjoint, each after one token', () => {
  const enc = new TaskEncoder(getTokenizer('bytes'));
  assert.deepEqual(enc.pair('ab  ', 'c'), { context: [97, 98], continuation: [32, 32, 99] });
  const ids = Array.from({ length: 10 }, (_, i) => 97 + i);
  const text = String.fromCharCode(...ids);
  assert.deepEqual(enc.rolling(text, 4), [
    { context: [256], continuation: ids.slice(0, 4) },
    { context: ids.slice(3, 4), continuation: ids.slice(4, 8) },
    // The last, short window keeps the earlier tokens that fit (maxLength + 1 in all).
    { context: ids.slice(5, 8), continuation: ids.slice(8, 10) },
  ]);
  assert.deepEqual(enc.rolling('', 4), []);
  // A tokenizer whose post-processor adds a BOS: encoded without it, and BOS starts rolling windows.
  const withBos: Tokenizer = { ...getTokenizer('bytes'), encode: (s) => [1, ...new TextEncoder().encode(s)] };
  const e2 = new TaskEncoder(withBos);
  assert.equal(e2.prefix, 1);
  assert.deepEqual(e2.pair('a', ' b'), { context: [97], continuation: [32, 98] });
});

test('run results leave out a metric that overflowed (no JSON for Infinity), with a warning naming the model, task and metric', () => {
  const warnings: string[] = [];
  const out = storable(baselineModel('scratch', 2), [{ task: 'lambada', items: 3, metrics: { perplexity: Infinity, acc: 0 } }], (m) => warnings.push(m));
  assert.deepEqual(out, [{ task: 'lambada', items: 3, metrics: { acc: 0 } }]);
  assert.deepEqual(warnings, ['scratch: lambada perplexity is Infinity (the model gives the text almost no probability); left out of the results']);
});
