/** `inheritune analyze --convention`: the authors' rank of the mean matrix beside the paper's mean of ranks, and the near-lazy column. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { runCli } from '../helpers/cli.js';

const ROOT = path.resolve('test/fixtures/tasks');
const ARGS = ['analyze', path.join(ROOT, 'model'), '--data', path.resolve('examples/tasks/lambada.jsonl'), '--tokenizer', 'bytes', '--sequences', '3', '--seq-len', '40', '--backend', 'cpu'];

interface Result {
  convention: string;
  layers: { maxRank: number; lazy: boolean; nearLazy: boolean; heads: { rank: number }[] }[];
}

test('analyze --convention rank-of-mean gives whole-number ranks of the mean matrices; the default is mean-of-ranks; the table says which', async () => {
  const runs = await Promise.all([runCli([...ARGS, '--json']), runCli([...ARGS, '--json', '--convention', 'rank-of-mean'])]);
  for (const r of runs) assert.equal(r.status, 0, r.stderr);
  const [ofRanks, ofMean] = runs.map((r) => JSON.parse(r.stdout) as Result);
  assert.equal(ofRanks.convention, 'mean-of-ranks');
  assert.equal(ofMean.convention, 'rank-of-mean');
  for (const l of ofMean.layers) for (const h of l.heads) assert.ok(Number.isInteger(h.rank), `rank of a mean matrix is a count: ${h.rank}`);
  for (const l of [...ofRanks.layers, ...ofMean.layers]) assert.equal(l.nearLazy, Math.floor(l.maxRank) === 1);
  const table = await runCli([...ARGS, '--convention', 'rank-of-mean']);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^layer {2}MaxRank {2}AvgMass {2}lazy {2}\(tau 0\.9, eta 0\.9, 3 windows of 40 tokens, rank-of-mean\)\n/);
  assert.match(table.stdout, /Note: analysis on 3 windows of 40 tokens, fewer than the paper's 100 x 100 because --sequences \/ --seq-len ask for it\.\n$/);
  const bad = await runCli([...ARGS, '--convention', 'median']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--convention <c>' argument 'median' is invalid. Allowed choices are mean-of-ranks, rank-of-mean/);
});
