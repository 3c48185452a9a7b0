/**
 * What a reference model directory is (family, shape, parameters, how its weights are stored), read
 * from config.json and the safetensors headers only. The config checks, the language server, the
 * sidebar and the run all show this one description, so every family's folders read alike everywhere.
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

/**
 * A stamp of what a model folder's description is read from (the folder, config.json, the weights or
 * their index): readers that cache a ReferenceInfo read it again only when the stamp changes.
 */
export function modelDirStamp(dir: string): string {
  return ['', 'config.json', 'model.safetensors', 'model.safetensors.index.json'].map((f) => statStamp(path.join(dir, f))).join('|');
}

/** mtime, size and kind of `p` ('-' when it is missing). */
export function statStamp(p: string): string {
  try {
    const st = fs.statSync(p);
    return `${st.mtimeMs}:${st.size}:${st.isDirectory() ? 'd' : 'f'}`;
  } catch {
    return '-';
  }
}
