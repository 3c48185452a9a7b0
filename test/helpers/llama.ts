/** Tiny LLaMA shapes for tests, and model folders with distinctive weights. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { saveModelDir, type SaveOptions } from '../../server/engine/hfCheckpoint.js';
import type { LlamaConfig } from '../../server/engine/llamaConfig.js';
import { initWeightsOf, type HostTensor, type ModelConfig } from '../../server/engine/modelFamily.js';

export const LLAMA_TOKENIZER_DIR = path.resolve(__dirname, '..', 'fixtures', 'llama', 'tokenizer');

/** 3 layers, d 16, 4 heads of 4 over 2 key/value heads, MLP 24, vocabulary 320, context 64, untied head. */
export function tinyLlama(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    family: 'llama',
    vocabSize: 320,
    nPositions: 64,
    nEmbd: 16,
    nLayer: 3,
    nHead: 4,
    nKvHead: 2,
    headDim: 4,
    nInner: 24,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    qkvBias: false,
    tieWordEmbeddings: false,
    bosTokenId: 1,
    eosTokenId: 2,
    ...over,
  };
}

/** Weights unlike a fresh init everywhere (norm gains too), so a misplaced tensor cannot pass. */
export function distinctWeights(cfg: ModelConfig, seed = 1): Map<string, HostTensor> {
  const w = initWeightsOf(cfg, seed);
  let s = seed * 7919 + 17;
  for (const t of w.values()) for (let i = 0; i < t.data.length; i++) t.data[i] = 2.5 * t.data[i] + 0.05 + ((s = (s * 48271) % 2147483647) / 2147483647 - 0.5) * 0.2;
  return w;
}

/** A LLaMA model folder (with the fixture tokenizer.json when asked). */
export function writeLlama(dir: string, cfg: LlamaConfig, seed = 1, opts: SaveOptions & { tokenizer?: boolean } = {}): Map<string, HostTensor> {
  const w = distinctWeights(cfg, seed);
  saveModelDir(dir, cfg, w, opts);
  if (opts.tokenizer) {
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(LLAMA_TOKENIZER_DIR, f), path.join(dir, f));
  }
  return w;
}
