/**
 * Reading run stores on this machine without a server: the runs tree lists them, a dashboard
 * replays a run's events.jsonl, and heatmaps come from its attention/*.safetensors. (The newest
 * analysis of a reference is the language server's to find: configInfo.) Node only (no `vscode`),
 * so tests use it too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEventLine, type RunEvent } from '../server/protocol/events.js';
import { readPlan } from '../server/engine/run/plan.js';
import { readRunSummary } from '../server/engine/run/runStore.js';
import { decodeHeatmapFrame, type RunInfo, type RunStatus } from '../server/protocol/messages.js';
import { HeatmapCache } from '../server/training/heatmaps.js';
import { lockHolder } from '../server/training/runLock.js';

const EVENTS = 'events.jsonl';

/** Run folders (those holding events.jsonl) directly under `root`, newest first (run ids sort by time). */
export function listRunDirs(root: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith('.') && fs.existsSync(path.join(root, n, EVENTS)))
    .sort()
    .reverse()
    .map((n) => path.join(root, n));
}

/** Whole events of a run folder with seq >= fromSeq; a torn last line (a killed writer) is skipped. */
export function readEvents(dir: string, fromSeq = 1): RunEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, EVENTS), 'utf8');
  } catch {
    return [];
  }
  const out: RunEvent[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (line.trim() === '') continue;
    // A line that is not a run event is skipped (the server's replay reports it).
    const r = parseEventLine(line);
    if (r.ok && r.event.seq >= fromSeq) out.push(r.event);
  }
  return out;
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

/** What the run store says about one run (status inferred from its last events and its lock). */
export function readRun(dir: string): LocalRun | undefined {
  const events = readEvents(dir);
  if (events.length === 0 && !fs.existsSync(path.join(dir, EVENTS))) return undefined;
  const first = events[0];
  const last = events[events.length - 1];
  const plan = orUndefined(() => readPlan(dir));
  const summary = orUndefined(() => readRunSummary(dir));
  let locked = false;
  try {
    locked = lockHolder(dir) !== undefined;
  } catch {
    locked = false;
  }
  let status: RunStatus = events.length === 0 ? 'created' : 'interrupted';
  let error: string | undefined;
  if (locked) status = 'running';
  else if (last?.type === 'runFinished' || summary) status = 'finished';
  else if (last?.type === 'runFailed') {
    status = last.interrupted ? 'interrupted' : 'failed';
    error = last.error;
  }
  const started = events.find((e) => e.type === 'runStarted');
  return {
    runId: path.basename(dir),
    name: (started?.type === 'runStarted' ? started.name : undefined) ?? plan?.name ?? path.basename(dir),
    dir,
    status,
    lastSeq: last?.seq ?? 0,
    ...(plan?.configPath ? { configPath: plan.configPath } : {}),
    ...(first ? { startedAt: first.time } : {}),
    ...(last ? { updatedAt: last.time } : {}),
    ...(error ? { error } : {}),
    ...(summary ? { final: summary.final } : {}),
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
