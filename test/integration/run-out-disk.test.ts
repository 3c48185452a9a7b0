/**
 * `inheritune run --out DIR` checks free disk in DIR, the folder the run writes, not in the
 * config's runtime.out_dir. Two file systems with different free space stand in for a nearly full
 * disk: the config's out_dir on the roomier one, --out on the other, and a run whose estimated disk
 * lies between the two.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRunConfig } from '../../server/engine/configCheck.js';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { freeDiskBytes } from '../../server/engine/resources.js';
import { tinyGPT2 } from '../helpers/models.js';
import { REPO, runCli } from '../helpers/cli.js';

const VAL_TEXT = path.join(REPO, 'examples', 'data', 'val.jsonl');
const SMALL_FS = '/dev/shm';

let dir: string;
let outDir: string;

const config = (steps: number) => `name: disk
reference: { path: ref }
target: { layers: 1 }
grow: { enabled: false }
data: { train: ${VAL_TEXT}, val: ${VAL_TEXT}, tokenizer: bytes }
train: { steps: ${steps}, batch_tokens: 64, micro_batch: 4, block_size: 16, warmup: 1 }
baselines: []
analysis: { every: 1, sequences: 1, seq_len: 16 }
runtime: { out_dir: runs, backend: wasm }
`;

/** Estimated disk of the config with `steps` (the checks themselves off). */
async function diskOf(steps: number): Promise<number> {
  const file = path.join(dir, `probe-${steps}.inheritune.yaml`);
  fs.writeFileSync(file, config(steps));
  process.env.INHERITUNE_SKIP_RESOURCE_CHECK = '1';
  try {
    const { estimate } = await loadRunConfig(file, { cacheDir: path.join(dir, 'cache') });
    assert.ok(estimate);
    return estimate.disk.total;
  } finally {
    delete process.env.INHERITUNE_SKIP_RESOURCE_CHECK;
  }
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-outdisk-'));
  const ref = tinyGPT2({ vocabSize: 257, nPositions: 16 });
  saveGPT2(path.join(dir, 'ref'), ref, initWeightsOf(ref, 1));
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
});

test('run --out on a file system with too little free space is refused before any work, naming that folder', async (t) => {
  const small = fs.existsSync(SMALL_FS) ? freeDiskBytes(SMALL_FS) : undefined;
  const large = freeDiskBytes(dir);
  if (small === undefined || large === undefined || small * 1.5 > large) {
    t.skip(`needs ${SMALL_FS} with well under the free space of ${os.tmpdir()}`);
    return;
  }
  // Disk grows linearly with the analyses (one per step): pick steps that land between the two.
  const base = await diskOf(1000);
  const perStep = ((await diskOf(2000)) - base) / 1000;
  const steps = 1000 + Math.ceil((Math.sqrt(small * large) - base) / perStep);
  fs.writeFileSync(path.join(dir, 'disk.inheritune.yaml'), config(steps));
  outDir = fs.mkdtempSync(path.join(SMALL_FS, 'inheritune-out-'));

  const r = await runCli(['run', 'disk.inheritune.yaml', '--out', outDir], { cwd: dir, env: { INHERITUNE_CACHE_DIR: path.join(dir, 'cache') }, timeoutMs: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`disk\\.inheritune\\.yaml:9:\\d+: the run writes about .* but .* is free in ${outDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`));
  assert.deepEqual(fs.readdirSync(outDir), [], 'no run folder is created');
  assert.ok(!fs.existsSync(path.join(dir, 'runs')));
});
