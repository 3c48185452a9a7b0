/** loadTokenWindows: a .bin file read by window gives the batches of the file loaded whole. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTokens, loadTokenWindows } from '../../server/engine/data/tokens.js';
import { makeBatch, randomStarts } from '../../server/engine/data/windows.js';

test('overlapping, repeated, unordered and end-of-file windows read by window equal those of the whole file; out-of-vocabulary ids anywhere are still refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-windows-'));
  try {
    const n = 5000;
    const ids = Uint16Array.from({ length: n }, (_, i) => (i * 7919) % 1000);
    const file = path.join(dir, 'tokens.bin');
    fs.writeFileSync(file, Buffer.from(ids.buffer));
    const T = 32;
    const chosen = [...randomStarts(3, 0, 20, n, T), 100, 100, 110, 0, n - T - 1, n - T, 4000, 3990];
    const opts = { tokenizer: 'bytes' as const, vocabSize: 1000, minTokens: T + 1 };
    const w = await loadTokenWindows(file, opts, T, () => chosen);
    assert.ok(w.tokens.length < 30 * (T + 1), `read ${w.tokens.length} tokens, not the file's ${n}`);
    const whole = await loadTokens(file, opts);
    assert.deepEqual(makeBatch(w.tokens, w.starts, T), makeBatch(whole, chosen, T));

    ids[4321] = 1000;
    fs.writeFileSync(file, Buffer.from(ids.buffer));
    await assert.rejects(loadTokenWindows(file, opts, T, () => [0]), /token id 1000 at token offset 4321 is outside the model's vocabulary of 1000 ids/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
