/**
 * Growing a trained target in "continue" mode: keep every trained tensor (blocks 0..n-1, embeddings,
 * final norm) and append the reference's blocks n..m-1 as they are. ("restart" mode needs no code of
 * its own: it inherits the reference's first m blocks afresh.)
 */
import { InherituneError } from '../errors.js';
import { ModelDir } from '../hfCheckpoint.js';
import { blockIndexOf, shapesOf, type HostTensor, type ModelConfig } from '../modelFamily.js';

export interface GrownModel {
  config: ModelConfig;
  tensors: Map<string, HostTensor>;
  /** Names of the tensors taken from the reference (the appended blocks). */
  fromReference: string[];
}

export function growFromReference(trained: { config: ModelConfig; tensors: Map<string, HostTensor> }, referenceDir: string, layers: number): GrownModel {
  const n = trained.config.nLayer;
  const ref = ModelDir.open(referenceDir, { layers });
  try {
    if (layers <= n || layers > ref.config.nLayer) {
      throw new InherituneError('grow', `cannot grow a ${n}-layer model to ${layers} layers from a ${ref.config.nLayer}-layer reference (${referenceDir})`);
    }
    const config: ModelConfig = { ...trained.config, nLayer: layers };
    const tensors = new Map<string, HostTensor>();
    const fromReference: string[] = [];
    for (const [name, shape] of shapesOf(config)) {
      const block = blockIndexOf(config, name);
      if (block !== undefined && block >= n) {
        tensors.set(name, { shape, data: ref.read(name) });
        fromReference.push(name);
      } else {
        const t = trained.tensors.get(name);
        if (!t) throw new InherituneError('grow', `the trained model lacks tensor "${name}"`);
        tensors.set(name, t);
      }
    }
    return { config, tensors, fromReference };
  } finally {
    ref.close();
  }
}
