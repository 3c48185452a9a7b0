/**
 * The training loop: AdamW, warm-up + cosine schedule, gradient accumulation up to a batch given in
 * tokens, clipping by global norm, periodic evaluation on fixed windows, and checkpoints that hold
 * everything needed to continue exactly where the run stopped (model, optimizer, step, data position).
 */
import * as tf from '../tf.js';
import type { LanguageModel } from '../modelFamily.js';
import { InherituneError } from '../errors.js';
import { makeBatch, WindowCursor } from '../data/windows.js';
import { evaluate } from '../evaluate.js';
import { AdamW } from './adamw.js';
import { distillationLoss, type DistillSettings } from './distill.js';
import { accumulate, chunkedAddN, clipScale, globalNorm } from './gradients.js';
import { variableGradsFreeing } from './backward.js';
import { learningRate } from './schedule.js';
import { readTrainingCheckpoint, writeTrainingCheckpoint, type TrainingCheckpoint } from './checkpoint.js';
import type { AccumulateMode } from '../../protocol/config.js';
import type { RunEventBody } from '../../protocol/events.js';

export type { AccumulateMode };

export interface TrainConfig {
  steps: number;
  batchTokens: number;
  microBatch: number;
  blockSize: number;
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  betas: [number, number];
  gradClip: number;
  /** 0 evaluates only at the end. */
  evalEvery: number;
  seed: number;
  /** 0 writes a checkpoint only when stopped or finished. */
  checkpointEvery: number;
  /** Micro-batch gradients averaged (default) or summed (the authors' code), which changes what clipping sees. */
  accumulate?: AccumulateMode;
}

/** A step's figures: the run's metrics event without what the run adds (its type, model and step total); step is 1-based. */
export type StepMetrics = Omit<Extract<RunEventBody, { type: 'metrics' }>, 'type' | 'model' | 'steps'>;

export interface TrainCallbacks {
  /** Awaited before the next step (it may read the device, e.g. an attention analysis). */
  onStep?(m: StepMetrics): void | Promise<void>;
  onEval?(e: { step: number; valLoss: number }): void;
  onCheckpoint?(e: { step: number; dir: string }): void;
}

export interface TrainData {
  train: ArrayLike<number>;
  val: ArrayLike<number>;
  /** Fixed validation windows: the same for every model compared. */
  valStarts: number[];
}

/** The kd baseline: a teacher whose logits the student's loss is distilled from (distill.ts). */
export interface Distillation extends DistillSettings {
  teacher: Pick<LanguageModel, 'forward'>;
}

export interface TrainResult {
  step: number;
  valLoss: number | undefined;
  /** True when stopped by the signal before the last step. */
  interrupted: boolean;
}

/** Micro-batches per optimizer step; the batch must be a whole number of micro-batches. */
export function accumulationSteps(cfg: TrainConfig): number {
  const perMicro = cfg.microBatch * cfg.blockSize;
  const n = cfg.batchTokens / perMicro;
  if (!Number.isInteger(n) || n < 1) {
    throw new InherituneError(
      'train.batch_tokens',
      `${cfg.batchTokens} is not a positive multiple of micro_batch x block_size = ${cfg.microBatch} x ${cfg.blockSize} = ${perMicro}`,
    );
  }
  return n;
}

export class Trainer {
  readonly optimizer: AdamW;
  private cursor: WindowCursor;
  private readonly accum: number;
  private stepsDone = 0;

  constructor(
    readonly model: LanguageModel,
    readonly cfg: TrainConfig,
    private readonly data: TrainData,
    private readonly distill?: Distillation,
  ) {
    if (cfg.blockSize > model.config.nPositions) {
      throw new InherituneError('train.block_size', `${cfg.blockSize} exceeds the model's ${model.config.nPositions} positions`);
    }
    this.accum = accumulationSteps(cfg);
    this.optimizer = new AdamW(model.params, { betas: cfg.betas, eps: 1e-8, weightDecay: cfg.weightDecay });
    this.cursor = this.makeCursor(0);
  }

  private makeCursor(position: number): WindowCursor {
    const { train } = this.data;
    return new WindowCursor({ nTokens: train.length, seqLen: this.cfg.blockSize, seed: this.cfg.seed, mode: 'random', position });
  }

  get step(): number {
    return this.stepsDone;
  }

  /**
   * One optimizer step over `accum` micro-batches; returns the mean micro-batch loss. The loss and
   * the gradient norm are read from the device once per step, together (a GPU read is asynchronous).
   */
  private async trainStep(): Promise<StepMetrics> {
    const t0 = performance.now();
    const { microBatch: B, blockSize: T } = this.cfg;
    const grads = new Map<string, tf.Tensor>();
    const losses: tf.Tensor[] = [];
    for (let k = 0; k < this.accum; k++) {
      const batch = makeBatch(this.data.train, this.cursor.next(B), T);
      const { value, grads: g } = tf.tidy(() => {
        const x = tf.tensor2d(batch.inputs, [B, T], 'int32');
        const y = tf.tensor2d(batch.targets, [B, T], 'int32');
        // The teacher's logits are computed outside the gradient function: constants of the loss.
        const teacher = this.distill?.teacher.forward(x).logits;
        const objective = (): tf.Scalar =>
          teacher && this.distill ? distillationLoss(this.model.forward(x).logits, teacher, y, this.model.config.vocabSize, this.distill) : this.model.loss(x, y);
        return variableGradsFreeing(objective, [...this.model.params.values()]);
      });
      losses.push(value);
      // variableGrads keys gradients by variable name; map them back to parameter names.
      const byParam: tf.NamedTensorMap = {};
      for (const [name, p] of this.model.params) byParam[name] = g[p.name];
      // accumulate owns the gradients from here (it disposes them, or keeps them as the sum).
      accumulate(grads, byParam, this.cfg.accumulate === 'sum' ? 1 : 1 / this.accum);
    }
    const figures = tf.tidy(() => {
      const norm = globalNorm(grads);
      return tf.stack([chunkedAddN(losses), norm]);
    });
    for (const l of losses) l.dispose();
    const [lossSum, gradNorm] = await figures.data();
    figures.dispose();
    if (!Number.isFinite(lossSum) || !Number.isFinite(gradNorm)) {
      // Stopped before the update: the weights (and the last checkpoint) stay as they were.
      for (const g of grads.values()) g.dispose();
      const what = Number.isFinite(lossSum) ? `the gradient norm became ${gradNorm}` : `the training loss became ${lossSum / this.accum}`;
      throw new InherituneError('training', `${what} at step ${this.stepsDone + 1}: training diverged; lower the learning rate (now ${this.cfg.lr}) or clip the gradients (train.grad_clip, --grad-clip)`);
    }
    const lr = learningRate(this.stepsDone, this.cfg);
    this.optimizer.apply(grads, lr, clipScale(gradNorm, this.cfg.gradClip));
    for (const g of grads.values()) g.dispose();
    this.stepsDone += 1;
    const seconds = (performance.now() - t0) / 1000;
    const tokens = this.cfg.batchTokens;
    return {
      step: this.stepsDone,
      trainLoss: lossSum / this.accum,
      lr,
      gradNorm,
      tokensPerSec: tokens / seconds,
      tokensSeen: this.stepsDone * tokens,
    };
  }

  async evaluate(): Promise<number> {
    return (await evaluate(this.model, this.data.val, this.data.valStarts, this.cfg.blockSize, this.cfg.microBatch)).valLoss;
  }

  /**
   * Trains until cfg.steps or until `signal` aborts. With `checkpointDir`, a checkpoint is written
   * every checkpointEvery steps and whenever the loop ends, so an interrupted run can resume.
   */
  async run(opts: { signal?: AbortSignal; checkpointDir?: string; callbacks?: TrainCallbacks } = {}): Promise<TrainResult> {
    const cb = opts.callbacks ?? {};
    let valLoss: number | undefined;
    const save = async () => {
      if (opts.checkpointDir === undefined) return;
      await this.saveCheckpoint(opts.checkpointDir);
      cb.onCheckpoint?.({ step: this.stepsDone, dir: opts.checkpointDir });
    };
    while (this.stepsDone < this.cfg.steps) {
      if (opts.signal?.aborted) {
        await save();
        return { step: this.stepsDone, valLoss, interrupted: true };
      }
      // Not `cb.onStep?.(this.trainStep())`: an optional call skips evaluating its argument.
      const metrics = await this.trainStep();
      await cb.onStep?.(metrics);
      const last = this.stepsDone === this.cfg.steps;
      if (last || (this.cfg.evalEvery > 0 && this.stepsDone % this.cfg.evalEvery === 0)) {
        valLoss = await this.evaluate();
        cb.onEval?.({ step: this.stepsDone, valLoss });
      }
      if (last || (this.cfg.checkpointEvery > 0 && this.stepsDone % this.cfg.checkpointEvery === 0)) await save();
      // Let signal handlers and I/O run between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { step: this.stepsDone, valLoss, interrupted: false };
  }

  async saveCheckpoint(dir: string): Promise<void> {
    writeTrainingCheckpoint(dir, {
      config: this.model.config,
      weights: await this.model.toHost(),
      optimizer: await this.optimizer.state(),
      step: this.stepsDone,
      dataPosition: this.cursor.position,
      train: this.cfg,
    });
  }

  /** Restores model weights, optimizer moments, step and data position from a checkpoint (`ckpt`: already read from `dir`). */
  restore(dir: string, ckpt: TrainingCheckpoint = readTrainingCheckpoint(dir)): void {
    if (ckpt.config.nLayer !== this.model.config.nLayer || ckpt.config.nEmbd !== this.model.config.nEmbd) {
      throw new InherituneError(dir, 'checkpoint holds a model of a different shape than the one being trained');
    }
    tf.tidy(() => {
      for (const [name, p] of this.model.params) {
        const w = ckpt.weights.get(name)!;
        p.assign(tf.tensor(w.data, w.shape));
      }
    });
    this.optimizer.load(ckpt.optimizer);
    this.stepsDone = ckpt.step;
    this.cursor = this.makeCursor(ckpt.dataPosition);
  }
}
