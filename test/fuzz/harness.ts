/**
 * The fuzz suite's one rule, applied to every parser it covers: on any generated input the code
 * under test ends in a correct result or a clear error (an InherituneError, or a parser's own error
 * value, naming what is at fault), never another exception (a stack trace for the user), never a hang
 * (each input is timed) and never growth of memory or open files across thousands of inputs.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import fc from 'fast-check';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Generous: a parser that loops or backtracks on some input takes seconds, not milliseconds. */
const MAX_MS_PER_INPUT = 5_000;
/** Heap and file descriptors may not grow by more than this across a whole property. */
const MAX_HEAP_GROWTH_BYTES = 64 * 1024 * 1024;

/** Runs per property: FUZZ_RUNS overrides (e.g. 100000 for a long local hunt). */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 0) || undefined;

function openFiles(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

export interface FuzzReport {
  inputs: number;
  ms: number;
  slowestMs: number;
}

/**
 * Checks `check` on `runs` inputs from `arb` (seeded by FUZZ_SEED when set, so a failure can be
 * replayed), timing each, then asserts memory and file descriptors did not grow; reports the count
 * and the time as a test diagnostic.
 */
export async function fuzz<T>(t: TestContext, arb: fc.Arbitrary<T>, check: (input: T) => void | Promise<void>, runs: number): Promise<FuzzReport> {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const filesBefore = openFiles();
  let inputs = 0;
  let slowestMs = 0;
  const start = performance.now();
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      const t0 = performance.now();
      await check(input);
      const ms = performance.now() - t0;
      inputs++;
      slowestMs = Math.max(slowestMs, ms);
      assert.ok(ms < MAX_MS_PER_INPUT, `one input took ${ms.toFixed(0)} ms (limit ${MAX_MS_PER_INPUT})`);
    }),
    { numRuns: RUNS ?? runs, seed },
  );
  const ms = performance.now() - start;
  gc();
  const growth = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(growth < MAX_HEAP_GROWTH_BYTES, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB over ${inputs} inputs`);
  // Node opens and closes a few descriptors of its own; a leak per input would show in the hundreds.
  const files = openFiles();
  assert.ok(files <= filesBefore + 4, `file descriptors grew from ${filesBefore} to ${files} over ${inputs} inputs`);
  t.diagnostic(`${inputs} inputs in ${(ms / 1000).toFixed(2)} s (slowest ${slowestMs.toFixed(1)} ms), heap ${growth >= 0 ? '+' : ''}${(growth / 2 ** 20).toFixed(1)} MiB`);
  return { inputs, ms, slowestMs };
}

/** Runs `f`; returns its result, or the error if it threw an expected error; rethrows anything else. */
export function expectClearError<R>(f: () => R, isClear: (e: unknown) => boolean): R | Error {
  try {
    return f();
  } catch (e) {
    if (isClear(e)) return e as Error;
    throw e;
  }
}

/** Random edits of a byte string: flips, deletions, insertions, truncation, duplication of a slice. */
export function mutatedBytes(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let b = Buffer.from(base);
    for (const e of edits) {
      const at = b.length === 0 ? 0 : e.at % b.length;
      if (e.kind === 'flip' && b.length > 0) b[at] ^= 1 << e.bit;
      else if (e.kind === 'set' && b.length > 0) b[at] = e.value;
      else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.length)]);
      else if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
      else if (e.kind === 'truncate') b = b.subarray(0, at);
      else if (e.kind === 'duplicate') b = Buffer.concat([b.subarray(0, at + e.length), b.subarray(at, at + e.length), b.subarray(at + e.length)]);
    }
    return new Uint8Array(b);
  });
}
