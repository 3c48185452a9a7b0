/**
 * Task datasets from the Hub, through the real `inheritune evaluate-tasks` against the mock Hub:
 * only the split's files are downloaded, into the Hugging Face cache layout (datasets--ORG--NAME),
 * the figures equal those of the same rows read from files, and a second evaluation costs no request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, runCli } from '../helpers/cli.js';
import { MockHub, type MockRepo } from '../helpers/mockHub.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'tasks');
const DATA = path.join(REPO, 'examples', 'tasks');
let tmp: string;
let hub: MockHub;
let piqa: MockRepo;

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf-home'), HF_HUB_CACHE: path.join(tmp, 'hub-cache'), ...extra };
  for (const k of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_OFFLINE', 'HUGGINGFACE_HUB_CACHE']) if (!(k in extra)) out[k] = '';
  return out;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-taskhub-'));
  hub = new MockHub();
  await hub.start();
  const read = (f: string) => fs.readFileSync(path.join(DATA, f));
  piqa = hub.addDataset(
    'baber/piqa',
    new Map([
      ['README.md', Buffer.from('# piqa\n')],
      ['data/train-00000-of-00001.parquet', read('piqa.parquet')],
      ['data/validation-00000-of-00001.parquet', read('piqa.parquet')],
    ]),
  );
  hub.addDataset(
    'allenai/ai2_arc',
    new Map([
      ['ARC-Challenge/test-00000-of-00001.jsonl', read('sciq.jsonl')],
      ['ARC-Easy/test-00000-of-00001.jsonl', read('arc_easy.jsonl')],
      ['ARC-Easy/validation-00000-of-00001.jsonl', read('sciq.jsonl')],
    ]),
  );
});

after(async () => {
  await hub.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const ARGS = ['evaluate-tasks', path.join(FIXTURES, 'model'), '--tasks', 'piqa,arc_easy', '--tokenizer', 'bytes', '--backend', 'cpu', '--json'];
type Out = { tasks: { task: string; items: number; metrics: Record<string, number> }[] };
const figures = (o: Out) => o.tasks.map(({ task, items, metrics }) => ({ task, items, metrics }));

test('evaluate-tasks downloads only the split of each dataset into the HF cache, with the figures of the local files; the next run asks nothing', async () => {
  const fromFiles = await runCli([...ARGS, '--data-dir', DATA]);
  assert.equal(fromFiles.status, 0, fromFiles.stderr);
  const r = await runCli(ARGS, { env: env() });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(figures(JSON.parse(r.stdout) as Out), figures(JSON.parse(fromFiles.stdout) as Out));
  const fetched = hub.requests.filter((q) => /\/resolve\//.test(q.url)).map((q) => decodeURIComponent(new URL(q.url, 'http://x').pathname).replace(/\/resolve\/[0-9a-f]{40}\//, ' '));
  assert.deepEqual(fetched.sort(), ['/datasets/allenai/ai2_arc ARC-Easy/test-00000-of-00001.jsonl', '/datasets/baber/piqa data/validation-00000-of-00001.parquet']);
  // Python's layout: refs/main holds the commit, the snapshot file is a symlink to its blob.
  const folder = path.join(tmp, 'hub-cache', 'datasets--baber--piqa');
  assert.equal(fs.readFileSync(path.join(folder, 'refs', 'main'), 'utf8'), piqa.commit);
  const link = path.join(folder, 'snapshots', piqa.commit, 'data', 'validation-00000-of-00001.parquet');
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.deepEqual(fs.readFileSync(link), fs.readFileSync(path.join(DATA, 'piqa.parquet')));

  const before = hub.requests.length;
  const again = await runCli(ARGS, { env: env({ HF_HUB_OFFLINE: '1' }) });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, r.stdout);
  assert.equal(hub.requests.length, before, 'a cached dataset costs no request');
});

test('a dataset missing from the cache while HF_HUB_OFFLINE is set, or absent from the Hub, is one line saying so', async () => {
  const offline = await runCli([...ARGS.slice(0, 3), 'sciq', ...ARGS.slice(4)], { env: env({ HF_HUB_OFFLINE: '1' }) });
  assert.equal(offline.status, 1);
  assert.match(offline.stderr, /^error: task sciq: dataset allenai\/sciq is not in the Hugging Face cache .* and HF_HUB_OFFLINE is set: download it once/m);
  const missing = await runCli([...ARGS.slice(0, 3), 'sciq', ...ARGS.slice(4)], { env: env() });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^error: dataset allenai\/sciq: /m);
});
