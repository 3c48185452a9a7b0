/**
 * Fuzz: the data readers (`.bin` uint16 tokens, `.npy` shards, `.txt` and `.jsonl` text with the byte
 * tokenizer) on generated and mutated files: every input ends in the right tokens or one
 * InherituneError naming the file, with a message of reasonable length.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { InherituneError } from '../../server/engine/errors.js';
import { loadTokens } from '../../server/engine/data/tokens.js';
import { fuzz, mutatedBytes } from './harness.js';

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-fuzz-data-'));
after(() => fs.rmSync(DIR, { recursive: true, force: true }));
const CACHE = path.join(DIR, 'cache');

/** loadTokens on `bytes` written as `name`: the tokens, or the InherituneError naming that file. */
async function load(name: string, bytes: Uint8Array, vocabSize?: number): Promise<ArrayLike<number> | InherituneError> {
  const file = path.join(DIR, name);
  fs.writeFileSync(file, bytes);
  try {
    return await loadTokens(file, { tokenizer: 'bytes', vocabSize, cacheDir: CACHE, minTokens: 1 });
  } catch (e) {
    if (!(e instanceof InherituneError)) throw e;
    assert.equal(e.source, file, `the error names ${e.source}, not the file: ${e.message}`);
    assert.ok(e.detail.length <= 1000, `an error of ${e.detail.length} characters: ${e.detail.slice(0, 100)}...`);
    return e;
  }
}

test('fuzz: .bin token files of any length and ids read back as stored, or fail naming the file (odd length, id beyond the vocabulary)', async (t) => {
  await fuzz(
    t,
    fc.record({ bytes: fc.uint8Array({ maxLength: 300 }), vocab: fc.option(fc.integer({ min: 1, max: 70_000 }), { nil: undefined }) }),
    async ({ bytes, vocab }) => {
      const r = await load('t.bin', bytes, vocab);
      const ids = Array.from({ length: Math.floor(bytes.length / 2) }, (_, i) => bytes[2 * i] | (bytes[2 * i + 1] << 8));
      const valid = bytes.length > 0 && bytes.length % 2 === 0 && (vocab === undefined || ids.every((id) => id < vocab));
      if (valid) assert.deepEqual(Array.from(r as ArrayLike<number>), ids);
      else assert.ok(r instanceof InherituneError, `accepted a file that should fail (${bytes.length} bytes)`);
    },
    1500,
  );
});

function npy(header: string, data: Uint8Array, major = 1): Uint8Array {
  const lenBytes = major === 1 ? 2 : 4;
  const pad = (64 - ((8 + lenBytes + header.length + 1) % 64)) % 64;
  const h = Buffer.from(header + ' '.repeat(pad) + '\n', 'latin1');
  const len = Buffer.alloc(lenBytes);
  if (major === 1) len.writeUInt16LE(h.length);
  else len.writeUInt32LE(h.length);
  return new Uint8Array(Buffer.concat([Buffer.from('\x93NUMPY', 'latin1'), Buffer.from([major, 0]), len, h, data]));
}

test('fuzz: .npy shards with generated headers (dtype, order, shape) and random edits read or fail naming the file', async (t) => {
  const headerArb = fc.record({
    descr: fc.constantFrom('<u2', '|u1', '<i4', '>u2', '<f4', ''),
    fortran: fc.constantFrom('False', 'True', 'maybe'),
    shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 200 }), { maxLength: 3 }).map((d) => `(${d.join(', ')}${d.length === 1 ? ',' : ''})`), fc.string({ maxLength: 10 })),
    major: fc.constantFrom(1, 2, 3, 4),
  });
  const fileArb = fc.tuple(headerArb, fc.uint8Array({ maxLength: 400 })).map(([h, data]) => npy(`{'descr': '${h.descr}', 'fortran_order': ${h.fortran}, 'shape': ${h.shape}, }`, data, h.major));
  await fuzz(t, fc.oneof(fileArb, fileArb.chain((f) => mutatedBytes(f))), async (bytes) => void (await load('t.npy', bytes)), 1500);
});

test('fuzz: .txt and .jsonl text of any bytes (invalid UTF-8, control characters, broken JSON lines) tokenizes or fails naming the file', async (t) => {
  const jsonLine = fc.oneof(
    fc.string({ maxLength: 40 }).map((text) => JSON.stringify({ text })),
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 20 }),
    fc.constant(''),
  );
  const jsonl = fc.array(jsonLine, { maxLength: 8 }).map((lines) => new Uint8Array(Buffer.from(lines.join('\n'))));
  await fuzz(
    t,
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((bytes) => ['t.txt', bytes] as const),
      fc.string({ maxLength: 200, unit: 'binary' }).map((s) => ['t.txt', new Uint8Array(Buffer.from(s))] as const),
      jsonl.map((bytes) => ['t.jsonl', bytes] as const),
      jsonl.chain((bytes) => mutatedBytes(bytes.length > 0 ? bytes : Uint8Array.of(123))).map((bytes) => ['t.jsonl', bytes] as const),
    ),
    async ([name, bytes]) => {
      const r = await load(name, bytes);
      if (!(r instanceof InherituneError)) assert.ok(Array.from(r).every((id) => Number.isInteger(id) && id >= 0 && id < 257), 'byte tokens are 0..256');
    },
    1500,
  );
});
