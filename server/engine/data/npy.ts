/**
 * NumPy `.npy` token shards (the FineWeb-Edu preparation scripts write 1-D uint16 arrays). Only that
 * exact layout is accepted; anything else is an error that says what was found.
 */
import { InherituneError } from '../errors.js';
import { readExactly, readUint16LE, withFile } from './binary.js';

const MAGIC = '\x93NUMPY';
const MAX_HEADER_BYTES = 1 << 20;

export interface NpyLayout {
  /** Byte offset of the array data. */
  dataOffset: number;
  /** Number of uint16 elements. */
  length: number;
}

/** Parses the header in `prefix` (the file's first bytes, at least the whole header). */
export function parseNpyHeader(prefix: Uint8Array, file: string): NpyLayout {
  const b = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== MAGIC) throw new InherituneError(file, 'not a .npy file (bad magic bytes)');
  const major = b[6];
  if (major !== 1 && major !== 2 && major !== 3) throw new InherituneError(file, `unsupported .npy format version ${major}.${b[7]}`);
  // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4.
  const lenBytes = major === 1 ? 2 : 4;
  if (b.length < 8 + lenBytes) throw new InherituneError(file, '.npy header is truncated');
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = 8 + lenBytes;
  if (b.length < start + headerLen) throw new InherituneError(file, '.npy header is truncated');
  const header = b.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shape === undefined) {
    throw new InherituneError(file, `cannot parse .npy header ${JSON.stringify(header.trim())}`);
  }
  if (descr !== '<u2') throw new InherituneError(file, `.npy dtype is '${descr}'; token shards must be little-endian uint16 ('<u2')`);
  if (fortran !== 'False') throw new InherituneError(file, '.npy array is in Fortran order; expected C order');
  const dims = shape.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (dims.length !== 1 || !/^\d+$/.test(dims[0])) {
    throw new InherituneError(file, `.npy shape is (${shape.trim()}); token shards must be 1-D`);
  }
  return { dataOffset: start + headerLen, length: Number(dims[0]) };
}

/** Reads a 1-D uint16 `.npy` file of `fileSize` bytes. */
export async function readNpyUint16(file: string, fileSize: number): Promise<Uint16Array> {
  return withFile(file, async (h) => {
    const fixed = new Uint8Array(Math.min(12, fileSize));
    await readExactly(h, file, 0, fixed);
    const fb = Buffer.from(fixed.buffer);
    // Read just enough to hold the whole header, whose length the fixed part gives.
    const headerEnd = fixed.length < 12 ? fixed.length : fixed[6] === 1 ? 10 + fb.readUInt16LE(8) : 12 + fb.readUInt32LE(8);
    // Real headers are a few hundred bytes; the cap keeps a corrupt length from allocating gigabytes.
    const prefix = new Uint8Array(Math.min(headerEnd, fileSize, MAX_HEADER_BYTES));
    await readExactly(h, file, 0, prefix);
    const { dataOffset, length } = parseNpyHeader(prefix, file);
    const expected = dataOffset + 2 * length;
    if (fileSize !== expected) {
      throw new InherituneError(file, `.npy header declares ${length} uint16 values (${expected} bytes in all) but the file has ${fileSize} bytes`);
    }
    return readUint16LE(h, file, dataOffset, length);
  });
}
