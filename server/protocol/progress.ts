/**
 * What a run is doing now, read from its events, and the words for it: the one progress text of the
 * status bar, the sidebar and the dashboard. A phase brings its own counts (a train or baseline
 * phase its step total; the others none), so a label is never shown with another phase's counts.
 */
import type { Phase, RunEventBody } from './events.js';

export interface RunProgress {
  /** '' before the first phase. */
  phase: Phase | '';
  /** The label of the model the phase is about, when it is about one. */
  model: string | null;
  /** What the phase does, in words (the phase event's message). */
  message: string;
  /** Steps done and the total, while a model trains; null in phases that do not count steps. */
  step: number | null;
  steps: number | null;
  trainLoss: number | null;
}

export const NO_PROGRESS: RunProgress = { phase: '', model: null, message: '', step: null, steps: null, trainLoss: null };

/** `p` after the event `e` (events in seq order). */
export function advanceProgress(p: RunProgress, e: RunEventBody): RunProgress {
  switch (e.type) {
    case 'phase': {
      const model = e.model?.label ?? null;
      const counted = (e.phase === 'train' || e.phase === 'baseline') && e.steps !== undefined;
      // A resumed model's training phase counts on from its checkpoint (`resumed` comes just before it).
      const from = p.model === model && p.step !== null && p.steps === null ? p.step : 0;
      return { phase: e.phase, model, message: e.message, step: counted ? from : null, steps: counted ? (e.steps ?? null) : null, trainLoss: null };
    }
    case 'resumed':
      return e.model ? { ...p, model: e.model.label, step: e.fromStep, steps: null, trainLoss: null } : p;
    case 'metrics':
      // Label and counts from the same event; the phase is training (a run stored before phases named their totals has only these).
      return {
        phase: p.phase === 'baseline' || p.phase === 'train' ? p.phase : e.model.kind === 'baseline' ? 'baseline' : 'train',
        model: e.model.label,
        message: p.model === e.model.label ? p.message : '',
        step: e.step,
        steps: e.steps,
        trainLoss: e.trainLoss,
      };
    default:
      return p;
  }
}

/** The phase and its model: "train round-1", "reference" (never "reference reference"). */
export function progressLabel(p: RunProgress): string {
  if (p.phase === '') return 'starting';
  return p.model !== null && p.model !== p.phase ? `${p.phase} ${p.model}` : p.phase;
}

/**
 * The progress in words. Long (dashboard, sidebar): "train round-1: step 12/40, loss 2.3456", or
 * "reference: evaluating and analysing the reference (8 layers)". Short (status bar):
 * "train round-1 12/40 · loss 2.346", or "reference".
 */
export function progressText(p: RunProgress, form: 'long' | 'short' = 'long'): string {
  const label = progressLabel(p);
  const counted = p.step !== null && p.steps !== null && p.steps > 0;
  const loss = counted && p.step !== 0 && p.trainLoss !== null ? p.trainLoss : null;
  if (form === 'short') return `${label}${counted ? ` ${p.step}/${p.steps}` : ''}${loss !== null ? ` · loss ${loss.toFixed(3)}` : ''}`;
  if (counted) return `${label}: step ${p.step}/${p.steps}${loss !== null ? `, loss ${loss.toFixed(4)}` : ''}`;
  return p.message ? `${label}: ${p.message}` : label;
}
