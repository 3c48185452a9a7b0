/**
 * Events of an Inheritune run: what the run loop emits, what events.jsonl stores one per line, what
 * `inheritune run --json` prints and what the training server streams. Defined once, here; no
 * node or tfjs imports, so the extension and the webviews import it too.
 */

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

export interface RoundResult {
  layers: number;
  steps: number;
  valLoss: number;
}

export interface BaselineResult extends RoundResult {
  name: string;
}

export interface RunSummary {
  runId: string;
  name: string;
  backend: string;
  reference: { path: string; layers: number; valLoss: number; params: number };
  rounds: RoundResult[];
  baselines: BaselineResult[];
  final: { layers: number; valLoss: number; matchedReference: boolean; params: number; modelDir: string };
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
  | { type: 'modelFinished'; model: ModelRef; steps: number; valLoss: number; lazyLayers: number[] | null }
  /** A resumption: metrics of `model` after `fromStep` are recomputed (deterministically) and may repeat. */
  | { type: 'resumed'; model: ModelRef | null; fromStep: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'runFinished'; summary: RunSummary }
  | { type: 'runFailed'; error: string; interrupted: boolean };

export type RunEvent = EventBase & RunEventBody;
export type RunEventType = RunEvent['type'];
