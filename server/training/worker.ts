/**
 * A training process: started by the server (node IPC), it runs one job and exits.
 *
 * - run: holds the run folder's lock, opens the run store (repairing a torn last event line), and
 *   runs (or resumes) the Inheritune loop, relaying every stored event to the server. A stop request,
 *   SIGTERM/SIGINT, or the server going away (the IPC channel closes, e.g. the server was killed)
 *   aborts the loop at the next step boundary: it checkpoints and ends with runFailed{interrupted},
 *   so the run is resumable (byUser for a stop request: the run reads stopped). `finish-and-save` also saves the model being trained as model/.
 * - analyze: attention statistics and heatmaps of a model directory on a data file.
 */
import * as path from 'node:path';
import { analysisStarts, MeanAttention } from '../engine/analyze.js';
import { initBackend } from '../engine/backend.js';
import { resolvePinnedReference } from '../engine/hub/index.js';
import { loadTokens } from '../engine/data/tokens.js';
import { ModelDir, type SaveDtype } from '../engine/hfCheckpoint.js';
import { analyzeDir } from '../engine/layerwise.js';
import { assertResumable, InherituneRun, saveRunModel, USER_STOP } from '../engine/run/inherituneRun.js';
import { readPlan } from '../engine/run/plan.js';
import { RunStore } from '../engine/run/runStore.js';
import { downsampleHeatmap, HEATMAP_MAX_SIZE, type StopMode } from '../protocol/messages.js';
import type { RunEvent } from '../protocol/events.js';
import { runOutcome } from '../protocol/runOutcome.js';
import { acquireRunLock } from '../engine/run/runLock.js';
import { parseToWorker, type FromWorker, type ToWorker, type WorkerHeatmap } from './workerProtocol.js';

/**
 * Sends to the server if it is there. The callback matters: without one, a send that fails because
 * the server just died (before 'disconnect' is seen) is an 'error' event that would kill this process
 * before it checkpoints.
 */
function send(msg: FromWorker): void {
  if (process.connected) process.send?.(msg, undefined, {}, () => undefined);
}

/** Sends `msg`, then exits once it has left (or at once when the server is gone). */
function sendAndExit(msg: FromWorker, code: number): void {
  if (!process.connected || !process.send) process.exit(code);
  process.send(msg, undefined, {}, () => process.exit(code));
  // A channel that never drains must not keep the process alive.
  setTimeout(() => process.exit(code), 5000).unref();
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Entry point of the hidden worker command. */
export function workerMain(): void {
  if (!process.send) {
    process.stderr.write('error: this command is started by `inheritune serve`, not by hand\n');
    process.exit(2);
  }
  // stdout and stderr are pipes to the server: once it is gone, a write must not be fatal.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  process.once('message', (value: unknown) => {
    const parsed = parseToWorker(value);
    if (!parsed.ok) {
      process.stderr.write(`worker: not a job: ${parsed.error}\n`);
      sendAndExit({ type: 'done', status: 'failed', error: `the training process got a message outside its protocol: ${parsed.error}` }, 2);
      return;
    }
    const job = parsed.message;
    const work = job.type === 'run' ? runJob(job) : job.type === 'analyze' ? analyzeJob(job) : Promise.resolve();
    work.catch((e: unknown) => {
      process.stderr.write(`worker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      sendAndExit(job.type === 'analyze' ? { type: 'analysisFailed', error: message(e) } : { type: 'done', status: 'failed', error: message(e) }, 1);
    });
  });
}

async function runJob(job: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const abort = new AbortController();
  let stopMode: StopMode | 'shutdown' | 'server-gone' | 'signal' | undefined;
  let store: RunStore | undefined;
  const emit = (e: RunEvent) => send({ type: 'event', event: e });
  const log = (level: 'info' | 'warn', text: string) => {
    if (store) emit(store.append({ type: 'log', level, message: text }));
  };
  const stop = (mode: NonNullable<typeof stopMode>, why: string) => {
    // finish-and-save may upgrade an earlier stop; nothing else changes a stop under way.
    if (stopMode !== undefined && !(mode === 'finish-and-save' && stopMode !== 'finish-and-save')) return;
    stopMode = mode;
    log('info', why);
    abort.abort(mode === 'cancel' || mode === 'finish-and-save' ? USER_STOP : undefined);
  };
  process.on('message', (value: unknown) => {
    const parsed = parseToWorker(value);
    if (!parsed.ok) return void process.stderr.write(`worker: ignoring a message outside the protocol: ${parsed.error}\n`);
    const m = parsed.message;
    if (m.type !== 'stop') return;
    const why =
      m.mode === 'shutdown'
        ? 'the server is shutting down: checkpointing and stopping (resumable)'
        : m.mode === 'cancel'
          ? 'stop requested (cancel): checkpointing and stopping (resumable)'
          : 'stop requested (finish-and-save): checkpointing, stopping and saving the model being trained as model/';
    stop(m.mode, why);
  });
  process.on('disconnect', () => stop('server-gone', 'the server went away: checkpointing and stopping (resumable)'));
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => stop('signal', `${sig}: checkpointing and stopping (resumable)`));

  const release = await acquireRunLock(job.dir, job.lockWaitMs, (pid) => process.stderr.write(`waiting for process ${pid} to release ${job.dir}\n`));
  store = RunStore.open(job.dir);
  assertResumable(store);
  const stored = readPlan(store.dir);
  // A Hub reference is read at the commit the run started with, fetched again if the cache lost it.
  const plan = stored.hub ? { ...stored, referenceDir: await resolvePinnedReference(stored.hub, (line) => emit(store.append({ type: 'log', level: 'info', message: line })), abort.signal) } : stored;
  const backend = await initBackend(job.backend, {
    needBytes: plan.memoryBytes,
    onNotice: (line) => emit(store.append({ type: 'log', level: 'info', message: line })),
  });
  send({ type: 'started', backend });
  if (abort.signal.aborted) {
    // Stopped before the loop began: nothing ran, nothing to record.
    release();
    sendAndExit({ type: 'done', status: 'interrupted', error: 'stopped before it started' }, 0);
    return;
  }
  const run = new InherituneRun(plan, store, { backend, signal: abort.signal, onEvent: emit });
  let outcome;
  try {
    outcome = await run.run();
  } catch (e) {
    // The loop has stored runFailed with the message.
    release();
    sendAndExit({ type: 'done', status: 'failed', error: message(e) }, 1);
    return;
  }
  if (outcome.interrupted && stopMode === 'finish-and-save') saveCurrentModel(store, plan.saveDtype, emit);
  release();
  sendAndExit(
    outcome.interrupted ? { type: 'done', status: 'interrupted', error: runOutcome(store.events()).error ?? 'interrupted' } : { type: 'done', status: 'finished' },
    0,
  );
}

/** finish-and-save: the model of the last checkpoint (the one being trained when stopped) becomes model/. */
function saveCurrentModel(store: RunStore, dtype: SaveDtype | undefined, emit: (e: RunEvent) => void): void {
  const last = [...store.events()].reverse().find((e) => e.type === 'checkpoint');
  if (!last || last.type !== 'checkpoint') {
    emit(store.append({ type: 'log', level: 'warn', message: 'finish-and-save: nothing was trained yet, so no model was saved' }));
    return;
  }
  saveRunModel(store, path.join(store.dir, last.dir), dtype, { inheritune_label: last.model.label, inheritune_step: String(last.step) });
  emit(
    store.append({
      type: 'log',
      level: 'info',
      message: `finish-and-save: saved ${last.model.label} (${last.model.layers} layers) at step ${last.step} as ${store.modelDir}`,
    }),
  );
}

async function analyzeJob(job: Extract<ToWorker, { type: 'analyze' }>): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  const backend = await initBackend(job.backend);
  const o = job.options;
  const opts = {
    sequences: o.sequences ?? 16,
    seqLen: o.seqLen ?? 64,
    windows: o.windows ?? 'random',
    seed: o.seed ?? 0,
    tau: o.tau ?? 0.9,
    eta: o.eta ?? 0.9,
    mass: o.mass ?? 'sorted',
    convention: o.convention ?? 'mean-of-ranks',
  } as const;
  const dir = ModelDir.open(job.modelDir);
  const config = dir.config;
  dir.close();
  if (opts.seqLen > config.nPositions) throw new Error(`options.seqLen (${opts.seqLen}) exceeds the model's ${config.nPositions} positions`);
  const tokens = await loadTokens(job.data, { tokenizer: o.tokenizer ?? 'gpt2', modelDir: job.modelDir, vocabSize: config.vocabSize, minTokens: opts.seqLen });
  const means = new MeanAttention(config.nLayer, config.nHead, opts.seqLen);
  const result = await analyzeDir(job.modelDir, tokens, analysisStarts(tokens.length, opts, job.data), opts, undefined, means);
  const heatmaps: WorkerHeatmap[] = [];
  for (const [name, t] of means.tensors()) {
    const layer = Number(name.slice('layer.'.length));
    const T = opts.seqLen;
    for (let head = 0; head < config.nHead; head++) {
      const h = downsampleHeatmap(t.data, T, head * T * T, HEATMAP_MAX_SIZE);
      heatmaps.push({ layer, head, size: h.size, max: h.max, seqLen: T, cells: Buffer.from(h.cells).toString('base64') });
    }
  }
  sendAndExit({ type: 'analysis', backend, result, heatmaps }, 0);
}
