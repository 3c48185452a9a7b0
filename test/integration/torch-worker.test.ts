/**
 * The torch worker's edges: a stdout line that is not a worker event fails the task naming the worker
 * and is never relayed; scripts/device/torch-bench.sh --smoke runs the worker's training step (and
 * the peer, when ../shared/bench/torch_peer.py is there) on tiny shapes on the CPU.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../server/engine/backend.js';
import { contiguousStarts } from '../../server/engine/data/windows.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { TFJS_ENGINE } from '../../server/engine/train/engine.js';
import { TorchEngine } from '../../server/engine/train/torchEngine.js';
import { REPO } from '../helpers/cli.js';
import { tinyGPT2 } from '../helpers/models.js';
import { TEST_PYTHON, torchMissing } from '../helpers/torch.js';
import { roundModel } from '../../server/protocol/events.js';

let dir: string;
let skip: string | undefined;

before(async () => {
  skip = await torchMissing();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-torchworker-'));
  await initBackend('wasm');
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a worker line that is not an event fails the task, naming the worker; nothing of it is relayed', async (t) => {
  if (skip) return t.skip(skip);
  // An interpreter that answers the probe but prints a metrics line with a negative learning rate.
  const fake = path.join(dir, 'python');
  fs.writeFileSync(fake, `#!/bin/sh\nif [ "$1" = "-c" ]; then exec ${TEST_PYTHON} "$@"; fi\necho '{"type":"metrics","step":1,"trainLoss":1,"lr":-1,"gradNorm":1,"tokensPerSec":1,"tokensSeen":1}'\nsleep 20\n`, { mode: 0o755 });
  const tokens = Array.from({ length: 2000 }, (_, i) => i % 64);
  const engine = new TorchEngine({ ...TFJS_ENGINE, name: 'torch', python: fake }, path.join(dir, 'work'), { train: tokens, val: tokens, valStarts: contiguousStarts(2000, 16, true, 4) });
  const config = tinyGPT2();
  const relayed: unknown[] = [];
  const train = { steps: 2, batchTokens: 64, microBatch: 4, blockSize: 16, lr: 1e-3, minLr: 1e-4, warmup: 0, weightDecay: 0, betas: [0.9, 0.95] as [number, number], gradClip: 1, evalEvery: 0, seed: 1, checkpointEvery: 0 };
  await assert.rejects(
    engine.train({ model: roundModel(1, 2), train, checkpointDir: path.join(dir, 'ckpt'), weights: () => ({ config, tensors: initWeightsOf(config, 1) }) }, { onStep: (m) => relayed.push(m) }),
    /^InherituneError: torch worker \(pid \d+\): printed a line that is not a worker event \(line\.lr must be a number >= 0, got -1\)$/,
  );
  assert.deepEqual(relayed, []);
});

test('scripts/device/torch-bench.sh --smoke: tokens/s of the worker (and the peer) on tiny shapes', (t) => {
  if (skip) return t.skip(skip);
  const r = spawnSync(path.join(REPO, 'scripts', 'device', 'torch-bench.sh'), ['--smoke'], { env: { ...process.env, PYTHON: TEST_PYTHON }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { engine: string; config: string; tokens_per_s: number });
  const worker = lines.filter((l) => l.engine === 'inheritune-torch');
  assert.deepEqual(worker.map((l) => l.config), ['gpt2-small-smoke', 'llama-1b-smoke']);
  for (const l of lines) assert.ok(l.tokens_per_s > 0, JSON.stringify(l));
  t.diagnostic(lines.map((l) => `${l.engine} ${l.config}: ${l.tokens_per_s} tokens/s`).join('; '));
});
