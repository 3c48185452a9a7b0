/**
 * The WebGPU device behind tfjs's webgpu backend, in Node: Dawn's bindings (the optional `webgpu`
 * package) provide `navigator.gpu`, and the backend (the optional @tensorflow/tfjs-backend-webgpu) is
 * registered with a device we create ourselves, so that it gets the adapter's real limits, so that
 * every GPU error is thrown naming the op, and so that it is destroyed at exit (the process ends).
 */
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
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

/** What WebGPU reports of an adapter that a summary is made of. */
interface AdapterFacts {
  info: { vendor: string; architecture: string; description: string; isFallbackAdapter?: boolean };
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxStorageBuffersPerShaderStage: number };
}

function summarize({ info, limits: l }: AdapterFacts): AdapterSummary {
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    fallback: info.isFallbackAdapter === true || /software|cpu|llvmpipe|swiftshader/i.test(`${info.architecture} ${info.description}`),
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}

/** The child's line: the adapter's facts, or null for none. */
function parseFacts(line: string): AdapterFacts | null | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    if (v === null) return null;
    const { info, limits } = (v ?? {}) as { info?: Record<string, unknown>; limits?: Record<string, unknown> };
    if (info === undefined || limits === undefined) return undefined;
    const strings = ['vendor', 'architecture', 'description'].every((k) => typeof info[k] === 'string');
    const numbers = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage'].every((k) => typeof limits[k] === 'number');
    if (!strings || !numbers || !['boolean', 'undefined'].includes(typeof info.isFallbackAdapter)) return undefined;
    return { info, limits } as unknown as AdapterFacts;
  } catch {
    return undefined;
  }
}

/** Run by a child process: Dawn's high-performance adapter, as one JSON line (null: none). */
const CHILD_SCRIPT = `
const gpu = (await import(process.argv[1])).create([]);
const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
const l = a?.limits;
process.stdout.write(JSON.stringify(a === null ? null : {
  info: { vendor: a.info.vendor, architecture: a.info.architecture, description: a.info.description, isFallbackAdapter: a.info.isFallbackAdapter },
  limits: { maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize, maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage },
}) + '\\n');
process.exit(0);
`;

/**
 * The adapter findAdapter would open, looked at from a child process: loading Dawn and a software
 * Vulkan driver (lavapipe's LLVM) adds some 110 MB to a process's peak RSS, which `auto` spends for
 * nothing on a software adapter. A summary, `none`, or undefined when the child cannot tell (then
 * the caller looks in this process).
 */
export function adapterFromChild(): Promise<AdapterSummary | 'none' | undefined> {
  let entry: string;
  try {
    entry = require.resolve('webgpu');
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT, pathToFileURL(entry).href], { timeout: 60_000, encoding: 'utf8' }, (err, stdout) => {
      const facts = err ? undefined : parseFacts(stdout.trim().split('\n').pop() ?? '');
      resolve(facts === undefined ? undefined : facts === null ? 'none' : summarize(facts));
    });
  });
}

export const NO_ADAPTER = 'no WebGPU adapter found (no Vulkan/Metal/D3D12 driver; on Debian/Ubuntu see the README for Mesa >= 25)';

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
  if (adapter === null) return { unavailable: NO_ADAPTER };
  return { adapter, summary: summarize({ info: adapter.info as AdapterFacts['info'], limits: adapter.limits }) };
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
