/**
 * Chooses the tfjs backend. The native bindings (@tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node)
 * download libtensorflow at install time, so they are optional dependencies detected here at run
 * time; wasm ships its binary inside its package and always works; cpu is plain JavaScript; webgpu
 * (optional packages: Dawn's bindings and tfjs's backend) runs on the GPU through Vulkan/Metal/D3D12.
 */
import * as tf from './tf.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { InherituneError } from './errors.js';
import { installNativeKernels } from './native/index.js';
import { BACKENDS, WEBGPU_ADAPTER_LINE, type BackendChoice } from '../protocol/config.js';
import { adapterFromChild, describeAdapter, findAdapter, NO_ADAPTER, registerWebGPU, type AdapterSummary, type OpenAdapter } from './webgpu/device.js';
import { DEFAULT_MATMULS, probeCacheFile, readProbeCache, timeMatmuls, webgpuVerdict, writeProbeCache, type MatmulShape } from './webgpu/probe.js';

// PROD silences tfjs's console advice to install tfjs-node: we report the backend ourselves.
tf.env().set('PROD', true);

// The names are the run config's (runtime.backend), defined once in the protocol.
export { BACKENDS as BACKEND_NAMES, type BackendChoice as BackendName };

export function isBackendName(value: string): value is BackendChoice {
  return (BACKENDS as readonly string[]).includes(value);
}

/** Loads the first native binding that is installed and working; its import registers 'tensorflow'. */
function loadNativeBinding(): string | undefined {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
      if (tf.findBackend('tensorflow') != null) return pkg;
    } catch {
      // Not installed, or libtensorflow missing: try the next one.
    }
  }
  return undefined;
}

/** The wasm backend's heap is 32-bit: 4 GiB, of which tensors can take about 90%. */
const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * What `auto` picks without a native binding: wasm, or cpu (whose tensors live outside any fixed
 * heap) when the work is estimated to need more than wasm's heap holds.
 */
export function autoFallback(needBytes?: number): { name: 'wasm' | 'cpu'; why?: string } {
  if (needBytes === undefined || needBytes <= 0.9 * WASM_HEAP_BYTES) return { name: 'wasm' };
  return { name: 'cpu', why: `wasm's 4 GiB heap cannot hold this work (about ${(needBytes / 2 ** 30).toFixed(1)} GiB), so cpu` };
}

export interface BackendOptions {
  /** Estimated peak bytes of the work (tensors): lets `auto` avoid a backend too small for it. */
  needBytes?: number;
  /** Told why `auto` chose what it did, when that is not the usual choice, and which GPU adapter. */
  onNotice?: (line: string) => void;
  /** The run's matrix products, which `auto` times on a GPU adapter against the CPU path. */
  matmuls?: MatmulShape[];
}

let webgpuAdapter: OpenAdapter | undefined;

/** The GPU adapter the webgpu backend runs on, described (vendor, architecture, limits); undefined before it is used. */
export function webgpuAdapterDescription(): string | undefined {
  return webgpuAdapter && describeAdapter(webgpuAdapter.summary);
}

async function useWebGPU(open: OpenAdapter): Promise<void> {
  // One device per process: registered on first use, reused by later calls (tests switch backends).
  if (webgpuAdapter === undefined) {
    await registerWebGPU(open);
    webgpuAdapter = open;
  }
  const ok = await tf.setBackend('webgpu');
  if (!ok) throw new InherituneError('backend', `the webgpu backend failed to initialise on ${describeAdapter(open.summary)}`);
}

/** `--backend webgpu`: any adapter, a software one included, or one error saying why there is none. */
async function explicitWebGPU(onNotice?: (line: string) => void): Promise<void> {
  const open = await findAdapter();
  if ('unavailable' in open) throw new InherituneError('backend', `webgpu: ${open.unavailable}`);
  await useWebGPU(open);
  onNotice?.(`${WEBGPU_ADAPTER_LINE}${describeAdapter(open.summary)}`);
}

/** The notice of an adapter `auto` does not use. */
function notUsed(cpuPath: string, why: string, adapter: AdapterSummary): string {
  return `webgpu not used (${cpuPath} instead): ${why}; adapter: ${describeAdapter(adapter)}`;
}

/**
 * `auto` without a native binding: webgpu when a hardware adapter beats the CPU path (`cpuPath`, set
 * active first and timed on the same products), else the CPU path. Every outcome is one notice line.
 */
async function autoWebGPU(cpuPath: string, opts: BackendOptions): Promise<boolean> {
  // No adapter, or a software one, is told by a child process: Dawn is not loaded here for nothing.
  const seen = await adapterFromChild();
  if (seen === 'none') {
    opts.onNotice?.(`webgpu not used: ${NO_ADAPTER}`);
    return false;
  }
  if (seen?.fallback) {
    opts.onNotice?.(notUsed(cpuPath, webgpuVerdict(seen, undefined, undefined).why, seen));
    return false;
  }
  const open = await findAdapter();
  if ('unavailable' in open) {
    opts.onNotice?.(`webgpu not used: ${open.unavailable}`);
    return false;
  }
  const shapes = opts.matmuls ?? DEFAULT_MATMULS;
  const cacheFile = probeCacheFile();
  let times = open.summary.fallback ? undefined : readProbeCache(cacheFile, open.summary, shapes);
  let probeError: string | undefined;
  if (!open.summary.fallback && times === undefined) {
    try {
      const cpuSeconds = await timeMatmuls(shapes);
      await useWebGPU(open);
      const gpuSeconds = await timeMatmuls(shapes);
      times = { gpuSeconds, cpuSeconds };
      writeProbeCache(cacheFile, open.summary, shapes, times);
    } catch (e) {
      probeError = (e as Error).message;
    }
  }
  const verdict = webgpuVerdict(open.summary, times, probeError);
  if (verdict.use) {
    await useWebGPU(open);
    opts.onNotice?.(`${WEBGPU_ADAPTER_LINE}${describeAdapter(open.summary)}; chosen: ${verdict.why}`);
  } else {
    opts.onNotice?.(notUsed(cpuPath, verdict.why, open.summary));
    await tf.setBackend(cpuPath);
  }
  return verdict.use;
}

/** Activates the requested backend and returns the name tfjs reports for it. */
export async function initBackend(requested: BackendChoice, opts: BackendOptions = {}): Promise<string> {
  if (requested === 'webgpu') {
    await explicitWebGPU(opts.onNotice);
    await tf.ready();
    return tf.getBackend();
  }
  let name: string = requested;
  if (requested === 'auto' || requested === 'tensorflow') {
    const binding = loadNativeBinding();
    if (binding !== undefined) name = 'tensorflow';
    else if (requested === 'tensorflow') {
      throw new InherituneError(
        'backend',
        'tensorflow was requested but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed and loadable; use --backend wasm or cpu',
      );
    } else {
      const fallback = autoFallback(opts.needBytes);
      name = fallback.name;
      if (fallback.why) opts.onNotice?.(fallback.why);
      // The CPU path, with its native kernels, is what the GPU must beat.
      if (tf.getBackend() !== name) await tf.setBackend(name);
      installNativeKernels({ backend: name });
      if (await autoWebGPU(name, opts)) return tf.getBackend();
    }
  }
  if (tf.getBackend() !== name || !(await tf.ready().then(() => true))) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new InherituneError('backend', `the ${name} backend failed to initialise`);
  }
  await tf.ready();
  // Native BLAS-backed kernels under wasm and cpu; a one-line notice where the addon cannot load.
  installNativeKernels({ backend: tf.getBackend() });
  return tf.getBackend();
}
