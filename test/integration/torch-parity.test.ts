/**
 * One contract, two engines: the same training task (GPT-2, LLaMA and Qwen2, fp32, 20 steps with gradient
 * accumulation, warm-up, clipping, weight decay, evaluation every 5 steps) on the tfjs engine and on
 * the PyTorch worker gives the same per-step losses, gradient norms and evaluations (1e-4) and the
 * same final weights (1e-4 relative); and each engine resumes a checkpoint the other wrote, stopped
 * mid-run (the torch worker by SIGTERM), to the same final weights.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../server/engine/backend.js';
import { loadTokens } from '../../server/engine/data/tokens.js';
import { contiguousStarts } from '../../server/engine/data/windows.js';
import { loadModelDir } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf, type HostTensor, type ModelConfig } from '../../server/engine/modelFamily.js';
import { TFJS_ENGINE, TfjsEngine, type EngineOutcome, type TrainingEngine } from '../../server/engine/train/engine.js';
import { TorchEngine } from '../../server/engine/train/torchEngine.js';
import type { StepMetrics, TrainConfig, TrainData } from '../../server/engine/train/trainer.js';
import { REPO } from '../helpers/cli.js';
import { tinyLlama } from '../helpers/llama.js';
import { tinyGPT2 } from '../helpers/models.js';
import { TEST_PYTHON, torchMissing } from '../helpers/torch.js';
import { roundModel } from '../../server/protocol/events.js';

const TOL = 1e-4;
let dir: string;
let data: TrainData;
let skip: string | undefined;

const train: TrainConfig = {
  steps: 20,
  batchTokens: 256,
  microBatch: 4,
  blockSize: 32,
  lr: 3e-3,
  minLr: 3e-4,
  warmup: 3,
  weightDecay: 0.1,
  betas: [0.9, 0.95],
  gradClip: 0.5,
  evalEvery: 5,
  seed: 7,
  checkpointEvery: 5,
};

const MODELS: Record<string, ModelConfig> = {
  gpt2: tinyGPT2({ vocabSize: 257, nPositions: 32, nEmbd: 32, nHead: 4, scaleAttnByInverseLayerIdx: true }),
  llama: tinyLlama({ vocabSize: 257, nEmbd: 32, nHead: 4, nKvHead: 2, headDim: 8, nInner: 48, nLayer: 2 }),
  // LLaMA's decoder with biases on q/k/v and a tied head: the worker must train the biases too.
  qwen2: { ...tinyLlama({ vocabSize: 257, nEmbd: 32, nHead: 4, nKvHead: 2, headDim: 8, nInner: 48, nLayer: 2, tieWordEmbeddings: true }), family: 'qwen2', qkvBias: true },
};

before(async () => {
  skip = await torchMissing();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-torch-parity-'));
  await initBackend('wasm');
  const tokens = Array.from(await loadTokens(path.join(REPO, 'examples', 'data', 'val.jsonl'), { tokenizer: 'bytes', cacheDir: path.join(dir, 'cache') }));
  const cut = Math.floor(tokens.length * 0.9);
  const val = tokens.slice(cut);
  data = { train: tokens.slice(0, cut), val, valStarts: contiguousStarts(val.length, train.blockSize, true, 12) };
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Record_ {
  steps: StepMetrics[];
  evals: { step: number; valLoss: number }[];
  end: EngineOutcome;
  weights: Map<string, HostTensor>;
}

const torchEngine = (name: string) => new TorchEngine({ ...TFJS_ENGINE, name: 'torch', python: TEST_PYTHON }, path.join(dir, `${name}-work`), data);

/** Trains `config` (seeded fresh weights) on `engine` into `ckpt`; `stopAt`: abort once that step is reported. */
async function trainOn(engine: TrainingEngine, config: ModelConfig, ckpt: string, stopAt?: number, settings: TrainConfig = train): Promise<Record_> {
  const abort = new AbortController();
  const r: Omit<Record_, 'end' | 'weights'> = { steps: [], evals: [] };
  const end = await engine.train(
    { model: roundModel(1, config.nLayer), train: settings, checkpointDir: ckpt, weights: () => ({ config, tensors: initWeightsOf(config, 11) }), signal: abort.signal },
    {
      onStep: (m) => {
        r.steps.push(m);
        if (m.step === stopAt) abort.abort();
      },
      onEval: (e) => r.evals.push(e),
    },
  );
  if (!end.stopped) end.model.dispose();
  return { ...r, end, weights: loadModelDir(ckpt).tensors };
}

/**
 * Largest per-tensor max|a - b| / max|b|, and the tensor it is found in. GPT-2's worst is the key
 * slice of c_attn.bias: softmax ignores a per-query constant, so its gradient is only rounding
 * noise, which AdamW turns into lr-sized steps of either sign (about 4e-5 relative after 20 steps).
 */
function weightDiff(a: Map<string, HostTensor>, b: Map<string, HostTensor>): { diff: number; at: string } {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  let worst = { diff: 0, at: '' };
  for (const [name, x] of a) {
    const y = b.get(name)!.data;
    let d = 0;
    let m = 0;
    for (let i = 0; i < y.length; i++) {
      d = Math.max(d, Math.abs(x.data[i] - y[i]));
      m = Math.max(m, Math.abs(y[i]));
    }
    if (d / Math.max(m, 1e-12) > worst.diff) worst = { diff: d / Math.max(m, 1e-12), at: name };
  }
  return worst;
}

const show = (w: { diff: number; at: string }) => `${w.diff.toExponential(2)} (${w.at})`;

for (const family of Object.keys(MODELS)) {
  test(`${family}: 20 fp32 steps on tfjs and on torch give the same losses, evaluations and weights`, async (t) => {
    if (skip) return t.skip(skip);
    const config = MODELS[family];
    const tf = await trainOn(new TfjsEngine(data), config, path.join(dir, `${family}-tfjs`));
    const pt = await trainOn(torchEngine(family), config, path.join(dir, `${family}-torch`));
    assert.equal(pt.steps.length, 20);
    let dLoss = 0;
    let dNorm = 0;
    for (const [i, m] of tf.steps.entries()) {
      const o = pt.steps[i];
      assert.equal(o.step, m.step);
      assert.ok(Math.abs(o.lr - m.lr) <= 1e-12 * m.lr, `lr at step ${m.step}`);
      assert.equal(o.tokensSeen, m.tokensSeen);
      dLoss = Math.max(dLoss, Math.abs(o.trainLoss - m.trainLoss));
      dNorm = Math.max(dNorm, Math.abs(o.gradNorm - m.gradNorm) / m.gradNorm);
    }
    assert.deepEqual(pt.evals.map((e) => e.step), [5, 10, 15, 20]);
    const dEval = Math.max(...tf.evals.map((e, i) => Math.abs(e.valLoss - pt.evals[i].valLoss)));
    const dW = weightDiff(pt.weights, tf.weights);
    t.diagnostic(`${family}: max |train loss diff| ${dLoss.toExponential(2)}, grad norm rel ${dNorm.toExponential(2)}, |eval diff| ${dEval.toExponential(2)}, weights rel ${show(dW)}`);
    assert.ok(dLoss <= TOL, `train loss differs by ${dLoss}`);
    assert.ok(dNorm <= TOL, `grad norm differs by ${dNorm} (relative)`);
    assert.ok(dEval <= TOL, `val loss differs by ${dEval}`);
    assert.ok(dW.diff <= TOL, `final weights differ by ${show(dW)} (relative)`);
    assert.ok(!pt.end.stopped && Math.abs((pt.end.valLoss ?? NaN) - tf.evals[3].valLoss) <= TOL);
  });
}

test('each engine resumes the checkpoint the other wrote when stopped mid-run (torch by SIGTERM), to the same weights', async (t) => {
  if (skip) return t.skip(skip);
  const config = MODELS.gpt2;
  const straight = loadModelDir(path.join(dir, 'gpt2-tfjs')).tensors;
  // tfjs stops after step 8 (its checkpoint: step 8); torch continues.
  const a = path.join(dir, 'tfjs-then-torch');
  const first = await trainOn(new TfjsEngine(data), config, a, 8);
  assert.ok(first.end.stopped && first.end.step === 8);
  const second = await trainOn(torchEngine('resume-a'), config, a);
  assert.equal(second.steps[0].step, 9);
  // torch is asked to stop once step 6 is reported (it checkpoints at the step boundary it reaches); tfjs continues.
  const b = path.join(dir, 'torch-then-tfjs');
  const third = await trainOn(torchEngine('resume-b'), config, b, 6);
  assert.ok(third.end.stopped && third.end.step >= 6 && third.end.step < 20, `torch stopped at ${third.end.step}`);
  const fourth = await trainOn(new TfjsEngine(data), config, b);
  assert.equal(fourth.steps[0].step, third.end.step + 1);
  const dA = weightDiff(second.weights, straight);
  const dB = weightDiff(fourth.weights, straight);
  t.diagnostic(`weights rel diff to the uninterrupted tfjs run: tfjs->torch ${show(dA)}, torch->tfjs ${show(dB)}`);
  assert.ok(dA.diff <= TOL && dB.diff <= TOL);
});

test('train.accumulate: sum reaches the torch worker: its gradient norms equal tfjs\'s, twice the mean mode\'s at the first step (2 micro-batches)', async (t) => {
  if (skip) return t.skip(skip);
  const config = MODELS.gpt2;
  const summed: TrainConfig = { ...train, steps: 3, accumulate: 'sum' };
  const tf = await trainOn(new TfjsEngine(data), config, path.join(dir, 'sum-tfjs'), undefined, summed);
  const pt = await trainOn(torchEngine('sum'), config, path.join(dir, 'sum-torch'), undefined, summed);
  const mean = await trainOn(torchEngine('mean'), config, path.join(dir, 'mean-torch'), undefined, { ...train, steps: 3 });
  for (const [i, m] of tf.steps.entries()) {
    assert.ok(Math.abs(pt.steps[i].gradNorm - m.gradNorm) <= TOL * m.gradNorm, `grad norm at step ${m.step}: torch ${pt.steps[i].gradNorm}, tfjs ${m.gradNorm}`);
    assert.ok(Math.abs(pt.steps[i].trainLoss - m.trainLoss) <= TOL, `train loss at step ${m.step}`);
  }
  assert.ok(Math.abs(pt.steps[0].gradNorm - 2 * mean.steps[0].gradNorm) <= TOL * pt.steps[0].gradNorm, `sum ${pt.steps[0].gradNorm} vs 2 x mean ${mean.steps[0].gradNorm}`);
});
