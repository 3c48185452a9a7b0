/**
 * A run killed in the middle of replacing a checkpoint (between writeDirAtomic's two renames:
 * checkpoints/round-1 already moved to its `.old` name, the new version not yet in place) resumes
 * from the restored previous checkpoint, with a `resumed` event and without training round 1 again
 * from step 1; the temporaries the killed writer left (.round-1.tmp-*, .model.tmp-*, attention
 * .json.tmp-*) are removed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import type { RunEvent } from '../../server/protocol/events.js';
import { tinyGPT2 } from '../helpers/models.js';
import { REPO, runCliEvents } from '../helpers/cli.js';

const VAL_TEXT = path.join(REPO, 'examples', 'data', 'val.jsonl');

const CONFIG = `name: recover
reference: { path: ref }
target: { layers: 1 }
grow: { enabled: false }
data: { train: ${VAL_TEXT}, val: ${VAL_TEXT}, tokenizer: bytes }
train: { steps: 8, batch_tokens: 64, micro_batch: 4, block_size: 16, warmup: 1, eval_every: 4, eval_windows: 4 }
baselines: []
analysis: { sequences: 1, seq_len: 16 }
runtime: { out_dir: runs, checkpoint_every: 1, backend: wasm }
`;

let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-recover-'));
  const ref = tinyGPT2({ vocabSize: 257, nPositions: 16 });
  saveGPT2(path.join(dir, 'ref'), ref, initWeightsOf(ref, 3));
  fs.writeFileSync(path.join(dir, 'recover.inheritune.yaml'), CONFIG);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

const inheritune = (args: string[], kill?: (e: RunEvent) => boolean) =>
  runCliEvents<RunEvent>(args, { cwd: dir, env: { INHERITUNE_CACHE_DIR: path.join(dir, 'cache') }, kill });

/** Every name under `d` (recursively) that an atomic writer uses for its temporaries. */
function temporaries(d: string): string[] {
  return (fs.readdirSync(d, { recursive: true }) as string[]).filter((n) => /^\..*\.tmp-\d+-/.test(path.basename(n)));
}

test('a checkpoint switch cut between its two renames is restored at resume: resumed from that step, round 1 not retrained, no temporaries left', async () => {
  const killed = await inheritune(['run', 'recover.inheritune.yaml', '--json'], (e) => e.type === 'checkpoint' && e.model.label === 'round-1' && e.step === 3);
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const runDir = path.join(dir, 'runs', killed.events[0].runId);

  // The state on disk of a writer (a process now gone) killed between target -> .old and tmp -> target.
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  const ckpts = path.join(runDir, 'checkpoints');
  const tmp = path.join(ckpts, `.round-1.tmp-${dead}-k1ll3d`);
  fs.renameSync(path.join(ckpts, 'round-1'), `${tmp}.old`);
  fs.mkdirSync(tmp);
  fs.writeFileSync(path.join(tmp, 'model.safetensors'), 'half written');
  // And what other killed writers leave: a half-built final model, an attention file.
  fs.mkdirSync(path.join(runDir, `.model.tmp-${dead}-abc123`));
  fs.writeFileSync(path.join(runDir, 'attention', `.round-1-step0.json.tmp-${dead}-x9`), '{');
  // Not ours: names that merely look alike stay.
  fs.writeFileSync(path.join(runDir, 'notes.tmp-1-a'), 'mine');

  const resumed = await inheritune(['run', '--resume', runDir, '--json']);
  assert.equal(resumed.status, 0, resumed.stderr);
  const r = resumed.events.find((e) => e.type === 'resumed');
  assert.ok(r?.type === 'resumed' && r.model?.label === 'round-1', `a resumed event for round-1: ${JSON.stringify(resumed.events.map((e) => e.type))}`);
  assert.ok(r.fromStep >= 2 && r.fromStep <= 3, `resumed from the checkpoint before the cut one, got ${r.fromStep}`);
  const steps = resumed.events.flatMap((e) => (e.type === 'metrics' && e.model.label === 'round-1' ? [e.step] : []));
  assert.ok(!steps.includes(1), `round 1 was trained again from step 1: ${steps.join(',')}`);
  assert.ok(resumed.events.some((e) => e.type === 'log' && /checkpoints\/round-1: restored its previous complete version/.test(e.message)));
  assert.deepEqual(temporaries(runDir), [], 'no temporaries left in the run folder');
  assert.equal(fs.readFileSync(path.join(runDir, 'notes.tmp-1-a'), 'utf8'), 'mine');
});
