/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors), no dependencies.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`, then the
 * raw little-endian row-major tensor data; offsets are relative to the end of the header.
 *
 * The reader keeps the file open and reads only the header at open; each tensor's bytes are read on
 * demand by offset, so a caller that needs a few tensors of a multi-GB checkpoint reads only those.
 * Every problem with the file is an InherituneError whose source is the file's path.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { InherituneError } from './errors.js';
import { tempName } from './fsAtomic.js';

export type Dtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const ITEM_SIZE: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const FLOAT_DTYPES: ReadonlySet<Dtype> = new Set<Dtype>(['F32', 'F16', 'BF16', 'F64']);

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute position of the tensor's first byte in the file. */
  byteOffset: number;
  byteLength: number;
}

/** The reference implementation's limit; a larger header means a corrupt or hostile file. */
const MAX_HEADER_BYTES = 100_000_000;
/** Largest single read/write (Node rejects lengths above 2 GiB - 1 per call). */
const IO_CHUNK = 1 << 30;
const HOST_LE = os.endianness() === 'LE';

function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(ITEM_SIZE, s);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const fmtShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

// ---------------------------------------------------------------------------------------------
// Half-precision conversions (exact decoding; encoding rounds to nearest, ties to even).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let f16Table: Float32Array | undefined;

/** float32 value of every F16 bit pattern (a 256 KiB table, built on first use). */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24; // zero and subnormals: mant * 2^-14 / 1024
    else if (exp === 31) v = mant === 0 ? Infinity : NaN;
    else v = (1024 + mant) * 2 ** (exp - 25); // (1 + mant/1024) * 2^(exp-15)
    t[h] = sign * v;
  }
  return (f16Table = t);
}

export function f16BitsToF32(h: number): number {
  return f16ToF32Table()[h & 0xffff];
}

export function bf16BitsToF32(b: number): number {
  // bfloat16 is the top half of a float32: widening is a shift and always exact (NaN payloads too).
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/** F16 bits of `x` rounded to nearest even (overflow -> inf, NaN -> quiet NaN). After F. Giesen's float_to_half_fast3_rtne. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  let u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  u &= 0x7fffffff;
  let h: number;
  if (u >= 0x47800000) {
    // |x| >= 65536 (the smallest float32 that cannot round down to 65504), inf or NaN
    h = u > 0x7f800000 ? 0x7e00 : 0x7c00;
  } else if (u < 0x38800000) {
    // |x| < 2^-14: the result is subnormal or zero. Adding 0.5 lines the 10 result bits up at the
    // bottom of the float32 mantissa and lets the FPU round to nearest even. (The addition happens in
    // float64 and is rounded again to float32; that double rounding cannot create a false tie here,
    // because only values below 2^-30 lose bits in float64, and those round to 0 either way.)
    u32[0] = u; // |x|
    f32[0] = Math.fround(f32[0] + 0.5);
    h = u32[0] - 0x3f000000;
  } else {
    // Normal range: rebias the exponent and round the 13 dropped mantissa bits to nearest even;
    // a carry out of the mantissa correctly bumps the exponent (up to inf).
    const odd = (u >>> 13) & 1;
    h = (u + ((15 - 127) << 23) + 0xfff + odd) >>> 13;
  }
  return h | sign;
}

/** BF16 bits of `x` rounded to nearest even (overflow -> inf, NaN -> quiet NaN). */
export function f32ToBF16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Little-endian F32/F64/F16/BF16 bytes as float32 (F16 and BF16 exactly, F64 rounded to nearest).
 * F32 bytes of an aligned buffer on a little-endian host are viewed, not copied.
 */
export function decodeFloat32(bytes: Uint8Array, dtype: Dtype): Float32Array {
  const size = ITEM_SIZE[dtype];
  if (!FLOAT_DTYPES.has(dtype)) throw new Error(`decodeFloat32: ${dtype} is not a floating-point dtype`);
  if (bytes.length % size !== 0) throw new Error(`decodeFloat32: ${bytes.length} bytes is not a whole number of ${dtype} values`);
  const n = bytes.length / size;
  if (dtype === 'F32' && HOST_LE && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'F16': {
      const table = f16ToF32Table();
      for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
      break;
    }
    case 'BF16': {
      // Typed arrays share the host's byte order, so integer bits written here read back as that float.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = ((bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16) >>> 0;
      break;
    }
  }
  return out;
}

export function isFloatDtype(dtype: Dtype): boolean {
  return FLOAT_DTYPES.has(dtype);
}

export function itemSize(dtype: Dtype): number {
  return ITEM_SIZE[dtype];
}

// ---------------------------------------------------------------------------------------------
// Reader

function readFully(fd: number, into: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < into.length) {
    const n = fs.readSync(fd, into, done, Math.min(IO_CHUNK, into.length - done), position + done);
    if (n === 0) {
      throw new InherituneError(
        file,
        `file ended early: wanted ${into.length} bytes at offset ${position}, got ${done} (was the file changed while open?)`,
      );
    }
    done += n;
  }
}

export class SafetensorsReader {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {
    this.fd = fd;
  }

  /** Opens `file` and reads and validates its header (not the tensor data). */
  static open(file: string): SafetensorsReader {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new InherituneError(file, code === 'ENOENT' ? 'file not found' : `cannot open: ${(e as Error).message}`);
    }
    try {
      if (fs.fstatSync(fd).isDirectory()) throw new InherituneError(file, 'is a directory, not a safetensors file');
      const { tensors, metadata } = parseHeader(fd, file);
      return new SafetensorsReader(file, fd, tensors, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Tensor names in file order (by data offset). */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new InherituneError(this.path, `no tensor named "${name}" (the file holds ${this.tensors.size} tensors)`);
    return info;
  }

  /** The tensor's raw little-endian bytes, whatever its dtype. */
  readBytes(name: string): Uint8Array {
    const info = this.info(name);
    if (this.fd === undefined) throw new InherituneError(this.path, `cannot read "${name}": the file was closed`);
    const bytes = new Uint8Array(info.byteLength);
    readFully(this.fd, bytes, info.byteOffset, this.path);
    return bytes;
  }

  /**
   * `length` bytes of the tensor's data starting `start` bytes into it: for reading a large tensor in
   * pieces (row ranges, chunked copies) without holding all of it.
   */
  readBytesRange(name: string, start: number, length: number): Uint8Array {
    const info = this.info(name);
    if (this.fd === undefined) throw new InherituneError(this.path, `cannot read "${name}": the file was closed`);
    if (!isCount(start) || !isCount(length) || start + length > info.byteLength) {
      throw new InherituneError(this.path, `cannot read bytes [${start}, ${start + length}) of tensor "${name}": it has ${info.byteLength} bytes`);
    }
    const bytes = new Uint8Array(length);
    readFully(this.fd, bytes, info.byteOffset + start, this.path);
    return bytes;
  }

  /** The tensor as float32 (F32 as is; F16 and BF16 exactly; F64 rounded to nearest). */
  readFloat32(name: string): Float32Array {
    const info = this.info(name);
    if (!FLOAT_DTYPES.has(info.dtype)) {
      throw new InherituneError(this.path, `tensor "${name}" has dtype ${info.dtype}, which is not a floating-point type (F32, F16, BF16, F64)`);
    }
    return decodeFloat32(this.readBytes(name), info.dtype);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

function parseHeader(fd: number, file: string): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
  const fileSize = fs.fstatSync(fd).size;
  if (fileSize < 8) throw new InherituneError(file, `not a safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`);
  const lenBytes = Buffer.alloc(8);
  readFully(fd, lenBytes, 0, file);
  const headerLen = lenBytes.readBigUInt64LE(0);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    throw new InherituneError(file, `not a safetensors file: header length ${headerLen} is absurd (limit ${MAX_HEADER_BYTES} bytes)`);
  }
  const n = Number(headerLen);
  if (8 + n > fileSize) {
    throw new InherituneError(file, `not a safetensors file (or truncated): header length ${n} is larger than the ${fileSize - 8} bytes after it`);
  }
  const headerBytes = Buffer.alloc(n);
  readFully(fd, headerBytes, 8, file);
  let header: unknown;
  try {
    header = JSON.parse(headerBytes.toString('utf8'));
  } catch (e) {
    throw new InherituneError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) throw new InherituneError(file, 'header is not a JSON object');

  const dataStart = 8 + n;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(entry)) throw new InherituneError(file, '"__metadata__" must be an object of strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new InherituneError(file, `"__metadata__" value of "${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (!isRecord(entry)) throw new InherituneError(file, `${where}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (!isDtype(dtype)) {
      throw new InherituneError(file, `${where}: unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ITEM_SIZE).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new InherituneError(file, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw new InherituneError(file, `${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    const expected = numElements(shape) * ITEM_SIZE[dtype];
    if (end - begin !== expected) {
      throw new InherituneError(
        file,
        `${where}: header is inconsistent: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} ${fmtShape(shape)} needs ${expected}`,
      );
    }
    if (dataStart + end > fileSize) {
      throw new InherituneError(
        file,
        `file is truncated: ${where} ends at byte ${dataStart + end}, so the file should be at least ${dataStart + end} bytes, but it has ${fileSize}`,
      );
    }
    tensors.push({ name, dtype, shape: [...shape], byteOffset: dataStart + begin, byteLength: expected });
  }
  tensors.sort((a, b) => a.byteOffset - b.byteOffset);
  // Two tensors claiming the same bytes is a lying header (the reference implementation refuses it too).
  let prev: TensorInfo | undefined;
  for (const t of tensors) {
    if (t.byteLength === 0) continue;
    if (prev && t.byteOffset < prev.byteOffset + prev.byteLength) {
      const rel = (i: TensorInfo) => `[${i.byteOffset - dataStart}, ${i.byteOffset - dataStart + i.byteLength}]`;
      throw new InherituneError(
        file,
        `header is inconsistent: the data of tensors "${prev.name}" ${rel(prev)} and "${t.name}" ${rel(t)} overlap`,
      );
    }
    prev = t;
  }
  return { tensors: new Map(tensors.map((t) => [t.name, t])), metadata };
}

// ---------------------------------------------------------------------------------------------
// Writer

export type WriteDtype = 'F32' | 'F16' | 'BF16';

export interface WriteOptions {
  /** Storage dtype (default F32). F16/BF16 round to nearest even. */
  dtype?: WriteDtype;
}

function encode(data: Float32Array, dtype: WriteDtype): Uint8Array {
  if (dtype === 'F32') {
    if (HOST_LE) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const out = new Uint8Array(data.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
    return out;
  }
  const toBits = dtype === 'F16' ? f32ToF16Bits : f32ToBF16Bits;
  const out = new Uint8Array(data.length * 2);
  for (let i = 0; i < data.length; i++) {
    const b = toBits(data[i]);
    out[2 * i] = b & 0xff;
    out[2 * i + 1] = b >>> 8;
  }
  return out;
}

function writeFully(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, Math.min(IO_CHUNK, bytes.length - done));
}

/** Encodes float32 values as `dtype` little-endian bytes (F16/BF16 round to nearest even). */
export function encodeFloat32(data: Float32Array, dtype: WriteDtype): Uint8Array {
  return encode(data, dtype);
}

/** One tensor of a file written by SafetensorsWriter: declared up front, its data streamed later. */
export interface StreamEntry {
  name: string;
  shape: number[];
  dtype: WriteDtype;
}

/**
 * A safetensors file written tensor by tensor: the header (every name, dtype and shape) is written
 * first, then each tensor's bytes in the declared order, in as many pieces as the caller likes, so a
 * multi-GB file never has to be held in memory. Atomic like writeSafetensors: the bytes go to a
 * temporary sibling that is fsynced and renamed over `file` by finish(); abort() removes it.
 */
export class SafetensorsWriter {
  private fd: number | undefined;
  private entry = 0;
  /** Bytes written of the current entry. */
  private done = 0;

  private constructor(
    readonly file: string,
    private readonly tmp: string,
    fd: number,
    private readonly entries: StreamEntry[],
    private readonly sizes: number[],
  ) {
    this.fd = fd;
    this.skipEmpty();
  }

  /** Checks the entries, creates the temporary file and writes the header. */
  static open(file: string, entries: StreamEntry[], metadata?: Record<string, string>): SafetensorsWriter {
    // No prototype, so a tensor named "__proto__" is an ordinary key.
    const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    if (metadata && Object.keys(metadata).length > 0) {
      for (const [k, v] of Object.entries(metadata)) {
        if (typeof v !== 'string') throw new InherituneError(file, `metadata value of "${k}" must be a string`);
      }
      header.__metadata__ = metadata;
    }
    let offset = 0;
    const sizes: number[] = [];
    for (const e of entries) {
      if (e.name === '__metadata__' || Object.prototype.hasOwnProperty.call(header, e.name)) {
        throw new InherituneError(file, `cannot write tensor "${e.name}": the name is reserved or used twice`);
      }
      if (!e.shape.every(isCount)) throw new InherituneError(file, `cannot write tensor "${e.name}": bad shape ${fmtShape(e.shape)}`);
      const size = numElements(e.shape) * ITEM_SIZE[e.dtype];
      header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + size] };
      sizes.push(size);
      offset += size;
    }
    // Pad with spaces so the data starts 8-byte aligned, as the reference implementation does.
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
    const headerBytes = Buffer.from(json, 'utf8');
    const lenBytes = Buffer.alloc(8);
    lenBytes.writeBigUInt64LE(BigInt(headerBytes.length));

    const tmp = tempName(file);
    let fd: number | undefined;
    try {
      fd = fs.openSync(tmp, 'wx');
      writeFully(fd, lenBytes);
      writeFully(fd, headerBytes);
      return new SafetensorsWriter(file, tmp, fd, entries, sizes);
    } catch (e) {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw new InherituneError(file, `cannot write: ${(e as Error).message}`);
    }
  }

  /** The tensor whose bytes come next (undefined once every tensor is complete). */
  get current(): StreamEntry | undefined {
    return this.entries[this.entry];
  }

  private skipEmpty(): void {
    while (this.entry < this.entries.length && this.done === this.sizes[this.entry]) {
      this.entry++;
      this.done = 0;
    }
  }

  /** The next raw bytes of the current tensor (already in its dtype); must not run past its end. */
  writeBytes(bytes: Uint8Array): void {
    const e = this.current;
    if (this.fd === undefined) throw new InherituneError(this.file, 'cannot write: the writer was closed');
    // A tensor with no elements is complete before it is written; its (empty) data is welcome anyway.
    if (bytes.length === 0) return;
    if (!e) throw new InherituneError(this.file, `cannot write ${bytes.length} more bytes: every tensor is complete`);
    const left = this.sizes[this.entry] - this.done;
    if (bytes.length > left) {
      throw new InherituneError(this.file, `cannot write ${bytes.length} bytes into tensor "${e.name}": only ${left} of its ${this.sizes[this.entry]} bytes are left`);
    }
    try {
      writeFully(this.fd, bytes);
    } catch (err) {
      throw new InherituneError(this.file, `cannot write: ${(err as Error).message}`);
    }
    this.done += bytes.length;
    this.skipEmpty();
  }

  /** The next values of the current tensor as float32, encoded to its dtype. */
  writeFloat32(values: Float32Array): void {
    const e = this.current;
    if (values.length === 0) return;
    if (!e) throw new InherituneError(this.file, `cannot write ${values.length} more values: every tensor is complete`);
    this.writeBytes(encode(values, e.dtype));
  }

  /** Checks every tensor is complete, then fsyncs and renames the file into place. */
  finish(): void {
    if (this.fd === undefined) throw new InherituneError(this.file, 'cannot finish: the writer was closed');
    const e = this.current;
    if (e) {
      this.abort();
      throw new InherituneError(this.file, `cannot finish: tensor "${e.name}" has ${this.done} of its ${this.sizes[this.entry]} bytes`);
    }
    try {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = undefined;
      fs.renameSync(this.tmp, this.file);
    } catch (err) {
      this.abort();
      throw new InherituneError(this.file, `cannot write: ${(err as Error).message}`);
    }
  }

  /** Stops and removes the temporary file; `file` keeps whatever it held before. */
  abort(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    fs.rmSync(this.tmp, { force: true });
  }
}

/**
 * Writes `tensors` (float32 data, stored as `dtype`, in the given order) to `file` atomically: the
 * bytes go to a temporary sibling that is fsynced and renamed over `file`, so `file` is either the
 * old version or the complete new one.
 */
export function writeSafetensors(
  file: string,
  tensors: Iterable<[string, { shape: number[]; data: Float32Array }]>,
  metadata?: Record<string, string>,
  options: WriteOptions = {},
): void {
  const dtype = options.dtype ?? 'F32';
  const entries = [...tensors];
  for (const [name, t] of entries) {
    if (!t.shape.every(isCount) || numElements(t.shape) !== t.data.length) {
      throw new InherituneError(file, `cannot write tensor "${name}": shape ${fmtShape(t.shape)} does not match its ${t.data.length} values`);
    }
  }
  const w = SafetensorsWriter.open(
    file,
    entries.map(([name, t]) => ({ name, shape: t.shape, dtype })),
    metadata,
  );
  try {
    for (const [, t] of entries) w.writeFloat32(t.data);
    w.finish();
  } catch (e) {
    w.abort();
    if (e instanceof InherituneError) throw e;
    throw new InherituneError(file, `cannot write: ${(e as Error).message}`);
  }
}
