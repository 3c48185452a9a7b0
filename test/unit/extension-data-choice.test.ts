// New Run Config's data defaults (extension/dataChoice.ts): what Enter takes at the training and the
// validation step, on the shipped examples folder and on other layouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDataFile, rankDataFiles, type DataFile } from '../../extension/dataChoice.js';

const files = (...list: [string, number][]): DataFile[] => list.map(([p, bytes]) => ({ path: `/ws/${p}`, bytes }));
const names = (l: DataFile[]) => l.map((f) => f.path.slice('/ws/'.length));

test('the shipped examples folder: train.jsonl for training, val.jsonl for validation, never the licence or the README', () => {
  const dir = path.join(__dirname, '..', '..', 'examples', 'data');
  const shipped = fs.readdirSync(dir).map((n) => ({ path: path.join(dir, n), bytes: fs.statSync(path.join(dir, n)).size }));
  assert.ok(shipped.some((f) => /LICENSE/.test(f.path)) && shipped.some((f) => /README/.test(f.path)), 'the folder has a licence and a README to leave out');
  const train = rankDataFiles(shipped, 'train');
  assert.deepEqual(train.map((f) => path.basename(f.path)), ['train.jsonl', 'val.jsonl']);
  const val = rankDataFiles(shipped, 'val', train[0].path);
  assert.deepEqual(val.map((f) => path.basename(f.path)), ['val.jsonl']);
});

test('named files first (train / val, valid, dev, test), then the largest; the training file is never offered for validation', () => {
  const ws = files(['data/big.txt', 9000], ['data/my_train.bin', 100], ['data/dev.jsonl', 50], ['data/validation-set.txt', 40], ['notes.txt', 10]);
  assert.deepEqual(names(rankDataFiles(ws, 'train')), ['data/my_train.bin', 'data/big.txt', 'notes.txt', 'data/dev.jsonl', 'data/validation-set.txt']);
  assert.deepEqual(names(rankDataFiles(ws, 'val', '/ws/data/my_train.bin')), ['data/dev.jsonl', 'data/validation-set.txt', 'data/big.txt', 'notes.txt']);
  // Nothing named: the largest for training, the next largest for validation.
  const plain = files(['a.txt', 10], ['b.txt', 30], ['c.txt', 20]);
  const t = rankDataFiles(plain, 'train')[0];
  assert.equal(t.path, '/ws/b.txt');
  assert.equal(rankDataFiles(plain, 'val', t.path)[0].path, '/ws/c.txt');
});

test('licences, readmes and other documents are not data; data file types only', () => {
  for (const f of ['LICENSE.txt', 'LICENSE-fortunes.txt', 'licence.txt', 'README.txt', 'readme_data.jsonl', 'COPYING.txt', 'CHANGELOG.txt', 'NOTICE.txt', 'x/AUTHORS.txt', 'data.json', 'train.csv', 'train.md']) {
    assert.equal(isDataFile(`/ws/${f}`), false, f);
  }
  for (const f of ['train.bin', 'val.npy', 'corpus.txt', 'shard-000.jsonl', 'licensed_corpus.txt', 'TRAIN.JSONL']) assert.equal(isDataFile(`/ws/${f}`), true, f);
});
