/**
 * What the PyTorch training worker (`python3 -m server.torch train <job.json>`, server/torch/) prints:
 * one JSON object a line on stdout. Every line is checked here before anything of it reaches the run's
 * events; the fields and bounds are those of the run events the lines become (events.ts).
 */
import { bool, int, nullable, num, obj, oneOf, optional, str, tagged, type Infer } from './schema.js';

const count = int({ min: 0 });
const text = str({ max: 1 << 20 });
const line = <const T extends string>(type: T) => ({ type: oneOf([type] as const) });

const WORKER_LINE = tagged('type', {
  metrics: obj({ ...line('metrics'), step: count, trainLoss: num(), lr: num({ min: 0 }), gradNorm: num({ min: 0 }), tokensPerSec: num({ min: 0 }), tokensSeen: count, memoryBytes: optional(count) }),
  eval: obj({ ...line('eval'), step: count, valLoss: num() }),
  checkpoint: obj({ ...line('checkpoint'), step: count, dir: text }),
  log: obj({ ...line('log'), level: oneOf(['info', 'warn', 'error'] as const), message: text }),
  /** The last line of a run: trained to the end, or stopped (checkpointed) at `step`. */
  done: obj({ ...line('done'), step: count, valLoss: nullable(num()), interrupted: bool() }),
  /** The last line of a failed run: `crash` when it was not bad input or divergence (a resume may succeed). */
  error: obj({ ...line('error'), message: text, crash: optional(bool()) }),
});

export type WorkerLine = Infer<typeof WORKER_LINE>;

/** One stdout line of the worker as a WorkerLine, or why it is not one (naming the field at fault). */
export function parseWorkerLine(s: string): { ok: true; line: WorkerLine } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch {
    return { ok: false, error: `not JSON: ${JSON.stringify(s.slice(0, 80))}` };
  }
  const r = WORKER_LINE.check(value, 'line');
  return r.ok ? { ok: true, line: r.value } : { ok: false, error: r.error };
}
