/**
 * No command deletes a file it did not create: `inherit --out` and `pretrain --out` (and its
 * `.checkpoint` folder) write into a new or empty folder, replace a model of ours only with --force,
 * and refuse any other folder whatever the options, leaving every file in it as it was.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadGPT2, saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { inspectOutputFolder } from '../../server/engine/outputFolder.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { tinyGPT2 } from '../helpers/models.js';

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-outdir-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));
const ENV = { INHERITUNE_CACHE_DIR: path.join(ROOT, 'cache') };

const CONFIG = tinyGPT2();
const REF = path.join(ROOT, 'ref');
saveGPT2(REF, CONFIG, initWeightsOf(CONFIG, 1));
const DATA = path.join(ROOT, 'tokens.bin');
{
  const b = Buffer.alloc(2 * 400);
  for (let i = 0; i < 400; i++) b.writeUInt16LE((i * 7) % 64, 2 * i);
  fs.writeFileSync(DATA, b);
}

let folders = 0;
/** A user's folder: a file and a subfolder with a file, as in the review's reproduction. */
function userFolder(): string {
  const d = path.join(ROOT, `user-${folders++}`);
  fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(d, 'keep.txt'), 'keep\n');
  fs.writeFileSync(path.join(d, 'sub', 'notes.md'), 'mine\n');
  return d;
}

function assertUntouched(d: string): void {
  assert.deepEqual(fs.readdirSync(d).sort(), ['keep.txt', 'sub']);
  assert.equal(fs.readFileSync(path.join(d, 'keep.txt'), 'utf8'), 'keep\n');
  assert.equal(fs.readFileSync(path.join(d, 'sub', 'notes.md'), 'utf8'), 'mine\n');
  assert.deepEqual(fs.readdirSync(path.dirname(d)).filter((n) => n.includes('.tmp-')), [], 'no temporary folder left beside it');
}

/** Failed with one `error: <option>: ...` line matching `pattern`, no stack trace. */
function assertRefused(r: CliResult, option: string, pattern: RegExp): void {
  assert.ok(r.status !== null && r.status !== 0, `exit ${r.status}, expected non-zero\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `stack trace:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0].startsWith(`error: ${option}: `), lines[0]);
  assert.match(lines[0], pattern);
}

const pretrainArgs = (out: string, ...more: string[]) => [
  'pretrain', '--data', DATA, '--val', DATA, '--layers', '1', '--d-model', '16', '--heads', '2', '--vocab', '64',
  '--block-size', '8', '--steps', '2', '--batch-tokens', '16', '--micro-batch', '2', '--eval-windows', '2',
  '--checkpoint-every', '1', '--backend', 'cpu', '--out', out, ...more,
];

test('inherit --out on a folder of user files refuses, naming --out and the files, and deletes nothing, even with --force', async () => {
  const d = userFolder();
  for (const force of [[], ['--force']]) {
    const r = await runCli(['inherit', REF, '--layers', '1', '--out', d, ...force], { env: ENV });
    assertRefused(r, '--out', /is not empty and is not a model written by inheritune \(it holds keep\.txt, sub\/\); nothing was deleted/);
    assertUntouched(d);
  }
});

test('pretrain --out on a folder of user files, or a .checkpoint folder of user files, refuses before training and deletes nothing', async () => {
  const d = userFolder();
  assertRefused(await runCli(pretrainArgs(d, '--force'), { env: ENV }), '--out', /is not a model written by inheritune/);
  assertUntouched(d);

  const parent = path.join(ROOT, `pre-${folders++}`);
  fs.mkdirSync(parent);
  const out = path.join(parent, 'model');
  fs.renameSync(userFolder(), `${out}.checkpoint`);
  assertRefused(await runCli(pretrainArgs(out, '--resume'), { env: ENV }), '--out', /model\.checkpoint is not empty and is not a model written by inheritune/);
  assertUntouched(`${out}.checkpoint`);
  assert.equal(fs.existsSync(out), false, 'no model written');
});

test('a model inheritune wrote is replaced only with --force; the same goes for a finished pretrain and its checkpoint', async () => {
  const out = path.join(ROOT, `ours-${folders++}`);
  assert.equal((await runCli(['inherit', REF, '--layers', '1', '--out', out], { env: ENV })).status, 0);
  assert.equal(inspectOutputFolder(out).kind, 'model');
  assertRefused(await runCli(['inherit', REF, '--layers', '2', '--out', out], { env: ENV }), '--out', /already holds a model written by inheritune; pass --force to replace it/);
  assert.equal(loadGPT2(out).config.nLayer, 1, 'the refused command changed nothing');
  const forced = await runCli(['inherit', REF, '--layers', '2', '--out', out, '--force'], { env: ENV });
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(loadGPT2(out).config.nLayer, 2);

  const trained = path.join(ROOT, `trained-${folders++}`);
  const first = await runCli(pretrainArgs(trained), { env: ENV });
  assert.equal(first.status, 0, first.stderr);
  assert.equal(inspectOutputFolder(`${trained}.checkpoint`).kind, 'checkpoint');
  assertRefused(await runCli(pretrainArgs(trained), { env: ENV }), '--out', /already holds a model written by inheritune; pass --force/);
  fs.rmSync(trained, { recursive: true });
  assertRefused(await runCli(pretrainArgs(trained), { env: ENV }), '--out', /already holds a training checkpoint written by inheritune; pass --resume to continue it, or --force to start over/);
  const again = await runCli(pretrainArgs(trained, '--force'), { env: ENV });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(inspectOutputFolder(trained).kind, 'model');
});

test('saving a model over a folder that holds a file we did not write throws and leaves the folder as it was', () => {
  const d = userFolder();
  assert.throws(() => saveGPT2(d, CONFIG, initWeightsOf(CONFIG, 2)), /is not a model written by inheritune \(it holds keep\.txt, sub\/\)/);
  assertUntouched(d);
  // A model folder of ours that a user added a file to is not ours alone any more.
  const ours = path.join(ROOT, `mixed-${folders++}`);
  saveGPT2(ours, CONFIG, initWeightsOf(CONFIG, 2));
  fs.writeFileSync(path.join(ours, 'README.md'), 'my notes');
  assert.throws(() => saveGPT2(ours, CONFIG, initWeightsOf(CONFIG, 3)), /it holds README\.md, config\.json, model\.safetensors/);
  assert.equal(fs.readFileSync(path.join(ours, 'README.md'), 'utf8'), 'my notes');
  const file = path.join(ROOT, `file-${folders++}`);
  fs.writeFileSync(file, 'data');
  assert.throws(() => saveGPT2(file, CONFIG, initWeightsOf(CONFIG, 2)), /exists and is not a folder; nothing was deleted/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'data');
});
