/**
 * Events of an Inheritune run: what the run loop emits, what events.jsonl stores one per line, what
 * `inheritune run --json` prints and what the training server streams. Defined once, here; no
 * node or tfjs imports, so the extension and the webviews import it too.
 */

import { ANALYSIS_CONVENTIONS, BASELINES, ENGINES, TASK_NAMES, type AnalysisConvention, type Baseline, type EngineName, type TaskName } from './names.js';
import { arrayOf, bool, int, nullable, num, obj, oneOf, optional, pairOf, recordOf, show, str, tagged, type Infer, type Same, type Schema } from './schema.js';

export const RUN_EVENTS_FORMAT = 'inheritune-events-1';

export { BASELINES, type Baseline };

/**
 * A model the run trains or measures: the reference, round 1, 2, ... of the loop, or a baseline.
 * `label` ("reference", "round-2", "scratch_2x") names it in displays, checkpoint folders and stored
 * events; what it is comes from `kind` and its typed fields, never from parsing the label. Build one
 * with referenceModel, roundModel or baselineModel (the label follows from the rest).
 */
export type ModelRef = { label: string; layers: number; seed?: number } & (
  | { kind: 'reference' }
  | { kind: 'round'; round: number }
  | { kind: 'baseline'; baseline: Baseline; stage?: BaselineStage }
);
export type ModelKind = ModelRef['kind'];
/** A model trained on the way to a baseline (stacking trains a half-depth model first). */
export type BaselineStage = 'stage1';

/** With train.seeds, each seed's model is its own (label suffix -seed<N>); one seed keeps the plain label. */
const seeded = (label: string, seed: number | undefined) => (seed === undefined ? { label } : { label: `${label}-seed${seed}`, seed });
export const referenceModel = (layers: number): ModelRef => ({ kind: 'reference', label: 'reference', layers });
export const roundModel = (round: number, layers: number, seed?: number): ModelRef => ({ kind: 'round', round, layers, ...seeded(`round-${round}`, seed) });
export const baselineModel = (baseline: Baseline, layers: number, seed?: number, stage?: BaselineStage): ModelRef => ({
  kind: 'baseline',
  baseline,
  ...(stage ? { stage } : {}),
  layers,
  ...seeded(stage ? `${baseline}-${stage}` : baseline, seed),
});

export type Phase = 'reference' | 'inherit' | 'grow' | 'train' | 'eval' | 'analyze' | 'baseline' | 'done';

export interface HeadStatsEvent {
  rank: number;
  mass: number;
}

export interface LayerStatsEvent {
  layer: number;
  maxRank: number;
  avgMass: number;
  lazy: boolean;
  /** floor(MaxRank) = 1, the paper's lazy group; absent in events written before it existed. */
  nearLazy?: boolean;
  heads: HeadStatsEvent[];
}

/** A device a run trains on: its name (GPU model, WebGPU adapter, CPU) and total memory in bytes when known. */
export interface DeviceInfo {
  name: string;
  memoryBytes: number | null;
}

/** One zero-shot task's result for one model (metric names as lm-evaluation-harness reports them). */
export interface TaskResultEvent {
  task: TaskName;
  items: number;
  metrics: Record<string, number>;
}

/** A model's zero-shot task results (evaluation.tasks), in the summary and the `tasks` event. */
export interface ModelTasks {
  model: ModelRef;
  results: TaskResultEvent[];
}

/** A model against the reference on the same evaluation windows (difference: model - reference), paired t-test. */
export interface PairedComparison {
  windows: number;
  meanDiff: number;
  /** Standard error of meanDiff: sd of the per-window differences / sqrt(windows). */
  se: number;
  /** Two-sided 95% t interval of the mean difference. */
  ci95: [number, number];
}

export interface RoundResult {
  layers: number;
  steps: number;
  /** The mean over seeds when trained with several (train.seeds). */
  valLoss: number;
  /** Per seed, in the order of RunSummary.seeds (several seeds only). */
  seedValLosses?: number[];
  /** Half-width of the 95% t interval of valLoss over the seeds (several seeds only). */
  ci95?: number;
  /** Paired comparison with the reference over the evaluation windows (per window, the mean over seeds). */
  vsReference?: PairedComparison;
}

export interface BaselineResult extends RoundResult {
  name: string;
}

/** A Hub reference pinned: the model, the revision asked for, and the commit it resolved to. */
export interface HubPin {
  repo: string;
  revision: string;
  commit: string;
}

export interface RunSummary {
  runId: string;
  name: string;
  backend: string;
  /** hub: present when the reference came from the Hugging Face Hub (path is then its cache snapshot). */
  reference: { path: string; hub?: HubPin; layers: number; valLoss: number; params: number };
  rounds: RoundResult[];
  baselines: BaselineResult[];
  /** matchedReference: run/stats.ts's matchesReference (the paired test when vsReference is present). */
  final: { layers: number; valLoss: number; matchedReference: boolean; params: number; modelDir: string; vsReference?: PairedComparison };
  /** The seeds every model was trained with (train.seeds, or [train.seed]). */
  seeds?: number[];
  /** The fixed evaluation windows every model was evaluated on. */
  evaluation?: { windows: number; tokens: number };
  lazyLayers: { reference: number[]; final: number[] };
  /** Zero-shot task results of the reference, each round and the baselines; absent when evaluation.tasks is empty. */
  tasks?: ModelTasks[];
  /** Why the attention analysis used fewer or shorter windows than the paper's 100 x 100; absent when it did not. */
  analysisNote?: string;
  /** Seconds of wall time the run took (summed over resumptions). */
  seconds: number;
}

interface EventBase {
  runId: string;
  /** Per-run sequence number: 1, 2, 3, ... with no gaps, across resumptions. */
  seq: number;
  /** ISO time the event was emitted. */
  time: string;
}

export type RunEventBody =
  | { type: 'runStarted'; name: string; configPath: string; backend: string; resumed: boolean }
  /** steps: in a train or baseline phase, the optimizer steps its model trains for (the total its metrics count to). */
  | { type: 'phase'; phase: Phase; model?: ModelRef; message: string; steps?: number }
  | {
      type: 'metrics';
      model: ModelRef;
      step: number;
      steps: number;
      trainLoss: number;
      lr: number;
      gradNorm: number;
      tokensPerSec: number;
      tokensSeen: number;
      /** Bytes in use on the training device: torch's peak allocation on a CUDA device, tfjs's tensors on a WebGPU adapter; absent on the CPU. */
      memoryBytes?: number;
    }
  | { type: 'eval'; model: ModelRef; step: number; valLoss: number; referenceValLoss: number | null }
  | {
      type: 'attention';
      model: ModelRef;
      step: number;
      tau: number;
      eta: number;
      sequences: number;
      seqLen: number;
      /** How Rank(h,l) was taken over the windows; absent: mean-of-ranks (events written before it existed). */
      convention?: AnalysisConvention;
      layers: LayerStatsEvent[];
      /** Run-store path (relative to the run folder) of the mean attention matrices, per layer [heads, T, T]. */
      file: string;
    }
  | { type: 'checkpoint'; model: ModelRef; step: number; dir: string }
  /** A model's zero-shot task results (evaluation.tasks). */
  | { type: 'tasks'; model: ModelRef; results: TaskResultEvent[] }
  /** A model is done: trained (or, for the reference, measured) and analysed. A resumed run skips it. */
  | { type: 'modelFinished'; model: ModelRef; steps: number; valLoss: number; lazyLayers: number[] | null; windowLosses?: number[] }
  /** A resumption: metrics of `model` after `fromStep` are recomputed (deterministically) and may repeat. */
  | { type: 'resumed'; model: ModelRef | null; fromStep: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  /** What trains the run's models (once per start or resumption): the engine, its tfjs backend or torch devices setting, and each device used. */
  | { type: 'device'; engine: EngineName; backend: string; devices: DeviceInfo[] }
  | { type: 'runFinished'; summary: RunSummary }
  /**
   * The run ended before its end: `interrupted` (resumable from its last checkpoint) or failed.
   * `byUser`: the user asked for the stop (Stop in VS Code, Ctrl-C of `inheritune run`), so it is
   * a state "stopped", not an error; `error` then says where it stopped.
   */
  | { type: 'runFailed'; error: string; interrupted: boolean; byUser?: boolean };

export type RunEvent = EventBase & RunEventBody;
export type RunEventType = RunEvent['type'];

// ---------------------------------------------------------------------------------------------
// The runtime schema of a stored or streamed event: events.jsonl and the server's `event` messages
// are read through parseRunEvent, so a hand-edited, truncated or foreign line is an error that names
// its field, never a dashboard or loop that trips over it later.

const PHASES = ['reference', 'inherit', 'grow', 'train', 'eval', 'analyze', 'baseline', 'done'] as const satisfies readonly Phase[];
const text = str({ max: 1 << 20 });
const count = int({ min: 0 });
const MODEL_REF_FIELDS = obj({
  label: str({ min: 1, max: 200 }),
  layers: int({ min: 1 }),
  kind: optional(oneOf(['reference', 'round', 'baseline'] as const satisfies readonly ModelKind[])),
  round: optional(int({ min: 1 })),
  baseline: optional(oneOf(BASELINES)),
  stage: optional(oneOf(['stage1'] as const satisfies readonly BaselineStage[])),
  seed: optional(int({ min: 0 })),
});
const ROUND_LABEL = /^round-([1-9][0-9]{0,8})$/;
/** What a label alone says (events stored before `kind` existed carry only the label). */
function modelOfLabel(label: string, layers: number): ModelRef | undefined {
  const round = ROUND_LABEL.exec(label);
  if (label === 'reference') return referenceModel(layers);
  if (round) return roundModel(Number(round[1]), layers);
  return (BASELINES as readonly string[]).includes(label) ? baselineModel(label as Baseline, layers) : undefined;
}
/** A ModelRef: its kind and typed fields, or (stored without them) derived from the label, here once. */
const modelRef: Schema<ModelRef> = {
  expected: 'a model (label, layers, kind)',
  check: (v, p) => {
    const r = MODEL_REF_FIELDS.check(v, p);
    if (!r.ok) return r;
    const { label, layers, kind, round, baseline, stage, seed } = r.value;
    const fail = (error: string) => ({ ok: false as const, error });
    if (kind === undefined) {
      const derived = round === undefined && baseline === undefined ? modelOfLabel(label, layers) : undefined;
      return derived ? { ok: true, value: derived } : fail(`${p}.kind is missing, and ${p}.label ${show(label)} is not "reference", "round-<n>" or a baseline (${BASELINES.join(', ')})`);
    }
    if ((kind === 'round') !== (round !== undefined)) return fail(`${p}.round ${kind === 'round' ? 'is missing: a round model names its round' : 'is only for kind "round"'}`);
    if ((kind === 'baseline') !== (baseline !== undefined)) return fail(`${p}.baseline ${kind === 'baseline' ? 'is missing: a baseline model names its baseline' : 'is only for kind "baseline"'}`);
    if (kind !== 'baseline' && stage !== undefined) return fail(`${p}.stage is only for kind "baseline"`);
    const model = round !== undefined ? roundModel(round, layers, seed) : baseline !== undefined ? baselineModel(baseline, layers, seed, stage) : referenceModel(layers);
    return model.label === label ? { ok: true, value: model } : fail(`${p}.label must be ${show(model.label)} for this ${kind} model, got ${show(label)}`);
  },
};
const layerIndices = arrayOf(int({ min: 0 }), { max: 100_000 });
const losses = arrayOf(num(), { max: 10_000_000 });
const PAIRED = obj({ windows: int({ min: 2 }), meanDiff: num(), se: num({ min: 0 }), ci95: pairOf(num()) });
const roundResult = { layers: int({ min: 1 }), steps: count, valLoss: num(), seedValLosses: optional(losses), ci95: optional(num({ min: 0 })), vsReference: optional(PAIRED) };
/** Schema of a HubPin (also in plan.json). */
export const HUB_PIN = obj({ repo: text, revision: text, commit: str({ min: 40, max: 40 }) });
/** Schema of a run's final model (RunSummary.final; the server's RunInfo.final). */
export const FINAL_RESULT = obj({ layers: int({ min: 1 }), valLoss: num(), matchedReference: bool(), params: count, modelDir: text, vsReference: optional(PAIRED) });
const TASK_RESULTS = arrayOf(obj({ task: oneOf(TASK_NAMES), items: count, metrics: recordOf(num()) }), { max: 100 });
const MODEL_TASKS = obj({ model: modelRef, results: TASK_RESULTS });
const RUN_SUMMARY = obj({
  runId: text,
  name: text,
  backend: text,
  reference: obj({ path: text, hub: optional(HUB_PIN), layers: int({ min: 1 }), valLoss: num(), params: count }),
  rounds: arrayOf(obj(roundResult)),
  baselines: arrayOf(obj({ name: text, ...roundResult })),
  final: FINAL_RESULT,
  seeds: optional(arrayOf(count)),
  evaluation: optional(obj({ windows: int({ min: 1 }), tokens: int({ min: 1 }) })),
  lazyLayers: obj({ reference: layerIndices, final: layerIndices }),
  tasks: optional(arrayOf(MODEL_TASKS)),
  analysisNote: optional(text),
  seconds: num({ min: 0 }),
});
const layerStats = obj({
  layer: count,
  maxRank: num({ min: 0 }),
  avgMass: num({ min: 0 }),
  lazy: bool(),
  nearLazy: optional(bool()),
  heads: arrayOf(obj({ rank: num({ min: 0 }), mass: num({ min: 0 }) }), { max: 100_000 }),
});

const DEVICE_INFO = obj({ name: str({ min: 1, max: 1000 }), memoryBytes: nullable(int({ min: 0 })) });

function event<const T extends string, S extends Record<string, Schema<unknown> | ReturnType<typeof optional>>>(type: T, shape: S) {
  return obj({ runId: str({ min: 1, max: 200 }), seq: int({ min: 1 }), time: str({ min: 1, max: 64 }), type: oneOf([type] as const), ...shape });
}

/** Schema of a run event (parseRunEvent; the server's `event` messages). */
export const RUN_EVENT = tagged('type', {
  runStarted: event('runStarted', { name: text, configPath: text, backend: text, resumed: bool() }),
  phase: event('phase', { phase: oneOf(PHASES), model: optional(modelRef), message: text, steps: optional(int({ min: 1 })) }),
  metrics: event('metrics', { model: modelRef, step: count, steps: count, trainLoss: num(), lr: num({ min: 0 }), gradNorm: num({ min: 0 }), tokensPerSec: num({ min: 0 }), tokensSeen: count, memoryBytes: optional(int({ min: 0 })) }),
  eval: event('eval', { model: modelRef, step: count, valLoss: num(), referenceValLoss: nullable(num()) }),
  attention: event('attention', { model: modelRef, step: count, tau: num({ min: 0, max: 1 }), eta: num({ min: 0, max: 1 }), sequences: int({ min: 1 }), seqLen: int({ min: 1 }), convention: optional(oneOf(ANALYSIS_CONVENTIONS)), layers: arrayOf(layerStats, { max: 100_000 }), file: text }),
  checkpoint: event('checkpoint', { model: modelRef, step: count, dir: text }),
  tasks: event('tasks', { model: modelRef, results: TASK_RESULTS }),
  modelFinished: event('modelFinished', { model: modelRef, steps: count, valLoss: num(), lazyLayers: nullable(layerIndices), windowLosses: optional(losses) }),
  resumed: event('resumed', { model: nullable(modelRef), fromStep: count }),
  log: event('log', { level: oneOf(['info', 'warn', 'error'] as const), message: text }),
  device: event('device', { engine: oneOf(ENGINES), backend: text, devices: arrayOf(DEVICE_INFO, { max: 4096 }) }),
  runFinished: event('runFinished', { summary: RUN_SUMMARY }),
  runFailed: event('runFailed', { error: text, interrupted: bool(), byUser: optional(bool()) }),
});

// Compile-time check: the schema accepts exactly the RunEvent type (both ways).
const schemaMatchesType: Same<Infer<typeof RUN_EVENT>, RunEvent> = true;
void schemaMatchesType;

/** A run event from parsed JSON, or why it is not one (naming the field at fault). */
export function parseRunEvent(value: unknown): { ok: true; event: RunEvent } | { ok: false; error: string } {
  const r = RUN_EVENT.check(value, 'event');
  return r.ok ? { ok: true, event: r.value } : { ok: false, error: r.error };
}

/** A run's summary (summary.json, the runFinished event's), or why it is not one. */
export function parseRunSummary(value: unknown): { ok: true; summary: RunSummary } | { ok: false; error: string } {
  const r = RUN_SUMMARY.check(value, 'summary');
  return r.ok ? { ok: true, summary: r.value } : { ok: false, error: r.error };
}

/** One line of events.jsonl as a run event, or why it is not one. */
export function parseEventLine(line: string): { ok: true; event: RunEvent } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, error: `not valid JSON: ${line.slice(0, 80)}` };
  }
  return parseRunEvent(value);
}
