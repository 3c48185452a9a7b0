/**
 * Checks each GPU program's tensors against the device's binding limit before it is dispatched:
 * a tensor larger than maxStorageBufferBindingSize cannot be bound to a shader, and WebGPU would
 * only log a validation error and compute garbage. Refused here with the op, the shape and the limit.
 */
import { InherituneError } from '../errors.js';
import type { AdapterSummary } from './device.js';

/** What tfjs-webgpu's programs carry that names them. */
export interface ProgramLike {
  outputShape: number[];
  shaderKey?: string;
  constructor: { name: string };
}

interface TensorLike {
  shape: number[];
  dtype: string;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 4 };

/** The op's name: tfjs's program class without its "Program" suffix (e.g. MatMulPacked). */
export function opName(program: ProgramLike): string {
  return program.constructor.name.replace(/Program$/, '') || 'webgpu program';
}

function bytes(shape: number[], dtype: string): number {
  return shape.reduce((n, d) => n * d, 1) * (BYTES[dtype] ?? 4);
}

/** Returns the op's name; throws naming op, shape and limit when a tensor exceeds the binding limit. */
export function guardProgram(program: ProgramLike, inputs: TensorLike[], limits: Pick<AdapterSummary, 'maxStorageBufferBindingSize'>): string {
  const op = opName(program);
  const limit = limits.maxStorageBufferBindingSize;
  const tensors = [...inputs, { shape: program.outputShape, dtype: 'float32' }];
  for (const t of tensors) {
    const n = bytes(t.shape, t.dtype);
    if (n > limit) {
      throw new InherituneError(
        'webgpu',
        `${op}: a tensor of shape [${t.shape.join(', ')}] (${(n / 2 ** 20).toFixed(1)} MiB) exceeds this adapter's maxStorageBufferBindingSize (${(limit / 2 ** 20).toFixed(0)} MiB); use a smaller vocabulary or width, or --backend cpu`,
      );
    }
  }
  return op;
}
