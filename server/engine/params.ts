/** Trainable parameters from host weights, shared by every model family. */
import * as tf from './tf.js';
import type { HostTensor, TensorShapes } from './familyOps.js';
import { InherituneError } from './errors.js';

/** One tf.Variable per expected tensor, in `expected` order; any missing, extra or misshapen tensor is an error. */
export function createParams(expected: TensorShapes, weights: Map<string, HostTensor>): Map<string, tf.Variable> {
  for (const name of weights.keys()) {
    if (!expected.has(name)) throw new InherituneError('model', `unexpected tensor "${name}"`);
  }
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of expected) {
    const w = weights.get(name);
    if (w === undefined) throw new InherituneError('model', `missing tensor "${name}"`);
    if (w.shape.join(',') !== shape.join(',')) {
      throw new InherituneError('model', `tensor "${name}" has shape [${w.shape}], expected [${shape}]`);
    }
    const initial = tf.tensor(w.data, shape, 'float32');
    params.set(name, tf.variable(initial, true));
    initial.dispose();
  }
  return params;
}

/** Copies every parameter to the host, in the map's (checkpoint) order; asynchronous, as a GPU's reads are. */
export async function paramsToHost(params: Map<string, tf.Variable>): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, v] of params) out.set(name, { shape: [...v.shape], data: new Float32Array(await v.data()) });
  return out;
}

export function disposeParams(params: Map<string, tf.Variable>): void {
  for (const v of params.values()) v.dispose();
}
