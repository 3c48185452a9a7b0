/**
 * safetensors reader and writer (server/engine/safetensors.ts) against the format's specification:
 * byte layout, half-precision rounding (checked exhaustively against an independent nearest-even
 * oracle), lazy per-tensor reads, every malformed-file error, and atomic writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import { InherituneError } from '../../server/engine/errors.js';
import {
  SafetensorsReader,
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBF16Bits,
  f32ToF16Bits,
  writeSafetensors,
  type WriteDtype,
} from '../../server/engine/safetensors.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-st-'));
  dirs.push(d);
  return d;
}

/** The float32 whose bit pattern is `bits`. */
function fromBits(bits: number): number {
  const u = new Uint32Array([bits >>> 0]);
  return new Float32Array(u.buffer)[0];
}

/** The bit pattern of the float32 nearest `x`. */
function bitsOf(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

/** A safetensors file assembled by hand: `header` (object or raw text, not padded) then `data`. */
function rawFile(file: string, header: unknown, data: Uint8Array = new Uint8Array(0), headerLen?: bigint): void {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const hb = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(hb.length));
  fs.writeFileSync(file, Buffer.concat([len, hb, data]));
}

/** Runs `fn`, which must throw an InherituneError whose source is `file` and whose message matches every pattern. */
function throwsFor(fn: () => unknown, file: string, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InherituneError, `not an InherituneError: ${String(e)}`);
    assert.equal(e.source, file);
    assert.ok(e.message.startsWith(`${file}: `), `message does not start with the file: ${e.message}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

/** Element-wise identity including the sign of zero and NaN. */
function assertSameFloats(actual: Float32Array, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Object.is(actual[i], Math.fround(expected[i])), `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Independent round-to-nearest-even oracles (no code shared with the module under test).

/** Every non-negative finite F16 value, indexed by its bit pattern 0..0x7bff (increasing). */
const F16_VALUES: number[] = [];
for (let h = 0; h <= 0x7bff; h++) {
  const e = h >> 10;
  const m = h & 0x3ff;
  F16_VALUES.push(e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

/**
 * F16 bits nearest the float32 `x` (ties to even, |x| >= 65520 to infinity). Differences are exact
 * in float64 by Sterbenz's lemma (the neighbours lie within a factor 2 of x).
 */
function oracleF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = 0x7bff;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (F16_VALUES[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  if (F16_VALUES[lo] === a || lo === 0x7bff) return sign | lo;
  const down = a - F16_VALUES[lo];
  const up = F16_VALUES[lo + 1] - a;
  const h = down < up ? lo : up < down ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
  return sign | h;
}

/** BF16 bits nearest the float32 `x` (ties to even; beyond max + half an ulp to infinity). */
function oracleBF16(x: number): number {
  const u = bitsOf(x);
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return 0x7fc0 | sign; // NaN: quiet
  if (a === 0x7f800000) return 0x7f80 | sign;
  const lo = a >>> 16;
  const vlo = fromBits(lo << 16);
  const vhi = lo + 1 === 0x7f80 ? 2 ** 128 : fromBits((lo + 1) << 16);
  const ax = fromBits(a);
  const down = ax - vlo;
  const up = vhi - ax;
  const h = down < up ? lo : up < down ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
  return sign | h;
}

// ---------------------------------------------------------------------------------------------
// Half-precision conversions

test('F16 encoding rounds hand-picked values to nearest even: ties, subnormals, overflow, NaN', () => {
  const cases: [number, number, string][] = [
    [1, 0x3c00, 'one'],
    [-2, 0xc000, 'minus two'],
    [0, 0x0000, 'zero'],
    [-0, 0x8000, 'negative zero keeps its sign'],
    [1 + 2 ** -11, 0x3c00, '1 + 2^-11 is a tie: rounds down to the even 1.0'],
    [1 + 3 * 2 ** -11, 0x3c02, '1 + 3*2^-11 is a tie: rounds up to the even mantissa 2'],
    [1 + 2 ** -11 + 2 ** -23, 0x3c01, 'just above the tie rounds up'],
    [1 + 2 ** -11 - 2 ** -23, 0x3c00, 'just below the tie rounds down'],
    [65504, 0x7bff, 'largest finite F16'],
    [65519, 0x7bff, '65519 rounds down to 65504'],
    [65520, 0x7c00, '65520 is a tie between 65504 (odd) and 2^16: overflows to inf'],
    [1e6, 0x7c00, 'overflow to inf'],
    [-1e6, 0xfc00, 'negative overflow to -inf'],
    [Infinity, 0x7c00, 'inf'],
    [-Infinity, 0xfc00, '-inf'],
    [2 ** -14, 0x0400, 'smallest normal'],
    [2 ** -24, 0x0001, 'smallest subnormal'],
    [2 ** -25, 0x0000, 'half the smallest subnormal is a tie: rounds to the even 0'],
    [3 * 2 ** -25, 0x0002, '1.5 * smallest subnormal is a tie: rounds to the even 2'],
    [2 ** -25 + 2 ** -40, 0x0001, 'just above half the smallest subnormal rounds up'],
    [1023 * 2 ** -24 + 2 ** -25, 0x0400, 'tie between the largest subnormal and the smallest normal rounds to the even normal'],
    [2 ** -30, 0x0000, 'underflow to zero'],
    [-(2 ** -24), 0x8001, 'negative subnormal'],
    [0.1, 0x2e66, '0.1'],
  ];
  for (const [x, bits, why] of cases) {
    assert.equal(f32ToF16Bits(x).toString(16), bits.toString(16), why);
    assert.equal(oracleF16(Math.fround(x)).toString(16), bits.toString(16), `oracle disagrees: ${why}`);
  }
  const nan = f32ToF16Bits(NaN);
  assert.equal(nan & 0x7c00, 0x7c00, 'NaN has an all-ones exponent');
  assert.ok((nan & 0x03ff) !== 0 && (nan & 0x0200) !== 0, 'NaN stays a quiet NaN, not inf');
  assert.ok(Number.isNaN(f16BitsToF32(nan)));
});

test('BF16 encoding rounds hand-picked values to nearest even: ties, subnormals, overflow, NaN', () => {
  const cases: [number, number, string][] = [
    [1, 0x3f80, 'one'],
    [-0, 0x8000, 'negative zero keeps its sign'],
    [1 + 2 ** -8, 0x3f80, '1 + 2^-8 is a tie: rounds down to the even 1.0'],
    [1 + 3 * 2 ** -8, 0x3f82, '1 + 3*2^-8 is a tie: rounds up to the even mantissa 2'],
    [1 + 2 ** -8 + 2 ** -20, 0x3f81, 'just above the tie rounds up'],
    [fromBits(0x7f7f7fff), 0x7f7f, 'just below the overflow threshold stays finite'],
    [fromBits(0x7f7f8000), 0x7f80, 'max + half an ulp is a tie with an odd max: overflows to inf'],
    [fromBits(0x7f7fffff), 0x7f80, 'float32 max overflows to inf'],
    [-Infinity, 0xff80, '-inf'],
    [fromBits(0x00008000), 0x0000, 'subnormal tie rounds to the even 0'],
    [fromBits(0x00018000), 0x0002, 'subnormal tie rounds to the even 2'],
    [fromBits(0x00008001), 0x0001, 'just above a subnormal tie rounds up'],
    [fromBits(0x00000001), 0x0000, 'smallest float32 subnormal rounds to 0'],
  ];
  for (const [x, bits, why] of cases) {
    assert.equal(f32ToBF16Bits(x).toString(16), bits.toString(16), why);
    assert.equal(oracleBF16(x).toString(16), bits.toString(16), `oracle disagrees: ${why}`);
  }
  for (const nanBits of [0x7fc00000, 0x7f800001, 0xff800001, 0x7fffffff]) {
    const b = f32ToBF16Bits(fromBits(nanBits));
    assert.ok(Number.isNaN(bf16BitsToF32(b)), `NaN 0x${nanBits.toString(16)} must stay NaN, got 0x${b.toString(16)}`);
  }
});

test('F16 decoding is exact for all 65536 bit patterns and encoding maps every value back to its bits', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = f16BitsToF32(h);
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 31 && mant !== 0) {
      assert.ok(Number.isNaN(v), `0x${h.toString(16)} is NaN`);
      continue;
    }
    const mag = exp === 31 ? Infinity : (F16_VALUES[h & 0x7fff] as number);
    assert.ok(Object.is(v, h & 0x8000 ? -mag : mag), `decode 0x${h.toString(16)}: ${v}`);
    assert.equal(f32ToF16Bits(v), h, `encode(decode(0x${h.toString(16)}))`);
  }
});

test('F16 encoding agrees with a nearest-even oracle at every midpoint between neighbours and one float32 ulp either side', () => {
  // Every midpoint of two consecutive F16 values is a float32 (it needs 12 significant bits).
  for (let h = 0; h < 0x7bff; h++) {
    const mid = (F16_VALUES[h] + F16_VALUES[h + 1]) / 2;
    assert.equal(Math.fround(mid), mid);
    const b = bitsOf(mid);
    for (const x of [mid, fromBits(b - 1), fromBits(b + 1), -mid]) {
      const got = f32ToF16Bits(x);
      const want = oracleF16(x);
      if (got !== want) assert.fail(`f32ToF16Bits(${x}) = 0x${got.toString(16)}, nearest even is 0x${want.toString(16)}`);
    }
  }
});

test('F16 encoding agrees with the oracle on 200000 random float32 values across the F16 range and beyond', () => {
  let seed = 12345;
  const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  for (let i = 0; i < 200_000; i++) {
    // Exponents from 2^-30 to 2^17 (the interesting range), random mantissa and sign.
    const exp = 97 + (rand() % 48);
    const x = fromBits(((rand() & 1) << 31) | (exp << 23) | (rand() & 0x7fffff));
    const got = f32ToF16Bits(x);
    const want = oracleF16(x);
    if (got !== want) assert.fail(`f32ToF16Bits(${x}) = 0x${got.toString(16)}, nearest even is 0x${want.toString(16)}`);
  }
});

test('BF16 encoding agrees with the oracle on all 65536 values, every midpoint and one ulp either side', () => {
  for (let h = 0; h < 0x10000; h++) {
    const exact = fromBits(h << 16);
    if (Number.isNaN(exact)) continue;
    assert.equal(f32ToBF16Bits(exact), h, `encode(decode(0x${h.toString(16)}))`);
    assert.ok(Object.is(bf16BitsToF32(h), exact), `decode 0x${h.toString(16)}`);
    if ((h & 0x7fff) >= 0x7f80) continue; // no midpoint above inf
    const mid = (h << 16) | 0x8000;
    for (const bits of [mid, mid - 1, mid + 1]) {
      const x = fromBits(bits);
      const got = f32ToBF16Bits(x);
      const want = oracleBF16(x);
      if (got !== want) assert.fail(`f32ToBF16Bits(bits 0x${(bits >>> 0).toString(16)}) = 0x${got.toString(16)}, nearest even is 0x${want.toString(16)}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Round trips through files

const SPECIAL = [0, -0, 1, -1.5, 0.1, 1 / 3, 65504, 1e-45, 3.4028234663852886e38, Infinity, -Infinity, NaN, 2 ** -24, 1e-8, 12345.678];

test('F32 round trip through a file is bit-exact (signed zero, subnormals, max, infinities, NaN)', () => {
  const file = path.join(tmpDir(), 'f32.safetensors');
  const a = Float32Array.from(SPECIAL);
  const b = Float32Array.from({ length: 257 }, (_, i) => Math.sin(i) * 10 ** ((i % 13) - 6));
  writeSafetensors(file, [['a', { shape: [a.length], data: a }], ['b', { shape: [1, 257], data: b }]]);
  const r = SafetensorsReader.open(file);
  try {
    assert.deepEqual(r.names(), ['a', 'b']);
    assert.deepEqual(r.info('b').shape, [1, 257]);
    assert.equal(r.info('a').dtype, 'F32');
    assert.deepEqual(Buffer.from(r.readBytes('a')), Buffer.from(a.buffer));
    assertSameFloats(r.readFloat32('a'), a, 'a');
    assertSameFloats(r.readFloat32('b'), b, 'b');
  } finally {
    r.close();
  }
});

for (const [dtype, decode, encode] of [
  ['F16', f16BitsToF32, f32ToF16Bits],
  ['BF16', bf16BitsToF32, f32ToBF16Bits],
] as const) {
  test(`${dtype} round trip: the file holds the nearest-even bits and reads back as exactly their value`, () => {
    const file = path.join(tmpDir(), `${dtype}.safetensors`);
    const values = Float32Array.from([...SPECIAL, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 2 ** -25, 3 * 2 ** -25, 65520, 1e6]);
    writeSafetensors(file, [['x', { shape: [values.length], data: values }]], undefined, { dtype: dtype as WriteDtype });
    const r = SafetensorsReader.open(file);
    try {
      assert.equal(r.info('x').dtype, dtype);
      assert.equal(r.info('x').byteLength, 2 * values.length);
      const bytes = r.readBytes('x');
      const back = r.readFloat32('x');
      for (let i = 0; i < values.length; i++) {
        const stored = bytes[2 * i] | (bytes[2 * i + 1] << 8);
        const want = dtype === 'F16' ? oracleF16(values[i]) : oracleBF16(values[i]);
        if (Number.isNaN(values[i])) {
          assert.ok(Number.isNaN(back[i]), `NaN at ${i}`);
          continue;
        }
        assert.equal(stored, want, `stored bits of ${values[i]}`);
        assert.equal(stored, encode(values[i]));
        assert.ok(Object.is(back[i], decode(stored)), `read back ${values[i]} as ${back[i]}`);
      }
      // Values representable in the format survive exactly.
      for (let i = 0; i < values.length; i++) {
        if (!Number.isNaN(values[i]) && decode(encode(values[i])) === values[i]) assert.ok(Object.is(back[i], values[i]));
      }
    } finally {
      r.close();
    }
  });
}

test('F64 tensors read as float32 rounded to nearest (overflow to inf, tiny to zero)', () => {
  const file = path.join(tmpDir(), 'f64.safetensors');
  const values = [1 / 3, -2.5, 1e300, -1e300, 1e-50, 0.1, 2 ** -149, Math.PI, -0];
  const data = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => data.writeDoubleLE(v, 8 * i));
  rawFile(file, { loss: { dtype: 'F64', shape: [], data_offsets: [0, 8] }, v: { dtype: 'F64', shape: [3, 3], data_offsets: [8, 8 + 72] } }, Buffer.concat([Buffer.from(new Float64Array([2.75]).buffer), data]));
  const r = SafetensorsReader.open(file);
  try {
    assertSameFloats(r.readFloat32('loss'), [2.75], 'scalar');
    const got = r.readFloat32('v');
    assertSameFloats(got, values.map(Math.fround), 'v');
    assert.equal(got[2], Infinity);
    assert.ok(Object.is(got[4], 0));
  } finally {
    r.close();
  }
});

test('scalars (shape []) and empty tensors (a 0 dimension) round trip', () => {
  const file = path.join(tmpDir(), 'shapes.safetensors');
  writeSafetensors(file, [
    ['scalar', { shape: [], data: Float32Array.from([7.5]) }],
    ['empty', { shape: [3, 0], data: new Float32Array(0) }],
    ['after', { shape: [2], data: Float32Array.from([1, 2]) }],
  ]);
  const r = SafetensorsReader.open(file);
  try {
    assertSameFloats(r.readFloat32('scalar'), [7.5], 'scalar');
    assert.equal(r.readFloat32('empty').length, 0);
    assert.deepEqual(r.info('empty').shape, [3, 0]);
    assertSameFloats(r.readFloat32('after'), [1, 2], 'after');
  } finally {
    r.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Byte layout

test('byte layout: u64 LE header length, space-padded JSON header 8-byte aligned, contiguous data at the offsets', () => {
  const dir = tmpDir();
  // Names of growing length (one non-ASCII, so padding must count bytes, not characters) hit every
  // residue of the header length mod 8.
  for (let k = 1; k <= 9; k++) {
    const file = path.join(dir, `layout-${k}.safetensors`);
    const name = 'é'.repeat(k % 3) + 'w'.repeat(k);
    const a = Float32Array.from([1.5, -2, 3.25, 0, 5, 6]);
    const b = Float32Array.from([k]);
    const metadata = { format: 'pt', note: `k=${k}` };
    writeSafetensors(file, [[name, { shape: [2, 3], data: a }], ['b', { shape: [1], data: b }]], metadata);

    const raw = fs.readFileSync(file);
    const n = Number(raw.readBigUInt64LE(0));
    assert.equal(n % 8, 0, 'header length is a multiple of 8');
    const headerText = raw.subarray(8, 8 + n).toString('utf8');
    const trimmed = headerText.replace(/ +$/, '');
    assert.ok(n - Buffer.byteLength(trimmed) < 8, 'at most 7 bytes of padding');
    assert.equal(headerText, trimmed + ' '.repeat(n - Buffer.byteLength(trimmed)), 'padding is spaces');
    assert.deepEqual(JSON.parse(headerText), {
      __metadata__: metadata,
      [name]: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      b: { dtype: 'F32', shape: [1], data_offsets: [24, 28] },
    });
    assert.equal(raw.length, 8 + n + 28, 'file ends right after the last tensor');
    for (let i = 0; i < 6; i++) assert.equal(raw.readFloatLE(8 + n + 4 * i), a[i]);
    assert.equal(raw.readFloatLE(8 + n + 24), k);

    const r = SafetensorsReader.open(file);
    try {
      assert.deepEqual(r.metadata, metadata);
      assert.deepEqual(r.names(), [name, 'b']);
      assert.equal(r.info('b').byteOffset, 8 + n + 24);
    } finally {
      r.close();
    }
  }
});

test('F16 data is little-endian 2 bytes per value; no __metadata__ key is written when there is no metadata', () => {
  const file = path.join(tmpDir(), 'f16.safetensors');
  writeSafetensors(file, [['x', { shape: [3], data: Float32Array.from([1, -2, 65504]) }]], {}, { dtype: 'F16' });
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(header, { x: { dtype: 'F16', shape: [3], data_offsets: [0, 6] } });
  assert.deepEqual([...raw.subarray(8 + n)], [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b]);
  const r = SafetensorsReader.open(file);
  try {
    assert.deepEqual(r.metadata, {});
  } finally {
    r.close();
  }
});

test('files written by other tools are read: unpadded header, keys out of data order, __metadata__ anywhere', () => {
  const file = path.join(tmpDir(), 'foreign.safetensors');
  const data = Buffer.alloc(12);
  data.writeFloatLE(10, 0); // "second" comes first in the data
  data.writeFloatLE(20, 4);
  data.writeFloatLE(30, 8);
  rawFile(file, {
    first: { dtype: 'F32', shape: [1], data_offsets: [4, 12 - 4] },
    __metadata__: { format: 'pt' },
    second: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    third: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
  }, data);
  const r = SafetensorsReader.open(file);
  try {
    assert.deepEqual(r.names(), ['second', 'first', 'third'], 'names are listed in data order');
    assert.deepEqual(r.metadata, { format: 'pt' });
    assertSameFloats(r.readFloat32('first'), [20], 'first');
    assertSameFloats(r.readFloat32('second'), [10], 'second');
    assertSameFloats(r.readFloat32('third'), [30], 'third');
  } finally {
    r.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Lazy reading

test('open reads only the header and reading one tensor reads only its bytes (fs.readSync counted)', () => {
  const file = path.join(tmpDir(), 'lazy.safetensors');
  const big = new Float32Array(1 << 18).fill(0.5); // 1 MiB
  writeSafetensors(file, [['big', { shape: [big.length], data: big }], ['small', { shape: [4], data: Float32Array.from([1, 2, 3, 4]) }]]);
  const headerLen = Number(fs.readFileSync(file).readBigUInt64LE(0));

  const original = fs.readSync;
  let bytesRead = 0;
  (fs as { readSync: typeof fs.readSync }).readSync = ((...args: Parameters<typeof fs.readSync>) => {
    const n = (original as (...a: Parameters<typeof fs.readSync>) => number)(...args);
    bytesRead += n;
    return n;
  }) as typeof fs.readSync;
  syncBuiltinESMExports();
  try {
    const r = SafetensorsReader.open(file);
    try {
      assert.equal(bytesRead, 8 + headerLen, 'open reads the 8-byte length and the header, nothing else');
      const before = bytesRead;
      assertSameFloats(r.readFloat32('small'), [1, 2, 3, 4], 'small');
      assert.equal(bytesRead - before, 16, 'reading "small" reads its 16 bytes and not the 1 MiB of "big"');
    } finally {
      r.close();
    }
  } finally {
    (fs as { readSync: typeof fs.readSync }).readSync = original;
    syncBuiltinESMExports();
  }
});

test('tensor bytes are read when asked for, not at open: bytes rewritten after open are the ones returned', () => {
  const file = path.join(tmpDir(), 'ondemand.safetensors');
  writeSafetensors(file, [['a', { shape: [2], data: Float32Array.from([1, 2]) }], ['b', { shape: [2], data: Float32Array.from([3, 4]) }]]);
  const r = SafetensorsReader.open(file);
  try {
    const b = r.info('b');
    const fd = fs.openSync(file, 'r+');
    const garbage = Buffer.alloc(8);
    garbage.writeFloatLE(-7, 0);
    garbage.writeFloatLE(-8, 4);
    fs.writeSync(fd, garbage, 0, 8, b.byteOffset);
    fs.closeSync(fd);
    assertSameFloats(r.readFloat32('a'), [1, 2], 'a is untouched by the write to b');
    assertSameFloats(r.readFloat32('b'), [-7, -8], 'b reflects the bytes on disk now');
  } finally {
    r.close();
  }
});

test('a file truncated after open makes the read fail with an error naming the file, and a closed reader refuses reads', () => {
  const file = path.join(tmpDir(), 'shrunk.safetensors');
  writeSafetensors(file, [['a', { shape: [4], data: Float32Array.from([1, 2, 3, 4]) }]]);
  const r = SafetensorsReader.open(file);
  try {
    fs.truncateSync(file, fs.statSync(file).size - 4);
    throwsFor(() => r.readFloat32('a'), file, /ended early/);
    throwsFor(() => r.info('nope'), file, /no tensor named "nope"/);
  } finally {
    r.close();
  }
  throwsFor(() => r.readBytes('a'), file, /closed/);
});

// ---------------------------------------------------------------------------------------------
// Malformed files: every error names the file and says what is wrong

test('missing file and a folder are errors naming the path', () => {
  const dir = tmpDir();
  const missing = path.join(dir, 'nope.safetensors');
  throwsFor(() => SafetensorsReader.open(missing), missing, /not found/);
  throwsFor(() => SafetensorsReader.open(dir), dir, /is a directory/);
});

test('a file shorter than 8 bytes is not a safetensors file', () => {
  const dir = tmpDir();
  for (const size of [0, 1, 7]) {
    const file = path.join(dir, `short${size}.safetensors`);
    fs.writeFileSync(file, Buffer.alloc(size));
    throwsFor(() => SafetensorsReader.open(file), file, new RegExp(`${size} bytes, shorter than the 8-byte header length`));
  }
});

test('a header length larger than the file, or absurdly large, is an error', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'long.safetensors');
  rawFile(file, '{}', undefined, 1000n);
  throwsFor(() => SafetensorsReader.open(file), file, /header length 1000 is larger than the 2 bytes after it/);
  const huge = path.join(dir, 'huge.safetensors');
  rawFile(huge, '{}', undefined, 0xffffffffffffffffn);
  throwsFor(() => SafetensorsReader.open(huge), huge, /header length 18446744073709551615 is absurd/);
});

test('a header that is not JSON, or JSON that is not an object, is an error', () => {
  const dir = tmpDir();
  const cases: [string, RegExp][] = [
    ['{"a": {"dtype": "F32",', /header is not valid JSON/],
    ['', /header is not valid JSON/],
    ['\u0000\u0001\u0002garbage', /header is not valid JSON/],
    ['[1, 2]', /header is not a JSON object/],
    ['null', /header is not a JSON object/],
    ['"F32"', /header is not a JSON object/],
  ];
  cases.forEach(([text, re], i) => {
    const file = path.join(dir, `bad${i}.safetensors`);
    rawFile(file, text);
    throwsFor(() => SafetensorsReader.open(file), file, re);
  });
});

test('tensor entries with an unknown dtype, a bad shape, bad data_offsets or bad __metadata__ are errors naming the tensor', () => {
  const dir = tmpDir();
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const cases: [Record<string, unknown>, RegExp[]][] = [
    [{ w: { ...ok, dtype: 'F8_E4M3X' } }, [/tensor "w"/, /unknown dtype "F8_E4M3X"/, /supported: F32, F16, BF16/]],
    [{ w: { ...ok, dtype: 'f32' } }, [/unknown dtype "f32"/]],
    [{ w: { ...ok, dtype: undefined } }, [/unknown dtype undefined/]],
    [{ w: { ...ok, shape: [-2] } }, [/tensor "w"/, /shape must be an array of non-negative integers, got \[-2\]/]],
    [{ w: { ...ok, shape: [1.5] } }, [/shape must be an array/]],
    [{ w: { ...ok, shape: '2' } }, [/shape must be an array/]],
    [{ w: { ...ok, shape: ['2'] } }, [/shape must be an array/]],
    [{ w: { ...ok, data_offsets: [8, 0] } }, [/data_offsets must be \[begin, end\]/, /\[8,0\]/]],
    [{ w: { ...ok, data_offsets: [0] } }, [/data_offsets must be/]],
    [{ w: { ...ok, data_offsets: [-8, 0] } }, [/data_offsets must be/]],
    [{ w: 'F32' }, [/tensor "w": header entry is not an object/]],
    [{ w: ok, __metadata__: { format: 1 } }, [/"__metadata__" value of "format" must be a string/]],
    [{ w: ok, __metadata__: ['pt'] }, [/"__metadata__" must be an object/]],
  ];
  cases.forEach(([header, res], i) => {
    const file = path.join(dir, `entry${i}.safetensors`);
    rawFile(file, header, Buffer.alloc(8));
    throwsFor(() => SafetensorsReader.open(file), file, ...res);
  });
});

test('a lying header (data_offsets span not equal to dtype size * shape) is an error with both byte counts', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'lying.safetensors');
  rawFile(file, { w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, Buffer.alloc(24));
  throwsFor(() => SafetensorsReader.open(file), file, /tensor "w"/, /inconsistent/, /\[0, 20\] span 20 bytes/, /F32 \[2, 3\] needs 24/);
  const file2 = path.join(dir, 'lying-f16.safetensors');
  rawFile(file2, { w: { dtype: 'F16', shape: [4], data_offsets: [0, 16] } }, Buffer.alloc(16));
  throwsFor(() => SafetensorsReader.open(file2), file2, /F16 \[4\] needs 8/);
});

test('tensors whose data_offsets overlap are a lying header', () => {
  const file = path.join(tmpDir(), 'overlap.safetensors');
  rawFile(file, {
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
  }, Buffer.alloc(12));
  throwsFor(() => SafetensorsReader.open(file), file, /overlap/, /"a"/, /"b"/);
});

test('data truncated after a valid header is an error saying how long the file should be', () => {
  const file = path.join(tmpDir(), 'trunc.safetensors');
  writeSafetensors(file, [['a', { shape: [4], data: new Float32Array(4) }], ['b', { shape: [4], data: new Float32Array(4) }]]);
  const size = fs.statSync(file).size;
  fs.truncateSync(file, size - 3);
  throwsFor(() => SafetensorsReader.open(file), file, /truncated/, /tensor "b"/, new RegExp(`at least ${size} bytes, but it has ${size - 3}`));
});

test('reading a non-float tensor as float is an error naming the tensor and dtype; its raw bytes are still readable', () => {
  const file = path.join(tmpDir(), 'ints.safetensors');
  const ids = Buffer.alloc(12);
  [7, -1, 65536].forEach((v, i) => ids.writeInt32LE(v, 4 * i));
  rawFile(file, { ids: { dtype: 'I32', shape: [3], data_offsets: [0, 12] }, mask: { dtype: 'BOOL', shape: [2], data_offsets: [12, 14] } }, Buffer.concat([ids, Buffer.from([1, 0])]));
  const r = SafetensorsReader.open(file);
  try {
    throwsFor(() => r.readFloat32('ids'), file, /tensor "ids" has dtype I32, which is not a floating-point type/);
    throwsFor(() => r.readFloat32('mask'), file, /dtype BOOL/);
    assert.deepEqual(Buffer.from(r.readBytes('ids')), ids);
    assert.deepEqual([...r.readBytes('mask')], [1, 0]);
  } finally {
    r.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Atomic writes

test('a write rejected up front (shape does not match data, reserved or repeated name) leaves no file and no temp file', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'w.safetensors');
  throwsFor(() => writeSafetensors(file, [['w', { shape: [2, 3], data: new Float32Array(5) }]]), file, /tensor "w"/, /shape \[2, 3\] does not match its 5 values/);
  throwsFor(() => writeSafetensors(file, [['w', { shape: [-1], data: new Float32Array(0) }]]), file, /tensor "w"/);
  throwsFor(() => writeSafetensors(file, [['__metadata__', { shape: [1], data: new Float32Array(1) }]]), file, /reserved or used twice/);
  throwsFor(
    () => writeSafetensors(file, [['w', { shape: [1], data: new Float32Array(1) }], ['w', { shape: [1], data: new Float32Array(1) }]]),
    file,
    /"w".*used twice/,
  );
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('a write that fails midway leaves the previous file intact and no temp file behind', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'w.safetensors');
  writeSafetensors(file, [['old', { shape: [2], data: Float32Array.from([1, 2]) }]]);
  const before = fs.readFileSync(file);

  // The second tensor's data fails when its bytes are fetched: after the temp file has been
  // created and the header and first tensor written to it.
  const failing = new Float32Array(4);
  Object.defineProperty(failing, 'buffer', {
    get() {
      throw new Error('simulated I/O failure');
    },
  });
  throwsFor(
    () => writeSafetensors(file, [['a', { shape: [4], data: new Float32Array(4) }], ['b', { shape: [4], data: failing }]]),
    file,
    /cannot write: simulated I\/O failure/,
  );
  assert.deepEqual(fs.readdirSync(dir), ['w.safetensors'], 'no temp file left');
  assert.deepEqual(fs.readFileSync(file), before, 'old file untouched');
});

test('writing into a folder that does not exist is an error naming the file, and creates nothing', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'missing', 'w.safetensors');
  throwsFor(() => writeSafetensors(file, [['w', { shape: [1], data: new Float32Array(1) }]]), file, /cannot write/);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('non-string metadata values are refused before anything is written', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'w.safetensors');
  throwsFor(
    () => writeSafetensors(file, [['w', { shape: [1], data: new Float32Array(1) }]], { steps: 3 } as unknown as Record<string, string>),
    file,
    /metadata value of "steps" must be a string/,
  );
  assert.deepEqual(fs.readdirSync(dir), []);
});
