import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InherituneError } from '../../server/engine/errors.js';
import {
  contiguousStarts,
  contiguousWindowCount,
  makeBatch,
  randomStart,
  randomStarts,
  WindowCursor,
} from '../../server/engine/data/windows.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

test('contiguous training windows over 0..20 with T=4 match the definition exactly', () => {
  const tokens = range(21);
  assert.equal(contiguousWindowCount(21, 4, true), 5);
  const starts = contiguousStarts(21, 4, true);
  assert.deepEqual(starts, [0, 4, 8, 12, 16]);
  const b = makeBatch(tokens, starts, 4);
  assert.equal(b.batchSize, 5);
  assert.equal(b.seqLen, 4);
  assert.deepEqual(Array.from(b.inputs), range(20));
  assert.deepEqual(Array.from(b.targets), range(20).map((i) => i + 1));
});

test('contiguous window counts: targets need one token past the window, analysis windows do not', () => {
  assert.equal(contiguousWindowCount(20, 4, true), 4); // window 4 would need target token 20
  assert.equal(contiguousWindowCount(20, 4, false), 5);
  assert.equal(contiguousWindowCount(21, 4, false), 5);
  assert.equal(contiguousWindowCount(5, 4, true), 1);
  assert.equal(contiguousWindowCount(4, 4, true), 0);
  assert.equal(contiguousWindowCount(0, 4, false), 0);
  assert.deepEqual(contiguousStarts(20, 4, false), [0, 4, 8, 12, 16]);
});

test('contiguousStarts honours maxWindows', () => {
  assert.deepEqual(contiguousStarts(21, 4, true, 2), [0, 4]);
  assert.deepEqual(contiguousStarts(21, 4, true, 99), [0, 4, 8, 12, 16]);
});

test('data too short for one window is an InherituneError naming the source and tokens needed', () => {
  const check = (fn: () => unknown, needed: number): void =>
    assert.throws(fn, (e: unknown) => e instanceof InherituneError && e.source === 'val.bin' && e.message.includes(`at least ${needed}`));
  check(() => contiguousStarts(4, 4, true, undefined, 'val.bin'), 5);
  check(() => contiguousStarts(3, 4, false, undefined, 'val.bin'), 4);
  check(() => randomStart(1, 0, 4, 4, 'val.bin'), 5);
  check(() => new WindowCursor({ nTokens: 4, seqLen: 4, seed: 1, mode: 'random', source: 'val.bin' }), 5);
  assert.deepEqual(contiguousStarts(4, 4, false), [0]);
});

test('makeBatch marks a missing target past the end with -1 (analysis windows) and rejects inputs past the end', () => {
  const b = makeBatch(range(8), [4], 4);
  assert.deepEqual(Array.from(b.inputs), [4, 5, 6, 7]);
  assert.deepEqual(Array.from(b.targets), [5, 6, 7, -1]);
  assert.throws(() => makeBatch(range(8), [5], 4), RangeError);
});

test('random starts are reproducible for the same (seed, index) and differ across seeds', () => {
  const n = 1_000_000;
  const a = randomStarts(42, 0, 50, n, 64);
  assert.deepEqual(randomStarts(42, 0, 50, n, 64), a);
  assert.deepEqual(a.slice(10, 20), randomStarts(42, 10, 10, n, 64));
  assert.equal(a[7], randomStart(42, 7, n, 64));
  const b = randomStarts(43, 0, 50, n, 64);
  assert.ok(a.filter((s, i) => s === b[i]).length < 3);
  assert.equal(new Set(a).size, 50);
});

test('random starts always lie in [0, nTokens - seqLen - 1] and reach both ends', () => {
  assert.deepEqual(new Set(randomStarts(1, 0, 100, 5, 4)), new Set([0]));
  const small = randomStarts(7, 0, 500, 7, 4);
  assert.deepEqual([...new Set(small)].sort(), [0, 1, 2]);
  for (const seed of [0, 1, -5, 2 ** 40]) {
    for (const s of randomStarts(seed, 2 ** 40, 200, 9_000_000_000, 1024)) {
      assert.ok(Number.isInteger(s) && s >= 0 && s <= 9_000_000_000 - 1025, `start ${s}`);
    }
  }
});

test('random starts are roughly uniform (chi-square over 100 possible starts)', () => {
  const buckets = 100;
  const samples = 100_000;
  const counts = new Array<number>(buckets).fill(0);
  for (const s of randomStarts(2024, 0, samples, buckets + 8, 8)) counts[s]++;
  const expected = samples / buckets;
  const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
  // 99 degrees of freedom: mean 99, sd ~14; 170 is beyond p = 0.00001.
  assert.ok(chi2 < 170, `chi2 ${chi2}`);
});

test('random cursor resumes exactly: next(5) then a new cursor at position 5 continues the same windows', () => {
  const opts = { nTokens: 10_000, seqLen: 16, seed: 3, mode: 'random' as const };
  const c = new WindowCursor(opts);
  const first = c.next(5);
  assert.equal(c.position, 5);
  const continued = c.next(7);
  assert.equal(c.position, 12);
  const resumed = new WindowCursor({ ...opts, position: 5 });
  assert.deepEqual(resumed.next(7), continued);
  assert.deepEqual(first, randomStarts(3, 0, 5, 10_000, 16));
});

test('contiguous cursor walks training windows in order, wraps at the end and resumes by position', () => {
  const opts = { nTokens: 21, seqLen: 4, seed: 0, mode: 'contiguous' as const };
  const c = new WindowCursor(opts);
  assert.deepEqual(c.next(7), [0, 4, 8, 12, 16, 0, 4]);
  assert.deepEqual(c.next(2), [8, 12]);
  assert.deepEqual(new WindowCursor({ ...opts, position: 7 }).next(2), [8, 12]);
});
