/**
 * On-disk cache of tokenized text, so a text file is tokenized once. An entry is keyed by the sha256
 * of the file's bytes, its text format, the tokenizer and a cache format version, and holds the raw
 * little-endian ids: `<key>.u16` when every id fits in 16 bits (a nanoGPT-compatible .bin), else
 * `<key>.u32`. Entries are written atomically, so a present entry is complete.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../fsAtomic.js';
import { littleEndianBytes, readUint16LE, readUint32LE, withFile } from './binary.js';

/** Bump when tokenization output changes (tokenizer behaviour, EOT placement), to orphan old entries. */
export const TOKEN_CACHE_VERSION = 1;

export type TextFormat = 'txt' | 'jsonl';

export function tokenCacheDir(cacheDir?: string): string {
  return cacheDir ?? process.env.INHERITUNE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'inheritune', 'tokens');
}

/** `tokenizer` is the tokenizer's name (for a model's tokenizer.json, one that includes the file's hash). */
export function tokenCacheKey(content: Uint8Array, format: TextFormat, tokenizer: string): string {
  // The format is part of the key: the same bytes read as .txt and as .jsonl give different tokens.
  return createHash('sha256')
    .update(`inheritune-tokens v${TOKEN_CACHE_VERSION}\0${format}\0${tokenizer}\0`)
    .update(content)
    .digest('hex');
}

const entryPath = (dir: string, key: string, bytesPerId: 2 | 4): string => path.join(dir, `${key}.u${8 * bytesPerId}`);

/** The cached tokens and where they were, or null on a miss (a damaged entry counts as a miss). */
export async function readTokenCache(dir: string, key: string): Promise<{ tokens: Uint16Array | Uint32Array; path: string } | null> {
  for (const bytesPerId of [2, 4] as const) {
    const p = entryPath(dir, key, bytesPerId);
    let size: number;
    try {
      size = (await fs.promises.stat(p)).size;
    } catch {
      continue;
    }
    if (size === 0 || size % bytesPerId !== 0) continue;
    const n = size / bytesPerId;
    const tokens = await withFile<Uint16Array | Uint32Array>(p, (h) => (bytesPerId === 2 ? readUint16LE(h, p, 0, n) : readUint32LE(h, p, 0, n)));
    return { tokens, path: p };
  }
  return null;
}

/** Stores an entry; returns its path. */
export function writeTokenCache(dir: string, key: string, tokens: Uint16Array | Uint32Array): string {
  const p = entryPath(dir, key, tokens.BYTES_PER_ELEMENT === 2 ? 2 : 4);
  writeFileAtomic(p, littleEndianBytes(tokens));
  return p;
}
