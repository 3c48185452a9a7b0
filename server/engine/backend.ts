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

// PROD silences tfjs's console advice to install tfjs-node: we report the backend ourselves.
tf.env().set('PROD', true);

export const BACKEND_NAMES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

/** Loads the first native binding that is installed and working; its import registers 'tensorflow'. */
function loadNativeBinding(): string | undefined {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
      if (tf.findBackend('tensorflow') !== undefined) return pkg;
    } catch {
      // Not installed, or libtensorflow missing: try the next one.
    }
  }
  return undefined;
}

/** Activates the requested backend and returns the name tfjs reports for it. */
export async function initBackend(requested: BackendName): Promise<string> {
  let name: string = requested;
  if (requested === 'auto' || requested === 'tensorflow') {
    const binding = loadNativeBinding();
    if (binding !== undefined) name = 'tensorflow';
    else if (requested === 'tensorflow') {
      throw new InherituneError(
        'backend',
        'tensorflow was requested but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed and loadable; use --backend wasm or cpu',
      );
    } else name = 'wasm';
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
