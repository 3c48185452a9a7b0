/** Text data with invalid UTF-8: read with U+FFFD in place of the bad bytes, and said once per file with the count. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { invalidUtf8Bytes } from '../../server/engine/data/textTokens.js';
import { loadTokensDetailed } from '../../server/engine/data/tokens.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

test('invalidUtf8Bytes counts the bytes the decoder replaces: stray, truncated, overlong, surrogate, past U+10FFFF', () => {
  assert.equal(invalidUtf8Bytes(Buffer.from('plain ascii, é, €, 𝄞')), 0);
  assert.equal(invalidUtf8Bytes(bytes(0x61, 0xff, 0x62)), 1, 'a stray 0xFF');
  assert.equal(invalidUtf8Bytes(bytes(0xe2, 0x82, 0x61)), 2, 'a 3-byte sequence cut after 2 bytes');
  assert.equal(invalidUtf8Bytes(bytes(0xe2, 0x82)), 2, 'cut by the end of the file');
  assert.equal(invalidUtf8Bytes(bytes(0xc0, 0x80)), 2, 'overlong NUL');
  assert.equal(invalidUtf8Bytes(bytes(0xed, 0xa0, 0x80)), 3, 'a UTF-16 surrogate');
  assert.equal(invalidUtf8Bytes(bytes(0xf4, 0x90, 0x80, 0x80)), 4, 'past U+10FFFF');
  assert.equal(invalidUtf8Bytes(bytes(0xf0, 0x9d, 0x84, 0x9e, 0x80)), 1, 'a valid 4-byte character, then a stray continuation byte');
});

test('loading text with invalid UTF-8 notes the file and how many bytes were replaced, once per file (.txt and .jsonl)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-utf8-'));
  try {
    const txt = path.join(dir, 'bad.txt');
    fs.writeFileSync(txt, Buffer.concat([Buffer.from('hello '), bytes(0xff, 0xfe), Buffer.from(' world\nagain '), bytes(0xe2, 0x82), Buffer.from('!')]));
    const jsonl = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(jsonl, Buffer.concat([Buffer.from('{"text": "a'), bytes(0x80), Buffer.from('"}\n{"text": "b'), bytes(0xc3), Buffer.from('"}\n')]));
    const good = path.join(dir, 'good.txt');
    fs.writeFileSync(good, 'all valid: é €\n');
    for (const [file, count] of [[txt, 4], [jsonl, 2], [good, 0]] as const) {
      const notes: string[] = [];
      const { tokens } = await loadTokensDetailed(file, { tokenizer: 'bytes', cacheDir: path.join(dir, 'cache'), onNote: (n) => notes.push(n) });
      assert.ok(tokens.length > 0);
      assert.deepEqual(notes, count === 0 ? [] : [`${file}: ${count} bytes are not valid UTF-8; read as U+FFFD`]);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
