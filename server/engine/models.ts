/** Builds any family's model in tfjs variables from host tensors (what training and evaluation use). */
import { GPT2 } from './gpt2.js';
import { Llama } from './llama.js';
import { isRotary, type HostTensor, type LanguageModel, type ModelConfig } from './modelFamily.js';

/** The family's decoder (its table row's `decoder`): the rotary one, or GPT-2's. */
export function createModel(config: ModelConfig, weights: Map<string, HostTensor>): LanguageModel {
  return isRotary(config) ? new Llama(config, weights) : new GPT2(config, weights);
}
