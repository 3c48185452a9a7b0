/**
 * runtime.nproc: 2 on the CPU (torchrun, gloo): a rank SIGKILLed mid-run ends the task as stopped with
 * the worker's failure as the reason (the loop records runFailed{interrupted}, resumable), within the
 * collective timeout rather than hanging; training resumes from the last checkpoint to the end. A stop
 * (SIGTERM to torchrun, forwarded to the ranks) checkpoints at a step boundary every rank agrees on.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../server/engine/backend.js';
import { contiguousStarts } from '../../server/engine/data/windows.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { TFJS_ENGINE, type EngineOutcome } from '../../server/engine/train/engine.js';
import { TorchEngine } from '../../server/engine/train/torchEngine.js';
import type { TrainConfig, TrainData } from '../../server/engine/train/trainer.js';
import { tinyGPT2 } from '../helpers/models.js';
import { TEST_PYTHON, torchMissing } from '../helpers/torch.js';
import { roundModel } from '../../server/protocol/events.js';

let dir: string;
let skip: string | undefined;

before(async () => {
  skip = await torchMissing();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-torchdist-'));
  await initBackend('wasm');
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Pids of processes whose command line mentions `needle` and whose environment has RANK=`rank`. */
function ranksRunning(needle: string, rank: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmd.includes(needle) || !cmd.includes('train')) continue;
      if (fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`RANK=${rank}`)) out.push(Number(entry));
    } catch {
      // Gone, or not ours.
    }
  }
  return out;
}

const vocab = 64;
const train: TrainConfig = { steps: 12, batchTokens: 256, microBatch: 4, blockSize: 16, lr: 1e-3, minLr: 1e-4, warmup: 2, weightDecay: 0.1, betas: [0.9, 0.95], gradClip: 1, evalEvery: 0, seed: 1, checkpointEvery: 2 };
const config = tinyGPT2({ vocabSize: vocab });

/** A two-process torch engine working in `dir`/`name`, and a task checkpointing into `dir`/`name`-ckpt. */
function setup(name: string) {
  const tokens = Array.from({ length: 6000 }, (_, i) => (i * 7 + ((i * i) % 13)) % vocab);
  const data: TrainData = { train: tokens, val: tokens.slice(0, 1000), valStarts: contiguousStarts(1000, 16, true, 8) };
  const work = path.join(dir, name);
  const engine = new TorchEngine({ ...TFJS_ENGINE, name: 'torch', python: TEST_PYTHON, nproc: 2 }, work, data);
  const task = { model: roundModel(1, 2), train, checkpointDir: path.join(dir, `${name}-ckpt`), weights: () => ({ config, tensors: initWeightsOf(config, 3) }) };
  return { engine, task, jobFile: path.join(work, 'round-1.job.json') };
}

test('a rank killed mid-run stops the task (resumable) instead of hanging; a resume trains to the end', async (t) => {
  if (skip) return t.skip(skip);
  if (!fs.existsSync('/proc/self/environ')) return t.skip('needs /proc to find the rank');
  const { engine, task, jobFile } = setup('killed');
  let killed = 0;
  const started = Date.now();
  const first: EngineOutcome = await engine.train(task, {
    onCheckpoint: (e) => {
      if (e.step !== 4 || killed) return;
      for (const pid of ranksRunning(jobFile, 1)) {
        process.kill(pid, 'SIGKILL');
        killed += 1;
      }
    },
  });
  assert.equal(killed, 1, 'rank 1 was found and killed');
  assert.ok(first.stopped, 'the task stopped');
  assert.match(first.reason ?? '', /torch worker \(pid \d+\) stopped/);
  t.diagnostic(`stopped ${((Date.now() - started) / 1000).toFixed(1)} s after start: ${first.reason}`);
  assert.ok(first.step < train.steps);

  const second = await engine.train(task, {});
  assert.ok(!second.stopped && second.step === train.steps);
  second.model.dispose();
});

test('a stop (SIGTERM to torchrun) checkpoints every rank at one step boundary and ends cleanly; a resume trains to the end', async (t) => {
  if (skip) return t.skip(skip);
  const { engine, task } = setup('stopped');
  const abort = new AbortController();
  const first = await engine.train({ ...task, signal: abort.signal }, { onStep: (m) => m.step === 3 && abort.abort() });
  assert.ok(first.stopped && first.reason === undefined, `a clean stop: ${first.stopped ? first.reason : 'not stopped'}`);
  assert.ok(first.step >= 3 && first.step < train.steps);
  const second = await engine.train(task, {});
  assert.ok(!second.stopped && second.step === train.steps);
  second.model.dispose();
});
