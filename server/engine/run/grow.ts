/**
 * Growing a trained target in "continue" mode: keep every trained tensor (blocks 0..n-1, embeddings,
 * final norm) and append the reference's blocks n..m-1 as they are. ("restart" mode needs no code of
 * its own: it inherits the reference's first m blocks afresh.)
 */
import type { GPT2Config, HostTensor } from '../gpt2Config.js';
import { modelShapes } from '../gpt2Config.js';
import { InherituneError } from '../errors.js';
import { ModelDir } from '../hfCheckpoint.js';

export interface GrownModel {
  config: GPT2Config;
  tensors: Map<string, HostTensor>;
  /** Names of the tensors taken from the reference (the appended blocks). */
  fromReference: string[];
}

const blockIndex = (name: string): number | undefined => {
  const m = /^h\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
};

export function growFromReference(trained: { config: GPT2Config; tensors: Map<string, HostTensor> }, referenceDir: string, layers: number): GrownModel {
  const n = trained.config.nLayer;
  const ref = ModelDir.open(referenceDir, { layers });
  try {
    if (layers <= n || layers > ref.config.nLayer) {
      throw new InherituneError('grow', `cannot grow a ${n}-layer model to ${layers} layers from a ${ref.config.nLayer}-layer reference (${referenceDir})`);
    }
    const config: GPT2Config = { ...trained.config, nLayer: layers };
    const tensors = new Map<string, HostTensor>();
    const fromReference: string[] = [];
    for (const [name, shape] of modelShapes(config)) {
      const block = blockIndex(name);
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
