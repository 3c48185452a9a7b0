/**
 * What the extension says when a run it watched ends: which ends are news (a run seen training that
 * now has a stored status) and the notification of each (its level, text and actions). Pure (no
 * `vscode`), so unit tests run it.
 */
import type { RunInfo, RunStatus } from '../server/protocol/messages.js';
import { STORED_RUN_STATUSES } from '../server/protocol/runOutcome.js';

const LIVE: readonly RunStatus[] = ['queued', 'running', 'stopping'];

/** Whether a run whose status went from `before` to `now` has just ended (not a replay of an old end). */
export function endedNow(before: RunStatus | undefined, now: RunStatus): boolean {
  return before !== undefined && LIVE.includes(before) && (STORED_RUN_STATUSES as readonly RunStatus[]).includes(now) && now !== 'created';
}

export const END_ACTIONS = ['Open Dashboard', 'Open Model Folder', 'Resume', 'Show Server Log'] as const;
export type EndAction = (typeof END_ACTIONS)[number];

export interface EndNotice {
  level: 'info' | 'warning' | 'error';
  text: string;
  actions: EndAction[];
}

/** The notification of a run that ended; `modelSaved`: its model/ folder is there (finished, or stopped with "save the model"). */
export function endNotice(run: RunInfo, modelSaved: boolean): EndNotice {
  const name = `Inheritune: ${run.name}`;
  const model: EndAction[] = modelSaved ? ['Open Model Folder'] : [];
  switch (run.status) {
    case 'finished': {
      const f = run.final;
      const result = f ? `: ${f.layers} layers, val loss ${f.valLoss.toFixed(4)}${f.matchedReference ? ', matches the reference' : ''}` : '';
      return { level: 'info', text: `${name} finished${result}.`, actions: ['Open Dashboard', ...model] };
    }
    case 'stopped':
      return { level: 'info', text: `${name} ${run.error ?? 'stopped'}.`, actions: ['Open Dashboard', ...model, 'Resume'] };
    case 'interrupted':
      return { level: 'warning', text: `${name} was interrupted${run.error ? `: ${run.error}` : ''}.`, actions: ['Open Dashboard', ...model, 'Resume'] };
    default:
      return { level: 'error', text: `${name} failed${run.error ? `: ${run.error}` : ''}.`, actions: ['Open Dashboard', 'Show Server Log'] };
  }
}
