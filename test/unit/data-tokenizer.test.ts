import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InherituneError } from '../../server/engine/errors.js';
import { getTokenizer, type TokenizerName } from '../../server/engine/data/tokenizer.js';

test('gpt2 tokenizer encodes "Hello world" to the GPT-2 BPE ids [15496, 995] and decodes back', () => {
  const tok = getTokenizer('gpt2');
  assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
  assert.equal(tok.decode([15496, 995]), 'Hello world');
  assert.equal(tok.vocabSize, 50257);
  assert.equal(tok.eot, 50256);
  assert.equal(tok.decode(new Uint16Array([15496, 50256])), 'Hello<|endoftext|>');
});

test('gpt2 tokenizer treats a literal "<|endoftext|>" in user text as ordinary text, not EOT', () => {
  const tok = getTokenizer('gpt2');
  const ids = tok.encode('a<|endoftext|>b');
  assert.ok(!ids.includes(tok.eot));
  assert.ok(ids.length > 3);
  assert.equal(tok.decode(ids), 'a<|endoftext|>b');
});

test('gpt2 tokenizer is built once and shared', () => {
  assert.equal(getTokenizer('gpt2'), getTokenizer('gpt2'));
});

test('bytes tokenizer maps text to its UTF-8 bytes with EOT 256 and vocabulary 257', () => {
  const tok = getTokenizer('bytes');
  assert.equal(tok.vocabSize, 257);
  assert.equal(tok.eot, 256);
  assert.deepEqual(tok.encode('hé'), [104, 195, 169]);
  assert.deepEqual(tok.encode('<|endoftext|>').length, 13);
  assert.equal(tok.decode([104, 195, 169, 256, 104]), 'hé<|endoftext|>h');
});

test('decoding an id outside the vocabulary is an InherituneError naming the id', () => {
  for (const name of ['bytes', 'gpt2'] as const) {
    const tok = getTokenizer(name);
    assert.throws(
      () => tok.decode([1, tok.vocabSize]),
      (e: unknown) => e instanceof InherituneError && e.message.includes(`id ${tok.vocabSize}`) && e.message.includes('position 1'),
    );
  }
});

test('an unknown tokenizer name is an InherituneError listing the known ones', () => {
  assert.throws(
    () => getTokenizer('sentencepiece' as unknown as TokenizerName),
    (e: unknown) => e instanceof InherituneError && /gpt2, bytes/.test(e.message),
  );
});
