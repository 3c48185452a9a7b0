/**
 * Tokenizers for text data: GPT-2 BPE (js-tiktoken with its bundled offline rank file) and raw UTF-8
 * bytes (vocabulary 257, handy for tiny models and hand-checkable tests).
 */
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { InherituneError } from '../errors.js';

export type TokenizerName = 'gpt2' | 'bytes';

export const TOKENIZER_NAMES: readonly TokenizerName[] = ['gpt2', 'bytes'];

export interface Tokenizer {
  name: TokenizerName;
  vocabSize: number;
  /** The end-of-text id appended after every document. */
  eot: number;
  /**
   * Text to ids. The text is treated as ordinary text: a literal "<|endoftext|>" in a document is
   * encoded as its characters, never as the EOT id, so user text cannot forge document boundaries
   * (the same choice as nanoGPT's `encode_ordinary`). Only the data loader inserts EOT.
   */
  encode(text: string): number[];
  /** Ids to text; EOT shows as "<|endoftext|>". An id outside the vocabulary is an error. */
  decode(ids: ArrayLike<number>): string;
}

const EOT_TEXT = '<|endoftext|>';

function checkIds(name: TokenizerName, ids: ArrayLike<number>, vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new InherituneError(`tokenizer ${name}`, `cannot decode id ${id} at position ${i}: the vocabulary has ${vocabSize} ids`);
    }
  }
}

let gpt2: Tokenizer | undefined;

function makeGpt2(): Tokenizer {
  // Building the encoder parses the ~1 MB rank table (tens of ms), so it is done once, on first use.
  const enc = new Tiktoken(gpt2Ranks);
  const tok: Tokenizer = {
    name: 'gpt2',
    vocabSize: 50257,
    eot: 50256,
    // Empty allowed and disallowed special lists: special-token text is plain text, and no throw.
    encode: (text) => enc.encode(text, [], []),
    decode: (ids) => {
      checkIds('gpt2', ids, tok.vocabSize);
      return enc.decode(Array.from(ids));
    },
  };
  return tok;
}

const utf8Encoder = new TextEncoder();
// Not fatal: a window cut inside a multi-byte character decodes with U+FFFD instead of failing.
const utf8Decoder = new TextDecoder('utf-8');

const bytes: Tokenizer = {
  name: 'bytes',
  vocabSize: 257,
  eot: 256,
  encode: (text) => Array.from(utf8Encoder.encode(text)),
  decode: (ids) => {
    checkIds('bytes', ids, bytes.vocabSize);
    // Decode each run of bytes between EOTs on its own so EOT never splits a character's bytes.
    let out = '';
    let run: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === bytes.eot) {
        out += utf8Decoder.decode(Uint8Array.from(run)) + EOT_TEXT;
        run = [];
      } else {
        run.push(ids[i]);
      }
    }
    return out + utf8Decoder.decode(Uint8Array.from(run));
  },
};

export function getTokenizer(name: TokenizerName): Tokenizer {
  switch (name) {
    case 'gpt2':
      gpt2 ??= makeGpt2();
      return gpt2;
    case 'bytes':
      return bytes;
    default:
      // Reached only from untyped callers (config files, the wire); name what is accepted.
      throw new InherituneError('tokenizer', `unknown tokenizer "${String(name)}"; expected one of ${TOKENIZER_NAMES.join(', ')}`);
  }
}
