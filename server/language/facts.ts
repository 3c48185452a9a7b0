/**
 * What the language server knows about the files a config names: the reference model's shape, each
 * data file's token count and largest ids, and the runs in the run store. Each fact is cached with a
 * stamp (mtime and size of the files it was read from) and read again only when the stamp changes;
 * `ensure` (the debounced pass) compares stamps, the per-keystroke pass reads the cache only, so
 * diagnostics as you type never wait for the disk. Nothing here throws: an unreadable model or file
 * is a fact too (its error message).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from '../engine/errors.js';
import { parseModelConfig } from '../engine/modelFamily.js';
import type { ModelConfig } from '../engine/modelFamily.js';
import { modelDirStamp, readReferenceInfo, statStamp } from '../engine/referenceInfo.js';
import { readExactly, readUint16LE, statDataFile, withFile } from '../engine/data/binary.js';
import { parseNpyHeader } from '../engine/data/npy.js';
import { TOKENIZER_NAMES, type TokenizerName } from '../engine/data/tokenizer.js';
import { isTextDataFile, loadTokensDetailed } from '../engine/data/tokens.js';
import { parseEventLine } from '../protocol/events.js';
import type { ReferenceInfo } from '../protocol/config.js';
import type { ReferenceAnalysis } from './protocol.js';

/** A model directory: its shape and full config, or why it cannot be used. */
export type ReferenceFact = { ok: true; info: ReferenceInfo; config: ModelConfig } | { ok: false; error: InherituneError | Error };

/** A data file as read with a tokenizer (text files; token files ignore it). */
export interface DataReading {
  file: string;
  /** data.tokenizer as written. */
  tokenizer: string;
  /** The reference folder, whose tokenizer.json the `model` tokenizer reads. */
  modelDir?: string;
}

function dataReadingKey({ file, tokenizer, modelDir }: DataReading): string {
  if (!isTextDataFile(file)) return file;
  return [file, tokenizer, tokenizer === 'model' ? (modelDir ?? '') : ''].join('\u0000');
}

export function isTokenizerName(name: string): name is TokenizerName {
  return (TOKENIZER_NAMES as readonly string[]).includes(name);
}

/** A data file's tokens, as far as they were read. */
export interface DataFact {
  /** Why the file cannot be used (missing, empty, odd length, bad .npy, ...). */
  error?: InherituneError | Error;
  /** Exact token count, when known (token files always; text files when tokenized). */
  tokens?: number;
  /**
   * Running maxima of the ids read, in file order: [offset, id] where id exceeds every id before
   * it. The first id >= V of the ids read is the first entry with id >= V.
   */
  maxima?: [number, number][];
  /** Tokens whose ids were read (all of them, or a sample of a large file). */
  idsRead?: number;
}

export interface RunFact {
  runId: string;
  runDir: string;
  /** plan.json's configPath, else the runStarted event's. */
  configPath?: string;
  /** plan.json's referenceDir. */
  referenceDir?: string;
  state: 'finished' | 'failed' | 'incomplete';
  /** The newest attention analysis of the model labelled "reference" in this run. */
  referenceAttention?: Omit<ReferenceAnalysis, 'runId' | 'runDir' | 'lazyLayers'>;
  /** Sort key: the run id's timestamp, then the events file's mtime. */
  order: string;
}

export interface FactsOptions {
  tokenCacheDir?: string;
  /** Text files above this many bytes are not tokenized (default 4 MiB). */
  maxTextBytes?: number;
  /** Token files are read whole up to this many tokens, sampled beyond (default 8 Mi tokens). */
  maxScanTokens?: number;
}

const SAMPLE_CHUNKS = 32;

function asError(e: unknown): InherituneError | Error {
  return e instanceof Error ? e : new Error(String(e));
}

interface Entry<T> {
  stamp: string;
  value: T;
}

/** Keeps the facts of the files open configs name; `watch` hears of changes (fs.watch). */
export class Facts {
  private readonly references = new Map<string, Entry<ReferenceFact>>();
  private readonly data = new Map<string, Entry<DataFact>>();
  private readonly runs = new Map<string, RunReader>();
  private readonly watchers = new Map<string, { watcher: fs.FSWatcher; id: string }>();
  private readonly loading = new Map<string, Promise<boolean>>();

  constructor(
    private readonly opts: FactsOptions = {},
    /** Called (unthrottled) when a watched folder changes. */
    private readonly onChange: () => void = () => {},
  ) {}

  // -- the reference model ------------------------------------------------------------------

  /** The cached fact for the model at `dir` (absolute), or undefined before the first ensure. */
  reference(dir: string): ReferenceFact | undefined {
    return this.references.get(dir)?.value;
  }

  /** Reads the model at `dir` again when its files changed since; true when the fact changed. */
  ensureReference(dir: string): boolean {
    const stamp = modelDirStamp(dir);
    const old = this.references.get(dir);
    this.watch(dir);
    if (old && old.stamp === stamp) return false;
    let value: ReferenceFact;
    try {
      value = { ok: true, ...readReferenceInfo(dir) };
    } catch (e) {
      value = { ok: false, error: asError(e) };
    }
    this.references.set(dir, { stamp, value });
    return !old || JSON.stringify(describe(old.value)) !== JSON.stringify(describe(value));
  }

  // -- data files ---------------------------------------------------------------------------

  dataFile(d: DataReading): DataFact | undefined {
    return this.data.get(dataReadingKey(d))?.value;
  }

  /** Reads the data file again when it changed since; true when the fact changed. */
  async ensureData(d: DataReading): Promise<boolean> {
    const { file } = d;
    const key = dataReadingKey(d);
    const running = this.loading.get(key);
    if (running) return running;
    const stamp = statStamp(file);
    const old = this.data.get(key);
    this.watch(path.dirname(file));
    if (old && old.stamp === stamp) return false;
    const work = (async () => {
      const value = await this.readData(d);
      this.data.set(key, { stamp, value });
      return !old || JSON.stringify(describe(old.value)) !== JSON.stringify(describe(value));
    })().finally(() => this.loading.delete(key));
    this.loading.set(key, work);
    return work;
  }

  private async readData({ file, tokenizer, modelDir }: DataReading): Promise<DataFact> {
    const ext = path.extname(file).toLowerCase();
    try {
      const st = await statDataFile(file);
      if (st.size === 0) throw new InherituneError(file, 'file is empty');
      if (ext === '.bin') {
        if (st.size % 2 !== 0) throw new InherituneError(file, `has an odd byte length (${st.size}); a .bin token file holds little-endian uint16 ids, 2 bytes each`);
        const tokens = st.size / 2;
        return { tokens, ...(await this.scanUint16(file, 0, tokens)) };
      }
      if (ext === '.npy') {
        const { dataOffset, length } = await withFile(file, async (h) => {
          const fixed = new Uint8Array(Math.min(12, st.size));
          await readExactly(h, file, 0, fixed);
          const fb = Buffer.from(fixed.buffer);
          const headerEnd = fixed.length < 12 ? fixed.length : fixed[6] === 1 ? 10 + fb.readUInt16LE(8) : 12 + fb.readUInt32LE(8);
          const prefix = new Uint8Array(Math.min(headerEnd, st.size, 1 << 20));
          await readExactly(h, file, 0, prefix);
          return parseNpyHeader(prefix, file);
        });
        const expected = dataOffset + 2 * length;
        if (st.size !== expected) {
          throw new InherituneError(file, `.npy header declares ${length} uint16 values (${expected} bytes in all) but the file has ${st.size} bytes`);
        }
        return { tokens: length, ...(await this.scanUint16(file, dataOffset, length)) };
      }
      if (isTextDataFile(file)) {
        // Tokenized here only with a known tokenizer, and only small files (it blocks the server).
        if (!isTokenizerName(tokenizer) || (tokenizer === 'model' && modelDir === undefined)) return {};
        if (st.size > (this.opts.maxTextBytes ?? 4 * 1024 * 1024)) return {};
        const { tokens } = await loadTokensDetailed(file, { tokenizer, modelDir, cacheDir: this.opts.tokenCacheDir });
        return { tokens: tokens.length, maxima: maxima(tokens, 0), idsRead: tokens.length };
      }
      return {};
    } catch (e) {
      return { error: asError(e) };
    }
  }

  /** Running maxima of the uint16 ids at `offset` (bytes): all of them, or evenly spaced chunks of a large file. */
  private async scanUint16(file: string, offset: number, count: number): Promise<Pick<DataFact, 'maxima' | 'idsRead'>> {
    const limit = this.opts.maxScanTokens ?? 8 * 1024 * 1024;
    return withFile(file, async (h) => {
      const out: [number, number][] = [];
      let idsRead = 0;
      const chunks: [number, number][] = [];
      if (count <= limit) {
        for (let s = 0; s < count; s += 1 << 20) chunks.push([s, Math.min(1 << 20, count - s)]);
      } else {
        const len = Math.floor(limit / SAMPLE_CHUNKS);
        for (let i = 0; i < SAMPLE_CHUNKS; i++) chunks.push([Math.floor((i * (count - len)) / (SAMPLE_CHUNKS - 1)), len]);
      }
      let best = -1;
      for (const [start, n] of chunks) {
        const ids = await readUint16LE(h, file, offset + 2 * start, n);
        idsRead += n;
        for (let i = 0; i < ids.length; i++) {
          if (ids[i] > best) {
            best = ids[i];
            out.push([start + i, best]);
          }
        }
      }
      return { maxima: out, idsRead };
    });
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
    return out.sort((a, b) => (a.order < b.order ? 1 : a.order > b.order ? -1 : 0));
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
  clear(): void {
    this.references.clear();
    this.data.clear();
    this.runs.clear();
  }

  dispose(): void {
    for (const w of this.watchers.values()) w.watcher.close();
    this.watchers.clear();
  }
}

/** A fact without its error objects' identity (for "did it change"). */
function describe(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x instanceof Error ? x.message : x)));
}

function maxima(ids: ArrayLike<number>, base: number): [number, number][] {
  const out: [number, number][] = [];
  let best = -1;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] > best) {
      best = ids[i];
      out.push([base + i, best]);
    }
  }
  return out;
}

/** The first id >= vocabSize among those read, with its token offset. */
export function firstOutOfVocab(fact: DataFact, vocabSize: number): { id: number; offset: number } | undefined {
  const hit = fact.maxima?.find(([, id]) => id >= vocabSize);
  return hit ? { offset: hit[0], id: hit[1] } : undefined;
}

/**
 * A run folder's plan, state and reference analysis, read incrementally: events.jsonl grows by one
 * line per training step, so each read parses only the lines appended since the last one.
 */
class RunReader {
  private planStamp = '';
  private plan: { configPath?: string; referenceDir?: string } = {};
  private eventsId = '';
  private offset = 0;
  private mtime = 0;
  private fromEvents: { configPath?: string; state?: 'finished' | 'failed'; attention?: RunFact['referenceAttention'] } = {};

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
    const state = this.fromEvents.state ?? (fs.existsSync(path.join(runDir, 'summary.json')) ? 'finished' : 'incomplete');
    return {
      runId,
      runDir,
      configPath: this.plan.configPath ?? this.fromEvents.configPath,
      referenceDir: this.plan.referenceDir,
      state,
      referenceAttention: this.fromEvents.attention,
      order: `${runId.slice(0, 15)}|${String(Math.floor(this.mtime)).padStart(16, '0')}`,
    };
  }

  /** Parses the whole lines appended to events.jsonl since the last read; false when there is no such file. */
  private readEvents(): boolean {
    const file = path.join(this.runDir, 'events.jsonl');
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return false;
    }
    const id = `${st.ino}:${st.birthtimeMs}`;
    if (id !== this.eventsId || st.size < this.offset) {
      // A new or truncated file: from the start.
      this.eventsId = id;
      this.offset = 0;
      this.fromEvents = {};
    }
    this.mtime = st.mtimeMs;
    if (st.size === this.offset) return true;
    let text: string;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const buf = Buffer.alloc(st.size - this.offset);
        const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
        text = buf.subarray(0, n).toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return true;
    }
    // Only whole lines: a torn last line is read again next time.
    const end = text.lastIndexOf('\n');
    if (end < 0) return true;
    this.offset += Buffer.byteLength(text.slice(0, end + 1));
    for (const line of text.slice(0, end).split('\n')) {
      // Most lines are metrics: parse only the few kinds wanted.
      if (!(line.includes('"attention"') || line.includes('"runStarted"') || line.includes('"runFinished"') || line.includes('"runFailed"'))) continue;
      const parsed = parseEventLine(line);
      if (!parsed.ok) continue;
      const e = parsed.event;
      if (e.type === 'runStarted' && typeof e.configPath === 'string') {
        this.fromEvents.configPath ??= path.resolve(e.configPath);
        this.fromEvents.state = undefined; // resumed
      } else if (e.type === 'runFinished') this.fromEvents.state = 'finished';
      else if (e.type === 'runFailed') this.fromEvents.state = 'failed';
      else if (e.type === 'attention' && e.model?.label === 'reference' && Array.isArray(e.layers)) {
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
