/**
 * What a reference model directory is (family, shape, parameters, how its weights are stored), read
 * from config.json and the safetensors headers only. The config checks, the language server, the
 * sidebar and the run all show this one description, so GPT-2 and LLaMA folders read alike everywhere.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ReferenceInfo } from '../protocol/config.js';
import { ModelDir, TOKENIZER_FILE } from './hfCheckpoint.js';
import { modelShapeOf, type ModelConfig } from './modelFamily.js';

export function referenceInfo(model: ModelDir): ReferenceInfo {
  const storage = model.storage();
  return {
    path: path.resolve(model.dir),
    ...modelShapeOf(model.config),
    weightBytes: Object.values(storage).reduce((a, b) => a + (b ?? 0), 0),
    weightDtype: Object.keys(storage).sort().join('+'),
    hasTokenizer: fs.existsSync(path.join(model.dir, TOKENIZER_FILE)),
  };
}

/** Opens the model directory, reads its ReferenceInfo and config, and closes it. */
export function readReferenceInfo(dir: string): { info: ReferenceInfo; config: ModelConfig } {
  const model = ModelDir.open(dir);
  try {
    return { info: referenceInfo(model), config: model.config };
  } finally {
    model.close();
  }
}
