/**
 * `reference.hub` in the run config: exactly one of path and hub, a revision only with hub, ids and
 * revisions checked by the schema; the file checks read a Hub model from the Hugging Face cache only
 * (never the network), and say how it gets there when it is missing. Also `hf://` arguments.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateRunConfig } from '../../server/engine/configCheck.js';
import { InherituneError } from '../../server/engine/errors.js';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { parseHubUri } from '../../server/engine/hub/index.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { planFromConfig } from '../../server/engine/run/plan.js';
import { parseRunConfig } from '../../server/protocol/config.js';
import { tinyGPT2 } from '../helpers/models.js';

let dir: string;
const saved = { HF_HUB_CACHE: process.env.HF_HUB_CACHE, HF_HUB_OFFLINE: process.env.HF_HUB_OFFLINE };
const COMMIT = 'c0ffee'.padEnd(40, '0');

const config = (reference: string) => `reference: ${reference}\ndata: { train: t.bin, val: v.bin, tokenizer: bytes }\ntrain: { block_size: 16 }\nanalysis: { seq_len: 16 }\n`;
const issues = (text: string) => parseRunConfig(text, path.join(dir, 'x.inheritune.yaml')).issues.map((i) => `${i.line}:${i.col} ${i.message}`);

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-hubconfig-'));
  process.env.HF_HUB_CACHE = path.join(dir, 'hub');
  delete process.env.HF_HUB_OFFLINE;
  const bin = Buffer.alloc(200 * 2);
  for (let i = 0; i < 200; i++) bin.writeUInt16LE(i % 250, i * 2);
  fs.writeFileSync(path.join(dir, 't.bin'), bin);
  fs.writeFileSync(path.join(dir, 'v.bin'), bin);
});

after(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('reference.hub parses with revision main by default; exactly one of path and hub; revision only with hub', () => {
  const c = parseRunConfig(config('{ hub: openlm-research/open_llama_3b }'), 'x.inheritune.yaml').config;
  assert.deepEqual(c?.reference, { hub: 'openlm-research/open_llama_3b', revision: 'main' });
  assert.deepEqual(parseRunConfig(config('{ hub: openai-community/gpt2, revision: 607a30d }'), 'x.inheritune.yaml').config?.reference, { hub: 'openai-community/gpt2', revision: '607a30d' });
  assert.deepEqual(issues(config('{ path: ref, hub: a/b }')), ['1:25 give reference.path (a model folder) or reference.hub (a Hub model), not both']);
  assert.deepEqual(issues(config('{}')), ['1:1 missing reference.path (a model folder) or reference.hub (a Hugging Face model id ORG/NAME)']);
  assert.deepEqual(issues(config('{ path: ref, revision: main }')), ['1:25 reference.revision applies to reference.hub only; a folder has no revision']);
  assert.deepEqual(issues(config('{ hub: "a b/c" }')), ['1:19 reference.hub must consist of a Hugging Face model id ORG/NAME (letters, digits, ".", "_", "-"), got "a b/c"']);
  assert.match(issues(config('{ hub: a/b, revision: ../../etc }'))[0], /^1:34 reference\.revision must consist of a branch, tag or commit/);
});

test('the file checks look a Hub model up in the cache only: a miss is reported at reference.hub; a hit is read from its snapshot and pinned', async () => {
  const file = path.join(dir, 'x.inheritune.yaml');
  const miss = await validateRunConfig(config('{ hub: acme/tiny }'), file);
  const folder = path.join(dir, 'hub', 'models--acme--tiny');
  assert.deepEqual(miss.issues.map((i) => `${i.line}:${i.col} ${i.message}`), [`1:19 reference.hub (acme/tiny@main): not in the Hugging Face cache (${folder}) yet: \`inheritune run\` downloads it`]);
  // The cache as a download (or Python) leaves it.
  const snap = path.join(folder, 'snapshots', COMMIT);
  const cfg = tinyGPT2({ vocabSize: 257, nPositions: 32, nLayer: 4 });
  saveGPT2(snap, cfg, initWeightsOf(cfg, 1));
  fs.mkdirSync(path.join(folder, 'refs'));
  fs.writeFileSync(path.join(folder, 'refs', 'main'), COMMIT);
  const hit = await validateRunConfig(config('{ hub: acme/tiny }'), file);
  assert.deepEqual(hit.issues, []);
  assert.deepEqual(hit.config?.reference, { hub: 'acme/tiny', revision: 'main', path: snap, commit: COMMIT });
  assert.equal(hit.config?.target.layers, 2);
  assert.deepEqual(planFromConfig(hit.config!, file).hub, { repo: 'acme/tiny', revision: 'main', commit: COMMIT });
  assert.equal(planFromConfig(hit.config!, file).referenceDir, snap);
});

test('hf:// arguments: ORG/NAME with an optional @revision; anything else is one line naming the argument', () => {
  assert.deepEqual(parseHubUri('hf://openai-community/gpt2', 'arg'), { repo: 'openai-community/gpt2', revision: 'main' });
  assert.deepEqual(parseHubUri('hf://gpt2@refs/pr/1', 'arg'), { repo: 'gpt2', revision: 'refs/pr/1' });
  for (const [bad, detail] of [
    ['hf://a/b/c', /is not a Hugging Face model id/],
    ['hf://a/b@', /revision "" is not a branch/],
    ['hf://a/b@x/../y', /revision "x\/..\/y" is not/],
    ['a/b', /is not a Hub model \(hf:\/\/ORG\/NAME\[@REV\]\)/],
  ] as const) {
    assert.throws(() => parseHubUri(bad, '<modelDir>'), (e: unknown) => e instanceof InherituneError && e.source === '<modelDir>' && detail.test(e.detail), bad);
  }
});
