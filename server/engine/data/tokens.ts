/**
 * Loads training/evaluation tokens from a file: nanoGPT `.bin` (raw little-endian uint16), `.npy`
 * uint16 shards, or text (`.txt`, `.jsonl`) tokenized once and cached. Every problem with the file is
 * an InherituneError whose source is the file path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from '../errors.js';
import { readUint16LE, statDataFile, withFile } from './binary.js';
import { readNpyUint16 } from './npy.js';
import { readTokenCache, tokenCacheDir, tokenCacheKey, writeTokenCache, type TextFormat } from './tokenCache.js';
import { checkTxtSize, invalidUtf8Bytes, tokenizeJsonl, tokenizeTxt, type ProgressFn } from './textTokens.js';
import { getTokenizer, type TokenizerName } from './tokenizer.js';

export type { ProgressFn } from './textTokens.js';

export const TOKEN_FILE_EXTENSIONS = ['.bin', '.npy', '.txt', '.jsonl'] as const;

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
  const ext = path.extname(file).toLowerCase();
  if (!(TOKEN_FILE_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new InherituneError(file, `unsupported data file type "${ext || '(no extension)'}"; supported: ${TOKEN_FILE_EXTENSIONS.join(', ')}`);
  }
  const { size } = await statDataFile(file);
  if (size === 0) throw new InherituneError(file, 'file is empty');

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

async function readBin(file: string, size: number): Promise<Uint16Array> {
  if (size % 2 !== 0) {
    throw new InherituneError(file, `has an odd byte length (${size}); a .bin token file holds little-endian uint16 ids, 2 bytes each`);
  }
  return withFile(file, (h) => readUint16LE(h, file, 0, size / 2));
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

/** The checks every loaded token array must pass: not empty, long enough, and (when given) in vocabulary. */
export function checkTokens(file: string, tokens: ArrayLike<number>, opts: { vocabSize?: number; minTokens?: number }): void {
  if (tokens.length === 0) throw new InherituneError(file, 'contains no tokens');
  const { vocabSize, minTokens } = opts;
  if (minTokens !== undefined && tokens.length < minTokens) {
    throw new InherituneError(file, `has ${tokens.length} tokens; at least ${minTokens} are needed`);
  }
  if (vocabSize !== undefined) {
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i] >= vocabSize) {
        throw new InherituneError(
          file,
          `token id ${tokens[i]} at token offset ${i} is outside the model's vocabulary of ${vocabSize} ids (was the file made with another tokenizer?)`,
        );
      }
    }
  }
}
