/**
 * Events of an Inheritune run: what the run loop emits, what events.jsonl stores one per line, what
 * `inheritune run --json` prints and what the training server streams. Defined once, here; no
 * node or tfjs imports, so the extension and the webviews import it too.
 */

import { arrayOf, bool, int, nullable, num, obj, oneOf, optional, pairOf, str, tagged, type Infer, type Same, type Schema } from './schema.js';

export const RUN_EVENTS_FORMAT = 'inheritune-events-1';

/** A model the run trains or measures: the reference, a round of the loop, or a baseline. */
export interface ModelRef {
  /** Stable label: "reference", "round-1", "round-2", ..., "scratch", "scratch_2x". */
  label: string;
  layers: number;
}

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
  heads: HeadStatsEvent[];
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
  | { type: 'phase'; phase: Phase; model?: ModelRef; message: string }
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
      layers: LayerStatsEvent[];
      /** Run-store path (relative to the run folder) of the mean attention matrices, per layer [heads, T, T]. */
      file: string;
    }
  | { type: 'checkpoint'; model: ModelRef; step: number; dir: string }
  /** A model is done: trained (or, for the reference, measured) and analysed. A resumed run skips it. */
  | { type: 'modelFinished'; model: ModelRef; steps: number; valLoss: number; lazyLayers: number[] | null; windowLosses?: number[] }
  /** A resumption: metrics of `model` after `fromStep` are recomputed (deterministically) and may repeat. */
  | { type: 'resumed'; model: ModelRef | null; fromStep: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'runFinished'; summary: RunSummary }
  | { type: 'runFailed'; error: string; interrupted: boolean };

export type RunEvent = EventBase & RunEventBody;
export type RunEventType = RunEvent['type'];

// ---------------------------------------------------------------------------------------------
// The runtime schema of a stored or streamed event: events.jsonl and the server's `event` messages
// are read through parseRunEvent, so a hand-edited, truncated or foreign line is an error that names
// its field, never a dashboard or loop that trips over it later.

const PHASES = ['reference', 'inherit', 'grow', 'train', 'eval', 'analyze', 'baseline', 'done'] as const satisfies readonly Phase[];
const text = str({ max: 1 << 20 });
const count = int({ min: 0 });
const modelRef = obj({ label: str({ min: 1, max: 200 }), layers: int({ min: 1 }) });
const layerIndices = arrayOf(int({ min: 0 }), { max: 100_000 });
const losses = arrayOf(num(), { max: 10_000_000 });
const PAIRED = obj({ windows: int({ min: 2 }), meanDiff: num(), se: num({ min: 0 }), ci95: pairOf(num()) });
const roundResult = { layers: int({ min: 1 }), steps: count, valLoss: num(), seedValLosses: optional(losses), ci95: optional(num({ min: 0 })), vsReference: optional(PAIRED) };
/** Schema of a HubPin (also in plan.json). */
export const HUB_PIN = obj({ repo: text, revision: text, commit: str({ min: 40, max: 40 }) });
const RUN_SUMMARY = obj({
  runId: text,
  name: text,
  backend: text,
  reference: obj({ path: text, hub: optional(HUB_PIN), layers: int({ min: 1 }), valLoss: num(), params: count }),
  rounds: arrayOf(obj(roundResult)),
  baselines: arrayOf(obj({ name: text, ...roundResult })),
  final: obj({ layers: int({ min: 1 }), valLoss: num(), matchedReference: bool(), params: count, modelDir: text, vsReference: optional(PAIRED) }),
  seeds: optional(arrayOf(count)),
  evaluation: optional(obj({ windows: int({ min: 1 }), tokens: int({ min: 1 }) })),
  lazyLayers: obj({ reference: layerIndices, final: layerIndices }),
  seconds: num({ min: 0 }),
});
const layerStats = obj({
  layer: count,
  maxRank: num({ min: 0 }),
  avgMass: num({ min: 0 }),
  lazy: bool(),
  heads: arrayOf(obj({ rank: num({ min: 0 }), mass: num({ min: 0 }) }), { max: 100_000 }),
});

function event<const T extends string, S extends Record<string, Schema<unknown> | ReturnType<typeof optional>>>(type: T, shape: S) {
  return obj({ runId: str({ min: 1, max: 200 }), seq: int({ min: 1 }), time: str({ min: 1, max: 64 }), type: oneOf([type] as const), ...shape });
}

const RUN_EVENT = tagged('type', {
  runStarted: event('runStarted', { name: text, configPath: text, backend: text, resumed: bool() }),
  phase: event('phase', { phase: oneOf(PHASES), model: optional(modelRef), message: text }),
  metrics: event('metrics', { model: modelRef, step: count, steps: count, trainLoss: num(), lr: num({ min: 0 }), gradNorm: num({ min: 0 }), tokensPerSec: num({ min: 0 }), tokensSeen: count }),
  eval: event('eval', { model: modelRef, step: count, valLoss: num(), referenceValLoss: nullable(num()) }),
  attention: event('attention', { model: modelRef, step: count, tau: num({ min: 0, max: 1 }), eta: num({ min: 0, max: 1 }), sequences: int({ min: 1 }), seqLen: int({ min: 1 }), layers: arrayOf(layerStats, { max: 100_000 }), file: text }),
  checkpoint: event('checkpoint', { model: modelRef, step: count, dir: text }),
  modelFinished: event('modelFinished', { model: modelRef, steps: count, valLoss: num(), lazyLayers: nullable(layerIndices), windowLosses: optional(losses) }),
  resumed: event('resumed', { model: nullable(modelRef), fromStep: count }),
  log: event('log', { level: oneOf(['info', 'warn', 'error'] as const), message: text }),
  runFinished: event('runFinished', { summary: RUN_SUMMARY }),
  runFailed: event('runFailed', { error: text, interrupted: bool() }),
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
