/**
 * What the language server knows about the files a config names: the model and data facts the config
 * checks read (server/engine/configFacts.ts, kept here with fs.watch on the folders read) and the
 * runs in the run store. `ensure*` (the debounced pass) compares stamps; the per-keystroke pass reads
 * the cache only, so diagnostics as you type never wait for the disk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseModelConfig } from '../engine/modelFamily.js';
import type { ModelConfig } from '../engine/modelFamily.js';
import { statStamp } from '../engine/referenceInfo.js';
import { FactCache, type FactCacheOptions, type HubRemoteFact, type PythonFact } from '../engine/configFacts.js';
import type { HubRef } from '../engine/hub/index.js';
import { HubFacts } from './hubFacts.js';
import { PythonFacts } from './pythonFacts.js';
import { EVENTS_FILE, readEventLog, type EventChunk, type EventCursor } from '../engine/run/eventLog.js';
import { nextOutcome, NOT_STARTED, type RunOutcome, type StoredRunStatus } from '../protocol/runOutcome.js';
import type { ReferenceAnalysis } from './protocol.js';

export interface RunFact {
  runId: string;
  runDir: string;
  /** plan.json's configPath, else the runStarted event's. */
  configPath?: string;
  /** plan.json's referenceDir. */
  referenceDir?: string;
  state: 'finished' | 'failed' | 'incomplete';
  /** The newest attention analysis of the reference in this run. */
  referenceAttention?: Omit<ReferenceAnalysis, 'runId' | 'runDir' | 'lazyLayers'>;
  /** Sort key: the run id's timestamp, then the events file's mtime. */
  order: string;
}

/** Keeps the facts of the files open configs name; `watch` hears of changes (fs.watch). */
export class Facts extends FactCache {
  private readonly runs = new Map<string, RunReader>();
  private readonly watchers = new Map<string, { watcher: fs.FSWatcher; id: string }>();
  /** Hub models: the HF cache's listing and the Hub's answers. */
  readonly hub = new HubFacts();
  /** Probes of the torch engine's interpreters. */
  readonly pythons = new PythonFacts();
  readonly defaultPython?: string;

  /** Unlike `inheritune run`, large files are not read whole: text above 4 MiB is not tokenized, token files above 8 Mi tokens are sampled. */
  constructor(
    opts: FactCacheOptions & { defaultPython?: string } = {},
    /** Called (unthrottled) when a watched folder changes. */
    private readonly onChange: () => void = () => {},
  ) {
    super({ tokenCacheDir: opts.tokenCacheDir, maxTextBytes: opts.maxTextBytes ?? 4 * 1024 * 1024, maxScanTokens: opts.maxScanTokens ?? 8 * 1024 * 1024 });
    if (opts.defaultPython) this.defaultPython = opts.defaultPython;
  }

  hubRemote(ref: HubRef): HubRemoteFact | undefined {
    return this.hub.remote(ref);
  }

  pythonProbe(python: string): PythonFact | undefined {
    return this.pythons.get(python);
  }

  protected override observe(dir: string): void {
    this.watch(dir);
  }

  // -- the run store ------------------------------------------------------------------------

  /** The runs in `outDir` (absolute), newest first; reads only run folders that changed. */
  runsIn(outDir: string): RunFact[] {
    let names: string[];
    try {
      names = fs.readdirSync(outDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return [];
    }
    this.watch(outDir);
    const out: RunFact[] = [];
    for (const name of names) {
      const runDir = path.join(outDir, name);
      let reader = this.runs.get(runDir);
      if (!reader) {
        reader = new RunReader(runDir);
        this.runs.set(runDir, reader);
      }
      const fact = reader.read();
      if (fact) out.push(fact);
    }
    return out.sort(newestFirst);
  }

  /** The runs in every folder of `outDirs` (absolute), each once, newest first. */
  runsInAll(outDirs: readonly string[]): RunFact[] {
    const byDir = new Map<string, RunFact>();
    for (const d of new Set(outDirs.map((x) => path.resolve(x)))) for (const r of this.runsIn(d)) byDir.set(r.runDir, r);
    return [...byDir.values()].sort(newestFirst);
  }

  // -- watching -----------------------------------------------------------------------------

  /**
   * Watches `dir` (or its nearest existing ancestor, to see it appear); changes call onChange. A
   * folder replaced since (a model saved atomically is a new folder renamed into place) is watched anew.
   */
  private watch(dir: string): void {
    let target = dir;
    let id: string;
    for (;;) {
      try {
        // inode numbers are reused at once; the birth time tells a new folder from the old one.
        const st = fs.statSync(target);
        id = `${st.ino}:${st.birthtimeMs}`;
        break;
      } catch {
        const up = path.dirname(target);
        if (up === target) return;
        target = up;
      }
    }
    const old = this.watchers.get(target);
    if (old && old.id === id) return;
    old?.watcher.close();
    this.watchers.delete(target);
    if (this.watchers.size >= 256) return; // the debounced stamp checks still see every change
    try {
      const watcher = fs.watch(target, { persistent: false }, () => this.onChange());
      watcher.on('error', () => {
        watcher.close();
        if (this.watchers.get(target)?.watcher === watcher) this.watchers.delete(target);
      });
      this.watchers.set(target, { watcher, id });
    } catch {
      // Unwatchable (permissions, inotify limits): the stamp checks on the next edit still apply.
    }
  }

  /** Forgets every cached fact (the next ensure reads everything again). */
  override clear(): void {
    super.clear();
    this.runs.clear();
    this.hub.clear();
    this.pythons.clear();
  }

  dispose(): void {
    for (const w of this.watchers.values()) w.watcher.close();
    this.watchers.clear();
  }
}

/**
 * A run folder's plan, state and reference analysis, read incrementally: events.jsonl grows by one
 * line per training step, so each read parses only the lines appended since the last one.
 */
class RunReader {
  private planStamp = '';
  private plan: { configPath?: string; referenceDir?: string } = {};
  private eventsId = '';
  private at: EventCursor = { offset: 0, line: 0 };
  private mtime = 0;
  private fromEvents: { configPath?: string; outcome: RunOutcome; attention?: RunFact['referenceAttention'] } = { outcome: NOT_STARTED };

  constructor(readonly runDir: string) {}

  /** The run now; undefined when the folder is no run folder (no plan.json and no events.jsonl). */
  read(): RunFact | undefined {
    const runDir = this.runDir;
    const planFile = path.join(runDir, 'plan.json');
    const planStamp = statStamp(planFile);
    if (planStamp !== this.planStamp) {
      this.planStamp = planStamp;
      this.plan = {};
      try {
        const plan = JSON.parse(fs.readFileSync(planFile, 'utf8')) as { configPath?: unknown; referenceDir?: unknown };
        if (typeof plan.configPath === 'string') this.plan.configPath = path.resolve(plan.configPath);
        if (typeof plan.referenceDir === 'string') this.plan.referenceDir = path.resolve(plan.referenceDir);
      } catch {
        // No plan (or a torn one): the events may still say.
      }
    }
    const hasEvents = this.readEvents();
    if (!hasEvents && planStamp === '-') return undefined;
    const runId = path.basename(runDir);
    return {
      runId,
      runDir,
      configPath: this.plan.configPath ?? this.fromEvents.configPath,
      referenceDir: this.plan.referenceDir,
      state: lastRunState(this.fromEvents.outcome.status),
      referenceAttention: this.fromEvents.attention,
      order: `${runId.slice(0, 15)}|${String(Math.floor(this.mtime)).padStart(16, '0')}`,
    };
  }

  /** Reads the whole lines appended to events.jsonl since the last read (eventLog's reader); false when there is no such file. */
  private readEvents(): boolean {
    const file = path.join(this.runDir, EVENTS_FILE);
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return false;
    }
    const id = `${st.ino}:${st.birthtimeMs}`;
    if (id !== this.eventsId || st.size < this.at.offset) {
      // A new or truncated file: from the start.
      this.eventsId = id;
      this.at = { offset: 0, line: 0 };
      this.fromEvents = { outcome: NOT_STARTED };
    }
    this.mtime = st.mtimeMs;
    if (st.size === this.at.offset) return true;
    let read: EventChunk;
    try {
      read = readEventLog(this.runDir, this.at, { invalid: 'skip' });
    } catch {
      return true;
    }
    this.at = { offset: read.offset, line: read.line };
    for (const e of read.events) {
      this.fromEvents.outcome = nextOutcome(this.fromEvents.outcome, e);
      if (e.type === 'runStarted') this.fromEvents.configPath ??= path.resolve(e.configPath);
      else if (e.type === 'attention' && e.model.kind === 'reference') {
        this.fromEvents.attention = {
          step: e.step,
          seq: e.seq,
          tau: e.tau,
          eta: e.eta,
          layers: e.layers.map((l) => ({ layer: l.layer, maxRank: l.maxRank, avgMass: l.avgMass, lazy: l.lazy })),
        };
      }
    }
    return true;
  }
}

/** What the sidebar and lenses say of a run: finished, failed, or incomplete (not started, interrupted: resumable). */
function lastRunState(status: StoredRunStatus): RunFact['state'] {
  return status === 'finished' || status === 'failed' ? status : 'incomplete';
}

/** The one order of runs, newest first: by RunFact.order (the run id's timestamp, then the events file's mtime). */
export function newestFirst(a: RunFact, b: RunFact): number {
  return a.order < b.order ? 1 : a.order > b.order ? -1 : 0;
}

/** The newest stored analysis of the reference at `referenceDir` among `runs` (newest first). */
export function referenceAnalysis(runs: readonly RunFact[], referenceDir: string): ReferenceAnalysis | undefined {
  const dir = path.resolve(referenceDir);
  const run = runs.find((r) => r.referenceDir === dir && r.referenceAttention);
  if (!run?.referenceAttention) return undefined;
  const a = run.referenceAttention;
  return { runId: run.runId, runDir: run.runDir, ...a, lazyLayers: a.layers.filter((l) => l.lazy).map((l) => l.layer + 1) };
}

/** Reads a folder's config.json only (for completion details); undefined when it is none. */
export function peekModelConfig(dir: string): ModelConfig | undefined {
  try {
    const file = path.join(dir, 'config.json');
    return parseModelConfig(JSON.parse(fs.readFileSync(file, 'utf8')), file);
  } catch {
    return undefined;
  }
}
