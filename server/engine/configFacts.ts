/**
 * What the config checks (configCheck.ts) know about the files a config names: the reference model's
 * shape and each data file's token count and largest ids. The checks read only the `ConfigFacts`
 * lookups, so one check serves `inheritune run` (FactCache reading everything at once) and the
 * language server (the same cache, brought up to date by a debounced pass while you type, with
 * large files sampled). Each fact is cached with a stamp (mtime and size of the files it was read
 * from) and read again only when the stamp changes. Nothing here throws: an unreadable model or file
 * is a fact too (its error).
 */
import * as path from 'node:path';
import { InherituneError } from './errors.js';
import type { ModelConfig } from './modelFamily.js';
import { modelDirStamp, readReferenceInfo, statStamp } from './referenceInfo.js';
import { readExactly, readUint16LE, statDataFile, withFile } from './data/binary.js';
import { parseNpyHeader } from './data/npy.js';
import { TOKENIZER_NAMES, type TokenizerName } from './data/tokenizer.js';
import { checkTxtSize } from './data/textTokens.js';
import { isTextDataFile, loadTokensDetailed } from './data/tokens.js';
import type { ReferenceInfo } from '../protocol/config.js';
import type { HubRef } from './hub/repoRef.js';
import type { PythonProbe } from './train/torchProbe.js';

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

/** What the Hub says of a model the cache lacks: the commit and download size, or why it cannot be fetched. */
export type HubRemoteFact = { ok: true; commit: string; downloadBytes: number } | { ok: false; error: InherituneError | Error };

/** The lookups the config checks make; undefined: not read yet (the check that needs it waits). */
export interface ConfigFacts {
  reference(dir: string): ReferenceFact | undefined;
  dataFile(d: DataReading): DataFact | undefined;
  /**
   * The Hub's answer about a model the cache lacks (the language server asks it; `inheritune run`
   * downloads instead, so its facts have none and the cache miss stands).
   */
  hubRemote?(ref: HubRef): HubRemoteFact | undefined;
  /**
   * The probe of a Python interpreter for runtime.engine torch (the language server's; `inheritune
   * run` probes when the run starts, with the same check: torchProbe.ts).
   */
  pythonProbe?(python: string): PythonFact | undefined;
  /** The interpreter when runtime.python is not written (the editor's inheritune.pythonPath setting). */
  readonly defaultPython?: string;
}

/** What probing an interpreter found, or why it could not run. */
export type PythonFact = { ok: true; probe: PythonProbe } | { ok: false; error: InherituneError | Error };

export interface FactCacheOptions {
  tokenCacheDir?: string;
  /** Text files above this many bytes are not tokenized (default: all are). */
  maxTextBytes?: number;
  /** Token files are read whole up to this many tokens, sampled beyond (default: all are read); 0 reads no ids. */
  maxScanTokens?: number;
}

const SAMPLE_CHUNKS = 32;

export function isTokenizerName(name: string): name is TokenizerName {
  return (TOKENIZER_NAMES as readonly string[]).includes(name);
}

function dataReadingKey({ file, tokenizer, modelDir }: DataReading): string {
  if (!isTextDataFile(file)) return file;
  return [file, tokenizer, tokenizer === 'model' ? (modelDir ?? '') : ''].join('\u0000');
}

function asError(e: unknown): InherituneError | Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** A fact without its error objects' identity (for "did it change"). */
function describe(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Error ? x.message : x));
}

interface Entry<T> {
  stamp: string;
  value: T;
}

/** ConfigFacts read from disk and kept until their files change; `ensure*` reads what changed. */
export class FactCache implements ConfigFacts {
  private readonly references = new Map<string, Entry<ReferenceFact>>();
  private readonly data = new Map<string, Entry<DataFact>>();
  private readonly loading = new Map<string, Promise<boolean>>();

  constructor(private readonly opts: FactCacheOptions = {}) {}

  /** Called with each folder whose files a fact was read from (the language server watches them). */
  protected observe(_dir: string): void {}

  reference(dir: string): ReferenceFact | undefined {
    return this.references.get(dir)?.value;
  }

  /** Reads the model at `dir` (absolute) again when its files changed since; true when the fact changed. */
  ensureReference(dir: string): boolean {
    const stamp = modelDirStamp(dir);
    const old = this.references.get(dir);
    this.observe(dir);
    if (old && old.stamp === stamp) return false;
    let value: ReferenceFact;
    try {
      value = { ok: true, ...readReferenceInfo(dir) };
    } catch (e) {
      value = { ok: false, error: asError(e) };
    }
    this.references.set(dir, { stamp, value });
    return !old || describe(old.value) !== describe(value);
  }

  dataFile(d: DataReading): DataFact | undefined {
    return this.data.get(dataReadingKey(d))?.value;
  }

  /** Reads the data file again when it changed since; true when the fact changed. */
  async ensureData(d: DataReading): Promise<boolean> {
    const key = dataReadingKey(d);
    const running = this.loading.get(key);
    if (running) return running;
    const stamp = statStamp(d.file);
    const old = this.data.get(key);
    this.observe(path.dirname(d.file));
    if (old && old.stamp === stamp) return false;
    const work = (async () => {
      const value = await this.readData(d);
      this.data.set(key, { stamp, value });
      return !old || describe(old.value) !== describe(value);
    })().finally(() => this.loading.delete(key));
    this.loading.set(key, work);
    return work;
  }

  /** Forgets every cached fact (the next ensure reads everything again). */
  clear(): void {
    this.references.clear();
    this.data.clear();
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
      if (ext === '.txt') checkTxtSize(file, st.size);
      if (isTextDataFile(file)) {
        if (!isTokenizerName(tokenizer) || (tokenizer === 'model' && modelDir === undefined)) return {};
        if (st.size > (this.opts.maxTextBytes ?? Infinity)) return {};
        const { tokens } = await loadTokensDetailed(file, { tokenizer, modelDir, cacheDir: this.opts.tokenCacheDir });
        return { tokens: tokens.length, maxima: maxima(tokens), idsRead: tokens.length };
      }
      return {};
    } catch (e) {
      return { error: asError(e) };
    }
  }

  /** Running maxima of the uint16 ids at `offset` (bytes): all of them, or evenly spaced chunks of a large file. */
  private async scanUint16(file: string, offset: number, count: number): Promise<Pick<DataFact, 'maxima' | 'idsRead'>> {
    const limit = this.opts.maxScanTokens ?? Infinity;
    if (limit === 0) return {};
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
}

function maxima(ids: ArrayLike<number>): [number, number][] {
  const out: [number, number][] = [];
  let best = -1;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] > best) {
      best = ids[i];
      out.push([i, best]);
    }
  }
  return out;
}

/** The first id >= vocabSize among those read, with its token offset. */
export function firstOutOfVocab(fact: DataFact, vocabSize: number): { id: number; offset: number } | undefined {
  const hit = fact.maxima?.find(([, id]) => id >= vocabSize);
  return hit ? { offset: hit[0], id: hit[1] } : undefined;
}
