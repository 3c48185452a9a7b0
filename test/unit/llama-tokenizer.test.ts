/**
 * The `model` tokenizer: a model folder's tokenizer.json (here the fixture in LLaMA's hub layout,
 * test/fixtures/llama/tokenizer) run offline by @huggingface/tokenizers. Ids are checked by hand
 * against the fixture's vocabulary and merges; documents get the BOS the post-processor adds and end
 * with EOS; special-token text in a document stays text; the token cache keys on the file's hash.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getTokenizer, modelTokenizer } from '../../server/engine/data/tokenizer.js';
import { loadTokensDetailed } from '../../server/engine/data/tokens.js';
import { InherituneError } from '../../server/engine/errors.js';
import { LLAMA_TOKENIZER_DIR, tinyLlama, writeLlama } from '../helpers/llama.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-llama-tok-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const vocab = (JSON.parse(fs.readFileSync(path.join(LLAMA_TOKENIZER_DIR, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab;
const id = (piece: string): number => {
  const v = vocab[piece];
  assert.ok(v !== undefined, `fixture vocabulary has ${piece}`);
  return v;
};
const byte = (b: number) => id(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

test('encodes as LLaMA does: BOS, "▁" for spaces, BPE merges by rank, byte fallback; decodes back', () => {
  const tok = modelTokenizer(LLAMA_TOKENIZER_DIR);
  assert.equal(tok.vocabSize, 299);
  assert.equal(tok.eot, 2, '</s>');
  assert.match(tok.name, /^tokenizer\.json:[0-9a-f]{64}$/);
  assert.equal(tok.sliceable, false);
  // "the cat on the mat": ▁the and ▁cat merge fully; "on" merges before "▁o" (rank 10 < 11), so ▁ + on.
  assert.deepEqual(tok.encode('the cat on the mat'), [1, id('▁the'), id('▁cat'), id('▁'), id('on'), id('▁the'), id('▁mat')]);
  // Characters outside the vocabulary fall back to their UTF-8 bytes; newlines too.
  assert.deepEqual(tok.encode('é\nx'), [1, id('▁'), byte(0xc3), byte(0xa9), byte(0x0a), byte(0x78)]);
  assert.equal(tok.decode(tok.encode('the cat on the mat').slice(1)), 'the cat on the mat');
  assert.equal(tok.decode(tok.encode('é\nx').slice(1)), 'é\nx');
});

test('special-token text in a document is encoded as characters, never as BOS/EOS', () => {
  const tok = modelTokenizer(LLAMA_TOKENIZER_DIR);
  const ids = tok.encode('a </s> b');
  assert.equal(ids[0], 1, 'the BOS the post-processor adds');
  assert.ok(!ids.slice(1).includes(1) && !ids.includes(2), `no special ids from text: ${ids}`);
  assert.deepEqual(ids.slice(3, 7), [byte(0x3c), byte(0x2f), id('s'), byte(0x3e)]);
});

test('text data with tokenizer "model": documents are BOS ... EOS, cached under the tokenizer.json hash', async () => {
  const modelDir = path.join(root, 'llama');
  writeLlama(modelDir, tinyLlama(), 1, { tokenizer: true });
  const data = path.join(root, 'docs.jsonl');
  fs.writeFileSync(data, `${JSON.stringify({ text: 'the cat' })}\n\n${JSON.stringify({ text: 'on the mat' })}\n`);
  const cacheDir = path.join(root, 'cache');
  const first = await loadTokensDetailed(data, { tokenizer: 'model', modelDir, cacheDir, vocabSize: 320 });
  assert.equal(first.origin, 'tokenized');
  assert.deepEqual(Array.from(first.tokens), [1, id('▁the'), id('▁cat'), 2, 1, id('▁'), id('on'), id('▁the'), id('▁mat'), 2]);
  const again = await loadTokensDetailed(data, { tokenizer: 'model', modelDir, cacheDir, vocabSize: 320 });
  assert.equal(again.origin, 'cache');
  assert.deepEqual(again.tokens, first.tokens);
  // The same text through another tokenizer.json is a different cache entry.
  const other = path.join(root, 'other');
  fs.mkdirSync(other);
  const json = JSON.parse(fs.readFileSync(path.join(LLAMA_TOKENIZER_DIR, 'tokenizer.json'), 'utf8')) as { model: { merges: string[] } };
  json.model.merges = json.model.merges.slice(0, 2);
  fs.writeFileSync(path.join(other, 'tokenizer.json'), JSON.stringify(json));
  fs.copyFileSync(path.join(LLAMA_TOKENIZER_DIR, 'tokenizer_config.json'), path.join(other, 'tokenizer_config.json'));
  const third = await loadTokensDetailed(data, { tokenizer: 'model', modelDir: other, cacheDir });
  assert.equal(third.origin, 'tokenized');
  assert.notDeepEqual(Array.from(third.tokens), Array.from(first.tokens));
  // A .txt document is encoded whole (the normalizer sees the whole text).
  const txt = path.join(root, 'doc.txt');
  fs.writeFileSync(txt, 'the cat\non the mat');
  const t = await loadTokensDetailed(txt, { tokenizer: 'model', modelDir, cacheDir });
  assert.deepEqual(Array.from(t.tokens), [...modelTokenizer(modelDir).encode('the cat\non the mat'), 2]);
});

test('the "model" tokenizer without a folder or without tokenizer.json is an error saying what is missing', () => {
  assert.throws(() => getTokenizer('model'), (e: unknown) => e instanceof InherituneError && /reads tokenizer\.json from a model folder/.test(e.message));
  const empty = path.join(root, 'empty');
  fs.mkdirSync(empty);
  assert.throws(
    () => getTokenizer('model', empty),
    (e: unknown) => e instanceof InherituneError && e.source === path.join(empty, 'tokenizer.json') && /missing tokenizer\.json: data\.tokenizer "model" needs/.test(e.message),
  );
});
