/**
 * The Inheritune loop (method.md section 1), as a run that can be killed and resumed:
 *
 *   reference: evaluate on the fixed validation windows, analyse attention
 *   round 1:   inherit the reference's first n blocks, train, evaluate, analyse
 *   round r:   while val loss > reference + tolerance and n + step <= max_layers: n += step and
 *              "restart" (inherit the first n blocks afresh) or "continue" (keep the trained blocks,
 *              append the reference's next ones), train, evaluate, analyse
 *   baselines: the paper's comparison models at the final size (run/baselines.ts)
 *   final:     the last round's model saved as model/, summary.json written
 *
 * With several seeds (train.seeds) every round and baseline is trained once per seed, each a task of
 * its own (label suffix -seed<N>); a round's figures are the seeds' mean with a 95% interval, and
 * whether it matches the reference is the paired test of run/stats.ts over the evaluation windows.
 *
 * Every model is a task with a label (reference, round-1, ..., scratch, scratch_2x). A task ends with
 * a modelFinished event; a resumed run skips finished tasks (taking their figures from the events)
 * and continues the unfinished one from its training checkpoint, so the figures equal those of an
 * uninterrupted run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from '../errors.js';
import { analysisOf, analysisStarts, analyzeAttention, MeanAttention, paperWindowsNote, type AnalysisOptions, type AnalysisResult } from '../analyze.js';
import { lazyLayers } from '../attentionStats.js';
import { loadTokens } from '../data/tokens.js';
import type { TokenizerName } from '../data/tokenizer.js';
import { contiguousStarts } from '../data/windows.js';
import { evaluate } from '../evaluate.js';
import { loadModelDir, ModelDir, saveModelDir, storageDtype, type SaveDtype } from '../hfCheckpoint.js';
import { inheritFromReference, type InheritOptions } from '../inherit.js';
import { analyzeLayerwise, evaluateLayerwise } from '../layerwise.js';
import { isRotary, parameterCountOf, type HostTensor, type LanguageModel, type ModelConfig } from '../modelFamily.js';
import { createModel } from '../models.js';
import { writeSafetensors } from '../safetensors.js';
import { TFJS_ENGINE, TfjsEngine, type EngineSettings, type EngineTask, type TrainingEngine } from '../train/engine.js';
import type { DistillSettings } from '../train/distill.js';
import { windowLosses } from '../windowLosses.js';
import { TorchEngine } from '../train/torchEngine.js';
import type { TrainConfig } from '../train/trainer.js';
import { baselineSteps, baselineWeights, remapBlocks, stackingStages } from './baselines.js';
import { growFromReference } from './grow.js';
import { matchesReference, meanCI, meanOverSeeds, pairedComparison } from './stats.js';
import type { RunStore } from './runStore.js';
import type { Baseline as BaselineName, GrowMode, TaskName } from '../../protocol/config.js';
import { baselineModel, referenceModel, roundModel, type HubPin, type ModelRef, type ModelTasks, type RoundResult, type RunEvent, type RunEventBody, type RunSummary } from '../../protocol/events.js';
import { evaluateRunTasks } from '../tasks/runTasks.js';

export type { BaselineName, GrowMode };

/**
 * Saves the model of a checkpoint as the run's model/ in the precision the run config asks for
 * (runtime.save_dtype), tagged with the run; returns its config.
 */
export function saveRunModel(store: RunStore, checkpointDir: string, dtype: SaveDtype | undefined, metadata: Record<string, string>): ModelConfig {
  const { config, tensors } = loadModelDir(checkpointDir);
  saveModelDir(store.modelDir, config, tensors, { dtype: storageDtype(dtype ?? 'float32'), metadata: { inheritune_run: store.runId, ...metadata } });
  return config;
}

/** Everything a run needs, resolved: absolute paths, defaults filled, layer counts known. */
export interface RunPlan {
  name: string;
  configPath: string;
  referenceDir: string;
  /** A Hub reference: the model and the commit its revision resolved to (referenceDir is that commit's snapshot). */
  hub?: HubPin;
  layers: number;
  /** Precision of the final model/ (runtime.save_dtype); absent in plans written before it existed: float32. */
  saveDtype?: SaveDtype;
  /** Estimated peak memory of the run (bytes; resources.ts): `auto` picks a backend that can hold it. */
  memoryBytes?: number;
  inherit: Omit<InheritOptions, 'layers' | 'seed'>;
  grow: { enabled: boolean; step: number; maxLayers: number; mode: GrowMode; tolerance: number };
  data: { train: string; val: string; tokenizer: TokenizerName; subset: number };
  train: TrainConfig & { evalWindows: number };
  baselines: BaselineName[];
  /** train.seeds: every model once per seed; absent or [] in plans written before it existed: [train.seed]. */
  seeds?: number[];
  /** The kd baseline's loss (train.kd_alpha, train.kd_temperature); absent in older plans: 0.6 and 1. */
  distill?: DistillSettings;
  analysis: Omit<AnalysisOptions, 'batchSize'> & { every: number };
  /** What trains the models (runtime.engine and the torch settings); absent in plans written before it existed: tfjs. */
  engine?: EngineSettings;
  /** Zero-shot tasks at the end (evaluation.tasks); absent: none. dataDir absent: the Hugging Face cache. limit 0: every item. */
  evaluation?: { tasks: TaskName[]; limit: number; dataDir?: string };
}

export interface RunHooks {
  /** Called with every event after it is stored. */
  onEvent?(event: RunEvent): void;
  /** Called with the weights a model starts training from (before any resumed checkpoint). */
  onModelInit?(model: ModelRef, tensors: ReadonlyMap<string, HostTensor>): void;
  /**
   * Aborting stops at the next step boundary, after a checkpoint; aborted with USER_STOP as its
   * reason, the stop is the user's (a state "stopped", not an error).
   */
  signal?: AbortSignal;
  backend: string;
}

/** The abort reason of a stop the user asked for (Stop in VS Code, Ctrl-C of `inheritune run`). */
export const USER_STOP = 'stop requested by the user';

export interface RunOutcome {
  summary?: RunSummary;
  interrupted: boolean;
}

class Interrupted extends Error {
  constructor(
    message: string,
    readonly byUser: boolean,
  ) {
    super(message);
  }
}

interface Finished {
  steps: number;
  valLoss: number;
  lazyLayers: number[] | null;
  /** Per evaluation window, for the paired test (absent for a reference measured block by block). */
  windowLosses?: number[];
}

/** A model trained once per seed (a round or a baseline): its tasks' results and their statistics. */
interface Trained {
  models: ModelRef[];
  layers: number;
  results: Finished[];
  stats: RoundResult;
}

const DEFAULT_DISTILL: DistillSettings = { alpha: 0.6, temperature: 1 };

export class InherituneRun {
  private readonly done = new Map<string, Finished>();
  private readonly started = Date.now();
  private priorSeconds = 0;
  private trainTokens: ArrayLike<number> = [];
  private valTokens: ArrayLike<number> = [];
  private valStarts: number[] = [];
  private referenceConfig!: ModelConfig;
  private engine!: TrainingEngine;

  constructor(
    readonly plan: RunPlan,
    readonly store: RunStore,
    private readonly hooks: RunHooks,
  ) {}

  private emit(body: RunEventBody): void {
    const event = this.store.append(body);
    this.hooks.onEvent?.(event);
  }

  /** Finished tasks and elapsed time from a previous attempt's events. */
  private replay(events: RunEvent[]): boolean {
    let seconds = 0;
    let lastStart: number | undefined;
    for (const e of events) {
      if (e.type === 'modelFinished') this.done.set(e.model.label, { steps: e.steps, valLoss: e.valLoss, lazyLayers: e.lazyLayers, ...(e.windowLosses ? { windowLosses: e.windowLosses } : {}) });
      const t = Date.parse(e.time);
      if (e.type === 'runStarted') lastStart = t;
      else if (lastStart !== undefined && e.type !== 'runFinished') seconds = Math.max(seconds, t - lastStart);
      if (e.type === 'runFailed' && lastStart !== undefined) {
        this.priorSeconds += (t - lastStart) / 1000;
        lastStart = undefined;
        seconds = 0;
      }
    }
    this.priorSeconds += seconds / 1000;
    return events.length > 0;
  }

  async run(): Promise<RunOutcome> {
    // Before anything reads a checkpoint: a kill mid-write may have left one half-switched.
    const recovered = this.store.recover();
    const resumed = this.replay(this.store.events());
    const p = this.plan;
    this.emit({ type: 'runStarted', name: p.name, configPath: p.configPath, backend: this.hooks.backend, resumed });
    for (const dir of recovered.restored) {
      this.emit({ type: 'log', level: 'warn', message: `${path.relative(this.store.dir, dir)}: restored its previous complete version (the run was killed while replacing it)` });
    }
    try {
      await this.loadData();
      const summary = await this.loop();
      this.emit({ type: 'runFinished', summary });
      return { summary, interrupted: false };
    } catch (e) {
      if (e instanceof Interrupted) {
        this.emit({ type: 'runFailed', error: e.message, interrupted: true, ...(e.byUser ? { byUser: true } : {}) });
        return { interrupted: true };
      }
      this.emit({ type: 'runFailed', error: e instanceof Error ? e.message : String(e), interrupted: false });
      throw e;
    }
  }

  private async loadData(): Promise<void> {
    const { data, train } = this.plan;
    const ref = ModelDir.open(this.plan.referenceDir);
    ref.close();
    const noted = new Set<string>();
    const onNote = (message: string) => {
      // Once per file, also when data.train and data.val are the same file.
      if (!noted.has(message)) this.emit({ type: 'log', level: 'warn', message });
      noted.add(message);
    };
    const opts = { tokenizer: data.tokenizer, modelDir: this.plan.referenceDir, vocabSize: ref.config.vocabSize, minTokens: train.blockSize + 1, onNote };
    const all = await loadTokens(data.train, opts);
    // The subset is a prefix, so it is the same tokens on every run and every resumption.
    this.trainTokens = data.subset < 1 ? all.subarray(0, Math.max(train.blockSize + 2, Math.floor(all.length * data.subset))) : all;
    this.valTokens = await loadTokens(data.val, opts);
    this.valStarts = contiguousStarts(this.valTokens.length, train.blockSize, true, train.evalWindows, data.val);
    const trainData = { train: this.trainTokens, val: this.valTokens, valStarts: this.valStarts };
    const engine = this.plan.engine ?? TFJS_ENGINE;
    if (engine.name === 'torch') {
      this.engine = new TorchEngine(engine, path.join(this.store.dir, 'torch'), trainData);
      if (this.plan.analysis.every > 0) {
        this.emit({ type: 'log', level: 'info', message: 'runtime.engine torch: analysis.every is not applied (the model trains in another process); every model is analysed when trained' });
      }
    } else this.engine = new TfjsEngine(trainData);
    this.emit({ type: 'device', engine: this.engine.name, ...(await this.engine.describe()) });
  }

  /** The seeds every model is trained with. */
  private get seeds(): number[] {
    return this.plan.seeds?.length ? this.plan.seeds : [this.plan.train.seed];
  }

  /** The seed a model is told apart by: only when there are several (its label gets -seed<N>, the run store keeps them apart). */
  private seedTag(seed: number): number | undefined {
    return this.seeds.length > 1 ? seed : undefined;
  }

  private trainFor(seed: number, steps: number): TrainConfig {
    return { ...this.plan.train, steps, seed };
  }

  /** Trains the model `modelOf(seed)` once per seed and gathers its statistics against the reference. */
  private async trainSeeds(modelOf: (seed: number | undefined) => ModelRef, steps: number, run: (seed: number, model: ModelRef) => Promise<Finished>, reference: Finished): Promise<Trained> {
    const models: ModelRef[] = [];
    const results: Finished[] = [];
    for (const seed of this.seeds) {
      const model = modelOf(this.seedTag(seed));
      models.push(model);
      results.push(await run(seed, model));
    }
    return { models, layers: models[0].layers, results, stats: statsOf(models[0].layers, steps, results, reference) };
  }

  private async loop(): Promise<RunSummary> {
    const p = this.plan;
    const reference = await this.measureReference();
    const windowsNote = paperWindowsNote(p.analysis.sequences, p.analysis.seqLen, this.referenceConfig.nPositions);
    if (windowsNote) this.emit({ type: 'log', level: 'info', message: windowsNote });
    const rounds: Trained[] = [];
    let layers = p.layers;
    for (let round = 1; ; round++) {
      const previous = rounds[rounds.length - 1];
      const n = layers;
      const trained = await this.trainSeeds((seed) => roundModel(round, n, seed), p.train.steps, (seed, model) =>
        this.task(model, 'train', this.trainFor(seed, p.train.steps), () => this.roundWeights(round, model, seed, previous && roundModel(round - 1, previous.layers, this.seedTag(seed))), true),
      reference);
      rounds.push(trained);
      const matched = matchesReference(trained.stats.valLoss, reference.valLoss, trained.stats.vsReference, p.grow.tolerance);
      if (matched || !p.grow.enabled || layers + p.grow.step > p.grow.maxLayers) break;
      layers += p.grow.step;
      this.phase('grow', trained.models[0], `val loss ${trained.stats.valLoss.toFixed(4)} > reference ${reference.valLoss.toFixed(4)}${trained.stats.vsReference ? ` (paired 95% interval of the difference up to ${trained.stats.vsReference.ci95[1].toFixed(4)})` : ''}: growing to ${layers} layers (${p.grow.mode})`);
    }
    const last = rounds[rounds.length - 1];
    const baselines = [];
    const baselineModels: ModelRef[] = [];
    for (const name of p.baselines) {
      const trained = await this.trainBaseline(name, last.layers, reference);
      baselines.push({ name, ...trained.stats });
      baselineModels.push(trained.models[0]);
    }

    // With several seeds, the tasks are evaluated on the first seed's models (as the final model is).
    const tasks = await this.evaluateTasks([...rounds.map((r) => r.models[0]), ...baselineModels]);

    const finalLabel = last.models[0].label;
    this.phase('done', last.models[0], 'saving the final model');
    const finalConfig = saveRunModel(this.store, this.store.checkpointDir(finalLabel), p.saveDtype, { inheritune_label: finalLabel });
    const final = last.stats;
    const summary: RunSummary = {
      runId: this.store.runId,
      name: p.name,
      backend: this.hooks.backend,
      reference: { path: p.referenceDir, ...(p.hub ? { hub: p.hub } : {}), layers: this.referenceConfig.nLayer, valLoss: reference.valLoss, params: parameterCountOf(this.referenceConfig) },
      rounds: rounds.map((r) => r.stats),
      baselines,
      final: {
        layers: last.layers,
        valLoss: final.valLoss,
        matchedReference: matchesReference(final.valLoss, reference.valLoss, final.vsReference, p.grow.tolerance),
        params: parameterCountOf(finalConfig),
        modelDir: this.store.modelDir,
        ...(final.vsReference ? { vsReference: final.vsReference } : {}),
      },
      seeds: this.seeds,
      evaluation: { windows: this.valStarts.length, tokens: this.valStarts.length * p.train.blockSize },
      lazyLayers: { reference: reference.lazyLayers ?? [], final: last.results[0].lazyLayers ?? [] },
      ...(tasks ? { tasks } : {}),
      ...(windowsNote ? { analysisNote: windowsNote } : {}),
      seconds: Math.round(this.priorSeconds + (Date.now() - this.started) / 1000),
    };
    this.store.writeSummary(summary);
    return summary;
  }

  /** One baseline (run/baselines.ts) at the derived model's size, once per seed. */
  private async trainBaseline(name: BaselineName, layers: number, reference: Finished): Promise<Trained> {
    const p = this.plan;
    const steps = baselineSteps(name, p.train.steps);
    const ref = this.referenceConfig;
    const shown = name === 'full_scratch' ? ref.nLayer : layers;
    if (name === 'stacking') {
      const stages = stackingStages(steps, layers);
      return this.trainSeeds((seed) => baselineModel(name, layers, seed), steps, async (seed, model) => {
        // Stage 1: half the layers from random init, half the steps; its own task (and checkpoint).
        const half = baselineModel(name, stages.half, this.seedTag(seed), 'stage1');
        await this.task(half, 'baseline', this.trainFor(seed, stages.first), () => baselineWeights('scratch', { ...this.baselineContext(seed), layers: stages.half }), false);
        // Stage 2: its trained blocks stacked to the full depth, the remaining steps.
        const stage2 = await this.task(model, 'baseline', this.trainFor(seed, stages.second), () => remapBlocks(loadModelDir(this.store.checkpointDir(half.label)), layers, (i) => i % stages.half), false);
        return { ...stage2, steps };
      }, reference);
    }
    const distill = name === 'kd' ? { ...(p.distill ?? DEFAULT_DISTILL), teacherDir: p.referenceDir } : undefined;
    return this.trainSeeds((seed) => baselineModel(name, shown, seed), steps, (seed, model) =>
      this.task(model, 'baseline', this.trainFor(seed, steps), () => baselineWeights(name, { ...this.baselineContext(seed), layers }), false, distill),
    reference);
  }

  private baselineContext(seed: number) {
    return { referenceDir: this.plan.referenceDir, referenceConfig: this.referenceConfig, seed, inherit: this.plan.inherit };
  }

  private phase(phase: Extract<RunEventBody, { type: 'phase' }>['phase'], model: ModelRef | undefined, message: string, steps?: number): void {
    this.emit({ type: 'phase', phase, model, message, ...(steps !== undefined ? { steps } : {}) });
  }

  private async measureReference(): Promise<Finished> {
    const dir = ModelDir.open(this.plan.referenceDir);
    try {
      this.referenceConfig = dir.config;
      const model = referenceModel(this.referenceConfig.nLayer);
      const known = this.done.get('reference');
      if (known) return known;
      this.phase('reference', model, `evaluating and analysing the reference (${this.referenceConfig.nLayer} layers)`);
      let valLoss: number;
      let lazy: number[] | null;
      let windows: number[] | undefined;
      if (isRotary(dir.config)) {
        // A LLaMA or Qwen2 reference may be billions of parameters: it is run block by block from its files.
        const { blockSize, microBatch } = this.plan.train;
        valLoss = (await evaluateLayerwise(dir, this.valTokens, this.valStarts, blockSize, microBatch)).valLoss;
        this.emit({ type: 'eval', model, step: 0, valLoss, referenceValLoss: valLoss });
        lazy = await this.analyzeWith(dir.config, model, 0, dir.weightsFile, (starts, o, means) => analyzeLayerwise(dir, this.valTokens, starts, o, undefined, means));
      } else {
        const ref = loadModelDir(this.plan.referenceDir);
        const lm = createModel(ref.config, ref.tensors);
        try {
          valLoss = await this.evaluate(lm);
          this.emit({ type: 'eval', model, step: 0, valLoss, referenceValLoss: valLoss });
          windows = await this.windowLosses(lm);
          lazy = await this.analyze(lm, model, 0, dir.weightsFile);
        } finally {
          lm.dispose();
        }
      }
      const result = { steps: 0, valLoss, lazyLayers: lazy, ...(windows ? { windowLosses: windows } : {}) };
      this.emit({ type: 'modelFinished', model, ...result });
      this.done.set('reference', result);
      return result;
    } finally {
      dir.close();
    }
  }

  private roundWeights(round: number, model: ModelRef, seed: number, previous: ModelRef | undefined): { config: ModelConfig; tensors: Map<string, HostTensor> } {
    const p = this.plan;
    const { layers } = model;
    if (round === 1 || p.grow.mode === 'restart') {
      this.phase('inherit', model, `inheriting the reference's first ${layers} blocks`);
      return inheritFromReference(p.referenceDir, { layers, ...p.inherit, seed });
    }
    const prev = previous as ModelRef;
    this.phase('inherit', model, `keeping ${prev.layers} trained blocks, appending reference blocks ${prev.layers + 1}..${layers}`);
    return growFromReference(loadModelDir(this.store.checkpointDir(prev.label)), p.referenceDir, layers);
  }

  /** Trains one model (resuming its checkpoint if there is one), evaluates and analyses it. */
  private async task(
    model: ModelRef,
    phase: 'train' | 'baseline',
    train: TrainConfig,
    weights: () => { config: ModelConfig; tensors: Map<string, HostTensor> },
    analyse: boolean,
    distill?: EngineTask['distill'],
  ): Promise<Finished> {
    const known = this.done.get(model.label);
    if (known) return known;
    const p = this.plan;
    const steps = train.steps;
    const ckpt = this.store.checkpointDir(model.label);
    const referenceValLoss = this.done.get('reference')?.valLoss ?? null;
    const end = await this.engine.train(
      { model, train, checkpointDir: ckpt, weights, signal: this.hooks.signal, ...(distill ? { distill } : {}) },
      {
        onInit: (tensors) => this.hooks.onModelInit?.(model, tensors),
        onResumed: (fromStep) => this.emit({ type: 'resumed', model, fromStep }),
        onStart: () => this.phase(phase, model, `training ${model.layers} layers for ${steps} steps${distill ? ' (distilling the reference)' : ''}`, steps),
        onStep: async (m, live) => {
          this.emit({ type: 'metrics', model, steps, ...m });
          // Periodic analysis needs the model in this process (tfjs); see the torch engine's note in run().
          if (live && analyse && p.analysis.every > 0 && m.step % p.analysis.every === 0 && m.step < steps) await this.analyze(live, model, m.step);
        },
        onEval: (e) => this.emit({ type: 'eval', model, step: e.step, valLoss: e.valLoss, referenceValLoss }),
        onCheckpoint: (e) => this.emit({ type: 'checkpoint', model, step: e.step, dir: path.relative(this.store.dir, e.dir) }),
      },
    );
    if (end.stopped) {
      // A user's stop says where it stopped (each front end offers its own way to resume).
      if (!end.reason && this.hooks.signal?.reason === USER_STOP) throw new Interrupted(`stopped at step ${end.step} of ${model.label} (checkpoint saved)`, true);
      const why = end.reason ? `${end.reason}` : `interrupted at step ${end.step}`;
      throw new Interrupted(`${why} of ${model.label}; resume with: inheritune run --resume ${this.store.dir}`, false);
    }
    const gpt = end.model;
    try {
      // A run killed after its last checkpoint but before this point resumes with nothing left to train.
      let valLoss = end.valLoss;
      if (valLoss === undefined) {
        valLoss = await this.evaluate(gpt);
        this.emit({ type: 'eval', model, step: end.step, valLoss, referenceValLoss });
      }
      const lazy = analyse ? await this.analyze(gpt, model, steps) : null;
      const finished = { steps, valLoss, lazyLayers: lazy, windowLosses: await this.windowLosses(gpt) };
      this.emit({ type: 'modelFinished', model, ...finished });
      this.done.set(model.label, finished);
      return finished;
    } finally {
      gpt.dispose();
    }
  }

  private windowLosses(gpt: LanguageModel): Promise<number[]> {
    const { blockSize, microBatch } = this.plan.train;
    return windowLosses(gpt, this.valTokens, this.valStarts, blockSize, microBatch);
  }

  private async evaluate(gpt: LanguageModel): Promise<number> {
    const { blockSize, microBatch } = this.plan.train;
    return (await evaluate(gpt, this.valTokens, this.valStarts, blockSize, microBatch)).valLoss;
  }

  /** Zero-shot tasks (evaluation.tasks) of the reference, every round and every baseline; undefined when none are asked for. */
  private async evaluateTasks(trained: ModelRef[]): Promise<ModelTasks[] | undefined> {
    const p = this.plan;
    const evaluation = p.evaluation;
    if (!evaluation) return undefined;
    const models = [
      { model: referenceModel(this.referenceConfig.nLayer), dir: p.referenceDir },
      ...trained.map((model) => ({ model, dir: this.store.checkpointDir(model.label) })),
    ];
    return evaluateRunTasks(evaluation, models, { name: p.data.tokenizer, modelDir: p.referenceDir }, this.store.events(), {
      onStart: (model) => this.phase('eval', model, `zero-shot tasks (${evaluation.tasks.join(', ')})`),
      onResults: ({ model, results }) => this.emit({ type: 'tasks', model, results }),
      onWarning: (message) => this.emit({ type: 'log', level: 'warn', message }),
    });
  }

  /** Attention statistics of `gpt` on the analysis windows; returns the lazy layers (null when analysis is off). */
  private analyze(gpt: LanguageModel, model: ModelRef, step: number, source = this.store.checkpointDir(model.label)): Promise<number[] | null> {
    return this.analyzeWith(gpt.config, model, step, source, (starts, o, means) => analyzeAttention(gpt, this.valTokens, starts, o, undefined, means));
  }

  /**
   * Runs `run` on the analysis windows and stores its statistics and mean attention matrices;
   * `source` is the file or folder named when the model's attention is not finite.
   */
  private async analyzeWith(
    config: ModelConfig,
    model: ModelRef,
    step: number,
    source: string,
    run: (starts: number[], o: AnalysisOptions, means: MeanAttention) => Promise<AnalysisResult>,
  ): Promise<number[] | null> {
    const a = this.plan.analysis;
    if (a.sequences === 0) return null;
    const starts = analysisStarts(this.valTokens.length, a, this.plan.data.val);
    const means = new MeanAttention(config.nLayer, config.nHead, a.seqLen);
    const r = await analysisOf(source, () => run(starts, a, means));
    this.store.writeJson(this.store.attentionFile(model.label, step, 'json'), r);
    // The full-resolution mean matrices, per layer [heads, T, T]: what the event points at.
    const file = this.store.attentionFile(model.label, step, 'safetensors');
    writeSafetensors(path.join(this.store.dir, file), means.tensors(), { inheritune_run: this.store.runId, inheritune_label: model.label, step: String(step) });
    this.emit({ type: 'attention', model, step, tau: r.tau, eta: r.eta, sequences: r.sequences, seqLen: r.seqLen, convention: r.convention, layers: r.layers, file });
    return lazyLayers(r.layers);
  }
}

/** Checks that nothing in a run's folder is left from a different config: for --resume. */
export function assertResumable(store: RunStore): void {
  if (!fs.existsSync(store.configFile)) throw new InherituneError(store.dir, 'not a run folder (no config.yaml)');
  if (store.events().some((e) => e.type === 'runFinished')) throw new InherituneError(store.dir, 'the run has already finished; see its summary.json');
}

/** A model's figures over its seeds: the mean with a 95% interval, and the paired test against the reference. */
function statsOf(layers: number, steps: number, results: Finished[], reference: Finished): RoundResult {
  const losses = results.map((r) => r.valLoss);
  const { mean, ci95 } = meanCI(losses);
  const perSeed = results.map((r) => r.windowLosses);
  const refWindows = reference.windowLosses;
  const paired =
    refWindows && refWindows.length >= 2 && perSeed.every((w): w is number[] => w !== undefined && w.length === refWindows.length)
      ? pairedComparison(meanOverSeeds(perSeed), refWindows)
      : undefined;
  return {
    layers,
    steps,
    valLoss: results.length > 1 ? mean : losses[0],
    ...(results.length > 1 ? { seedValLosses: losses } : {}),
    ...(ci95 !== null ? { ci95 } : {}),
    ...(paired ? { vsReference: paired } : {}),
  };
}
