/**
 * Fuzz: the safetensors reader on files we write (read back exactly), on those files with random
 * byte edits, and on generated headers (random dtypes, shapes, offsets, metadata): every input ends
 * in correct values or an InherituneError naming the file.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { InherituneError } from '../../server/engine/errors.js';
import { decodeFloat32, encodeFloat32, numElements, SafetensorsReader, writeSafetensors, type WriteDtype } from '../../server/engine/safetensors.js';
import { expectClearError, fuzz, mutatedBytes } from './harness.js';

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-fuzz-st-'));
after(() => fs.rmSync(DIR, { recursive: true, force: true }));
const FILE = path.join(DIR, 'model.safetensors');

const namedByFile = (e: unknown) => e instanceof InherituneError && e.source === FILE;

/** Opens FILE and reads every tensor it lists; an error must be an InherituneError naming FILE. */
function readAll(): Map<string, Float32Array | Uint8Array> | Error {
  return expectClearError(() => {
    const r = SafetensorsReader.open(FILE);
    try {
      const out = new Map<string, Float32Array | Uint8Array>();
      for (const name of r.names()) {
        const info = r.info(name);
        const bytes = r.readBytes(name);
        assert.equal(bytes.length, info.byteLength, `${name}: read ${bytes.length} bytes, header says ${info.byteLength}`);
        out.set(name, ['F32', 'F16', 'BF16', 'F64'].includes(info.dtype) ? r.readFloat32(name) : bytes);
        assert.ok(info.shape.every((d) => Number.isSafeInteger(d) && d >= 0), `${name}: shape ${JSON.stringify(info.shape)}`);
      }
      return out;
    } finally {
      r.close();
    }
  }, namedByFile);
}

const tensorArb = fc
  .array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 3 })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      data: fc.float32Array({ minLength: numElements(shape), maxLength: numElements(shape) }),
    }),
  );
const tensorsArb = fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__'), tensorArb), {
  minLength: 0,
  maxLength: 5,
  selector: ([name]) => name,
});
const dtypeArb = fc.constantFrom<WriteDtype>('F32', 'F16', 'BF16');

test('fuzz: files written by writeSafetensors read back exactly (F32, F16, BF16; any names, shapes, metadata)', async (t) => {
  await fuzz(
    t,
    fc.record({ tensors: tensorsArb, dtype: dtypeArb, metadata: fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== ''), fc.string({ maxLength: 8 }), { maxKeys: 3 }) }),
    ({ tensors, dtype, metadata }) => {
      writeSafetensors(FILE, tensors, metadata, { dtype });
      const read = readAll();
      assert.ok(!(read instanceof Error), String(read));
      assert.deepEqual([...read.keys()].sort(), tensors.map(([n]) => n).sort());
      for (const [name, tensor] of tensors) {
        // Stored values are the float32 data rounded to the dtype, bit for bit.
        const expected = decodeFloat32(encodeFloat32(tensor.data, dtype), dtype);
        assert.deepEqual(read.get(name), expected, name);
      }
    },
    400,
  );
});

const SEED_FILE = (() => {
  writeSafetensors(
    FILE,
    [
      ['wte.weight', { shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => i / 7) }],
      ['h.0.ln_1.bias', { shape: [3], data: Float32Array.of(1, -2, 3) }],
      ['scalar', { shape: [], data: Float32Array.of(0.5) }],
    ],
    { format: 'pt' },
  );
  return new Uint8Array(fs.readFileSync(FILE));
})();

test('fuzz: a valid file with random byte edits (flips, deletions, insertions, truncation) reads or fails naming the file', async (t) => {
  await fuzz(
    t,
    mutatedBytes(SEED_FILE),
    (bytes) => {
      fs.writeFileSync(FILE, bytes);
      readAll();
    },
    1500,
  );
});

const junkValue = fc.oneof(
  fc.integer(),
  fc.integer({ min: -1, max: 2 ** 53 + 8 }),
  fc.double(),
  fc.string({ maxLength: 6 }),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.integer({ min: -2, max: 1e9 }), { maxLength: 4 }),
);
const entryArb = fc.record(
  {
    dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL', 'F8_E4M3', 'f32', ''), junkValue),
    shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 6 }), { maxLength: 3 }), fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { maxLength: 4 }), junkValue),
    data_offsets: fc.oneof(fc.tuple(fc.integer({ min: -4, max: 200 }), fc.integer({ min: -4, max: 200 })), junkValue),
  },
  { requiredKeys: [] },
);
const headerArb = fc.record({
  entries: fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constant('__metadata__')), fc.oneof(entryArb, junkValue), { maxKeys: 5 }),
  metadata: fc.option(fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string({ maxLength: 4 }), fc.integer())), junkValue)),
  declaredLength: fc.option(fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.constant(2 ** 40))),
  padding: fc.integer({ min: 0, max: 7 }),
  data: fc.uint8Array({ maxLength: 256 }),
});

test('fuzz: generated headers (random dtypes, shapes, offsets, metadata, declared lengths) read or fail naming the file', async (t) => {
  await fuzz(
    t,
    headerArb,
    ({ entries, metadata, declaredLength, padding, data }) => {
      const header: Record<string, unknown> = { ...entries };
      if (metadata !== null) header.__metadata__ = metadata;
      const json = Buffer.from(JSON.stringify(header) + ' '.repeat(padding));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(declaredLength ?? json.length));
      fs.writeFileSync(FILE, Buffer.concat([len, json, data]));
      readAll();
    },
    1500,
  );
});

test('fuzz: arbitrary bytes (short, empty, binary junk) fail naming the file', async (t) => {
  await fuzz(
    t,
    fc.uint8Array({ maxLength: 64 }),
    (bytes) => {
      fs.writeFileSync(FILE, bytes);
      const r = readAll();
      // Only the empty header "{}" padded is a valid file this short; anything else must fail.
      if (!(r instanceof Error)) assert.equal(r.size, 0);
    },
    500,
  );
});
