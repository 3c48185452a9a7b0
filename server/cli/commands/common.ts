/** Steps shared by commands: choosing the backend, loading a model, loading token data. */
import { initBackend, type BackendName } from '../../engine/backend.js';
import { GPT2 } from '../../engine/gpt2.js';
import { loadGPT2 } from '../../engine/hfCheckpoint.js';
import { loadTokens } from '../../engine/data/tokens.js';
import type { TokenizerName } from '../../engine/data/tokenizer.js';

export async function useBackend(name: BackendName, quiet: boolean): Promise<string> {
  const backend = await initBackend(name);
  if (!quiet) process.stderr.write(`backend: ${backend}\n`);
  return backend;
}

export function loadModel(dir: string): GPT2 {
  const { config, tensors } = loadGPT2(dir);
  return new GPT2(config, tensors);
}

export async function loadData(
  file: string,
  tokenizer: TokenizerName,
  vocabSize: number,
  minTokens: number,
): Promise<ArrayLike<number>> {
  return loadTokens(file, { tokenizer, vocabSize, minTokens });
}
