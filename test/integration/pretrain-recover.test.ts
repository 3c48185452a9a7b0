/**
 * pretrain --resume after a kill between the two renames of a checkpoint switch (the checkpoint
 * folder moved to its `.old` temporary name, the new one not yet in place): the complete previous
 * checkpoint is put back and training resumes from it instead of starting over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readTrainingCheckpoint } from '../../server/engine/train/checkpoint.js';
import { REPO, runCliEvents } from '../helpers/cli.js';

const VAL_TEXT = path.join(REPO, 'examples', 'data', 'val.jsonl');

test('pretrain --resume restores a checkpoint left under its .old name by a kill mid-switch, and resumes from its step', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-prerecover-'));
  try {
    const common = [
      'pretrain', '--data', VAL_TEXT, '--val', VAL_TEXT, '--tokenizer', 'bytes', '--backend', 'wasm',
      '--layers', '1', '--d-model', '16', '--heads', '2', '--block-size', '16',
      '--steps', '8', '--batch-tokens', '64', '--micro-batch', '4', '--warmup', '1',
      '--eval-every', '0', '--eval-windows', '2', '--checkpoint-every', '2', '--out', path.join(dir, 'model'), '--json',
    ];
    const env = { INHERITUNE_CACHE_DIR: path.join(dir, 'cache') };
    const killed = await runCliEvents<Record<string, unknown>>(common, { env, kill: (e) => e.type === 'checkpoint' && e.step === 4 });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const ckpt = path.join(dir, 'model.checkpoint');
    const step = readTrainingCheckpoint(ckpt).step;
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    fs.renameSync(ckpt, path.join(dir, `.model.checkpoint.tmp-${dead}-cut.old`));
    fs.mkdirSync(path.join(dir, `.model.checkpoint.tmp-${dead}-cut`));

    const resumed = await runCliEvents<Record<string, unknown>>([...common, '--resume'], { env });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`resuming at step ${step}`));
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp-')), [], 'no temporaries left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
