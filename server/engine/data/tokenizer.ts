/**
 * Tokenizers for text data: GPT-2 BPE (js-tiktoken with its bundled offline rank file), raw UTF-8
 * bytes (vocabulary 257, handy for tiny models and hand-checkable tests), and `model`: the
 * tokenizer.json in a model's folder (LLaMA's SentencePiece BPE and any other Hugging Face
 * tokenizer), run offline by @huggingface/tokenizers (pure JavaScript).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { InherituneError } from '../errors.js';
import { TOKENIZER_FILE } from '../hfCheckpoint.js';
import { readJsonFile } from '../jsonFile.js';
import { TOKENIZERS, type TokenizerChoice } from '../../protocol/config.js';

// The names are the run config's (data.tokenizer), defined once in the protocol.
export { TOKENIZERS as TOKENIZER_NAMES, type TokenizerChoice as TokenizerName };

export interface Tokenizer {
  /**
   * 'gpt2', 'bytes', or for a model's tokenizer.json `tokenizer.json:<sha256 of the file>`: the
   * identity the token cache keys on.
   */
  name: string;
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
  /**
   * Whether a long document may be encoded in slices cut at newlines (giving exactly the ids of
   * encoding it whole). Absent means true; false for tokenizer.json tokenizers, whose normalizers
   * see the whole text.
   */
  sliceable?: boolean;
}

const EOT_TEXT = '<|endoftext|>';

function checkIds(name: string, ids: ArrayLike<number>, vocabSize: number): void {
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
    sliceable: true,
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
  sliceable: true,
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

function readJsonObject(file: string, what: string): Record<string, unknown> {
  const json = readJsonFile(file, what);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InherituneError(file, `${what} must be a JSON object`);
  return json as Record<string, unknown>;
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

/** A token given in tokenizer_config.json as "</s>" or {"content": "</s>", ...}. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/**
 * The tokenizer.json of a model folder. Documents are encoded as the tokenizer's post-processor
 * says (LLaMA: BOS first) and the loader appends the end-of-text id: config.json's eos_token_id when
 * given, else tokenizer_config.json's eos_token, else "</s>" or "<|endoftext|>". Special tokens are
 * taken out of the text matching, so a literal "</s>" in a document is encoded as its characters
 * (as the GPT-2 tokenizer treats "<|endoftext|>"): only the loader inserts EOT.
 */
function makeModelTokenizer(dir: string): Tokenizer {
  const file = path.join(dir, TOKENIZER_FILE);
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InherituneError(
      file,
      code === 'ENOENT' ? `missing ${TOKENIZER_FILE}: data.tokenizer "model" needs the model folder's tokenizer (or use gpt2/bytes, or token files)` : `cannot read: ${(e as Error).message}`,
    );
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new InherituneError(file, `is not valid JSON (${(e as Error).message})`);
  }
  const configFile = path.join(dir, 'tokenizer_config.json');
  const tokConfig = fs.existsSync(configFile) ? readJsonObject(configFile, 'tokenizer_config.json') : {};
  const modelConfigFile = path.join(dir, 'config.json');
  const modelConfig = fs.existsSync(modelConfigFile) ? readJsonObject(modelConfigFile, 'config.json') : {};
  const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as AddedToken[];
  let hf: HFTokenizer;
  try {
    hf = new HFTokenizer({ ...json, added_tokens: added.filter((t) => !t.special) }, tokConfig);
  } catch (e) {
    throw new InherituneError(file, `is not a tokenizer this engine can run: ${(e as Error).message}`);
  }
  const idOf = (text: string | undefined) => (text === undefined ? undefined : (added.find((t) => t.content === text)?.id ?? hf.token_to_id(text)));
  const eosFromConfig = Array.isArray(modelConfig.eos_token_id) ? modelConfig.eos_token_id[0] : modelConfig.eos_token_id;
  const eot =
    (Number.isSafeInteger(eosFromConfig) ? (eosFromConfig as number) : undefined) ??
    idOf(tokenText(tokConfig.eos_token)) ??
    idOf('</s>') ??
    idOf('<|endoftext|>');
  if (eot === undefined) {
    throw new InherituneError(file, 'has no end-of-text token (no eos_token_id in config.json, no eos_token in tokenizer_config.json, no "</s>" or "<|endoftext|>")');
  }
  let vocabSize = 0;
  for (const id of hf.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  for (const t of added) vocabSize = Math.max(vocabSize, t.id + 1);
  const name = `${TOKENIZER_FILE}:${createHash('sha256').update(raw).digest('hex')}`;
  const tok: Tokenizer = {
    name,
    vocabSize,
    eot,
    sliceable: false,
    encode: (text) => hf.encode(text).ids,
    decode: (ids) => {
      checkIds(name, ids, vocabSize);
      return hf.decode(Array.from(ids));
    },
  };
  return tok;
}

const modelTokenizers = new Map<string, { stamp: string; tok: Tokenizer }>();

/** The tokenizer.json tokenizer of a model folder (cached while the file is unchanged). */
export function modelTokenizer(dir: string): Tokenizer {
  const file = path.join(path.resolve(dir), TOKENIZER_FILE);
  let stamp = '';
  try {
    const st = fs.statSync(file);
    stamp = `${st.size}:${st.mtimeMs}`;
  } catch {
    // Missing: makeModelTokenizer says so.
  }
  const hit = modelTokenizers.get(file);
  if (hit && hit.stamp === stamp) return hit.tok;
  const tok = makeModelTokenizer(path.dirname(file));
  modelTokenizers.set(file, { stamp, tok });
  return tok;
}

/** A tokenizer by name; `model` is the tokenizer.json of `modelDir`. */
export function getTokenizer(name: TokenizerChoice, modelDir?: string): Tokenizer {
  switch (name) {
    case 'gpt2':
      gpt2 ??= makeGpt2();
      return gpt2;
    case 'bytes':
      return bytes;
    case 'model':
      if (modelDir === undefined) throw new InherituneError('tokenizer', 'the "model" tokenizer reads tokenizer.json from a model folder, and none was given');
      return modelTokenizer(modelDir);
    default:
      // Reached only from untyped callers (config files, the wire); name what is accepted.
      throw new InherituneError('tokenizer', `unknown tokenizer "${String(name)}"; expected one of ${TOKENIZERS.join(', ')}`);
  }
}
