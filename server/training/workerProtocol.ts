/**
 * Messages between the server and its training processes (node IPC, JSON). One process per run (or
 * per analyze request): a step of tfjs blocks its event loop for up to seconds, so training never
 * runs in the process that serves the sockets. Each side checks every message it receives against
 * these schemas (parseToWorker, parseFromWorker) before acting on it.
 */
import { BACKENDS } from '../protocol/config.js';
import { RUN_EVENT } from '../protocol/events.js';
import { ANALYSIS_RESULT, ANALYZE_OPTIONS, STOP_MODES } from '../protocol/messages.js';
import { arrayOf, int, num, obj, oneOf, optional, str, tagged, type Infer, type Schema } from '../protocol/schema.js';

/** The hidden CLI command a training process runs. */
export const WORKER_COMMAND = '__training-worker';

const text = str({ max: 1 << 20 });
const path = str({ min: 1, max: 4096 });
const backend = oneOf(BACKENDS);

const TO_WORKER = tagged('type', {
  run: obj({ type: oneOf(['run'] as const), dir: path, backend, lockWaitMs: int({ min: 0 }) }),
  analyze: obj({ type: oneOf(['analyze'] as const), modelDir: path, data: path, options: ANALYZE_OPTIONS, backend }),
  /** 'shutdown': the server is stopping; like cancel. */
  stop: obj({ type: oneOf(['stop'] as const), mode: oneOf([...STOP_MODES, 'shutdown'] as const) }),
});
export type ToWorker = Infer<typeof TO_WORKER>;

const WORKER_HEATMAP = obj({
  layer: int({ min: 0 }),
  head: int({ min: 0 }),
  size: int({ min: 1, max: 4096 }),
  max: num({ min: 0 }),
  seqLen: int({ min: 1 }),
  /** uint8 cells, base64. */
  cells: str({ max: 1 << 24 }),
});
export type WorkerHeatmap = Infer<typeof WORKER_HEATMAP>;

const FROM_WORKER = tagged('type', {
  started: obj({ type: oneOf(['started'] as const), backend: str({ max: 200 }) }),
  event: obj({ type: oneOf(['event'] as const), event: RUN_EVENT }),
  done: obj({ type: oneOf(['done'] as const), status: oneOf(['finished', 'interrupted', 'failed'] as const), error: optional(text) }),
  analysis: obj({ type: oneOf(['analysis'] as const), backend: str({ max: 200 }), result: ANALYSIS_RESULT, heatmaps: arrayOf(WORKER_HEATMAP, { max: 1_000_000 }) }),
  analysisFailed: obj({ type: oneOf(['analysisFailed'] as const), error: text }),
});
export type FromWorker = Infer<typeof FROM_WORKER>;

function parse<T>(schema: Schema<T>, value: unknown, what: string): { ok: true; message: T } | { ok: false; error: string } {
  const r = schema.check(value, what);
  return r.ok ? { ok: true, message: r.value } : { ok: false, error: r.error };
}

/** A message from the server, as the training process receives it, or why it is none. */
export const parseToWorker = (value: unknown) => parse(TO_WORKER, value, 'toWorker');
/** A message from a training process, as the server receives it, or why it is none. */
export const parseFromWorker = (value: unknown) => parse(FROM_WORKER, value, 'fromWorker');
