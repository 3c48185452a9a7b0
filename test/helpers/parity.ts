/**
 * What the GPT-2 and LLaMA parity tests share: the fixture batch (inputs.json), the expected values
 * an independent PyTorch reference computed (expected.json / expected.safetensors, see the fixture
 * folders' READMEs), a run of our model on that batch, and the comparison with its tolerances.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LanguageModel } from '../../server/engine/modelFamily.js';
import { SafetensorsReader } from '../../server/engine/safetensors.js';
import * as tf from '../../server/engine/tf.js';

export const LOSS_TOL = 1e-4;
export const ATTN_TOL = 1e-5;
export const LOGITS_TOL = 1e-3;

export interface Expected {
  loss: number;
  logits: { shape: number[]; data: Float32Array };
  attention: { shape: number[]; data: Float32Array }[];
}

export interface Observed {
  loss: number;
  logitsShape: number[];
  logits: Float32Array;
  attention: { shape: number[]; data: Float32Array }[];
}

/** Largest |a[i] - b[i]|; NaN anywhere makes it Infinity so the comparison fails. */
export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'element counts differ');
  let m = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Per layer, the largest attention difference; fails naming the layers when one exceeds ATTN_TOL. */
export function attentionDiffs(name: string, backend: string, observed: Observed['attention'], expected: Expected['attention']): number[] {
  assert.equal(observed.length, expected.length, `${name}: ${observed.length} attention maps, expected ${expected.length}`);
  const diffs = expected.map((e, l) => {
    assert.deepEqual(observed[l].shape, e.shape, `${name}: attention ${l} shape`);
    return maxAbsDiff(observed[l].data, e.data);
  });
  assert.ok(
    Math.max(...diffs) <= ATTN_TOL,
    `${name} on ${backend}: attention max |diff| per layer [${diffs.map((d) => d.toExponential(2)).join(', ')}] exceeds ${ATTN_TOL}`,
  );
  return diffs;
}

/** Loss, logits and attention of `observed` against `expected`; returns the line of figures to report. */
export function assertMatchesReference(name: string, backend: string, observed: Observed, expected: Expected): string {
  const lossDiff = Math.abs(observed.loss - expected.loss);
  assert.deepEqual(observed.logitsShape, expected.logits.shape, `${name}: logits shape`);
  const logitsDiff = maxAbsDiff(observed.logits, expected.logits.data);
  const attn = attentionDiffs(name, backend, observed.attention, expected.attention);
  assert.ok(lossDiff <= LOSS_TOL, `${name} on ${backend}: loss ${observed.loss} vs reference ${expected.loss}: |diff| ${lossDiff.toExponential(3)} > ${LOSS_TOL}`);
  assert.ok(logitsDiff <= LOGITS_TOL, `${name} on ${backend}: logits max |diff| ${logitsDiff.toExponential(3)} > ${LOGITS_TOL}`);
  return `loss ${observed.loss} vs ${expected.loss} (|diff| ${lossDiff.toExponential(2)}), attention max |diff| ${Math.max(...attn).toExponential(2)}, logits max |diff| ${logitsDiff.toExponential(2)}`;
}

/** A fixture folder: its batch, each model's expected values, and runs of our models on the batch. */
export class ParityFixtures {
  readonly inputs: number[][];
  readonly targets: number[][];

  constructor(readonly dir: string) {
    const batch = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8')) as { inputs: number[][]; targets: number[][] };
    this.inputs = batch.inputs;
    this.targets = batch.targets;
  }

  get batch(): number {
    return this.inputs.length;
  }

  get length(): number {
    return this.inputs[0].length;
  }

  /** The reference's loss (float64, also in expected.json), logits and the first nLayer attention maps. */
  expected(name: string, nLayer: number): Expected {
    const dir = join(this.dir, name);
    const loss = (JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { loss: number }).loss;
    const reader = SafetensorsReader.open(join(dir, 'expected.safetensors'));
    try {
      const read = (key: string) => ({ shape: [...reader.info(key).shape], data: reader.readFloat32(key) });
      // The two copies of the loss agree (readFloat32 rounds the F64 one to float32).
      assert.ok(Math.abs(reader.readFloat32('loss')[0] - loss) <= 1e-6, `${name}: expected.json and expected.safetensors disagree on the loss`);
      const attention = [];
      for (let l = 0; l < nLayer; l++) attention.push(read(`attn.${l}`));
      return { loss, logits: read('logits'), attention };
    } finally {
      reader.close();
    }
  }

  /**
   * Runs `model` on the batch, disposes it, and checks it against `name`'s expected values (loss,
   * logits, every attention map); returns the line of figures to report.
   */
  async check(name: string, backend: string, model: Pick<LanguageModel, 'forward' | 'loss' | 'dispose' | 'config'>): Promise<string> {
    const expected = this.expected(name, model.config.nLayer);
    let observed: Observed;
    try {
      observed = await this.run(model);
    } finally {
      model.dispose();
    }
    return assertMatchesReference(name, backend, observed, expected);
  }

  /** Forward (with attention) and loss of `model` on the batch; leaves no tensor behind. Reads asynchronously (webgpu has no synchronous read). */
  async run(model: Pick<LanguageModel, 'forward' | 'loss'>): Promise<Observed> {
    const before = tf.memory().numTensors;
    const [B, T] = [this.batch, this.length];
    const x = tf.tensor2d(this.inputs, [B, T], 'int32');
    const y = tf.tensor2d(this.targets, [B, T], 'int32');
    try {
      const { logits, attention } = model.forward(x, { attention: true });
      const observed: Observed = {
        loss: NaN,
        logitsShape: [...logits.shape],
        logits: (await logits.data()) as Float32Array,
        attention: await Promise.all(attention.map(async (a) => ({ shape: [...a.shape], data: (await a.data()) as Float32Array }))),
      };
      logits.dispose();
      for (const a of attention) a.dispose();
      const loss = model.loss(x, y);
      observed.loss = (await loss.data())[0];
      loss.dispose();
      return observed;
    } finally {
      x.dispose();
      y.dispose();
      assert.equal(tf.memory().numTensors, before, 'forward/loss leaked tensors');
    }
  }
}
