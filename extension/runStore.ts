/**
 * Reading run stores on this machine without a server: the runs tree lists them, a dashboard
 * replays a run's events.jsonl, and heatmaps come from its attention/*.safetensors. (The newest
 * analysis of a reference is the language server's to find: configInfo.) Node only (no `vscode`),
 * so tests use it too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunEvent } from '../server/protocol/events.js';
import { EVENTS_FILE, readEvents as readStoredEvents, readRunEnds } from '../server/engine/run/eventLog.js';
import { readPlan } from '../server/engine/run/plan.js';
import { NOT_STARTED } from '../server/protocol/runOutcome.js';
import { decodeHeatmapFrame, type RunInfo } from '../server/protocol/messages.js';
import { HeatmapCache } from '../server/engine/run/heatmaps.js';
import { lockHolder } from '../server/engine/run/runLock.js';

/** Run folders (those holding events.jsonl) directly under `root`, newest first (run ids sort by time). */
export function listRunDirs(root: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith('.') && fs.existsSync(path.join(root, n, EVENTS_FILE)))
    .sort()
    .reverse()
    .map((n) => path.join(root, n));
}

/**
 * Whole events of a run folder with seq >= fromSeq (eventLog's reader); a line that is not a run
 * event is skipped (the server's replay reports it), a missing file is no events.
 */
export function readEvents(dir: string, fromSeq = 1): RunEvent[] {
  try {
    return readStoredEvents(dir, fromSeq, { invalid: 'skip' });
  } catch {
    return [];
  }
}

export interface LocalRun extends RunInfo {
  /** The reference model directory of the run (from plan.json). */
  referenceDir?: string;
  /** Whether a live process holds the run folder's lock (it is training right now). */
  locked: boolean;
}

/** What `read` returns, or undefined when the file is missing or invalid (the server's reading reports why). */
function orUndefined<T>(read: () => T | undefined): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** What the run store says about one run: its events' outcome (runOutcome), running while a process holds its lock. */
export function readRun(dir: string): LocalRun | undefined {
  if (!fs.existsSync(path.join(dir, EVENTS_FILE))) return undefined;
  const { first, last, outcome } = orUndefined(() => readRunEnds(dir, { invalid: 'skip' })) ?? { first: undefined, last: undefined, outcome: NOT_STARTED };
  const plan = orUndefined(() => readPlan(dir));
  let locked = false;
  try {
    locked = lockHolder(dir) !== undefined;
  } catch {
    locked = false;
  }
  return {
    runId: path.basename(dir),
    name: (first?.type === 'runStarted' ? first.name : undefined) ?? plan?.name ?? path.basename(dir),
    dir,
    status: locked ? 'running' : outcome.status,
    lastSeq: last?.seq ?? 0,
    ...(plan?.configPath ? { configPath: plan.configPath } : {}),
    ...(first ? { startedAt: first.time } : {}),
    ...(last ? { updatedAt: last.time } : {}),
    ...(outcome.error !== undefined && !locked ? { error: outcome.error } : {}),
    ...(outcome.summary ? { final: outcome.summary.final } : {}),
    ...(plan?.referenceDir ? { referenceDir: plan.referenceDir } : {}),
    locked,
  };
}

const heatmaps = new HeatmapCache(8);

/**
 * The heatmap frame of one head of an attention snapshot in the run store, or undefined when the
 * snapshot's matrices are not there.
 */
export function heatmapFrame(dir: string, runId: string, seq: number, file: string, layer: number, head: number): Uint8Array | undefined {
  const event = { runId, seq, file, type: 'attention' } as Extract<RunEvent, { type: 'attention' }>;
  for (const frame of heatmaps.frames(dir, event)) {
    const { header } = decodeHeatmapFrame(frame);
    if (header.layer === layer && header.head === head) return frame;
  }
  return undefined;
}
