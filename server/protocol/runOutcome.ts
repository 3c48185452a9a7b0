/**
 * What a run's stored events say of it: its status, the error text and the final summary. The one
 * rule, used by the training server, the extension, the language server and the training process
 * (each overlays only what it knows live: queued, running, stopping, a lock held). Pure: no node
 * imports, so the extension and webviews import it too.
 */
import type { RunEvent, RunSummary } from './events.js';

/**
 * The statuses a run's events can give (the server adds queued, running and stopping: messages.ts
 * RunStatus): stopped is a user's stop, interrupted a stop nobody asked for (a kill, a crash, the
 * server going away); both resume from their last checkpoint.
 */
export const STORED_RUN_STATUSES = ['created', 'stopped', 'interrupted', 'failed', 'finished'] as const;
export type StoredRunStatus = (typeof STORED_RUN_STATUSES)[number];

/** The statuses resumeRun continues (from the last checkpoint; a run never started starts). */
export const RESUMABLE_STATUSES: readonly string[] = ['created', 'stopped', 'interrupted', 'failed'] satisfies readonly StoredRunStatus[];

/** Whether a run of this status can be resumed. */
export function isResumable(status: string): boolean {
  return RESUMABLE_STATUSES.includes(status);
}

export interface RunOutcome {
  status: StoredRunStatus;
  /** Why the run failed, or where it stopped (stopped, interrupted, failed). */
  error?: string;
  /** The runFinished event's summary (finished). */
  summary?: RunSummary;
}

/** The error of a run whose events end without a final event. */
export const NO_FINAL_EVENT = 'the run stopped without a final event (killed or crashed); resume to continue from the last checkpoint';

/** The outcome of no events at all. */
export const NOT_STARTED: RunOutcome = Object.freeze({ status: 'created' });

/**
 * The outcome after one more event. A log never changes an outcome once there is one
 * (finish-and-save logs after runFailed; shutdown notes follow the final event); any other event but
 * the two final ones means the run began and has not ended (a resumption begins again).
 */
export function nextOutcome(outcome: RunOutcome, e: RunEvent): RunOutcome {
  if (e.type === 'runFinished') return { status: 'finished', summary: e.summary };
  if (e.type === 'runFailed') return { status: !e.interrupted ? 'failed' : e.byUser ? 'stopped' : 'interrupted', error: e.error };
  if (e.type === 'log' && outcome.status !== 'created') return outcome;
  return { status: 'interrupted', error: NO_FINAL_EVENT };
}

/**
 * The outcome of a run's events in order. Only the events from the last one that is not a log on
 * matter, so a tail of the file that reaches back to such an event (eventEnds) gives the same.
 */
export function runOutcome(events: Iterable<RunEvent>): RunOutcome {
  let o = NOT_STARTED;
  for (const e of events) o = nextOutcome(o, e);
  return o;
}
