/**
 * Training on the webgpu backend (here Mesa's software adapter, lavapipe; any adapter where one
 * exists): the loss curve equals the cpu backend's step by step, the tensor count stays flat, a GPU
 * limit is refused naming the op, and a whole `inheritune run` streams through the training server.
 * The parity fixtures run on webgpu in the *-parity tests. Skipped, with the reason, without an adapter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../server/engine/tf.js';
import { initBackend } from '../../server/engine/backend.js';
import { contiguousStarts } from '../../server/engine/data/windows.js';
import { GPT2 } from '../../server/engine/gpt2.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { Trainer, type TrainConfig } from '../../server/engine/train/trainer.js';
import { timeMatmuls } from '../../server/engine/webgpu/probe.js';
import { adapterFromChild, findAdapter } from '../../server/engine/webgpu/device.js';
import { tinyGPT2 } from '../helpers/models.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';
import { runCli } from '../helpers/cli.js';
import { Client, Fixture, ServerProcess, storedEvents, streamProblem } from './server-harness.js';

const config = tinyGPT2({ vocabSize: 97, nPositions: 16, nEmbd: 32 });
const STEPS = 20;
const trainConfig: TrainConfig = {
  steps: STEPS,
  batchTokens: 64,
  microBatch: 2,
  blockSize: 16,
  lr: 1e-2,
  minLr: 1e-3,
  warmup: 2,
  weightDecay: 0.1,
  betas: [0.9, 0.95],
  gradClip: 0.5,
  evalEvery: 10,
  seed: 5,
  checkpointEvery: 0,
};
// A repeating pattern: learnable in a few steps, so the curve has something to follow.
const tokens = Array.from({ length: 4000 }, (_, i) => ((i % 13) * 7) % config.vocabSize);

/** Per-step losses and gradient norms, the final val loss, and the tensor count after each step. */
async function train(backend: 'cpu' | 'webgpu') {
  assert.equal(await initBackend(backend), backend);
  const model = new GPT2(config, initWeightsOf(config, 7));
  const trainer = new Trainer(model, trainConfig, { train: tokens, val: tokens, valStarts: contiguousStarts(tokens.length, 16, true, 8) });
  const losses: number[] = [];
  const norms: number[] = [];
  const counts: number[] = [];
  try {
    const r = await trainer.run({
      callbacks: {
        onStep: (m) => {
          losses.push(m.trainLoss);
          norms.push(m.gradNorm);
          counts.push(tf.memory().numTensors);
        },
      },
    });
    return { losses, norms, counts, valLoss: r.valLoss as number };
  } finally {
    trainer.optimizer.dispose();
    model.dispose();
  }
}

test(`${STEPS} training steps on webgpu: the loss curve equals cpu's within 1e-4 per step, and the tensor count stays flat`, { timeout: 120_000 }, async (t) => {
  const unavailable = await webgpuUnavailable();
  if (unavailable !== undefined) return t.skip(unavailable);
  const cpu = await train('cpu');
  const gpu = await train('webgpu');
  const diffs = cpu.losses.map((l, i) => Math.abs(l - gpu.losses[i]));
  const worst = Math.max(...diffs);
  t.diagnostic(`loss ${cpu.losses[0].toFixed(4)} -> ${cpu.losses.at(-1)!.toFixed(4)}; max |diff| per step ${worst.toExponential(2)}; val ${cpu.valLoss.toFixed(5)} vs ${gpu.valLoss.toFixed(5)}; tensors ${gpu.counts[1]}..${gpu.counts.at(-1)}`);
  assert.equal(gpu.losses.length, STEPS);
  assert.ok(cpu.losses.at(-1)! < cpu.losses[0] - 0.3, `the model learns: ${cpu.losses[0]} -> ${cpu.losses.at(-1)}`);
  assert.ok(worst <= 1e-4, `per-step loss |diff| up to ${worst} (step ${diffs.indexOf(worst) + 1}): ${diffs.map((d) => d.toExponential(1)).join(' ')}`);
  for (const [i, n] of gpu.norms.entries()) assert.ok(Math.abs(n - cpu.norms[i]) <= 1e-3 * Math.max(1, cpu.norms[i]), `step ${i + 1}: gradient norm ${n} vs ${cpu.norms[i]}`);
  assert.ok(Math.abs(cpu.valLoss - gpu.valLoss) <= 1e-4, `val loss ${gpu.valLoss} vs ${cpu.valLoss}`);
  // After the first step (AdamW's moments exist from the start; evaluation at step 10 leaves nothing behind).
  assert.equal(new Set(gpu.counts.slice(1)).size, 1, `tensor count changed across steps: ${gpu.counts.join(', ')}`);
});

test('a tensor beyond the adapter\'s binding limit is refused with one error naming the op and the limit', { timeout: 60_000 }, async (t) => {
  const unavailable = await webgpuUnavailable();
  if (unavailable !== undefined) return t.skip(unavailable);
  assert.equal(await initBackend('webgpu'), 'webgpu');
  const before = tf.memory().numTensors;
  // 2^26 floats = 256 MiB: beyond lavapipe's 128 MiB (and WebGPU's default); a GPU with larger bindings computes it.
  const x = tf.ones([2 ** 13, 2 ** 13]);
  try {
    const y = x.mul(2);
    const v = await y.max().data();
    y.dispose();
    assert.equal(v[0], 2);
  } catch (e) {
    assert.match(String(e), /^InherituneError: webgpu: \w+: a tensor of shape \[8192, 8192\] \(256\.0 MiB\) exceeds this adapter's maxStorageBufferBindingSize/);
  } finally {
    x.dispose();
  }
  assert.ok(tf.memory().numTensors <= before + 1);
});

test('a GPU error reported by the device is thrown at the next op, naming the op it followed', { timeout: 60_000 }, async (t) => {
  const unavailable = await webgpuUnavailable();
  if (unavailable !== undefined) return t.skip(unavailable);
  assert.equal(await initBackend('webgpu'), 'webgpu');
  const x = tf.tensor1d([1, 2, 3]);
  const y = x.add(1);
  await y.data();
  // An invalid buffer (no usage flags): a validation error WebGPU only reports asynchronously.
  const { device } = tf.backend() as unknown as { device: GPUDevice };
  device.createBuffer({ size: 4, usage: 0 });
  await device.queue.onSubmittedWorkDone();
  await new Promise((resolve) => setTimeout(resolve, 50));
  try {
    await assert.rejects(async () => {
      const z = x.mul(2);
      try {
        await z.data();
      } finally {
        z.dispose();
      }
    }, /^InherituneError: webgpu: after \w+: Buffer usages must not be 0/);
    // Thrown once: the backend goes on working.
    const w = x.mul(3);
    assert.deepEqual(Array.from(await w.data()), [3, 6, 9]);
    w.dispose();
  } finally {
    x.dispose();
    y.dispose();
  }
});

test('a whole inheritune run with runtime.backend webgpu streams through the training server to a client', { timeout: 300_000 }, async (t) => {
  const unavailable = await webgpuUnavailable();
  if (unavailable !== undefined) return t.skip(unavailable);
  const f = Fixture.create();
  const server = await ServerProcess.start(f);
  try {
    const c = await Client.connect(server.url);
    const configPath = f.writeConfig({ name: 'gpu', steps: 6, evalEvery: 3, analysisEvery: 3, checkpointEvery: 3, backend: 'webgpu' });
    const queued = await c.request({ type: 'startRun', configPath });
    assert.equal(queued.type, 'runQueued', JSON.stringify(queued));
    if (queued.type !== 'runQueued') return;
    const { runId, dir } = queued.run;
    c.send({ type: 'subscribe', runId, fromSeq: 1 });
    await c.waitForEnd(runId);
    const stored = storedEvents(dir);
    const started = stored.find((e) => e.type === 'runStarted');
    assert.equal(started?.type === 'runStarted' && started.backend, 'webgpu');
    assert.ok(stored.some((e) => e.type === 'log' && /^webgpu adapter: /.test(e.message)), 'the adapter is logged');
    assert.equal(stored.at(-1)?.type, 'runFinished', JSON.stringify(stored.at(-1)));
    for (const type of ['metrics', 'eval', 'attention', 'modelFinished'] as const) assert.ok(stored.some((e) => e.type === type), `a ${type} event`);
    assert.equal(streamProblem(c.events(runId), stored, 1), undefined);
    c.close();
  } finally {
    await server.stop();
    f.remove();
  }
});

test('the CLI on --backend webgpu: pretrain writes a model, eval and analyze read it, bench prints its JSON; each process ends', { timeout: 240_000 }, async (t) => {
  const unavailable = await webgpuUnavailable();
  if (unavailable !== undefined) return t.skip(unavailable);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-webgpu-cli-'));
  try {
    const data = path.join(dir, 'data.txt');
    fs.writeFileSync(data, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
    const out = path.join(dir, 'model');
    const env = { ...process.env, INHERITUNE_CACHE_DIR: path.join(dir, 'cache') };
    const gpu = ['--backend', 'webgpu', '--tokenizer', 'bytes'];
    const pre = await runCli(['pretrain', ...gpu, '--data', data, '--val', data, '--vocab', '257', '--layers', '1', '--d-model', '16', '--heads', '2', '--block-size', '8', '--steps', '3', '--batch-tokens', '16', '--micro-batch', '2', '--out', out], { env });
    assert.equal(pre.status, 0, pre.stderr);
    assert.match(pre.stderr, /webgpu adapter: .*limits: storage binding \d+ MiB/);
    assert.match(pre.stderr, /backend: webgpu/);
    const ev = await runCli(['eval', out, '--data', data, ...gpu, '--block-size', '8', '--json'], { env });
    assert.equal(ev.status, 0, ev.stderr);
    const e = JSON.parse(ev.stdout.trim()) as { valLoss: number; backend: string };
    assert.equal(e.backend, 'webgpu');
    const evCpu = await runCli(['eval', out, '--data', data, '--backend', 'cpu', '--tokenizer', 'bytes', '--block-size', '8', '--json'], { env });
    assert.ok(Math.abs(e.valLoss - (JSON.parse(evCpu.stdout.trim()) as { valLoss: number }).valLoss) <= 1e-4, `eval on webgpu ${e.valLoss} vs cpu: ${evCpu.stdout}`);
    const an = await runCli(['analyze', out, '--data', data, ...gpu, '--sequences', '2', '--seq-len', '8', '--json'], { env });
    assert.equal(an.status, 0, an.stderr);
    assert.equal((JSON.parse(an.stdout.trim().split('\n').at(-1)!) as { layers: unknown[] }).layers.length, 1);
    const bench = await runCli(['bench', '--backend', 'webgpu', '--shape', 'L1,d16,h2,T8,B2,V64', '--steps', '2', '--warmup', '1', '--json'], { env });
    assert.equal(bench.status, 0, bench.stderr);
    const b = JSON.parse(bench.stdout.trim()) as { config: string; backend: string; tokens_per_s: number; note: string };
    assert.equal(b.config, 'shape');
    assert.equal(b.backend, 'webgpu');
    assert.ok(b.tokens_per_s > 0);
    assert.match(b.note, /^webgpu adapter: /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('auto\'s probe times the same products on the CPU path and on webgpu, leaving no tensor behind', { timeout: 60_000 }, async (t) => {
  const unavailable = await webgpuUnavailable();
  if (unavailable !== undefined) return t.skip(unavailable);
  for (const backend of ['wasm', 'webgpu'] as const) {
    assert.equal(await initBackend(backend), backend);
    const before = tf.memory().numTensors;
    const seconds = await timeMatmuls([[64, 32, 96], [64, 128, 32]], 2);
    assert.ok(seconds > 0 && seconds < 10, `${backend}: ${seconds} s`);
    assert.equal(tf.memory().numTensors, before, `${backend}: the probe leaked tensors`);
  }
});

test('auto reads the adapter in a child process as findAdapter does here, and loads no Dawn into its own process for a software one', { timeout: 120_000 }, async (t) => {
  const unavailable = await webgpuUnavailable();
  if (unavailable !== undefined) return t.skip(unavailable);
  const here = await findAdapter();
  assert.ok(!('unavailable' in here));
  assert.deepEqual(await adapterFromChild(), here.summary);
  if (!here.summary.fallback || process.platform !== 'linux') return;
  // A fresh process: auto on the software adapter, then which shared objects it has mapped.
  const script = [
    "const { initBackend } = require('./server/engine/backend.ts');",
    'const notices = [];',
    "initBackend('auto', { onNotice: (l) => notices.push(l) }).then(() => {",
    "  const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8');",
    '  console.log(JSON.stringify({ notices, dawn: /dawn|libvulkan/.test(maps) }));',
    '});',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { notices: string[]; dawn: boolean };
  assert.ok(out.notices.some((l) => l.startsWith('webgpu not used (') && l.includes('software adapter')), out.notices.join('\n'));
  assert.equal(out.dawn, false, 'Dawn or the Vulkan loader is mapped in the process');
});
