/**
 * Chooses the tfjs backend. The native bindings (@tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node)
 * download libtensorflow at install time, so they are optional dependencies detected here at run
 * time; wasm ships its binary inside its package and always works; cpu is plain JavaScript.
 */
import * as tf from './tf.js';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { InherituneError } from './errors.js';
import { installNativeKernels } from './native/index.js';
import { BACKENDS, type BackendChoice } from '../protocol/config.js';

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
  /** Told why `auto` chose what it did, when that is not the usual choice. */
  onNotice?: (line: string) => void;
}

/** Activates the requested backend and returns the name tfjs reports for it. */
export async function initBackend(requested: BackendChoice, opts: BackendOptions = {}): Promise<string> {
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
