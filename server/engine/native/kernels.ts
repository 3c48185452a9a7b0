/**
 * tfjs kernels backed by the native addon, registered over the wasm and cpu backends' own ones.
 *
 * Tensors of the wasm backend live in its WebAssembly heap: a kernel reads its inputs and writes its
 * output there in place, through one Float32Array over the whole heap (taken after the output is
 * allocated, since allocating may grow the heap and detach older views). Tensors of the cpu backend
 * are JavaScript Float32Arrays, passed as they are. Anything a native kernel does not cover (other
 * dtypes) goes to the kernel it replaced, so behaviour is tfjs's own except for speed.
 */
import * as tf from '../tf.js';
import { BinaryOp, ReduceOp, UnaryOp, type NativeAddon } from './addon.js';
import { takeAccumulation } from './accumulate.js';

type TensorInfo = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  refCount(dataId: object): number;
  incRef(dataId: object): void;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } | undefined };
  refCount(dataId: object): number;
  incRef(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): TensorInfo;
}

/** Where a float32 tensor's elements are: an array and the index of the first element in it. */
export interface Place {
  array: Float32Array;
  offset: number;
}

/** Per backend: how to find an input's elements and how to make a float32 output. */
export interface Memory {
  /** undefined when the tensor cannot be reached (the caller falls back). */
  input(t: TensorInfo): Place | undefined;
  /** An int32 tensor's elements; undefined when it cannot be reached. */
  inputInt32(t: TensorInfo): { array: Int32Array; offset: number } | undefined;
  /** How many tensors share the tensor's data (1: only this one; it may then be written in place). */
  refCount(t: TensorInfo): number;
  /** Allocates the output; `place()` must be called after every allocation, before writing. */
  output(shape: number[]): { info: TensorInfo; place(): Place };
  /** A kernel output that is `t`'s data (counted once more), as tfjs's reshapes return. */
  share(t: TensorInfo): TensorInfo;
}

/** An output that is `t`'s data, counted once more by the backend (as tfjs's reshapes return). */
function shareData(backend: { incRef(dataId: object): void }, t: TensorInfo): TensorInfo {
  backend.incRef(t.dataId);
  return { dataId: t.dataId, shape: [...t.shape], dtype: t.dtype };
}

let heapBuffer: ArrayBufferLike | undefined;
let heapF32: Float32Array | undefined;

function wasmHeap(backend: WasmBackendLike): Float32Array {
  const buffer = backend.wasm.HEAPU8.buffer;
  if (buffer !== heapBuffer || heapF32 === undefined) {
    heapBuffer = buffer;
    heapF32 = new Float32Array(buffer);
  }
  return heapF32;
}

function wasmMemory(backend: WasmBackendLike): Memory {
  return {
    input(t) {
      const d = backend.dataIdMap.get(t.dataId);
      if (d === undefined || t.dtype !== 'float32' || d.memoryOffset % 4 !== 0) return undefined;
      return { array: wasmHeap(backend), offset: d.memoryOffset / 4 };
    },
    inputInt32(t) {
      const d = backend.dataIdMap.get(t.dataId);
      if (d === undefined || t.dtype !== 'int32' || d.memoryOffset % 4 !== 0) return undefined;
      return { array: new Int32Array(backend.wasm.HEAPU8.buffer), offset: d.memoryOffset / 4 };
    },
    refCount: (t) => backend.refCount(t.dataId),
    share: (t) => shareData(backend, t),
    output(shape) {
      const info = backend.makeOutput(shape, 'float32');
      const offset = backend.dataIdMap.get(info.dataId)!.memoryOffset / 4;
      return { info, place: () => ({ array: wasmHeap(backend), offset }) };
    },
  };
}

function cpuMemory(backend: CpuBackendLike): Memory {
  return {
    input(t) {
      const values = backend.data.get(t.dataId)?.values;
      if (t.dtype !== 'float32' || !(values instanceof Float32Array)) return undefined;
      return { array: values, offset: 0 };
    },
    inputInt32(t) {
      const values = backend.data.get(t.dataId)?.values;
      if (t.dtype !== 'int32' || !(values instanceof Int32Array)) return undefined;
      return { array: values, offset: 0 };
    },
    refCount: (t) => backend.refCount(t.dataId),
    share: (t) => shareData(backend, t),
    output(shape) {
      // Not zero-filled: every native kernel writes each element of its output.
      const n = tf.util.sizeFromShape(shape);
      const values = new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
      const info = backend.makeTensorInfo(shape, 'float32', values);
      return { info, place: () => ({ array: values, offset: 0 }) };
    },
  };
}

export type BackendKind = 'wasm' | 'cpu';

type Factory = (addon: NativeAddon, kind: BackendKind, fallback: tf.KernelFunc) => tf.KernelFunc;

export function memoryFor(kind: BackendKind, backend: unknown): Memory {
  return kind === 'wasm' ? wasmMemory(backend as WasmBackendLike) : cpuMemory(backend as CpuBackendLike);
}

/**
 * BatchMatMul: a [..., M, K] (or [..., K, M] with transposeA) times b [..., K, N] (or [..., N, K]),
 * batch dimensions broadcast; the checks and output shape are tfjs's own.
 */
function batchMatMul(addon: NativeAddon, kind: BackendKind, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return fallback(args);
    const aRank = a.shape.length;
    const bRank = b.shape.length;
    const innerA = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
    const innerB = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
    const M = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
    const N = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const outOuter = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
    tf.util.assert(
      innerA === innerB,
      () =>
        `Error in matMul: inner shapes (${innerA}) and (${innerB}) of Tensors with shapes ${a.shape} and ${b.shape} and ` +
        `transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
    const K = innerA;
    const memory = memoryFor(kind, args.backend);
    const pa = memory.input(a);
    const pb = memory.input(b);
    if (pa === undefined || pb === undefined) return fallback(args);
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    const batch = tf.util.sizeFromShape(outOuter);
    const out = memory.output([...outOuter, M, N]);
    // Inputs are re-read after the allocation: it may have moved the wasm heap.
    const A = memory.input(a)!;
    const B = memory.input(b)!;
    const C = out.place();
    const sizeA = M * K;
    const sizeB = K * N;
    if (batch === 0 || M === 0 || N === 0) return out.info;
    if ((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1)) {
      const aStride = batchA === 1 ? 0 : sizeA;
      const bStride = batchB === 1 ? 0 : sizeB;
      if (batch > 1 && bStride === 0 && aStride !== 0 && !transposeA) {
        // One shared right-hand matrix: the batch of left-hand matrices is one tall matrix.
        addon.gemm(false, transposeB, batch * M, N, K, A.array, A.offset, 0, B.array, B.offset, 0, C.array, C.offset, 1, false);
      } else {
        addon.gemm(transposeA, transposeB, M, N, K, A.array, A.offset, aStride, B.array, B.offset, bStride, C.array, C.offset, batch, false);
      }
      return out.info;
    }
    // General broadcasting of the batch dimensions: one product per output batch.
    const rank = outOuter.length;
    const padA = [...new Array<number>(rank - outerA.length).fill(1), ...outerA];
    const padB = [...new Array<number>(rank - outerB.length).fill(1), ...outerB];
    const stridesA = tf.util.computeStrides(padA);
    const stridesB = tf.util.computeStrides(padB);
    const stridesOut = tf.util.computeStrides(outOuter);
    for (let i = 0; i < batch; i++) {
      let rest = i;
      let ia = 0;
      let ib = 0;
      for (let d = 0; d < rank; d++) {
        const s = d < rank - 1 ? stridesOut[d] : 1;
        const coord = Math.floor(rest / s);
        rest -= coord * s;
        if (padA[d] !== 1) ia += coord * (d < rank - 1 ? stridesA[d] : 1);
        if (padB[d] !== 1) ib += coord * (d < rank - 1 ? stridesB[d] : 1);
      }
      addon.gemm(transposeA, transposeB, M, N, K, A.array, A.offset + ia * sizeA, 0, B.array, B.offset + ib * sizeB, 0, C.array, C.offset + i * M * N, 1, false);
    }
    return out.info;
  };
}

const MAX_DIMS = 8;
const layout = new Float64Array(1 + 3 * MAX_DIMS);

/**
 * The broadcast of a and b to `out`, as few dimensions as possible: runs of dimensions where each
 * operand is either broadcast or not merge into one. Returns false past MAX_DIMS.
 */
function broadcastLayout(aShape: number[], bShape: number[], out: number[]): boolean {
  const rank = out.length;
  const dims: number[] = [];
  const aB: boolean[] = [];
  const bB: boolean[] = [];
  for (let d = 0; d < rank; d++) {
    const n = out[d];
    if (n === 1) continue;
    const ad = aShape[d - (rank - aShape.length)] ?? 1;
    const bd = bShape[d - (rank - bShape.length)] ?? 1;
    const ab = ad === 1;
    const bb = bd === 1;
    const last = dims.length - 1;
    if (last >= 0 && aB[last] === ab && bB[last] === bb) dims[last] *= n;
    else {
      dims.push(n);
      aB.push(ab);
      bB.push(bb);
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    aB.push(false);
    bB.push(false);
  }
  const nd = dims.length;
  if (nd > MAX_DIMS) return false;
  layout[0] = nd;
  let sa = 1;
  let sb = 1;
  for (let d = nd - 1; d >= 0; d--) {
    layout[1 + d] = dims[d];
    layout[1 + nd + d] = aB[d] ? 0 : sa;
    layout[1 + 2 * nd + d] = bB[d] ? 0 : sb;
    if (!aB[d]) sa *= dims[d];
    if (!bB[d]) sb *= dims[d];
  }
  return true;
}

/** Elementwise a op b with broadcasting, float32 only (tfjs's binary kernels' semantics). */
function binaryKernel(wasmOp: number, cpuOp = wasmOp): Factory {
  return (addon, kind, fallback) => (args: KernelArgs) => {
    const op = kind === 'wasm' ? wasmOp : cpuOp;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (!broadcastLayout(a.shape, b.shape, outShape)) return fallback(args);
    const memory = memoryFor(kind, args.backend);
    if (memory.input(a) === undefined || memory.input(b) === undefined) return fallback(args);
    // A gradient summed into the earlier one that nothing else holds: written in place, or already
    // added there by its op (accumulate.ts).
    const accumulation = op === BinaryOp.add ? takeAccumulation(a, b) : undefined;
    if (accumulation === 'done') return memory.share(a);
    if (accumulation === 'sum' && tf.util.arraysEqual(a.shape, outShape) && tf.util.arraysEqual(b.shape, outShape) && memory.refCount(a) === 1) {
      const A = memory.input(a)!;
      const B = memory.input(b)!;
      addon.binary(op, A.array, A.offset, B.array, B.offset, A.array, A.offset, layout);
      return memory.share(a);
    }
    const out = memory.output(outShape);
    if (tf.util.sizeFromShape(outShape) === 0) return out.info;
    const A = memory.input(a)!;
    const B = memory.input(b)!;
    const C = out.place();
    addon.binary(op, A.array, A.offset, B.array, B.offset, C.array, C.offset, layout);
    return out.info;
  };
}

/** Elementwise f(x), float32 only. */
function unaryKernel(op: number): Factory {
  return (addon, kind, fallback) => (args: KernelArgs) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32') return fallback(args);
    const memory = memoryFor(kind, args.backend);
    if (memory.input(x) === undefined) return fallback(args);
    const out = memory.output(x.shape);
    const n = tf.util.sizeFromShape(x.shape);
    if (n === 0) return out.info;
    const X = memory.input(x)!;
    const Y = out.place();
    addon.unary(op, X.array, X.offset, Y.array, Y.offset, n);
    return out.info;
  };
}

/**
 * Sum / Mean / Max / Min over axes, float32 only, where the axes reduced form one run of
 * dimensions (x viewed as [outer, r, inner]); other reductions go to tfjs's kernel, which
 * transposes first.
 */
function reduceKernel(op: number, axisAttr: 'axis' | 'reductionIndices'): Factory {
  return (addon, kind, fallback) => (args: KernelArgs) => {
    const { x } = args.inputs as { x: TensorInfo };
    const attrs = args.attrs as unknown as Record<string, number | number[]> & { keepDims: boolean };
    if (x.dtype !== 'float32') return fallback(args);
    const axes = tf.util.parseAxisParam(attrs[axisAttr], x.shape);
    if (axes.length === 0) return fallback(args);
    const reduced = new Set(axes);
    let outer = 1;
    let r = 1;
    let inner = 1;
    // Dimensions of size 1 fit anywhere; the others must read keep* reduce* keep*.
    let phase = 0;
    for (let d = 0; d < x.shape.length; d++) {
      const n = x.shape[d];
      if (n === 1) continue;
      if (reduced.has(d)) {
        if (phase === 2) return fallback(args);
        phase = 1;
        r *= n;
      } else if (phase === 0) outer *= n;
      else {
        phase = 2;
        inner *= n;
      }
    }
    const outShape = attrs.keepDims
      ? x.shape.map((n, d) => (reduced.has(d) ? 1 : n))
      : x.shape.filter((_, d) => !reduced.has(d));
    if (r === 0 || outer * inner === 0) return fallback(args);
    const memory = memoryFor(kind, args.backend);
    if (memory.input(x) === undefined) return fallback(args);
    const out = memory.output(outShape);
    const X = memory.input(x)!;
    const Y = out.place();
    addon.reduce(op, X.array, X.offset, Y.array, Y.offset, outer, r, inner);
    return out.info;
  };
}

/**
 * A strided copy's layout: dims of size 1 dropped, neighbours merged where both sides are
 * contiguous across them. Returns false past MAX_DIMS.
 */
function copyLayout(dims: number[], src: number[], dst: number[]): boolean {
  const d: number[] = [];
  const s: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const last = d.length - 1;
    if (last >= 0 && s[last] === src[i] * dims[i] && t[last] === dst[i] * dims[i]) {
      d[last] *= dims[i];
      s[last] = src[i];
      t[last] = dst[i];
    } else {
      d.push(dims[i]);
      s.push(src[i]);
      t.push(dst[i]);
    }
  }
  if (d.length === 0) {
    d.push(1);
    s.push(1);
    t.push(1);
  }
  const nd = d.length;
  if (nd > MAX_DIMS) return false;
  layout[0] = nd;
  for (let i = 0; i < nd; i++) {
    layout[1 + i] = d[i];
    layout[1 + nd + i] = s[i];
    layout[1 + 2 * nd + i] = t[i];
  }
  return true;
}

/** Row-major strides with a trailing 1: computeStrides leaves out the last dimension. */
function stridesOf(shape: number[]): number[] {
  return shape.length === 0 ? [] : [...tf.util.computeStrides(shape), 1];
}

/** Transpose by `perm`, float32 only. */
const transposeKernel: Factory = (addon, kind, fallback) => (args: KernelArgs) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { perm } = args.attrs as unknown as { perm: number[] };
  if (x.dtype !== 'float32' || perm.length !== x.shape.length) return fallback(args);
  const outShape = perm.map((p) => x.shape[p]);
  const xs = stridesOf(x.shape);
  if (!copyLayout(outShape, perm.map((p) => xs[p]), stridesOf(outShape))) return fallback(args);
  const memory = memoryFor(kind, args.backend);
  if (memory.input(x) === undefined) return fallback(args);
  const out = memory.output(outShape);
  if (tf.util.sizeFromShape(outShape) === 0) return out.info;
  const X = memory.input(x)!;
  const Y = out.place();
  addon.copy(X.array, X.offset, Y.array, Y.offset, layout);
  return out.info;
};

/** SplitV: pieces of x along an axis, float32 only. */
const splitKernel: Factory = (addon, kind, fallback) => (args: KernelArgs) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  if (x.dtype !== 'float32' || x.shape.length === 0) return fallback(args);
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const memory = memoryFor(kind, args.backend);
  if (memory.input(x) === undefined) return fallback(args);
  const xs = stridesOf(x.shape);
  const outs: TensorInfo[] = [];
  let begin = 0;
  for (const size of sizes) {
    const shape = [...x.shape];
    shape[ax] = size;
    const out = memory.output(shape);
    outs.push(out.info);
    if (tf.util.sizeFromShape(shape) > 0) {
      if (!copyLayout(shape, xs, stridesOf(shape))) throw new Error('SplitV: too many dimensions');
      const X = memory.input(x)!;
      const Y = out.place();
      addon.copy(X.array, X.offset + begin * xs[ax], Y.array, Y.offset, layout);
    }
    begin += size;
  }
  return outs;
};

/** Concat along an axis, float32 only. */
const concatKernel: Factory = (addon, kind, fallback) => (args: KernelArgs) => {
  const inputs = args.inputs as unknown as TensorInfo[];
  const { axis } = args.attrs as unknown as { axis: number };
  if (inputs.length === 0 || inputs.some((t) => t.dtype !== 'float32')) return fallback(args);
  const ax = tf.util.parseAxisParam(axis, inputs[0].shape)[0];
  const shapes = inputs.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, ax);
  const outShape = tf.backend_util.computeOutShape(shapes, ax);
  const memory = memoryFor(kind, args.backend);
  if (inputs.some((t) => memory.input(t) === undefined)) return fallback(args);
  const out = memory.output(outShape);
  const os = stridesOf(outShape);
  let begin = 0;
  for (const t of inputs) {
    if (tf.util.sizeFromShape(t.shape) > 0) {
      if (!copyLayout(t.shape, stridesOf(t.shape), os)) throw new Error('Concat: too many dimensions');
      const X = memory.input(t)!;
      const Y = out.place();
      addon.copy(X.array, X.offset, Y.array, Y.offset + begin * os[ax], layout);
    }
    begin += t.shape[ax];
  }
  return out.info;
};

/** Softmax over the last axis, float32 only. */
const softmaxKernel: Factory = (addon, kind, fallback) => (args: KernelArgs) => {
  const { logits } = args.inputs as { logits: TensorInfo };
  const { dim } = args.attrs as unknown as { dim: number };
  const rank = logits.shape.length;
  if (logits.dtype !== 'float32' || rank === 0 || (dim !== -1 && dim !== rank - 1)) return fallback(args);
  const cols = logits.shape[rank - 1];
  const n = tf.util.sizeFromShape(logits.shape);
  const memory = memoryFor(kind, args.backend);
  if (memory.input(logits) === undefined) return fallback(args);
  const out = memory.output([...logits.shape]);
  if (n === 0) return out.info;
  const X = memory.input(logits)!;
  const Y = out.place();
  addon.softmax(X.array, X.offset, Y.array, Y.offset, n / cols, cols);
  return out.info;
};

/**
 * GatherV2 of whole rows (axis 0, no batch dimensions) of a float32 table by int32 ids: a copy of
 * each row (the wasm backend's kernel walks element by element: 10 ms for GPT-2's 512 x 768
 * lookup). Out-of-range ids get tfjs's own error.
 */
const gatherRowsKernel: Factory = (_addon, kind, fallback) => (args: KernelArgs) => {
  const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
  if (x.dtype !== 'float32' || indices.dtype !== 'int32' || x.shape.length === 0 || batchDims !== 0) return fallback(args);
  if (tf.util.parseAxisParam(axis, x.shape)[0] !== 0) return fallback(args);
  const memory = memoryFor(kind, args.backend);
  if (memory.input(x) === undefined || memory.inputInt32(indices) === undefined) return fallback(args);
  const rows = x.shape[0];
  const width = tf.util.sizeFromShape(x.shape.slice(1));
  const count = tf.util.sizeFromShape(indices.shape);
  const ids = memory.inputInt32(indices)!;
  for (let i = 0; i < count; i++) {
    const id = ids.array[ids.offset + i];
    tf.util.assert(id >= 0 && id <= rows - 1, () => `GatherV2: the index value ${id} is not in [0, ${rows - 1}]`);
  }
  const out = memory.output([...indices.shape, ...x.shape.slice(1)]);
  const X = memory.input(x)!;
  const I = memory.inputInt32(indices)!;
  const Y = out.place();
  for (let i = 0; i < count; i++) {
    const from = X.offset + I.array[I.offset + i] * width;
    Y.array.set(X.array.subarray(from, from + width), Y.offset + i * width);
  }
  return out.info;
};

/** The wasm backend's Identity copies; tensors are immutable, so sharing the data is enough (as cpu does). */
const wasmIdentity: Factory = (_addon, kind, fallback) => (args: KernelArgs) => {
  const { x } = args.inputs as { x: TensorInfo };
  if (kind !== 'wasm' || x.dtype === 'string') return fallback(args);
  return shareData(args.backend as unknown as WasmBackendLike, x);
};

/** The kernels this module provides, by tfjs kernel name, and the backends they replace there. */
export const NATIVE_KERNELS: ReadonlyMap<string, { make: Factory; backends?: BackendKind[] }> = new Map<string, { make: Factory; backends?: BackendKind[] }>([
  [tf.BatchMatMul, { make: batchMatMul }],
  [tf.Add, { make: binaryKernel(BinaryOp.add) }],
  [tf.Sub, { make: binaryKernel(BinaryOp.sub) }],
  [tf.Multiply, { make: binaryKernel(BinaryOp.mul) }],
  [tf.RealDiv, { make: binaryKernel(BinaryOp.div) }],
  [tf.Pow, { make: binaryKernel(BinaryOp.pow) }],
  [tf.SquaredDifference, { make: binaryKernel(BinaryOp.squaredDifference, BinaryOp.squaredDifferenceF64) }],
  [tf.Maximum, { make: binaryKernel(BinaryOp.maximum) }],
  [tf.Minimum, { make: binaryKernel(BinaryOp.minimum) }],
  [tf.Tanh, { make: unaryKernel(UnaryOp.tanh) }],
  [tf.Exp, { make: unaryKernel(UnaryOp.exp) }],
  [tf.Log, { make: unaryKernel(UnaryOp.log) }],
  [tf.Sqrt, { make: unaryKernel(UnaryOp.sqrt) }],
  [tf.Rsqrt, { make: unaryKernel(UnaryOp.rsqrt) }],
  [tf.Square, { make: unaryKernel(UnaryOp.square) }],
  [tf.Neg, { make: unaryKernel(UnaryOp.neg) }],
  [tf.Abs, { make: unaryKernel(UnaryOp.abs) }],
  [tf.Sigmoid, { make: unaryKernel(UnaryOp.sigmoid) }],
  [tf.Reciprocal, { make: unaryKernel(UnaryOp.reciprocal) }],
  [tf.Sum, { make: reduceKernel(ReduceOp.sum, 'axis') }],
  [tf.Mean, { make: reduceKernel(ReduceOp.mean, 'axis') }],
  [tf.Max, { make: reduceKernel(ReduceOp.max, 'reductionIndices') }],
  [tf.Min, { make: reduceKernel(ReduceOp.min, 'axis') }],
  [tf.Transpose, { make: transposeKernel }],
  [tf.SplitV, { make: splitKernel }],
  [tf.Concat, { make: concatKernel }],
  [tf.Softmax, { make: softmaxKernel }],
  [tf.GatherV2, { make: gatherRowsKernel }],
  [tf.Identity, { make: wasmIdentity, backends: ['wasm'] }],
]);
