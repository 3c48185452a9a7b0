/**
 * The WebGPU device behind tfjs's webgpu backend, in Node: Dawn's bindings (the optional `webgpu`
 * package) provide `navigator.gpu`, and the backend (the optional @tensorflow/tfjs-backend-webgpu) is
 * registered with a device we create ourselves, so that it gets the adapter's real limits, so that
 * every GPU error is thrown naming the op, and so that it is destroyed at exit (the process ends).
 */
import * as tf from '../tf.js';
import { InherituneError } from '../errors.js';
import { guardProgram, type ProgramLike } from './guard.js';

/** What we show and decide on about an adapter. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** A software or fallback adapter (lavapipe, SwiftShader): slower than the CPU path. */
  fallback: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxStorageBuffersPerShaderStage: number;
}

export function describeAdapter(a: AdapterSummary): string {
  const mib = (n: number) => `${Math.floor(n / 2 ** 20)} MiB`;
  const name = [a.vendor, a.architecture, a.description].filter((s) => s !== '').join(' / ') || 'unnamed adapter';
  return `${name}${a.fallback ? ' (software)' : ''}; limits: storage binding ${mib(a.maxStorageBufferBindingSize)}, buffer ${mib(a.maxBufferSize)}, ${a.maxStorageBuffersPerShaderStage} storage buffers per stage`;
}

/** The loaded optional packages; absent when either fails to load. */
interface WebGPUModules {
  gpu: GPU;
  Backend: new (device: GPUDevice, info: GPUAdapterInfo) => tf.KernelBackend & { runWebGPUProgram: (...args: never[]) => unknown };
}

let modules: Promise<WebGPUModules | { unavailable: string }> | undefined;

/** Loads Dawn and the tfjs backend once; says why not when they cannot load here. */
function loadModules(): Promise<WebGPUModules | { unavailable: string }> {
  modules ??= (async () => {
    try {
      const dawn = (await import('webgpu')) as { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
      // tfjs uses the WebGPU constants (GPUBufferUsage, ...) as globals and looks for navigator.gpu.
      Object.assign(globalThis, dawn.globals);
      const gpu = dawn.create([]);
      const nav = (globalThis as { navigator?: object }).navigator;
      if (nav === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
      else Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
      const pkg = (await import('@tensorflow/tfjs-backend-webgpu')) as { WebGPUBackend: WebGPUModules['Backend'] };
      // The package registers a backend of its own device when navigator.gpu exists; ours replaces it.
      if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
      return { gpu, Backend: pkg.WebGPUBackend };
    } catch (e) {
      return { unavailable: `the optional packages webgpu / @tensorflow/tfjs-backend-webgpu cannot load here (${(e as Error).message.split('\n')[0]})` };
    }
  })();
  return modules;
}

export interface OpenAdapter {
  adapter: GPUAdapter;
  summary: AdapterSummary;
}

/** The high-performance adapter, or why there is none. */
export async function findAdapter(): Promise<OpenAdapter | { unavailable: string }> {
  const m = await loadModules();
  if ('unavailable' in m) return m;
  const adapter = await m.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) return { unavailable: 'no WebGPU adapter found (no Vulkan/Metal/D3D12 driver; on Debian/Ubuntu see the README for Mesa >= 25)' };
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const software = info.isFallbackAdapter === true || /software|cpu|llvmpipe|swiftshader/i.test(`${info.architecture} ${info.description}`);
  const l = adapter.limits;
  return {
    adapter,
    summary: {
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      fallback: software,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  };
}

/** The GPU error not yet thrown (errors arrive asynchronously: the next op or read throws it). */
let pendingError: InherituneError | undefined;

/** Throws the first GPU error reported since the last call, naming the op that caused it. */
function throwPendingGpuError(): void {
  const e = pendingError;
  pendingError = undefined;
  if (e !== undefined) throw e;
}

function record(op: string, message: string): void {
  pendingError ??= new InherituneError('webgpu', `${op}: ${message.trim().split('\n')[0]}`);
}

/**
 * Creates the device with the adapter's own limits (the defaults are far lower: 128 MiB bindings,
 * 8 storage buffers per stage) and registers tfjs's 'webgpu' backend on it.
 */
export async function registerWebGPU(open: OpenAdapter): Promise<void> {
  const m = await loadModules();
  if ('unavailable' in m) throw new InherituneError('backend', m.unavailable);
  const { adapter, summary } = open;
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  });
  let lastOp = 'webgpu';
  device.addEventListener('uncapturederror', (ev) => record(`after ${lastOp}`, (ev as GPUUncapturedErrorEvent).error.message));
  void device.lost.then((info) => {
    if (info.reason !== 'destroyed') record(`after ${lastOp}`, `the GPU device was lost: ${info.message}`);
  });
  // At exit the device goes, or Dawn's threads keep the process alive.
  process.once('exit', () => device.destroy());

  const backend = new m.Backend(device, adapter.info);
  const run = backend.runWebGPUProgram.bind(backend) as (program: ProgramLike, inputs: tf.TensorInfo[], ...rest: unknown[]) => tf.TensorInfo;
  (backend as unknown as { runWebGPUProgram: typeof run }).runWebGPUProgram = (program, inputs, ...rest) => {
    throwPendingGpuError();
    lastOp = guardProgram(program, inputs, summary);
    device.pushErrorScope('validation');
    try {
      return run(program, inputs, ...rest);
    } finally {
      const op = lastOp;
      void device.popErrorScope().then((err) => {
        if (err !== null) record(op, err.message);
      });
    }
  };
  // Every read (the end of a step, an evaluation) throws what the device reported meanwhile.
  const read = backend.read.bind(backend);
  backend.read = async (dataId) => {
    const values = await read(dataId);
    throwPendingGpuError();
    return values;
  };
  tf.registerBackend('webgpu', () => backend);
}
