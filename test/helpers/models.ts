/** Tiny GPT-2 shapes for tests: fast to build, save and train. */
import type { GPT2Config } from '../../server/engine/gpt2Config.js';

/** 2 layers, d 16, 2 heads, vocabulary 64, context 16, biases, tied head; nInner = 4d unless given. */
export function tinyGPT2(over: Partial<GPT2Config> = {}): GPT2Config {
  const nEmbd = over.nEmbd ?? 16;
  return {
    family: 'gpt2',
    vocabSize: 64,
    nPositions: 16,
    nEmbd,
    nLayer: 2,
    nHead: 2,
    nInner: 4 * nEmbd,
    layerNormEpsilon: 1e-5,
    bias: true,
    scaleAttnByInverseLayerIdx: false,
    tieWordEmbeddings: true,
    ...over,
  };
}
