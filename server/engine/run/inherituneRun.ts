/**
 * The Inheritune loop (method.md section 1), as a run that can be killed and resumed:
 *
 *   reference: evaluate on the fixed validation windows, analyse attention
 *   round 1:   inherit the reference's first n blocks, train, evaluate, analyse
 *   round r:   while val loss > reference + tolerance and n + step <= max_layers: n += step and
 *              "restart" (inherit the first n blocks afresh) or "continue" (keep the trained blocks,
 *              append the reference's next ones), train, evaluate, analyse
 *   baselines: the final size from a fresh init, for 1x and 2x the steps
 *   final:     the last round's model saved as model/, summary.json written
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
import { initWeightsOf, isRotary, parameterCountOf, type HostTensor, type LanguageModel, type ModelConfig } from '../modelFamily.js';
import { createModel } from '../models.js';
import { writeSafetensors } from '../safetensors.js';
import { TFJS_ENGINE, TfjsEngine, type EngineSettings, type TrainingEngine } from '../train/engine.js';
import { TorchEngine } from '../train/torchEngine.js';
import type { TrainConfig } from '../train/trainer.js';
import { growFromReference } from './grow.js';
import type { RunStore } from './runStore.js';
import type { Baseline as BaselineName, GrowMode, TaskName } from '../../protocol/config.js';
import { baselineModel, referenceModel, roundModel, type HubPin, type ModelRef, type ModelTasks, type RunEvent, type RunEventBody, type RunSummary } from '../../protocol/events.js';
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
  /** Aborting stops at the next step boundary, after a checkpoint. */
  signal?: AbortSignal;
  backend: string;
}

export interface RunOutcome {
  summary?: RunSummary;
  interrupted: boolean;
}

class Interrupted extends Error {}

interface Finished {
  steps: number;
  valLoss: number;
  lazyLayers: number[] | null;
}

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
      if (e.type === 'modelFinished') this.done.set(e.model.label, { steps: e.steps, valLoss: e.valLoss, lazyLayers: e.lazyLayers });
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
        this.emit({ type: 'runFailed', error: e.message, interrupted: true });
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
  }

  private async loop(): Promise<RunSummary> {
    const p = this.plan;
    const reference = await this.measureReference();
    const windowsNote = paperWindowsNote(p.analysis.sequences, p.analysis.seqLen, this.referenceConfig.nPositions);
    if (windowsNote) this.emit({ type: 'log', level: 'info', message: windowsNote });
    const rounds: { label: string; layers: number; result: Finished }[] = [];
    let layers = p.layers;
    for (let round = 1; ; round++) {
      const model = roundModel(round, layers);
      const result = await this.task(model, p.train.steps, () => this.roundWeights(round, layers, rounds[rounds.length - 1]), true);
      rounds.push({ label: model.label, layers, result });
      const matched = result.valLoss <= reference.valLoss + p.grow.tolerance;
      if (matched || !p.grow.enabled || layers + p.grow.step > p.grow.maxLayers) break;
      layers += p.grow.step;
      this.phase('grow', model, `val loss ${result.valLoss.toFixed(4)} > reference ${reference.valLoss.toFixed(4)}: growing to ${layers} layers (${p.grow.mode})`);
    }
    const last = rounds[rounds.length - 1];
    const baselines = [];
    for (const name of p.baselines) {
      const steps = name === 'scratch_2x' ? 2 * p.train.steps : p.train.steps;
      const model = baselineModel(name, last.layers);
      const r = await this.task(model, steps, () => this.scratchWeights(last.layers), false);
      baselines.push({ name, layers: last.layers, steps, valLoss: r.valLoss });
    }

    const tasks = await this.evaluateTasks(rounds, baselines);

    this.phase('done', roundModel(rounds.length, last.layers), 'saving the final model');
    const finalConfig = saveRunModel(this.store, this.store.checkpointDir(last.label), p.saveDtype, { inheritune_label: last.label });
    const summary: RunSummary = {
      runId: this.store.runId,
      name: p.name,
      backend: this.hooks.backend,
      reference: { path: p.referenceDir, ...(p.hub ? { hub: p.hub } : {}), layers: this.referenceConfig.nLayer, valLoss: reference.valLoss, params: parameterCountOf(this.referenceConfig) },
      rounds: rounds.map((r) => ({ layers: r.layers, steps: r.result.steps, valLoss: r.result.valLoss })),
      baselines,
      final: {
        layers: last.layers,
        valLoss: last.result.valLoss,
        matchedReference: last.result.valLoss <= reference.valLoss + p.grow.tolerance,
        params: parameterCountOf(finalConfig),
        modelDir: this.store.modelDir,
      },
      lazyLayers: { reference: reference.lazyLayers ?? [], final: last.result.lazyLayers ?? [] },
      ...(tasks ? { tasks } : {}),
      ...(windowsNote ? { analysisNote: windowsNote } : {}),
      seconds: Math.round(this.priorSeconds + (Date.now() - this.started) / 1000),
    };
    this.store.writeSummary(summary);
    return summary;
  }

  private phase(phase: Extract<RunEventBody, { type: 'phase' }>['phase'], model: ModelRef | undefined, message: string): void {
    this.emit({ type: 'phase', phase, model, message });
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
          lazy = await this.analyze(lm, model, 0, dir.weightsFile);
        } finally {
          lm.dispose();
        }
      }
      const result = { steps: 0, valLoss, lazyLayers: lazy };
      this.emit({ type: 'modelFinished', model, ...result });
      this.done.set('reference', result);
      return result;
    } finally {
      dir.close();
    }
  }

  private roundWeights(round: number, layers: number, previous: { label: string; layers: number } | undefined): { config: ModelConfig; tensors: Map<string, HostTensor> } {
    const p = this.plan;
    const model = roundModel(round, layers);
    if (round === 1 || p.grow.mode === 'restart') {
      this.phase('inherit', model, `inheriting the reference's first ${layers} blocks`);
      return inheritFromReference(p.referenceDir, { layers, ...p.inherit, seed: p.train.seed });
    }
    const prev = previous as { label: string; layers: number };
    this.phase('inherit', model, `keeping ${prev.layers} trained blocks, appending reference blocks ${prev.layers + 1}..${layers}`);
    return growFromReference(loadModelDir(this.store.checkpointDir(prev.label)), p.referenceDir, layers);
  }

  private scratchWeights(layers: number): { config: ModelConfig; tensors: Map<string, HostTensor> } {
    const config = { ...this.referenceConfig, nLayer: layers };
    return { config, tensors: initWeightsOf(config, this.plan.train.seed) };
  }

  /** Trains one model (resuming its checkpoint if there is one), evaluates and analyses it. */
  private async task(
    model: ModelRef,
    steps: number,
    weights: () => { config: ModelConfig; tensors: Map<string, HostTensor> },
    analyse: boolean,
  ): Promise<Finished> {
    const known = this.done.get(model.label);
    if (known) return known;
    const p = this.plan;
    const ckpt = this.store.checkpointDir(model.label);
    const referenceValLoss = this.done.get('reference')?.valLoss ?? null;
    const end = await this.engine.train(
      { model, train: { ...p.train, steps }, checkpointDir: ckpt, weights, signal: this.hooks.signal },
      {
        onInit: (tensors) => this.hooks.onModelInit?.(model, tensors),
        onResumed: (fromStep) => this.emit({ type: 'resumed', model, fromStep }),
        onStart: () => this.phase(model.kind === 'baseline' ? 'baseline' : 'train', model, `training ${model.layers} layers for ${steps} steps`),
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
      const why = end.reason ? `${end.reason}` : `interrupted at step ${end.step}`;
      throw new Interrupted(`${why} of ${model.label}; resume with: inheritune run --resume ${this.store.dir}`);
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
      const finished = { steps, valLoss, lazyLayers: lazy };
      this.emit({ type: 'modelFinished', model, ...finished });
      this.done.set(model.label, finished);
      return finished;
    } finally {
      gpt.dispose();
    }
  }

  private async evaluate(gpt: LanguageModel): Promise<number> {
    const { blockSize, microBatch } = this.plan.train;
    return (await evaluate(gpt, this.valTokens, this.valStarts, blockSize, microBatch)).valLoss;
  }

  /** Zero-shot tasks (evaluation.tasks) of the reference, every round and every baseline; undefined when none are asked for. */
  private async evaluateTasks(rounds: { layers: number }[], baselines: { name: BaselineName; layers: number }[]): Promise<ModelTasks[] | undefined> {
    const p = this.plan;
    const evaluation = p.evaluation;
    if (!evaluation) return undefined;
    const trained = [...rounds.map((r, i) => roundModel(i + 1, r.layers)), ...baselines.map((b) => baselineModel(b.name, b.layers))];
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
