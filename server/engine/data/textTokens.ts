/**
 * Tokenizes text data: `.txt` is one document, `.jsonl` is one `{"text": ...}` document per line.
 * Every document is followed by the tokenizer's EOT. Work is done in slices with a yield to the event
 * loop between them, so a caller's progress display can repaint.
 */
import { constants, isUtf8 } from 'node:buffer';
import { formatBytes } from '../../protocol/format.js';
import { InherituneError } from '../errors.js';
import type { Tokenizer } from './tokenizer.js';

export type ProgressFn = (doneBytes: number, totalBytes: number) => void;

const SLICE_CHARS = 1 << 20;
const PROGRESS_EVERY_BYTES = 1 << 20;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A growable uint32 buffer, so hundreds of millions of ids never sit in a JS number[]. */
class TokenSink {
  private buf = new Uint32Array(1 << 16);
  private n = 0;
  private max = 0;

  push(ids: ArrayLike<number>): void {
    if (this.n + ids.length > this.buf.length) {
      const grown = new Uint32Array(Math.max(this.buf.length * 2, this.n + ids.length));
      grown.set(this.buf.subarray(0, this.n));
      this.buf = grown;
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id > this.max) this.max = id;
      this.buf[this.n++] = id;
    }
  }

  /** uint16 when every id fits (half the memory), else uint32; either way a compact copy. */
  finish(): Uint16Array | Uint32Array {
    const used = this.buf.subarray(0, this.n);
    return this.max < 65536 ? Uint16Array.from(used) : used.slice();
  }
}

/** Calls `onProgress` at most about once per MiB, and always at the end. */
class Progress {
  private last = -Infinity;
  constructor(
    private readonly total: number,
    private readonly onProgress?: ProgressFn,
  ) {}

  report(done: number): void {
    if (!this.onProgress || done === this.last) return;
    if (done - this.last < PROGRESS_EVERY_BYTES && done < this.total) return;
    this.last = done;
    this.onProgress(done, this.total);
  }
}

/**
 * Bytes of `bytes` that are not part of valid UTF-8: what the decoder below replaces with U+FFFD
 * (a truncated or malformed sequence counts the bytes up to where it breaks, as the decoder skips
 * them). Native validation first, so valid text costs one fast pass.
 */
export function invalidUtf8Bytes(bytes: Uint8Array): number {
  if (isUtf8(bytes)) return 0;
  let bad = 0;
  for (let i = 0; i < bytes.length; ) {
    const c = bytes[i];
    const more = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (more < 0) {
      bad++;
      i++;
      continue;
    }
    // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
    let lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    let hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    let j = 1;
    for (; j <= more; j++) {
      const d = bytes[i + j];
      if (d === undefined || d < lo || d > hi) break;
      lo = 0x80;
      hi = 0xbf;
    }
    if (j <= more) bad += j;
    i += j;
  }
  return bad;
}

function decodeUtf8(bytes: Uint8Array): string {
  // Not fatal: stray invalid bytes become U+FFFD rather than rejecting a whole scraped corpus.
  return new TextDecoder('utf-8').decode(bytes);
}

/**
 * Largest `.txt` file: the whole file is decoded into one JS string, and V8 cannot make a string
 * longer than this (each UTF-8 byte gives at most one UTF-16 unit, so a file this size always fits).
 */
export const MAX_TXT_BYTES = constants.MAX_STRING_LENGTH;

/** Refuses a `.txt` file too large to read as one document, from its size alone (before reading it). */
export function checkTxtSize(file: string, size: number): void {
  if (size > MAX_TXT_BYTES) {
    throw new InherituneError(
      file,
      `is ${formatBytes(size)}, over the ${formatBytes(MAX_TXT_BYTES)} a .txt file (one document) can hold; split it into a .jsonl file (one {"text": ...} document per line) or pre-tokenize it to .bin`,
    );
  }
}

const isSpace = (ch: string | undefined): boolean => ch === undefined || /\s/u.test(ch);

/**
 * The end of the next slice starting at `from`: just after a lone "\n" that sits between two
 * non-space characters. No GPT-2 pre-token crosses such a newline and it is its own pre-token either
 * way, so tokenizing the slices separately gives exactly the ids of tokenizing the whole text.
 */
export function nextSliceEnd(text: string, from: number, sliceChars = SLICE_CHARS): number {
  for (let i = text.indexOf('\n', from + sliceChars); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (!isSpace(text[i - 1]) && !isSpace(text[i + 1])) return i + 1;
  }
  return text.length;
}

/** Largest .txt document a tokenizer that cannot slice (tokenizer.json) encodes in one call. */
const MAX_UNSLICED_CHARS = 32 << 20;

/** A `.txt` file: the whole file is one document. */
export async function tokenizeTxt(content: Uint8Array, file: string, tok: Tokenizer, onProgress?: ProgressFn): Promise<Uint16Array | Uint32Array> {
  const text = decodeUtf8(content);
  const sink = new TokenSink();
  const progress = new Progress(content.length, onProgress);
  if (tok.sliceable === false) {
    if (text.length > MAX_UNSLICED_CHARS) {
      throw new InherituneError(file, `is too large to tokenize as one document with ${tok.name.split(':')[0]}; split it into a .jsonl file (one {"text": ...} document per line)`);
    }
    sink.push(tok.encode(text));
    sink.push([tok.eot]);
    progress.report(content.length);
    return sink.finish();
  }
  let doneBytes = 0;
  for (let from = 0; from < text.length; ) {
    const end = nextSliceEnd(text, from);
    const slice = text.slice(from, end);
    sink.push(tok.encode(slice));
    doneBytes += Buffer.byteLength(slice);
    progress.report(Math.min(doneBytes, content.length));
    from = end;
    if (from < text.length) await yieldToEventLoop();
  }
  sink.push([tok.eot]);
  progress.report(content.length);
  return sink.finish();
}

function jsonlText(line: string, file: string, lineNo: number): string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new InherituneError(file, `line ${lineNo}: invalid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('text' in value) || typeof value.text !== 'string') {
    throw new InherituneError(file, `line ${lineNo}: expected an object with a string "text" field`);
  }
  return value.text;
}

/** A `.jsonl` file: one `{"text": ...}` document per line; blank lines are skipped. */
export async function tokenizeJsonl(content: Uint8Array, file: string, tok: Tokenizer, onProgress?: ProgressFn): Promise<Uint16Array | Uint32Array> {
  const sink = new TokenSink();
  const progress = new Progress(content.length, onProgress);
  const decoder = new TextDecoder('utf-8');
  let docs = 0;
  let sinceYield = 0;
  // Lines are cut on the byte buffer so no single string ever holds the whole file.
  for (let start = 0, lineNo = 1; start < content.length; lineNo++) {
    let end = content.indexOf(0x0a, start);
    if (end === -1) end = content.length;
    const line = decoder.decode(content.subarray(start, end));
    if (line.trim() !== '') {
      sink.push(tok.encode(jsonlText(line, file, lineNo)));
      sink.push([tok.eot]);
      docs++;
    }
    sinceYield += end + 1 - start;
    start = end + 1;
    progress.report(Math.min(start, content.length));
    if (sinceYield >= SLICE_CHARS) {
      sinceYield = 0;
      await yieldToEventLoop();
    }
  }
  if (docs === 0) throw new InherituneError(file, 'has no documents (every line is blank)');
  return sink.finish();
}
