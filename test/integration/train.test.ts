/**
 * Training on the shipped English text: loss goes down, tensors do not leak, and a run killed
 * with SIGKILL resumes from its checkpoint to the same result as an uninterrupted run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../server/engine/tf.js';
import { initBackend } from '../../server/engine/backend.js';
import { loadTokens } from '../../server/engine/data/tokens.js';
import { contiguousStarts } from '../../server/engine/data/windows.js';
import { GPT2 } from '../../server/engine/gpt2.js';
import type { GPT2Config } from '../../server/engine/gpt2Config.js';
import { loadGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { readTrainingCheckpoint } from '../../server/engine/train/checkpoint.js';
import { Trainer, type TrainConfig } from '../../server/engine/train/trainer.js';
import { tinyGPT2 } from '../helpers/models.js';
import { REPO, runCliEvents, type CliEventsResult } from '../helpers/cli.js';

const VAL_TEXT = path.join(REPO, 'examples', 'data', 'val.jsonl');

const tinyConfig: GPT2Config = tinyGPT2({ vocabSize: 257, nPositions: 32, nEmbd: 32 });

const trainConfig: TrainConfig = {
  steps: 40,
  batchTokens: 256,
  microBatch: 4,
  blockSize: 32,
  lr: 3e-3,
  minLr: 3e-4,
  warmup: 5,
  weightDecay: 0.1,
  betas: [0.9, 0.95],
  gradClip: 1.0,
  evalEvery: 0,
  seed: 3,
  checkpointEvery: 0,
};

async function englishTokens(): Promise<{ train: Uint16Array | number[]; val: Uint16Array | number[] }> {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-cache-'));
  try {
    const tokens = Array.from(await loadTokens(VAL_TEXT, { tokenizer: 'bytes', cacheDir }));
    // First 90% to train on, the rest held out.
    const cut = Math.floor(tokens.length * 0.9);
    return { train: tokens.slice(0, cut), val: tokens.slice(cut) };
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

test('training on English text lowers held-out loss and keeps the tensor count flat across steps', async (t) => {
  await initBackend('wasm');
  const { train, val } = await englishTokens();
  const valStarts = contiguousStarts(val.length, trainConfig.blockSize, true, 16);
  const model = new GPT2(tinyConfig, initWeightsOf(tinyConfig, 3));
  const trainer = new Trainer(model, trainConfig, { train, val, valStarts });
  const before = await trainer.evaluate();
  const counts: number[] = [];
  const result = await trainer.run({ callbacks: { onStep: (m) => void (m.step >= 10 && counts.push(tf.memory().numTensors)) } });
  model.dispose();
  const after = result.valLoss as number;
  t.diagnostic(`val loss ${before.toFixed(4)} -> ${after.toFixed(4)}; tensors per step ${counts[0]}..${counts[counts.length - 1]}`);
  assert.ok(before > 5.3, `a fresh byte-level model starts near ln(257) = 5.55, got ${before}`);
  assert.ok(after < before - 1.5, `40 steps on English text should cut val loss by > 1.5 nats: ${before} -> ${after}`);
  assert.equal(new Set(counts).size, 1, `tensor count changed across steps: ${counts.join(', ')}`);
});

type CliRun = CliEventsResult<Record<string, unknown>>;

/** `inheritune pretrain --json`; `killAfterCheckpointAt` SIGKILLs it once that step's checkpoint is reported. */
const pretrain = (args: string[], killAfterCheckpointAt?: number): Promise<CliRun> =>
  runCliEvents<Record<string, unknown>>(['pretrain', ...args, '--json'], {
    kill: (e) => killAfterCheckpointAt !== undefined && e.type === 'checkpoint' && e.step === killAfterCheckpointAt,
  });

test('a pretrain run killed with SIGKILL resumes from its checkpoint and ends equal to an uninterrupted run', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-resume-'));
  const cacheEnv = process.env.INHERITUNE_CACHE_DIR;
  process.env.INHERITUNE_CACHE_DIR = path.join(dir, 'cache');
  try {
    const common = [
      '--data', VAL_TEXT, '--val', VAL_TEXT, '--tokenizer', 'bytes', '--backend', 'wasm',
      '--layers', '2', '--d-model', '32', '--heads', '2', '--block-size', '32',
      '--steps', '16', '--batch-tokens', '256', '--micro-batch', '4', '--warmup', '4',
      '--eval-every', '8', '--eval-windows', '8', '--checkpoint-every', '4', '--seed', '5',
    ];
    const straight = await pretrain([...common, '--out', path.join(dir, 'straight')]);
    assert.equal(straight.status, 0, straight.stderr);

    const out = path.join(dir, 'killed');
    const killed = await pretrain([...common, '--out', out], 8);
    assert.equal(killed.signal, 'SIGKILL', `expected the run to be killed; stderr: ${killed.stderr}`);
    assert.ok(!fs.existsSync(out), 'a killed run must not leave a final model behind');
    const ckpt = readTrainingCheckpoint(`${out}.checkpoint`);
    assert.ok(ckpt.step >= 8 && ckpt.step < 16, `checkpoint step ${ckpt.step}`);

    const resumed = await pretrain([...common, '--out', out, '--resume']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`resuming at step ${ckpt.step}`));
    const resumedSteps = resumed.events.filter((e) => e.type === 'metrics').map((e) => e.step);
    assert.deepEqual(resumedSteps, Array.from({ length: 16 - ckpt.step }, (_, i) => ckpt.step + i + 1), 'the resumed run continues at the next step');

    // The loss curve continues: the same step's train loss and the final val loss agree with the straight run.
    const lossAt = (r: CliRun, step: number) => r.events.find((e) => e.type === 'metrics' && e.step === step)?.trainLoss as number;
    for (let step = ckpt.step + 1; step <= 16; step++) {
      assert.ok(Math.abs(lossAt(resumed, step) - lossAt(straight, step)) < 1e-4, `train loss at step ${step}: ${lossAt(resumed, step)} vs ${lossAt(straight, step)}`);
    }
    const finalVal = (r: CliRun) => r.events.find((e) => e.type === 'done')?.valLoss as number;
    assert.ok(Math.abs(finalVal(resumed) - finalVal(straight)) < 1e-4, `final val loss ${finalVal(resumed)} vs ${finalVal(straight)}`);
    const a = loadGPT2(path.join(dir, 'straight')).tensors;
    const b = loadGPT2(out).tensors;
    let maxDiff = 0;
    for (const [name, t] of a) {
      const u = b.get(name)!.data;
      t.data.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - u[i]))));
    }
    t.diagnostic(`resumed from step ${ckpt.step}; final val loss ${finalVal(resumed)} vs ${finalVal(straight)}; max weight diff ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff < 1e-4, `weights differ by ${maxDiff}`);
  } finally {
    if (cacheEnv === undefined) delete process.env.INHERITUNE_CACHE_DIR;
    else process.env.INHERITUNE_CACHE_DIR = cacheEnv;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
