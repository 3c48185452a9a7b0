import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InherituneError } from '../../server/engine/errors.js';
import { loadTokens, loadTokensDetailed, type LoadTokensOptions } from '../../server/engine/data/tokens.js';
import { readTokenCache, tokenCacheKey, writeTokenCache } from '../../server/engine/data/tokenCache.js';
import { nextSliceEnd, tokenizeTxt } from '../../server/engine/data/textTokens.js';
import { getTokenizer, type Tokenizer } from '../../server/engine/data/tokenizer.js';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-data-'));

/** A fresh folder with `name` holding `content`, and options whose cache is a temp folder. */
function setup(name: string, content: string | Uint8Array, opts: Partial<LoadTokensOptions> = {}): { file: string; opts: LoadTokensOptions } {
  const dir = tmp();
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return { file, opts: { tokenizer: 'bytes', cacheDir: path.join(dir, 'cache'), ...opts } };
}

function u16le(ids: number[]): Buffer {
  const b = Buffer.alloc(ids.length * 2);
  ids.forEach((id, i) => b.writeUInt16LE(id, 2 * i));
  return b;
}

/** Asserts `p` rejects with an InherituneError whose source is `source` and whose message matches every pattern. */
async function rejectsWith(p: Promise<unknown>, source: string, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InherituneError, `not an InherituneError: ${String(e)}`);
    assert.equal(e.source, source);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

test('.bin round trip: raw little-endian uint16 ids load as a Uint16Array, as stored', async () => {
  const ids = [0, 1, 258, 50256, 65535];
  const { file, opts } = setup('train.bin', u16le(ids));
  const r = await loadTokensDetailed(file, opts);
  assert.ok(r.tokens instanceof Uint16Array);
  assert.deepEqual(Array.from(r.tokens), ids);
  assert.equal(r.origin, 'file');
});

test('.bin with an odd byte length is an error naming the file', async () => {
  const { file, opts } = setup('train.bin', Buffer.from([1, 0, 2]));
  await rejectsWith(loadTokens(file, opts), file, /odd byte length \(3\)/);
});

test('missing file, unsupported extension and empty files are errors naming the file', async () => {
  const dir = tmp();
  const missing = path.join(dir, 'nope.bin');
  await rejectsWith(loadTokens(missing, { tokenizer: 'bytes' }), missing, /not found/);
  const csv = setup('data.csv', 'a,b').file;
  await rejectsWith(loadTokens(csv, { tokenizer: 'bytes' }), csv, /"\.csv"/, /\.bin, \.npy, \.txt, \.jsonl/);
  for (const name of ['empty.bin', 'empty.txt', 'empty.jsonl']) {
    const { file, opts } = setup(name, '');
    await rejectsWith(loadTokens(file, opts), file, /empty/);
  }
  const { file, opts } = setup('blank.jsonl', '\n  \n\n');
  await rejectsWith(loadTokens(file, opts), file, /no documents/);
});

test('fewer tokens than minTokens is an error naming the count and what is needed', async () => {
  const { file, opts } = setup('short.bin', u16le([1, 2, 3]));
  await rejectsWith(loadTokens(file, { ...opts, minTokens: 5 }), file, /has 3 tokens/, /at least 5/);
  assert.equal((await loadTokens(file, { ...opts, minTokens: 3 })).length, 3);
});

test('an id outside the vocabulary is an error naming the token id, its offset and the vocab size', async () => {
  const { file, opts } = setup('train.bin', u16le([1, 2, 300, 4, 500]));
  await rejectsWith(loadTokens(file, { ...opts, vocabSize: 257 }), file, /token id 300 at token offset 2/, /257/);
  assert.equal((await loadTokens(file, { ...opts, vocabSize: 501 })).length, 5);
});

test('.txt is one document followed by EOT (bytes tokenizer)', async () => {
  const { file, opts } = setup('doc.txt', 'ab\nc');
  assert.deepEqual(Array.from(await loadTokens(file, opts)), [97, 98, 10, 99, 256]);
});

test('.jsonl is one document per line, each followed by EOT; blank and CRLF lines are fine', async () => {
  const { file, opts } = setup('docs.jsonl', '{"text":"hi"}\r\n\n   \n{"text": "é", "id": 7}\n');
  assert.deepEqual(Array.from(await loadTokens(file, opts)), [104, 105, 256, 195, 169, 256]);
});

test('.jsonl with the gpt2 tokenizer: "Hello world" is [15496, 995] then EOT 50256', async () => {
  const { file, opts } = setup('docs.jsonl', '{"text":"Hello world"}\n{"text":"Hello world"}', { tokenizer: 'gpt2' });
  assert.deepEqual(Array.from(await loadTokens(file, opts)), [15496, 995, 50256, 15496, 995, 50256]);
});

test('.jsonl bad lines are errors naming the file and the line number', async () => {
  const bad = setup('docs.jsonl', '{"text":"a"}\n\n{"text": oops}\n');
  await rejectsWith(loadTokens(bad.file, bad.opts), bad.file, /line 3: invalid JSON/);
  const noText = setup('docs.jsonl', '{"text":"a"}\n{"body":"b"}\n');
  await rejectsWith(loadTokens(noText.file, noText.opts), noText.file, /line 2: expected an object with a string "text" field/);
  const notString = setup('docs.jsonl', '{"text":1}\n');
  await rejectsWith(loadTokens(notString.file, notString.opts), notString.file, /line 1:/);
});

test('token cache: the second load is a hit with identical tokens; changing the file or tokenizer misses', async () => {
  const { file, opts } = setup('doc.txt', 'Hello world, hello cache.');
  const first = await loadTokensDetailed(file, opts);
  assert.equal(first.origin, 'tokenized');
  assert.ok(first.cachePath && fs.existsSync(first.cachePath));
  assert.ok(first.cachePath.startsWith(opts.cacheDir ?? ''));

  const second = await loadTokensDetailed(file, opts);
  assert.equal(second.origin, 'cache');
  assert.equal(second.cachePath, first.cachePath);
  assert.deepEqual(second.tokens, first.tokens);

  const gpt2 = await loadTokensDetailed(file, { ...opts, tokenizer: 'gpt2' });
  assert.equal(gpt2.origin, 'tokenized');
  assert.notEqual(gpt2.cachePath, first.cachePath);

  fs.writeFileSync(file, 'Hello world, hello cache!');
  const changed = await loadTokensDetailed(file, opts);
  assert.equal(changed.origin, 'tokenized');
  assert.notEqual(changed.cachePath, first.cachePath);
});

test('token cache: a hit reads the stored ids instead of re-tokenizing', async () => {
  const { file, opts } = setup('doc.txt', 'abc');
  const first = await loadTokensDetailed(file, opts);
  assert.ok(first.cachePath);
  // Plant different ids under the same key: a hit must return them, proving no re-tokenization.
  fs.writeFileSync(first.cachePath, u16le([7, 8, 9]));
  assert.deepEqual(Array.from(await loadTokens(file, opts)), [7, 8, 9]);
});

test('token cache: the same bytes as .txt and as .jsonl are different entries', () => {
  const bytes = Buffer.from('{"text":"a"}');
  assert.notEqual(tokenCacheKey(bytes, 'txt', 'bytes'), tokenCacheKey(bytes, 'jsonl', 'bytes'));
  assert.notEqual(tokenCacheKey(bytes, 'txt', 'bytes'), tokenCacheKey(bytes, 'txt', 'gpt2'));
});

test('token cache: INHERITUNE_CACHE_DIR is the default folder', async () => {
  const { file, opts } = setup('doc.txt', 'env');
  const envDir = path.join(tmp(), 'env-cache');
  const saved = process.env.INHERITUNE_CACHE_DIR;
  process.env.INHERITUNE_CACHE_DIR = envDir;
  try {
    const r = await loadTokensDetailed(file, { ...opts, cacheDir: undefined });
    assert.ok(r.cachePath?.startsWith(envDir));
  } finally {
    if (saved === undefined) delete process.env.INHERITUNE_CACHE_DIR;
    else process.env.INHERITUNE_CACHE_DIR = saved;
  }
});

test('token cache: an unwritable cache folder does not fail the load', async () => {
  const { file, opts } = setup('doc.txt', 'xyz');
  const blocker = path.join(path.dirname(file), 'not-a-folder');
  fs.writeFileSync(blocker, '');
  const r = await loadTokensDetailed(file, { ...opts, cacheDir: blocker });
  assert.deepEqual(Array.from(r.tokens), [120, 121, 122, 256]);
  assert.equal(r.origin, 'tokenized');
  assert.ok(r.cacheWriteError);
});

test('token cache: ids >= 65536 are stored and read back as uint32', async () => {
  const dir = tmp();
  const big = new Uint32Array([1, 70000, 3]);
  const p = writeTokenCache(dir, 'k', big);
  assert.ok(p.endsWith('.u32'));
  const hit = await readTokenCache(dir, 'k');
  assert.ok(hit?.tokens instanceof Uint32Array);
  assert.deepEqual(Array.from(hit.tokens), [1, 70000, 3]);
  assert.equal(await readTokenCache(dir, 'missing'), null);
});

test('text tokenization yields uint32 only when some id needs it', async () => {
  const wide: Tokenizer = { name: 'bytes', vocabSize: 100_001, eot: 100_000, encode: (t) => [...t].map(() => 70_000), decode: () => '' };
  assert.ok((await tokenizeTxt(Buffer.from('ab'), 'x.txt', wide)) instanceof Uint32Array);
  assert.ok((await tokenizeTxt(Buffer.from('ab'), 'x.txt', getTokenizer('bytes'))) instanceof Uint16Array);
});

test('.txt is tokenized in slices that give exactly the ids of tokenizing the whole text (gpt2)', () => {
  const tok = getTokenizer('gpt2');
  const text = "Title\nSome words, don't split.\n\nNext para\n  indented\nx\ny 12\n345\n\t\nend\n";
  const pieces: string[] = [];
  for (let from = 0; from < text.length; ) {
    const end = nextSliceEnd(text, from, 3);
    pieces.push(text.slice(from, end));
    from = end;
  }
  assert.ok(pieces.length > 3, 'the text should be cut several times');
  assert.equal(pieces.join(''), text);
  assert.deepEqual(pieces.flatMap((p) => tok.encode(p)), tok.encode(text));
});

test('onProgress reports rising byte counts ending at the file size', async () => {
  const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ text: `document ${i} `.repeat(40) })).join('\n');
  const { file, opts } = setup('docs.jsonl', lines);
  const seen: Array<[number, number]> = [];
  await loadTokens(file, { ...opts, onProgress: (done, total) => seen.push([done, total]) });
  const size = fs.statSync(file).size;
  assert.ok(seen.length >= 2);
  assert.deepEqual(seen.at(-1), [size, size]);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] > seen[i - 1][0]);
});

/** A .npy file: magic, version 1.0, padded header dict, data. */
function npy(header: string, data: Uint8Array): Buffer {
  const unpadded = 10 + header.length + 1;
  const dict = header + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const len = Buffer.alloc(2);
  len.writeUInt16LE(dict.length);
  return Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), len, Buffer.from(dict, 'latin1'), data]);
}

test('.npy 1-D uint16 shards load; other dtypes, shapes, orders and sizes are errors', async () => {
  const ids = [5, 6, 50256];
  const good = setup('shard.npy', npy("{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", u16le(ids)));
  assert.deepEqual(Array.from(await loadTokens(good.file, good.opts)), ids);

  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", Buffer.alloc(12), /dtype is '<i4'/],
    ["{'descr': '<u2', 'fortran_order': False, 'shape': (3, 1), }", u16le(ids), /1-D/],
    ["{'descr': '<u2', 'fortran_order': True, 'shape': (3,), }", u16le(ids), /Fortran/],
    ["{'descr': '<u2', 'fortran_order': False, 'shape': (4,), }", u16le(ids), /declares 4/],
  ];
  for (const [header, data, re] of cases) {
    const { file, opts } = setup('shard.npy', npy(header, data));
    await rejectsWith(loadTokens(file, opts), file, re);
  }
  const notNpy = setup('shard.npy', 'hello world, not numpy');
  await rejectsWith(loadTokens(notNpy.file, notNpy.opts), notNpy.file, /magic/);
});
