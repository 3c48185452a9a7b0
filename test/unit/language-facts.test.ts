// The language server's file facts: token files read whole or sampled (exact offsets either way),
// .npy headers, and run folders read incrementally as events.jsonl grows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from '../../server/engine/run/runStore.js';
import { referenceModel, roundModel } from '../../server/protocol/events.js';
import { firstOutOfVocab } from '../../server/engine/configFacts.js';
import { Facts, referenceAnalysis } from '../../server/language/facts.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-facts-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function uint16(ids: ArrayLike<number>): Buffer {
  const buf = Buffer.alloc(ids.length * 2);
  for (let i = 0; i < ids.length; i++) buf.writeUInt16LE(ids[i], i * 2);
  return buf;
}

test('a large .bin is sampled in evenly spaced chunks; offsets stay exact', async () => {
  const n = 100_000;
  const ids = new Uint16Array(n).fill(5);
  const chunk5 = Math.floor((5 * (n - 100)) / 31); // start of the 6th of 32 chunks of 100 tokens
  ids[150] = 999; // between chunks: not in the sample
  ids[chunk5 + 3] = 400;
  const file = path.join(dir, 'big.bin');
  fs.writeFileSync(file, uint16(ids));
  const facts = new Facts({ maxScanTokens: 3200 });
  assert.equal(await facts.ensureData({ file, tokenizer: 'gpt2' }), true);
  const f = facts.dataFile({ file, tokenizer: 'gpt2' });
  assert.ok(f && !f.error);
  assert.equal(f.tokens, n);
  assert.equal(f.idsRead, 3200);
  assert.deepEqual(firstOutOfVocab(f, 257), { id: 400, offset: chunk5 + 3 });
  assert.equal(firstOutOfVocab(f, 401), undefined);
  // Read whole: the first out-of-vocabulary id is found.
  const whole = new Facts();
  await whole.ensureData({ file, tokenizer: 'gpt2' });
  assert.deepEqual(firstOutOfVocab(whole.dataFile({ file, tokenizer: 'gpt2' })!, 257), { id: 999, offset: 150 });
  // Unchanged: not read again.
  assert.equal(await whole.ensureData({ file, tokenizer: 'gpt2' }), false);
  facts.dispose();
  whole.dispose();
});

test('.npy token shards: header checked, ids read after it', async () => {
  const ids = [1, 2, 3, 300, 4];
  let header = `{'descr': '<u2', 'fortran_order': False, 'shape': (${ids.length},), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const prefix = Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from([header.length & 255, header.length >> 8]), Buffer.from(header, 'latin1')]);
  const file = path.join(dir, 'shard.npy');
  fs.writeFileSync(file, Buffer.concat([prefix, uint16(ids)]));
  const facts = new Facts();
  await facts.ensureData({ file, tokenizer: 'gpt2' });
  const f = facts.dataFile({ file, tokenizer: 'gpt2' })!;
  assert.equal(f.tokens, 5);
  assert.deepEqual(firstOutOfVocab(f, 257), { id: 300, offset: 3 });
  fs.writeFileSync(file, Buffer.concat([prefix, uint16(ids.slice(0, 4))]));
  await facts.ensureData({ file, tokenizer: 'gpt2' });
  assert.match(String(facts.dataFile({ file, tokenizer: 'gpt2' })?.error?.message), /header declares 5 uint16 values/);
  facts.dispose();
});

test('run folders: plan, state and the reference analysis, read as events.jsonl grows', () => {
  const out = path.join(dir, 'runs');
  const store = RunStore.create(out, 'grow', 'name: grow\n');
  const refDir = path.join(dir, 'ref');
  fs.writeFileSync(path.join(store.dir, 'plan.json'), JSON.stringify({ configPath: path.join(dir, 'grow.inheritune.yaml'), referenceDir: refDir }));
  const facts = new Facts();
  let [run] = facts.runsIn(out);
  assert.equal(run.state, 'incomplete');
  assert.equal(referenceAnalysis(facts.runsIn(out), refDir), undefined);
  const layer = (l: number, lazy: boolean) => ({ layer: l, maxRank: lazy ? 1 : 3, avgMass: 2, lazy, heads: [] });
  for (let step = 1; step <= 3; step++) {
    store.append({ type: 'metrics', model: roundModel(1, 2), step, steps: 3, trainLoss: 1, lr: 1, gradNorm: 1, tokensPerSec: 1, tokensSeen: step });
  }
  store.append({ type: 'attention', model: referenceModel(2), step: 0, tau: 0.9, eta: 0.9, sequences: 1, seqLen: 4, layers: [layer(0, false), layer(1, true)], file: 'a' });
  const a = referenceAnalysis(facts.runsIn(out), refDir);
  assert.deepEqual(a?.lazyLayers, [2]);
  assert.equal(a?.seq, 4);
  // A torn last line is not read until whole.
  fs.appendFileSync(path.join(store.dir, 'events.jsonl'), '{"runId":"x","seq":5,"time":"2026-11-26T12:00:00.000Z","type":"runFail');
  [run] = facts.runsIn(out);
  assert.equal(run.state, 'incomplete');
  fs.appendFileSync(path.join(store.dir, 'events.jsonl'), 'ed","error":"boom","interrupted":false}\n');
  [run] = facts.runsIn(out);
  assert.equal(run.state, 'failed');
  assert.equal(run.configPath, path.join(dir, 'grow.inheritune.yaml'));
  facts.dispose();
});
