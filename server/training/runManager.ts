/**
 * The run manager: which runs exist (from the run store on disk), which one trains (one at a time,
 * in its own process), which wait (a FIFO queue), and who watches what.
 *
 * Event streams. The training process appends every event to events.jsonl (fsynced) before it
 * relays it here, so the file always holds at least what any client was sent. A subscription first
 * replays the file from `fromSeq` (in chunks, awaiting the socket's drain), and goes live at a
 * moment when it has sent everything the file holds; a live event at or below what it has sent is
 * skipped. So a client sees each event once, in seq order, with no gap — except metrics, which are
 * throttled live (METRICS_INTERVAL_MS per run: a newer metrics event supersedes a waiting one) and
 * announced as `coalesced` on the next event sent; any other event flushes the waiting metrics
 * first and is never delayed or dropped.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BackendName } from '../engine/backend.js';
import { configIssuesText, resolveConfigPath, validateRunConfig } from '../engine/configCheck.js';
import { planFromConfig, readPlan, writePlan } from '../engine/run/plan.js';
import { EVENTS_FILE, readEventChunk, readRunEnds, type EventCursor } from '../engine/run/eventLog.js';
import { RunStore } from '../engine/run/runStore.js';
import { byPosition, formatIssue, parseRunConfig, type ConfigIssue } from '../protocol/config.js';
import { parseHubRef } from '../engine/hub/index.js';
import { HubDownloads } from './hubDownloads.js';
import type { RunEvent, RunSummary } from '../protocol/events.js';
import { nextOutcome, NOT_STARTED, STORED_RUN_STATUSES, type StoredRunStatus } from '../protocol/runOutcome.js';
import { METRICS_INTERVAL_MS, replyTo, type ClientMessageOf, type RunInfo, type ServerMessageOf, type RunStatus, type StopMode } from '../protocol/messages.js';
import { HeatmapCache } from '../engine/run/heatmaps.js';
import type { Peer } from './peer.js';
import { RequestError } from './peer.js';
import { LOCK_FILE, lockHolder } from '../engine/run/runLock.js';
import type { ServerRoots } from './serverFiles.js';
import { parseFromWorker, type FromWorker, type ToWorker } from './workerProtocol.js';

/** How to start a training process: `node <execArgv> <modulePath> <args>`. */
export interface WorkerEntry {
  modulePath: string;
  args: string[];
  execArgv: string[];
}

export interface RunManagerOptions {
  /** Where past runs are listed from (its sub-folders), and where the index of runs elsewhere lives. */
  runsDir: string;
  /** Relative config paths (and config text without a path) resolve here. */
  cwd: string;
  /** The folders whose config files clients may have the server read. */
  roots: ServerRoots;
  /** Backend for runs whose config says `auto`. */
  backend: BackendName;
  /** Python of runtime.engine torch for configs that set no runtime.python (the editor's inheritune.pythonPath). */
  python?: string;
  worker: WorkerEntry;
  log(line: string): void;
  /** A run's status changed (every client is told). */
  onRunUpdate(info: RunInfo): void;
  /** A Hub reference of a startRun is being downloaded (every client is told). */
  onDownload?(m: ServerMessageOf<'download'>): void;
  /** How long a stopping run may take to checkpoint at shutdown before it is killed. */
  stopTimeoutMs?: number;
  metricsIntervalMs?: number;
  /** How long a training process waits for a run folder held by another (stopping) process. */
  lockWaitMs?: number;
}

interface Run {
  runId: string;
  dir: string;
  name: string;
  configPath?: string;
  status: RunStatus;
  lastSeq: number;
  startedAt?: string;
  updatedAt?: string;
  error?: string;
  final?: RunSummary['final'];
  backend: BackendName;
}

interface Subscription {
  peer: Peer;
  run: Run;
  /** Seq of the last event sent (fromSeq - 1 before any). */
  sent: number;
  heatmaps: boolean;
  /** Reading the file; live events are left to the file. */
  replaying: boolean;
  /** Where in events.jsonl the replay goes on. */
  at: EventCursor;
  closed: boolean;
}

/** Live delivery of one running run's events, with metrics throttled. */
class LiveStream {
  /** Seq of the last event forwarded: every seq between it and the next forwarded one was a coalesced metrics event. */
  prevForwarded: number;
  private lastMetricsAt = 0;
  private pending: RunEvent | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    startSeq: number,
    private readonly intervalMs: number,
    private readonly forward: (e: RunEvent, prevForwarded: number) => void,
  ) {
    this.prevForwarded = startSeq;
  }

  push(e: RunEvent): void {
    if (e.type === 'metrics') {
      if (this.pending === undefined && Date.now() - this.lastMetricsAt >= this.intervalMs) this.send(e);
      else {
        this.pending = e;
        this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.lastMetricsAt + this.intervalMs - Date.now()));
      }
      return;
    }
    this.flush();
    this.send(e);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const p = this.pending;
    this.pending = undefined;
    if (p) this.send(p);
  }

  private send(e: RunEvent): void {
    if (e.type === 'metrics') this.lastMetricsAt = Date.now();
    const prev = this.prevForwarded;
    this.prevForwarded = e.seq;
    this.forward(e, prev);
  }
}

interface Active {
  run: Run;
  child: ChildProcess;
  stream: LiveStream;
  /** The process holds the run folder (lock taken, store opened). */
  started: boolean;
  stopMode?: StopMode | 'shutdown';
  doneError?: string;
  exited: Promise<void>;
}

const INDEX_FILE = '.server-runs.json';
const FINAL = new Set<RunStatus>(STORED_RUN_STATUSES);
/** What a run folder holds (RunStore, plan.json, the lock); also `.<name>.tmp-*`, the atomic writes' temporaries. */
const RUN_ENTRIES = new Set(['config.yaml', 'plan.json', EVENTS_FILE, 'checkpoints', 'attention', 'summary.json', 'model', LOCK_FILE]);
/** A quoted value that may be echoed from a config the server read from its disk: a plain key or word. */
const PLAIN_WORD = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/**
 * An issue about a config read from the server's disk, with every quoted value that is not a plain
 * word replaced by "...": a file that is not a run config (a secret that happens to parse as YAML)
 * is not quoted back to the client beyond its keys' names. Text the client sent is its own.
 */
function redactQuotes(issue: string): string {
  return issue.replace(/"(?:[^"\\]|\\.)*"/g, (q) => {
    let v: unknown;
    try {
      v = JSON.parse(q);
    } catch {
      return '"..."';
    }
    return typeof v === 'string' && PLAIN_WORD.test(v) ? q : '"..."';
  });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class RunManager {
  private readonly runs = new Map<string, Run>();
  private readonly queue: Run[] = [];
  private active: Active | undefined;
  private readonly subs = new Map<string, Set<Subscription>>();
  private readonly peerSubs = new Map<Peer, Map<string, Subscription>>();
  private readonly heatmaps = new HeatmapCache();
  private closing = false;
  private readonly intervalMs: number;

  private readonly downloads: HubDownloads;

  constructor(private readonly opts: RunManagerOptions) {
    this.intervalMs = opts.metricsIntervalMs ?? METRICS_INTERVAL_MS;
    this.downloads = new HubDownloads((m) => opts.onDownload?.(m), opts.log);
  }

  // -------------------------------------------------------------------------------------------
  // The run store on disk

  /** Lists the runs under runsDir and those in its index (runs whose config put them elsewhere). */
  load(): void {
    fs.mkdirSync(this.opts.runsDir, { recursive: true });
    const dirs = new Set<string>();
    for (const name of fs.readdirSync(this.opts.runsDir)) {
      // Dot names: the token, the index, a run being deleted.
      if (name.startsWith('.')) continue;
      const dir = path.join(this.opts.runsDir, name);
      if (fs.existsSync(path.join(dir, EVENTS_FILE))) dirs.add(path.resolve(dir));
    }
    for (const dir of this.readIndex()) if (fs.existsSync(path.join(dir, EVENTS_FILE))) dirs.add(dir);
    for (const dir of dirs) {
      try {
        const run = this.readRun(dir);
        this.runs.set(run.runId, run);
      } catch (e) {
        this.opts.log(`skipping ${dir}: ${errorText(e)}`);
      }
    }
    this.opts.log(`${this.runs.size} past run(s) in ${this.opts.runsDir}`);
  }

  private readIndex(): string[] {
    try {
      const v = JSON.parse(fs.readFileSync(path.join(this.opts.runsDir, INDEX_FILE), 'utf8')) as unknown;
      return Array.isArray(v) ? v.filter((d): d is string => typeof d === 'string') : [];
    } catch {
      return [];
    }
  }

  private remember(dir: string): void {
    if (path.dirname(dir) === path.resolve(this.opts.runsDir)) return;
    const dirs = new Set(this.readIndex());
    dirs.add(dir);
    this.writeIndex(dirs);
  }

  private writeIndex(dirs: Set<string>): void {
    const file = path.join(this.opts.runsDir, INDEX_FILE);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify([...dirs], null, 1)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  }

  private readRun(dir: string): Run {
    const runId = path.basename(dir);
    let name = runId;
    let configPath: string | undefined;
    try {
      const plan = readPlan(dir);
      name = plan.name;
      configPath = plan.configPath;
    } catch {
      // A folder from another tool, or created before its plan was written: still listed.
    }
    const { first, last, outcome } = readRunEnds(dir);
    const run: Run = {
      runId,
      dir,
      name,
      configPath,
      status: outcome.status,
      error: outcome.error,
      final: outcome.summary?.final,
      lastSeq: last?.seq ?? 0,
      startedAt: first?.time,
      updatedAt: last?.time,
      backend: this.configBackend(dir),
    };
    const holder = lockHolder(dir);
    if (holder !== undefined) run.error = `still held by process ${holder} (stopping); resuming waits for it`;
    return run;
  }

  /** The backend the run's config asks for (`auto`: the server's). */
  private configBackend(dir: string): BackendName {
    try {
      const b = parseRunConfig(fs.readFileSync(path.join(dir, 'config.yaml'), 'utf8'), path.join(dir, 'config.yaml')).config?.runtime.backend;
      if (b && b !== 'auto') return b;
    } catch {
      // Unreadable: the server's backend.
    }
    return this.opts.backend;
  }

  info(run: Run): RunInfo {
    const pos = this.queue.indexOf(run);
    return {
      runId: run.runId,
      name: run.name,
      dir: run.dir,
      status: run.status,
      lastSeq: run.lastSeq,
      ...(run.configPath !== undefined ? { configPath: run.configPath } : {}),
      ...(pos >= 0 ? { queuePosition: pos + 1 } : {}),
      ...(run.startedAt !== undefined ? { startedAt: run.startedAt } : {}),
      ...(run.updatedAt !== undefined ? { updatedAt: run.updatedAt } : {}),
      ...(run.error !== undefined ? { error: run.error } : {}),
      ...(run.final !== undefined ? { final: run.final } : {}),
    };
  }

  list(): RunInfo[] {
    // A run folder deleted since (from the Runs view, or by hand) is forgotten, unless it is queued or training.
    for (const [runId, run] of this.runs) {
      if (this.active?.run !== run && !this.queue.includes(run) && !fs.existsSync(run.dir)) this.runs.delete(runId);
    }
    return [...this.runs.values()].sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0)).map((r) => this.info(r));
  }

  private get(runId: string): Run {
    const run = this.runs.get(runId);
    if (!run) throw new RequestError('notFound', `no run "${runId}" (listRuns lists them)`);
    return run;
  }

  private setStatus(run: Run, status: RunStatus, error?: string): void {
    const changed = run.status !== status || run.error !== error;
    run.status = status;
    run.error = error;
    if (changed) this.opts.onRunUpdate(this.info(run));
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  /** Checks the config (schema and files, without tokenizing data), creates the run folder, queues it. */
  async startRun(msg: ClientMessageOf<'startRun'>): Promise<RunInfo> {
    if (this.closing) throw new RequestError('conflict', 'the server is shutting down');
    const given = msg.configPath !== undefined ? path.resolve(this.opts.cwd, msg.configPath) : path.join(this.opts.cwd, 'untitled.inheritune.yaml');
    // Only a file is read under the roots' rule: text the client sent names its folder, nothing is read there.
    const { file, text, fromDisk } =
      msg.config !== undefined ? { file: given, text: msg.config, fromDisk: false } : { ...(await this.opts.roots.readConfig(given, this.opts.cwd, 'startRun.configPath')), fromDisk: true };
    // The model and data the config names are read for this client too: the same roots rule, before any is opened.
    const parsed = parseRunConfig(text, file).config;
    if (parsed) {
      // A Hub reference is read from the Hugging Face cache, where the checks find it (never from a client's path).
      if (parsed.reference.path !== undefined) await this.opts.roots.configInput(resolveConfigPath(parsed.reference.path, file), this.opts.cwd, `${file}: reference.path`, 'folder');
      for (const key of ['train', 'val'] as const) await this.opts.roots.configInput(resolveConfigPath(parsed.data[key], file), this.opts.cwd, `${file}: data.${key}`, 'file');
    }
    // A Hub reference the cache lacks is downloaded first (the check itself reads the cache only).
    let hubModel: { dir: string; commit: string } | undefined;
    if (parsed?.reference.hub !== undefined) {
      try {
        hubModel = await this.downloads.resolve(parseHubRef(parsed.reference.hub, 'reference.hub', parsed.reference.revision));
      } catch (e) {
        const issue = `${file}: reference.hub: ${e instanceof Error ? e.message : String(e)}`;
        throw new RequestError('invalidConfig', issue, [issue]);
      }
    }
    const check = await validateRunConfig(text, file, { readTokens: false, hubModel });
    if (check.issues.some((i) => i.severity === 'error') || !check.config) {
      const line = (i: ConfigIssue) => (fromDisk ? redactQuotes(formatIssue(file, i)) : formatIssue(file, i));
      throw new RequestError('invalidConfig', `${file}: ${configIssuesText(check.issues, line)}`, [...check.issues].sort(byPosition).map(line));
    }
    if (this.closing) throw new RequestError('conflict', 'the server is shutting down');
    const config = check.config;
    const planned = planFromConfig(config, file, check.estimate);
    const python = this.opts.python;
    const plan = planned.engine && python && !check.parsed.present(['runtime', 'python']) ? { ...planned, engine: { ...planned.engine, python } } : planned;
    const store = RunStore.create(config.runtime.out_dir, config.name, text);
    writePlan(store.dir, plan);
    this.remember(store.dir);
    const run: Run = {
      runId: store.runId,
      dir: store.dir,
      name: config.name,
      configPath: plan.configPath,
      status: 'queued',
      lastSeq: 0,
      backend: config.runtime.backend === 'auto' ? this.opts.backend : config.runtime.backend,
    };
    this.runs.set(run.runId, run);
    this.queue.push(run);
    this.opts.log(`run ${run.runId} queued (${store.dir})`);
    this.opts.onRunUpdate(this.info(run));
    setImmediate(() => this.pump());
    return this.info(run);
  }

  resumeRun(runId: string): RunInfo {
    if (this.closing) throw new RequestError('conflict', 'the server is shutting down');
    const run = this.get(runId);
    if (!FINAL.has(run.status)) throw new RequestError('conflict', `run ${runId} is ${run.status}`);
    if (run.status === 'finished') throw new RequestError('conflict', `run ${runId} has already finished; see ${path.join(run.dir, 'summary.json')}`);
    this.queue.push(run);
    this.setStatus(run, 'queued');
    setImmediate(() => this.pump());
    return this.info(run);
  }

  stopRun(runId: string, mode: StopMode): void {
    const run = this.get(runId);
    const queued = this.queue.indexOf(run);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.setStatus(run, run.lastSeq > 0 ? 'stopped' : 'created', 'stopped while queued');
      return;
    }
    const a = this.active;
    if (!a || a.run !== run || FINAL.has(run.status)) throw new RequestError('conflict', `run ${runId} is ${run.status}: there is nothing to stop`);
    if (a.stopMode === 'finish-and-save' || a.stopMode === mode) return;
    a.stopMode = mode;
    this.toWorker(a, { type: 'stop', mode });
    this.setStatus(run, 'stopping');
  }

  /**
   * Deletes a stored run's folder: refused (conflict) while it is queued, training or held by any
   * process, and (forbidden) unless the folder is a run of ours: a real folder (not a link) in the
   * run store or one this server created (its index), holding config.yaml and events.jsonl and
   * nothing but what a run writes. It is renamed to a dot name first, so a failure half way leaves
   * no half run in the listing.
   */
  async deleteRun(runId: string): Promise<void> {
    if (this.closing) throw new RequestError('conflict', 'the server is shutting down');
    const run = this.get(runId);
    if (this.queue.includes(run) || !FINAL.has(run.status)) throw new RequestError('conflict', `run ${runId} is ${run.status}: stop it before deleting it`);
    // Its final event is out but its training process may still be exiting (it holds the folder).
    const a = this.active;
    if (a?.run === run) await Promise.race([a.exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (this.active?.run === run || this.queue.includes(run) || !FINAL.has(run.status)) throw new RequestError('conflict', `run ${runId} is ${run.status}: stop it before deleting it`);
    if (!this.runs.has(runId)) throw new RequestError('notFound', `no run "${runId}" (listRuns lists them)`);
    const holder = lockHolder(run.dir);
    if (holder !== undefined) throw new RequestError('conflict', `run ${runId} is held by process ${holder} (training or stopping): stop it before deleting it`);
    const why = this.notOurRun(run.dir);
    if (why) throw new RequestError('forbidden', `run ${runId}: ${run.dir} ${why}; nothing was deleted`);
    const trash = path.join(path.dirname(run.dir), `.${path.basename(run.dir)}.deleting-${process.pid}`);
    fs.renameSync(run.dir, trash);
    fs.rmSync(trash, { recursive: true, force: true });
    this.runs.delete(runId);
    for (const sub of [...(this.subs.get(runId) ?? [])]) this.unsubscribe(sub.peer, runId);
    this.subs.delete(runId);
    const index = new Set(this.readIndex());
    if (index.delete(run.dir)) this.writeIndex(index);
    this.opts.log(`run ${runId} deleted (${run.dir})`);
  }

  /** Why `dir` is not a run folder this server may delete, or undefined when it is. */
  private notOurRun(dir: string): string | undefined {
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!st) return 'does not exist';
    if (!st.isDirectory()) return st.isSymbolicLink() ? 'is a link, not a run folder' : 'is not a folder';
    const inStore = fs.realpathSync(path.dirname(dir)) === fs.realpathSync(this.opts.runsDir);
    if (!inStore && !this.readIndex().includes(dir)) return 'is neither in the run store nor a run this server started';
    const names = fs.readdirSync(dir);
    for (const need of ['config.yaml', EVENTS_FILE]) {
      if (!fs.lstatSync(path.join(dir, need), { throwIfNoEntry: false })?.isFile()) return `has no ${need}: not a run folder`;
    }
    const foreign = names.filter((n) => !RUN_ENTRIES.has(n) && !RUN_ENTRIES.has(/^\.(.+?)\.tmp-/.exec(n)?.[1] ?? ''));
    if (foreign.length > 0) return `holds files a run does not write (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''})`;
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Training processes

  private toWorker(a: Active, msg: ToWorker): void {
    try {
      if (a.child.connected) a.child.send(msg);
    } catch (e) {
      this.opts.log(`run ${a.run.runId}: cannot reach the training process: ${errorText(e)}`);
    }
  }

  private pump(): void {
    if (this.active || this.closing) return;
    const run = this.queue.shift();
    if (!run) return;
    const { worker } = this.opts;
    const env = { ...process.env };
    delete env.INHERITUNE_TOKEN;
    let child: ChildProcess;
    try {
      child = fork(worker.modulePath, worker.args, { execArgv: worker.execArgv, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
    } catch (e) {
      this.setStatus(run, run.lastSeq > 0 ? 'interrupted' : 'created', `cannot start the training process: ${errorText(e)}`);
      setImmediate(() => this.pump());
      return;
    }
    let exited!: () => void;
    const a: Active = {
      run,
      child,
      started: false,
      stream: new LiveStream(run.lastSeq, this.intervalMs, (e, prev) => this.forward(run, e, prev)),
      exited: new Promise((r) => (exited = r)),
    };
    this.active = a;
    this.setStatus(run, 'running');
    this.opts.log(`run ${run.runId}: training process ${child.pid} started`);
    const relay = (stream: NodeJS.ReadableStream | null) => {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (d: string) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) this.opts.log(`run ${run.runId}: ${l}`);
      });
    };
    relay(child.stdout);
    relay(child.stderr);
    child.on('message', (value: unknown) => {
      const parsed = parseFromWorker(value);
      if (!parsed.ok) return this.opts.log(`run ${run.runId}: ignoring a message outside the protocol: ${parsed.error}`);
      try {
        this.onWorkerMessage(a, parsed.message);
      } catch (e) {
        this.opts.log(`run ${run.runId}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    });
    child.on('error', (e) => this.opts.log(`run ${run.runId}: training process error: ${errorText(e)}`));
    child.on('exit', (code, signal) => {
      try {
        this.onWorkerExit(a, code, signal);
      } catch (e) {
        this.opts.log(`run ${run.runId}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      } finally {
        if (this.active === a) this.active = undefined;
        exited();
        this.pump();
      }
    });
    this.toWorker(a, { type: 'run', dir: run.dir, backend: run.backend, lockWaitMs: this.opts.lockWaitMs ?? 120_000 });
  }

  private onWorkerMessage(a: Active, m: FromWorker): void {
    const run = a.run;
    switch (m.type) {
      case 'started':
        a.started = true;
        this.opts.log(`run ${run.runId}: training on ${m.backend}`);
        return;
      case 'event': {
        const e = m.event;
        run.lastSeq = e.seq;
        run.updatedAt = e.time;
        run.startedAt ??= e.time;
        if (e.type === 'runStarted' && run.status !== 'stopping') this.setStatus(run, 'running');
        else if (e.type === 'runFinished') {
          run.final = e.summary.final;
          this.setStatus(run, 'finished');
        } else if (e.type === 'runFailed') {
          const o = nextOutcome(NOT_STARTED, e);
          this.setStatus(run, o.status, o.error);
        }
        a.stream.push(e);
        return;
      }
      case 'done':
        a.doneError = m.error;
        return;
      default:
        return;
    }
  }

  private onWorkerExit(a: Active, code: number | null, signal: NodeJS.Signals | null): void {
    const run = a.run;
    a.stream.flush();
    this.opts.log(`run ${run.runId}: training process exited (${signal ?? `code ${code}`})`);
    if (run.status === 'running' || run.status === 'stopping') {
      if (a.started) {
        // Killed or crashed before its final event: record it, so the stream ends and the run reads resumable.
        const why = `the training process ended unexpectedly (${signal ?? `exit code ${code}`})${a.doneError ? `: ${a.doneError}` : ''}; resume to continue from the last checkpoint`;
        try {
          const store = RunStore.open(run.dir);
          const e = store.append({ type: 'runFailed', error: why, interrupted: true });
          run.lastSeq = e.seq;
          run.updatedAt = e.time;
          a.stream.push(e);
          a.stream.flush();
        } catch (e) {
          this.opts.log(`run ${run.runId}: cannot record the failure: ${errorText(e)}`);
        }
        this.setStatus(run, 'interrupted', why);
      } else {
        // It never held the run folder (it could not start, or the folder was busy): the folder is as it was.
        this.setStatus(run, storedStatus(run.dir) === 'finished' ? 'finished' : run.lastSeq > 0 ? 'interrupted' : 'created', a.doneError ?? `the training process ended before starting (${signal ?? `exit code ${code}`})`);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Subscriptions

  /** Replays the stored events from fromSeq, then streams live ones; `subscribed` marks the switch. */
  async subscribe(peer: Peer, m: ClientMessageOf<'subscribe'>): Promise<void> {
    const { runId, fromSeq = 1, heatmaps = true } = m;
    const run = this.get(runId);
    this.unsubscribe(peer, runId);
    const sub: Subscription = { peer, run, sent: fromSeq - 1, heatmaps, replaying: true, at: { offset: 0, line: 0 }, closed: false };
    let set = this.subs.get(runId);
    if (!set) this.subs.set(runId, (set = new Set()));
    set.add(sub);
    let mine = this.peerSubs.get(peer);
    if (!mine) this.peerSubs.set(peer, (mine = new Map()));
    mine.set(runId, sub);
    await this.replay(sub, () => peer.send(replyTo(m, { type: 'subscribed', runId, fromSeq, replayedTo: sub.sent, status: run.status })));
  }

  private async replay(sub: Subscription, onLive?: () => void): Promise<void> {
    const { run, peer } = sub;
    for (;;) {
      if (sub.closed || !peer.open) return;
      const chunk = readEventChunk(run.dir, sub.at.offset, undefined, { line: sub.at.line });
      if (chunk.events.length === 0) {
        // Everything the file holds has been sent, and nothing else runs until this returns.
        sub.replaying = false;
        onLive?.();
        return;
      }
      sub.at = { offset: chunk.offset, line: chunk.line };
      for (const e of chunk.events) {
        if (e.seq <= sub.sent) continue;
        this.sendEvent(sub, e, 0);
        if (peer.congested) {
          await peer.drained();
          if (sub.closed || !peer.open) return;
        }
      }
    }
  }

  unsubscribe(peer: Peer, runId: string): boolean {
    const sub = this.peerSubs.get(peer)?.get(runId);
    if (!sub) return false;
    sub.closed = true;
    this.peerSubs.get(peer)?.delete(runId);
    this.subs.get(runId)?.delete(sub);
    return true;
  }

  /** A client went away. */
  dropPeer(peer: Peer): void {
    for (const runId of [...(this.peerSubs.get(peer)?.keys() ?? [])]) this.unsubscribe(peer, runId);
    this.peerSubs.delete(peer);
  }

  private forward(run: Run, e: RunEvent, prevForwarded: number): void {
    for (const sub of [...(this.subs.get(run.runId) ?? [])]) {
      if (sub.replaying || sub.closed || e.seq <= sub.sent) continue;
      if (!sub.peer.open) {
        this.dropPeer(sub.peer);
        continue;
      }
      if (sub.sent < prevForwarded) {
        // Behind the stream (cannot happen by construction; the file has it all): catch up from the file.
        sub.replaying = true;
        this.replay(sub).catch((err: unknown) => this.opts.log(`replay of ${run.runId}: ${errorText(err)}`));
        continue;
      }
      this.sendEvent(sub, e, e.seq - sub.sent - 1);
    }
  }

  private sendEvent(sub: Subscription, e: RunEvent, coalesced: number): void {
    let frames: Uint8Array[] = [];
    if (e.type === 'attention' && sub.heatmaps) {
      try {
        frames = this.heatmaps.frames(sub.run.dir, e);
      } catch (err) {
        this.opts.log(`heatmaps of ${sub.run.runId} seq ${e.seq}: ${errorText(err)}`);
      }
    }
    sub.peer.send({ type: 'event', event: e, ...(coalesced > 0 ? { coalesced } : {}), ...(e.type === 'attention' ? { heatmaps: frames.length } : {}) });
    for (const f of frames) sub.peer.sendBinary(f);
    sub.sent = e.seq;
  }

  // -------------------------------------------------------------------------------------------

  /** Graceful stop: the training run checkpoints and stops (resumable); queued runs stay on disk. */
  async shutdown(): Promise<void> {
    this.closing = true;
    this.downloads.close();
    for (const run of this.queue.splice(0)) this.setStatus(run, run.lastSeq > 0 ? 'interrupted' : 'created', 'the server stopped while it was queued');
    const a = this.active;
    if (!a) return;
    a.stopMode = 'shutdown';
    this.toWorker(a, { type: 'stop', mode: 'shutdown' });
    if (a.run.status === 'running') this.setStatus(a.run, 'stopping');
    const timeout = this.opts.stopTimeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([a.exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeout)))]);
    clearTimeout(timer);
    if (timedOut) {
      this.opts.log(`run ${a.run.runId}: no checkpoint within ${timeout} ms; killing the training process (the last checkpoint stays resumable)`);
      a.child.kill('SIGKILL');
      await a.exited;
    }
  }
}

/** A run folder's status by its events; created when they cannot be read. */
function storedStatus(dir: string): StoredRunStatus {
  try {
    return readRunEnds(dir).outcome.status;
  } catch {
    return 'created';
  }
}
