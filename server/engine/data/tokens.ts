/**
 * Loads training/evaluation tokens from a file: nanoGPT `.bin` (raw little-endian uint16), `.npy`
 * uint16 shards, or text (`.txt`, `.jsonl`) tokenized once and cached. Every problem with the file is
 * an InherituneError whose source is the file path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TOKEN_FILE_EXTENSIONS } from '../../protocol/dataFiles.js';
import { InherituneError } from '../errors.js';
import { readUint16LE, readUint16LEInto, statDataFile, withFile } from './binary.js';
import { readNpyUint16 } from './npy.js';
import { readTokenCache, tokenCacheDir, tokenCacheKey, writeTokenCache, type TextFormat } from './tokenCache.js';
import { checkTxtSize, invalidUtf8Bytes, tokenizeJsonl, tokenizeTxt, type ProgressFn } from './textTokens.js';
import { getTokenizer, type TokenizerName } from './tokenizer.js';

export type { ProgressFn } from './textTokens.js';

export { TOKEN_FILE_EXTENSIONS };

/** Whether `file` is text (tokenized with data.tokenizer) rather than stored token ids. */
export function isTextDataFile(file: string): boolean {
  const ext = path.extname(file).toLowerCase();
  return ext === '.txt' || ext === '.jsonl';
}

export interface LoadTokensOptions {
  /** Tokenizer for text files; token files (.bin, .npy) are read as stored. */
  tokenizer: TokenizerName;
  /** The model folder whose tokenizer.json the `model` tokenizer uses. */
  modelDir?: string;
  /** When given, every id must be below it. */
  vocabSize?: number;
  /** Token cache folder; default $INHERITUNE_CACHE_DIR, else ~/.cache/inheritune/tokens. */
  cacheDir?: string;
  /** Fewest tokens the caller can use (e.g. one window plus its target). */
  minTokens?: number;
  /** Tokenization progress for text files, in bytes of the file. */
  onProgress?: ProgressFn;
  /** A remark about the data that does not stop loading (invalid UTF-8 replaced), one line naming the file. */
  onNote?: (note: string) => void;
}

export interface LoadedTokens {
  tokens: Uint16Array | Uint32Array;
  /** 'file': ids as stored (.bin, .npy); 'cache': text tokenized earlier; 'tokenized': text tokenized now. */
  origin: 'file' | 'cache' | 'tokenized';
  /** The cache entry read or written (text files only). */
  cachePath?: string;
  /** Why the cache entry could not be written; loading still succeeds. */
  cacheWriteError?: string;
}

export async function loadTokens(file: string, opts: LoadTokensOptions): Promise<Uint32Array | Uint16Array> {
  return (await loadTokensDetailed(file, opts)).tokens;
}

/** loadTokens, also saying where the tokens came from (so callers and tests can see cache hits). */
export async function loadTokensDetailed(file: string, opts: LoadTokensOptions): Promise<LoadedTokens> {
  const { ext, size } = await statTokenFile(file);

  let loaded: LoadedTokens;
  if (ext === '.bin') loaded = { tokens: await readBin(file, size), origin: 'file' };
  else if (ext === '.npy') loaded = { tokens: await readNpyUint16(file, size), origin: 'file' };
  else {
    if (ext === '.txt') checkTxtSize(file, size);
    loaded = await loadText(file, ext === '.txt' ? 'txt' : 'jsonl', opts);
  }

  checkTokens(file, loaded.tokens, opts);
  return loaded;
}

/** The extension and size of a data file of a supported type that exists and is not empty. */
async function statTokenFile(file: string): Promise<{ ext: string; size: number }> {
  const ext = path.extname(file).toLowerCase();
  if (!(TOKEN_FILE_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new InherituneError(file, `unsupported data file type "${ext || '(no extension)'}"; supported: ${TOKEN_FILE_EXTENSIONS.join(', ')}`);
  }
  const { size } = await statDataFile(file);
  if (size === 0) throw new InherituneError(file, 'file is empty');
  return { ext, size };
}

/** Tokens in a .bin file of `size` bytes. */
function binTokens(file: string, size: number): number {
  if (size % 2 !== 0) {
    throw new InherituneError(file, `has an odd byte length (${size}); a .bin token file holds little-endian uint16 ids, 2 bytes each`);
  }
  return size / 2;
}

async function readBin(file: string, size: number): Promise<Uint16Array> {
  return withFile(file, (h) => readUint16LE(h, file, 0, binTokens(file, size)));
}

/** Tokens per read when a .bin file is checked without being held. */
const CHECK_CHUNK_TOKENS = 16 << 20;

/** checkVocab over a whole .bin file of n tokens, a chunk at a time (memory independent of its size). */
async function checkBinVocab(file: string, n: number, vocabSize: number): Promise<void> {
  const chunk = new Uint16Array(Math.min(CHECK_CHUNK_TOKENS, n));
  await withFile(file, async (h) => {
    for (let at = 0; at < n; at += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, n - at));
      await readUint16LEInto(h, file, 2 * at, part);
      checkVocab(file, part, vocabSize, at);
    }
  });
}

async function loadText(file: string, format: TextFormat, opts: LoadTokensOptions): Promise<LoadedTokens> {
  let content: Buffer;
  try {
    content = await fs.promises.readFile(file);
  } catch (e) {
    throw new InherituneError(file, `cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  const replaced = invalidUtf8Bytes(content);
  if (replaced > 0) opts.onNote?.(`${file}: ${replaced} byte${replaced === 1 ? ' is' : 's are'} not valid UTF-8; read as U+FFFD`);
  const tok = getTokenizer(opts.tokenizer, opts.modelDir);
  const dir = tokenCacheDir(opts.cacheDir);
  const key = tokenCacheKey(content, format, tok.name);

  // An unreadable cache is only a miss: the cache saves time, it is never needed for correctness.
  const hit = await readTokenCache(dir, key).catch(() => null);
  if (hit) return { tokens: hit.tokens, origin: 'cache', cachePath: hit.path };

  const tokenize = format === 'txt' ? tokenizeTxt : tokenizeJsonl;
  const tokens = await tokenize(content, file, tok, opts.onProgress);
  try {
    return { tokens, origin: 'tokenized', cachePath: writeTokenCache(dir, key, tokens) };
  } catch (e) {
    return { tokens, origin: 'tokenized', cacheWriteError: e instanceof Error ? e.message : String(e) };
  }
}

/** Why a token file does not fit a model: its first id outside the vocabulary. */
export function outOfVocabDetail(id: number, offset: number, vocabSize: number): string {
  return `token id ${id} at token offset ${offset} is outside the model's vocabulary of ${vocabSize} ids (was the file made with another tokenizer?)`;
}

/** The checks every loaded token array must pass: not empty, long enough, and (when given) in vocabulary. */
export function checkTokens(file: string, tokens: ArrayLike<number>, opts: { vocabSize?: number; minTokens?: number }): void {
  checkCount(file, tokens.length, opts.minTokens);
  if (opts.vocabSize !== undefined) checkVocab(file, tokens, opts.vocabSize, 0);
}

function checkCount(file: string, n: number, minTokens: number | undefined): void {
  if (n === 0) throw new InherituneError(file, 'contains no tokens');
  if (minTokens !== undefined && n < minTokens) throw new InherituneError(file, `has ${n} tokens; at least ${minTokens} are needed`);
}

/** Every id of `tokens` (which start at token `offset` of the file) is below `vocabSize`. */
function checkVocab(file: string, tokens: ArrayLike<number>, vocabSize: number, offset: number): void {
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] >= vocabSize) {
      throw new InherituneError(file, outOfVocabDetail(tokens[i], offset + i, vocabSize));
    }
  }
}

export interface TokenWindows {
  /** The windows' tokens (each window with the token after it, where the file has one), packed. */
  tokens: Uint16Array | Uint32Array;
  /** Where each window starts in `tokens`, in the order asked for. */
  starts: number[];
}

/**
 * The windows `startsOf(nTokens)` of `len` tokens of a data file, each with its next token (the
 * target). A `.bin` file is read by window (overlapping windows once), so memory follows the
 * windows, not the file size; other formats are loaded whole. Every id of the file is checked
 * against opts.vocabSize either way.
 */
export async function loadTokenWindows(file: string, opts: LoadTokensOptions, len: number, startsOf: (nTokens: number) => number[]): Promise<TokenWindows> {
  const { ext, size } = await statTokenFile(file);
  if (ext !== '.bin') {
    const tokens = await loadTokens(file, opts);
    return { tokens, starts: startsOf(tokens.length) };
  }
  const nTokens = binTokens(file, size);
  checkCount(file, nTokens, opts.minTokens);
  // Every id, as when the file is loaded whole, but streamed.
  if (opts.vocabSize !== undefined) await checkBinVocab(file, nTokens, opts.vocabSize);
  const wanted = startsOf(nTokens);
  // Windows sorted by start and merged where they overlap or touch: one read per merged range.
  const ranges: { from: number; to: number; at: number }[] = [];
  const starts = new Array<number>(wanted.length);
  let total = 0;
  for (const i of wanted.map((_, i) => i).sort((a, b) => wanted[a] - wanted[b])) {
    const from = wanted[i];
    const to = Math.min(from + len + 1, nTokens);
    const last = ranges[ranges.length - 1];
    if (last && from <= last.to) {
      total += Math.max(0, to - last.to);
      last.to = Math.max(last.to, to);
    } else {
      ranges.push({ from, to, at: total });
      total += to - from;
    }
    const r = ranges[ranges.length - 1];
    starts[i] = r.at + from - r.from;
  }
  const tokens = new Uint16Array(total);
  await withFile(file, async (h) => {
    for (const r of ranges) {
      await readUint16LEInto(h, file, 2 * r.from, tokens.subarray(r.at, r.at + r.to - r.from));
    }
  });
  return { tokens, starts };
}
