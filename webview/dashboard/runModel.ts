/**
 * The dashboard's data: the events of one run, merged from a replay (run store or server) and the
 * live stream without duplicates or disorder, and the series the charts draw, derived from them.
 * Pure (no DOM), so unit tests run it under node.
 *
 * Events are keyed by their per-run `seq`. Live events may skip seqs (the server coalesces metrics);
 * a later replay fills the gaps. When an event arrives out of order the derived series are rebuilt
 * from the sorted events, otherwise they are extended in place.
 */
import type { DeviceInfo, LayerStatsEvent, ModelKind, ModelRef, RunEvent, RunSummary } from '../../server/protocol/events.js';
import { nextOutcome, NOT_STARTED, type StoredRunStatus } from '../../server/protocol/runOutcome.js';
import { advanceProgress, NO_PROGRESS, type RunProgress } from '../../server/protocol/progress.js';

export interface Point {
  x: number;
  y: number;
}

/** One model's training: its label, layers and points on its own step axis. */
export interface ModelSeries {
  label: string;
  layers: number;
  kind: ModelKind;
  /** The round number (kind "round"). */
  round?: number;
  /** Step of the Inheritune axis where this model's step 0 lies (rounds follow each other; baselines start at 0). */
  offset: number;
  steps: number;
  train: Point[];
  val: Point[];
  lr: Point[];
  tokensPerSec: Point[];
  finished: { valLoss: number; lazyLayers: number[] | null } | null;
}

export interface AttentionSnapshot {
  model: ModelRef;
  step: number;
  seq: number;
  tau: number;
  eta: number;
  seqLen: number;
  layers: LayerStatsEvent[];
  file: string;
}

/** What the events say: running, or a stored status (runOutcome's rule); unknown before any event. */
export type RunState = 'running' | StoredRunStatus | 'unknown';

export class RunModel {
  private readonly bySeq = new Map<number, RunEvent>();
  private applied: RunEvent[] = [];
  /** Highest seq applied. */
  lastSeq = 0;
  runId: string | null = null;
  name = '';
  backend = '';
  /** What trains the run (its latest `device` event), and the bytes in use on its GPU (latest metrics that say). */
  device: { engine: string; backend: string; devices: DeviceInfo[] } | null = null;
  memoryBytes: number | null = null;
  referenceValLoss: number | null = null;
  models = new Map<string, ModelSeries>();
  /** Inheritune-axis steps where a growth round started (round 2, 3, ...), with its layers. */
  growMarkers: { x: number; label: string; layers: number }[] = [];
  /** Every attention snapshot, in seq order. */
  attention: AttentionSnapshot[] = [];
  summary: RunSummary | null = null;
  state: RunState = 'unknown';
  error: string | null = null;
  progress: RunProgress = NO_PROGRESS;
  logs: { level: string; message: string }[] = [];
  /** Bumped on every change; views redraw when it moved. */
  version = 0;

  /** Number of distinct events held. */
  get size(): number {
    return this.bySeq.size;
  }

  /** Every held event in seq order (for the saved state and the JSON export). */
  events(): RunEvent[] {
    return this.applied.slice();
  }

  /**
   * Merges events (any order, duplicates allowed) and returns how many were new. Events of another
   * run are ignored.
   */
  add(events: readonly RunEvent[]): number {
    let fresh = 0;
    let outOfOrder = false;
    for (const e of events) {
      if (this.runId !== null && e.runId !== this.runId) continue;
      if (this.bySeq.has(e.seq)) continue;
      this.runId ??= e.runId;
      this.bySeq.set(e.seq, e);
      fresh++;
      if (e.seq < this.lastSeq) outOfOrder = true;
    }
    if (fresh === 0) return 0;
    if (outOfOrder) {
      this.rebuild();
    } else {
      const news = [...this.bySeq.values()].filter((e) => e.seq > this.lastSeq).sort((a, b) => a.seq - b.seq);
      for (const e of news) this.apply(e);
    }
    this.version++;
    return fresh;
  }

  /** Drops everything (another run, or a reset from the host). */
  clear(runId: string | null = null): void {
    this.bySeq.clear();
    this.resetDerived();
    this.runId = runId;
    this.version++;
  }

  private resetDerived(): void {
    this.applied = [];
    this.lastSeq = 0;
    this.name = '';
    this.backend = '';
    this.device = null;
    this.memoryBytes = null;
    this.referenceValLoss = null;
    this.models = new Map();
    this.growMarkers = [];
    this.attention = [];
    this.summary = null;
    this.state = 'unknown';
    this.error = null;
    this.progress = NO_PROGRESS;
    this.logs = [];
  }

  private rebuild(): void {
    this.resetDerived();
    for (const e of [...this.bySeq.values()].sort((a, b) => a.seq - b.seq)) this.apply(e);
  }

  /** The Inheritune-axis offset a new round starts at: the end of the latest round. */
  private nextRoundOffset(): number {
    let end = 0;
    for (const m of this.models.values()) if (m.kind === 'round') end = Math.max(end, m.offset + m.steps);
    return end;
  }

  private series(model: ModelRef, steps = 0): ModelSeries {
    let s = this.models.get(model.label);
    if (!s) {
      const kind = model.kind;
      const offset = kind === 'round' ? this.nextRoundOffset() : 0;
      s = { label: model.label, layers: model.layers, kind, ...(model.kind === 'round' ? { round: model.round } : {}), offset, steps, train: [], val: [], lr: [], tokensPerSec: [], finished: null };
      this.models.set(model.label, s);
      if (kind === 'round' && [...this.models.values()].some((m) => m.kind === 'round' && m !== s)) {
        this.growMarkers.push({ x: offset, label: model.label, layers: model.layers });
      }
    }
    if (steps > s.steps) s.steps = steps;
    return s;
  }

  private apply(e: RunEvent): void {
    this.applied.push(e);
    this.lastSeq = e.seq;
    this.progress = advanceProgress(this.progress, e);
    switch (e.type) {
      case 'runStarted':
        this.name = e.name;
        this.backend = e.backend;
        this.state = 'running';
        this.error = null;
        break;
      case 'phase':
        if (e.model && e.phase !== 'reference') this.series(e.model);
        if (e.phase === 'done') this.state = 'finished';
        break;
      case 'metrics': {
        const s = this.series(e.model, e.steps);
        pushPoint(s.train, e.step, e.trainLoss);
        pushPoint(s.lr, e.step, e.lr);
        pushPoint(s.tokensPerSec, e.step, e.tokensPerSec);
        if (e.memoryBytes !== undefined) this.memoryBytes = e.memoryBytes;
        break;
      }
      case 'device':
        this.device = { engine: e.engine, backend: e.backend, devices: e.devices };
        this.memoryBytes = null;
        break;
      case 'eval':
        if (e.referenceValLoss !== null) this.referenceValLoss = e.referenceValLoss;
        if (e.model.kind === 'reference') {
          this.referenceValLoss = e.valLoss;
          this.series(e.model);
        } else {
          pushPoint(this.series(e.model).val, e.step, e.valLoss);
        }
        break;
      case 'attention':
        this.series(e.model);
        this.attention.push({ model: e.model, step: e.step, seq: e.seq, tau: e.tau, eta: e.eta, seqLen: e.seqLen, layers: e.layers, file: e.file });
        break;
      case 'modelFinished':
        this.series(e.model).finished = { valLoss: e.valLoss, lazyLayers: e.lazyLayers };
        if (e.model.kind === 'reference') this.referenceValLoss = e.valLoss;
        break;
      case 'resumed':
        // Metrics after fromStep are recomputed and sent again: drop the old ones.
        if (e.model) {
          const s = this.models.get(e.model.label);
          if (s) for (const k of ['train', 'val', 'lr', 'tokensPerSec'] as const) s[k] = s[k].filter((p) => p.x <= e.fromStep);
        }
        this.state = 'running';
        this.error = null;
        break;
      case 'log':
        this.logs.push({ level: e.level, message: e.message });
        if (this.logs.length > 200) this.logs.shift();
        break;
      case 'runFinished':
        this.summary = e.summary;
        this.state = 'finished';
        this.referenceValLoss = e.summary.reference.valLoss;
        break;
      case 'runFailed':
        this.state = nextOutcome(NOT_STARTED, e).status;
        this.error = e.error;
        break;
      case 'checkpoint':
        break;
    }
  }

  /** The newest attention snapshot of a model label (or of any model when label is omitted). */
  latestAttention(label?: string): AttentionSnapshot | null {
    for (let i = this.attention.length - 1; i >= 0; i--) {
      if (label === undefined || this.attention[i].model.label === label) return this.attention[i];
    }
    return null;
  }

  /** The derived model the comparison shows: the newest round with an attention snapshot. */
  latestDerivedAttention(): AttentionSnapshot | null {
    for (let i = this.attention.length - 1; i >= 0; i--) {
      if (this.attention[i].model.kind === 'round') return this.attention[i];
    }
    return null;
  }

  /** Rows of the results table: from the summary when finished, else from finished models so far. */
  results(): { model: string; layers: number; steps: number | null; valLoss: number | null; lazy: string; note: string }[] {
    const lazyText = (l: number[] | null | undefined) => (l === null || l === undefined ? 'n/a' : l.length === 0 ? 'none' : l.join(', '));
    const rows: ReturnType<RunModel['results']> = [];
    const ref = this.models.get('reference');
    if (this.summary) {
      const s = this.summary;
      rows.push({ model: 'reference', layers: s.reference.layers, steps: null, valLoss: s.reference.valLoss, lazy: lazyText(s.lazyLayers.reference), note: `${s.reference.params.toLocaleString('en-US')} params` });
      s.rounds.forEach((r, i) => {
        const isFinal = i === s.rounds.length - 1;
        rows.push({
          model: `derived, round ${i + 1}`,
          layers: r.layers,
          steps: r.steps,
          valLoss: r.valLoss,
          lazy: lazyText([...this.models.values()].find((m) => m.round === i + 1)?.finished?.lazyLayers ?? (isFinal ? s.lazyLayers.final : null)),
          note: isFinal ? (s.final.matchedReference ? 'matches the reference' : 'final') : '',
        });
      });
      for (const b of s.baselines) rows.push({ model: b.name, layers: b.layers, steps: b.steps, valLoss: b.valLoss, lazy: 'n/a', note: 'baseline' });
      return rows;
    }
    if (ref) rows.push({ model: 'reference', layers: ref.layers, steps: null, valLoss: ref.finished?.valLoss ?? this.referenceValLoss, lazy: lazyText(ref.finished?.lazyLayers), note: '' });
    for (const m of this.models.values()) {
      if (m.kind === 'reference') continue;
      const lastVal = m.val.length > 0 ? m.val[m.val.length - 1].y : null;
      rows.push({
        model: m.kind === 'round' ? `derived, round ${m.round}` : m.label,
        layers: m.layers,
        steps: m.finished ? m.steps : (m.train[m.train.length - 1]?.x ?? 0),
        valLoss: m.finished?.valLoss ?? lastVal,
        lazy: lazyText(m.finished?.lazyLayers),
        note: m.finished ? (m.kind === 'baseline' ? 'baseline' : '') : this.state === 'running' || this.state === 'unknown' ? 'training' : this.state,
      });
    }
    return rows;
  }

  /** CSV of every metrics and eval point: model, step, inheritune_step, train_loss, val_loss, lr, tokens_per_sec. */
  toCsv(): string {
    const lines = ['model,layers,step,inheritune_step,train_loss,val_loss,lr,tokens_per_sec'];
    for (const m of this.models.values()) {
      const steps = new Set<number>([...m.train.map((p) => p.x), ...m.val.map((p) => p.x)]);
      const at = (pts: Point[], x: number) => pts.find((p) => p.x === x)?.y;
      for (const x of [...steps].sort((a, b) => a - b)) {
        const cell = (v: number | undefined) => (v === undefined ? '' : String(v));
        lines.push([m.label, m.layers, x, m.offset + x, cell(at(m.train, x)), cell(at(m.val, x)), cell(at(m.lr, x)), cell(at(m.tokensPerSec, x))].join(','));
      }
    }
    if (this.referenceValLoss !== null) lines.push(`reference,${this.models.get('reference')?.layers ?? ''},0,0,,${this.referenceValLoss},,`);
    return `${lines.join('\n')}\n`;
  }
}

/** Appends a point, replacing one at the same x (a resumed run recomputes steps). */
function pushPoint(points: Point[], x: number, y: number): void {
  if (!Number.isFinite(y)) return;
  const last = points[points.length - 1];
  if (last && last.x === x) last.y = y;
  else if (last && last.x > x) {
    const i = points.findIndex((p) => p.x >= x);
    if (points[i].x === x) points[i].y = y;
    else points.splice(i, 0, { x, y });
  } else points.push({ x, y });
}
