/**
 * Low-level reads for token files: open with clear errors, and read little-endian uint16 data into a
 * freshly allocated (so always aligned) typed array, in chunks so files over 2 GiB work too.
 */
import * as fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import { InherituneError } from '../errors.js';

const CHUNK_BYTES = 64 * 1024 * 1024;
const LITTLE_ENDIAN = os.endianness() === 'LE';

function errnoCode(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** Stats a data file, turning "missing" and "is a folder" into errors that name it. */
export async function statDataFile(file: string): Promise<fs.Stats> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new InherituneError(file, 'file not found');
    throw new InherituneError(file, `cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!st.isFile()) throw new InherituneError(file, 'is not a regular file (a folder?)');
  return st;
}

export async function withFile<T>(file: string, use: (h: FileHandle) => Promise<T>): Promise<T> {
  const h = await fs.promises.open(file, 'r');
  try {
    return await use(h);
  } finally {
    await h.close();
  }
}

/** Fills `into` from `position`; a short file is an error naming it. */
export async function readExactly(h: FileHandle, file: string, position: number, into: Uint8Array): Promise<void> {
  for (let done = 0; done < into.length; ) {
    const { bytesRead } = await h.read(into, done, Math.min(CHUNK_BYTES, into.length - done), position + done);
    if (bytesRead === 0) throw new InherituneError(file, `file ended early: expected ${position + into.length} bytes`);
    done += bytesRead;
  }
}

/** Reads `count` little-endian uint16 values starting at byte `position`. */
export async function readUint16LE(h: FileHandle, file: string, position: number, count: number): Promise<Uint16Array> {
  const out = new Uint16Array(count);
  await readUint16LEInto(h, file, position, out);
  return out;
}

/** Fills `into` with little-endian uint16 values starting at byte `position`. */
export async function readUint16LEInto(h: FileHandle, file: string, position: number, into: Uint16Array): Promise<void> {
  const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
  await readExactly(h, file, position, bytes);
  if (!LITTLE_ENDIAN) Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).swap16();
}

/** Reads `count` little-endian uint32 values starting at byte `position`. */
export async function readUint32LE(h: FileHandle, file: string, position: number, count: number): Promise<Uint32Array> {
  const out = new Uint32Array(count);
  await readExactly(h, file, position, new Uint8Array(out.buffer));
  if (!LITTLE_ENDIAN) Buffer.from(out.buffer).swap32();
  return out;
}

/** The little-endian bytes of a token array (a view on little-endian machines, a swapped copy otherwise). */
export function littleEndianBytes(a: Uint16Array | Uint32Array): Uint8Array {
  const view = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN) return view;
  const copy = Buffer.from(view);
  return a.BYTES_PER_ELEMENT === 2 ? copy.swap16() : copy.swap32();
}
