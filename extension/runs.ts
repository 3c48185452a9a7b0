/**
 * What the extension knows about runs: the server's list merged with the run stores on disk, and a
 * feed of events per run that dashboards and the status bar listen to. A feed holds its run's
 * events (deduplicated by seq); it fills from the server's subscription when the server knows the
 * run, else (or in addition, for metrics the server coalesced) from events.jsonl on disk, which it
 * tails while a training process holds the run folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunEvent } from '../server/protocol/events.js';
import { decodeHeatmapFrame, type RunInfo, type RunStatus, type ServerMessage, type ServerMessageOf } from '../server/protocol/messages.js';
import { STORED_RUN_STATUSES } from '../server/protocol/runOutcome.js';
import { endedNow } from './runEndNotice.js';
import { listRunDirs, readEvents, readRun, type LocalRun } from './runStore.js';
import type { ServerClient } from './serverClient.js';
import type { ServerManager } from './serverManager.js';

export type FeedSource = 'server' | 'store';

export interface FeedListener {
  events(events: RunEvent[]): void;
  status(): void;
}

export class RunFeed {
  private readonly seqs = new Set<number>();
  readonly events: RunEvent[] = [];
  readonly listeners = new Set<FeedListener>();
  source: FeedSource = 'store';
  subscribed = false;
  private tail: NodeJS.Timeout | undefined;
  private fillTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly runId: string,
    public info: RunInfo,
  ) {}

  get lastSeq(): number {
    return this.events.length > 0 ? this.events[this.events.length - 1].seq : 0;
  }

  /** Whether the run folder is readable here (a local server, or the store on this machine). */
  get local(): boolean {
    return fs.existsSync(path.join(this.info.dir, 'events.jsonl'));
  }

  add(events: readonly RunEvent[]): RunEvent[] {
    const fresh = events.filter((e) => e.runId === this.runId && !this.seqs.has(e.seq));
    if (fresh.length === 0) return fresh;
    for (const e of fresh) this.seqs.add(e.seq);
    const inOrder = fresh.every((e, i) => e.seq > (i === 0 ? this.lastSeq : fresh[i - 1].seq));
    this.events.push(...fresh);
    if (!inOrder) this.events.sort((a, b) => a.seq - b.seq);
    for (const l of this.listeners) l.events(fresh);
    return fresh;
  }

  /** Reads events.jsonl from the first seq not held yet. */
  loadFromStore(): void {
    if (!this.local) return;
    const have = this.seqs;
    let from = 1;
    while (have.has(from)) from++;
    const events = readEvents(this.info.dir, from).filter((e) => !have.has(e.seq));
    if (events.length > 0) this.add(events);
  }

  /** Fills seqs the server coalesced, from the store, a moment after they were skipped. */
  scheduleFill(): void {
    if (this.fillTimer || !this.local) return;
    this.fillTimer = setTimeout(() => {
      this.fillTimer = undefined;
      this.loadFromStore();
    }, 1500);
  }

  /** While no server streams this run, follows events.jsonl (a run trained by the CLI or a server being restarted). */
  startTail(): void {
    if (this.tail) return;
    this.tail = setInterval(() => {
      if (this.source === 'server' && this.subscribed) return this.stopTail();
      this.loadFromStore();
      const local = readRun(this.info.dir);
      if (local && local.status !== this.info.status) {
        this.info = { ...this.info, status: local.status };
        for (const l of this.listeners) l.status();
      }
      if (!local?.locked) this.stopTail();
    }, 1000);
  }

  stopTail(): void {
    if (this.tail) clearInterval(this.tail);
    this.tail = undefined;
  }

  dispose(): void {
    this.stopTail();
    if (this.fillTimer) clearTimeout(this.fillTimer);
  }
}

/** Cached heatmap frames received from the server (for runs whose files are not on this machine). */
class FrameCache {
  private readonly frames = new Map<string, Uint8Array>();
  add(frame: Uint8Array): void {
    try {
      const { header } = decodeHeatmapFrame(frame);
      if (header.runId === undefined || header.seq === undefined) return;
      this.frames.set(`${header.runId}:${header.seq}:${header.layer}:${header.head}`, frame.slice());
      while (this.frames.size > 4096) this.frames.delete(this.frames.keys().next().value as string);
    } catch {
      // Not a heatmap frame.
    }
  }
  get(runId: string, seq: number, layer: number, head: number): Uint8Array | undefined {
    return this.frames.get(`${runId}:${seq}:${layer}:${head}`);
  }
}

export class RunsController implements vscode.Disposable {
  private readonly feeds = new Map<string, RunFeed>();
  private serverRuns = new Map<string, RunInfo>();
  private localRuns = new Map<string, LocalRun>();
  /** Run-store folders to scan (settings outDir, config out_dirs, folders of runs seen). */
  private readonly roots = new Set<string>();
  readonly frames = new FrameCache();
  private readonly changed = new vscode.EventEmitter<void>();
  /** The run list changed (a status, a new run). */
  readonly onDidChange = this.changed.event;
  private readonly eventFired = new vscode.EventEmitter<RunEvent>();
  /** Every event any feed received (the status bar follows these). */
  readonly onEvent = this.eventFired.event;
  private readonly endedNow = new vscode.EventEmitter<RunInfo>();
  /** A run seen training has just ended (finished, stopped, interrupted or failed): not fired for ends replayed later. */
  readonly onRunEnded = this.endedNow.event;
  /** The last status seen of each run, which tells a run ending now from one that ended before. */
  private readonly seenStatus = new Map<string, RunStatus>();
  /**
   * Counts the server's run updates as they are handled, and when each run had its last. A request's
   * reply is handled after the messages that came in the same read (its promise resolves later), so
   * a reply must not undo an update handled after the request was sent.
   */
  private updates = 0;
  private readonly lastUpdate = new Map<string, number>();
  private readonly downloadFired = new vscode.EventEmitter<ServerMessageOf<'download'>>();
  /** The server is downloading a Hub reference for a startRun. */
  readonly onDownload = this.downloadFired.event;
  private readonly disposables: vscode.Disposable[] = [];
  private clientSub: { dispose(): void } | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly server: ServerManager,
    readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(server.onDidChange((s) => (s === 'connected' ? void this.onConnected() : this.onDisconnected())));
  }

  private noteStatus(run: RunInfo): void {
    const before = this.seenStatus.get(run.runId);
    this.seenStatus.set(run.runId, run.status);
    if (!endedNow(before, run.status)) return;
    this.log.info(`run ${run.runId} ended: ${before} -> ${run.status}${run.error ? ` (${run.error})` : ''}`);
    this.endedNow.fire(run);
  }

  addRoot(dir: string): void {
    const abs = path.resolve(dir);
    if (this.roots.has(abs)) return;
    this.roots.add(abs);
    this.scheduleRefresh();
  }

  get rootList(): string[] {
    return [...this.roots];
  }

  /** Every known run, newest first; the server's view wins over the store's. */
  list(): RunInfo[] {
    const all = new Map<string, RunInfo>(this.localRuns);
    for (const [id, r] of this.serverRuns) all.set(id, { ...all.get(id), ...r });
    for (const [id, f] of this.feeds) if (!all.has(id)) all.set(id, f.info);
    return [...all.values()].sort((a, b) => (b.startedAt ?? b.runId).localeCompare(a.startedAt ?? a.runId) || b.runId.localeCompare(a.runId));
  }

  get(runId: string): RunInfo | undefined {
    return this.serverRuns.get(runId) ?? this.localRuns.get(runId) ?? this.feeds.get(runId)?.info;
  }

  /** A run whose folder was deleted: its feed (and server subscription) and what was known of it go. */
  forget(runId: string): void {
    const f = this.feeds.get(runId);
    if (f) {
      if (f.subscribed) this.server.client?.send({ type: 'unsubscribe', runId });
      f.dispose();
      this.feeds.delete(runId);
    }
    this.serverRuns.delete(runId);
    this.localRuns.delete(runId);
    this.changed.fire();
  }

  /** The run being trained now (the newest running one), if any. */
  active(): RunInfo | undefined {
    return this.list().find((r) => r.status === 'running' || r.status === 'stopping' || r.status === 'queued');
  }

  scheduleRefresh(delay = 300): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, delay);
  }

  /** Re-reads the run stores (and the server's list when connected). */
  refresh(): void {
    const local = new Map<string, LocalRun>();
    for (const root of this.roots) {
      for (const dir of listRunDirs(root)) {
        const r = readRun(dir);
        if (r) local.set(r.runId, r);
      }
    }
    this.localRuns = local;
    const c = this.server.client;
    if (c) {
      const asOf = this.mark();
      c.request({ type: 'listRuns' }).then(
        (m) => {
          const runs = new Map(m.runs.map((r) => [r.runId, r]));
          for (const [id, known] of this.serverRuns) if (this.updatedSince(id, asOf)) runs.set(id, known);
          this.serverRuns = runs;
          for (const r of m.runs) {
            this.addRootQuiet(path.dirname(r.dir));
            if (!this.updatedSince(r.runId, asOf)) this.noteStatus(r);
          }
          this.changed.fire();
        },
        (e: Error) => this.log.warn(`listRuns: ${e.message}`),
      );
    }
    for (const f of this.feeds.values()) {
      const info = this.get(f.runId);
      if (info) f.info = info;
    }
    this.changed.fire();
  }

  private addRootQuiet(dir: string): void {
    this.roots.add(path.resolve(dir));
  }

  /** How many run updates have been handled: pass it to noteRun with the reply of a request sent now. */
  mark(): number {
    return this.updates;
  }

  private updatedSince(runId: string, mark: number): boolean {
    return (this.lastUpdate.get(runId) ?? 0) > mark;
  }

  /**
   * Records a run the server just queued (and follows it): `run` from the reply of a request sent at
   * `asOf` (mark()); an update of the run handled since is newer and stays.
   */
  noteRun(run: RunInfo, asOf: number): RunFeed {
    if (!this.updatedSince(run.runId, asOf)) {
      this.serverRuns.set(run.runId, run);
      this.noteStatus(run);
    }
    this.addRootQuiet(path.dirname(run.dir));
    const feed = this.feed(run.runId, run);
    this.changed.fire();
    return feed;
  }

  /** The feed of a run (created on first use, filled from the server or the store). */
  feed(runId: string, info?: RunInfo): RunFeed {
    let f = this.feeds.get(runId);
    if (!f) {
      const known = info ?? this.get(runId);
      if (!known) throw new Error(`unknown run ${runId}`);
      f = new RunFeed(runId, known);
      this.feeds.set(runId, f);
      this.noteStatus(known);
      const feed = f;
      f.listeners.add({
        events: (evs) => evs.forEach((e) => this.onFeedEvent(e)),
        status: () => {
          // A run the server streams ends by its runUpdate; one followed on disk (trained from a
          // terminal, or while the server is away) by what its store says.
          if (feed.source === 'store') this.noteStatus(feed.info);
          this.changed.fire();
        },
      });
      this.fill(f);
    }
    return f;
  }

  private onFeedEvent(e: RunEvent): void {
    this.eventFired.fire(e);
    if (e.type === 'runFinished' || e.type === 'runFailed' || e.type === 'runStarted') this.scheduleRefresh(200);
  }

  /** Opens a feed for a run folder on disk that is not (yet) in any listing. */
  feedForDir(runDir: string): RunFeed {
    const runId = path.basename(runDir);
    const r = readRun(runDir);
    if (r) {
      this.localRuns.set(runId, r);
      this.addRootQuiet(path.dirname(runDir));
    }
    return this.feed(runId, r);
  }

  private fill(f: RunFeed): void {
    const c = this.server.client;
    if (c && this.serverRuns.has(f.runId)) {
      this.subscribe(c, f);
    } else {
      f.source = 'store';
      f.loadFromStore();
      if (f.info.status === 'running' || readRun(f.info.dir)?.locked) f.startTail();
    }
  }

  private subscribe(c: ServerClient, f: RunFeed): void {
    f.source = 'server';
    f.subscribed = true;
    // Replays from the run store happen locally when the folder is here; the server sends the rest.
    if (f.local) f.loadFromStore();
    c.request({ type: 'subscribe', runId: f.runId, fromSeq: f.lastSeq + 1, heatmaps: !f.local }, 120_000).then(
      (m) => {
        f.info = { ...f.info, status: m.status };
        for (const l of f.listeners) l.status();
      },
      (e: Error) => {
        f.subscribed = false;
        f.source = 'store';
        this.log.warn(`subscribe ${f.runId}: ${e.message}; reading the run store`);
        f.loadFromStore();
        f.startTail();
        for (const l of f.listeners) l.status();
      },
    );
  }

  private async onConnected(): Promise<void> {
    const c = this.server.client;
    if (!c) return;
    this.clientSub?.dispose();
    this.clientSub = c.listen({
      message: (m) => this.onServerMessage(m),
      binary: (b) => this.frames.add(b),
      invalid: (why) => this.log.warn(`training server: dropped ${why}`),
    });
    try {
      const asOf = this.mark();
      const m = await c.request({ type: 'listRuns' });
      const runs = new Map(m.runs.map((r) => [r.runId, r]));
      for (const [id, known] of this.serverRuns) if (this.updatedSince(id, asOf)) runs.set(id, known);
      this.serverRuns = runs;
      for (const r of m.runs) this.addRootQuiet(path.dirname(r.dir));
    } catch (e) {
      this.log.warn(`listRuns: ${(e as Error).message}`);
    }
    // Follow again every run that is open somewhere, from where each left off.
    for (const f of this.feeds.values()) {
      f.subscribed = false;
      if (this.serverRuns.has(f.runId)) {
        f.stopTail();
        this.subscribe(c, f);
      }
      for (const l of f.listeners) l.status();
    }
    // A run still training (started before a restart of the server) keeps the status bar going.
    const active = [...this.serverRuns.values()].find((r) => r.status === 'running' || r.status === 'queued');
    if (active) this.feed(active.runId, active);
    this.refresh();
  }

  private onDisconnected(): void {
    this.clientSub?.dispose();
    this.clientSub = undefined;
    this.serverRuns.clear();
    for (const f of this.feeds.values()) {
      f.subscribed = false;
      f.source = 'store';
      f.loadFromStore();
      if (f.local) f.startTail();
      for (const l of f.listeners) l.status();
    }
    this.refresh();
  }

  private onServerMessage(m: ServerMessage): void {
    switch (m.type) {
      case 'event': {
        const f = this.feeds.get(m.event.runId);
        if (!f) return;
        f.add([m.event]);
        if ((m.coalesced ?? 0) > 0) f.scheduleFill();
        break;
      }
      case 'runDeleted':
        this.forget(m.runId);
        break;
      case 'runUpdate':
      case 'runQueued': {
        this.serverRuns.set(m.run.runId, m.run);
        this.lastUpdate.set(m.run.runId, ++this.updates);
        this.noteStatus(m.run);
        const f = this.feeds.get(m.run.runId);
        if (f) {
          f.info = m.run;
          for (const l of f.listeners) l.status();
        }
        this.changed.fire();
        if ((STORED_RUN_STATUSES as readonly string[]).includes(m.run.status)) this.scheduleRefresh(500);
        break;
      }
      case 'download':
        this.downloadFired.fire(m);
        break;
      default:
        break;
    }
  }

  /** Closes a feed nobody listens to any more (the status bar's active run is kept). */
  release(runId: string, listener: FeedListener): void {
    const f = this.feeds.get(runId);
    if (!f) return;
    f.listeners.delete(listener);
  }

  dispose(): void {
    for (const f of this.feeds.values()) f.dispose();
    this.clientSub?.dispose();
    this.changed.dispose();
    this.eventFired.dispose();
    this.endedNow.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
