/** Builds either family's model in tfjs variables from host tensors (what training and evaluation use). */
import { GPT2 } from './gpt2.js';
import { Llama } from './llama.js';
import { isLlama, type HostTensor, type LanguageModel, type ModelConfig } from './modelFamily.js';

export function createModel(config: ModelConfig, weights: Map<string, HostTensor>): LanguageModel {
  return isLlama(config) ? new Llama(config, weights) : new GPT2(config, weights);
}
