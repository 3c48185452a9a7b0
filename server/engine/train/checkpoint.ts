/**
 * Training checkpoints: a folder that is at once an HF-style model directory (config.json +
 * model.safetensors, so `inheritune eval` reads it) and the rest of the training state:
 * optimizer.safetensors (AdamW moments `m.<param>`, `v.<param>`) and trainer.json (step, data
 * position, update count, training settings). Written atomically as a whole folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from '../errors.js';
import { writeDirAtomic } from '../fsAtomic.js';
import { assertReplaceable, CHECKPOINT_FORMAT } from '../outputFolder.js';
import { configToHF, loadModelDir } from '../hfCheckpoint.js';
import type { HostTensor, ModelConfig } from '../modelFamily.js';
import { SafetensorsReader, writeSafetensors } from '../safetensors.js';
import type { AdamWState } from './adamw.js';

export interface TrainingCheckpoint {
  config: ModelConfig;
  weights: Map<string, HostTensor>;
  optimizer: AdamWState;
  /** Optimizer steps completed. */
  step: number;
  /** Windows drawn from the training data so far. */
  dataPosition: number;
  /** The training settings in force, kept for the record and for resuming with the same ones. */
  train: unknown;
}

const STATE_FILE = 'trainer.json';

export function writeTrainingCheckpoint(dir: string, c: TrainingCheckpoint): void {
  writeDirAtomic(dir, (tmp) => {
    fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify(configToHF(c.config), null, 2));
    writeSafetensors(path.join(tmp, 'model.safetensors'), c.weights, { format: 'pt' });
    const moments: [string, HostTensor][] = [];
    for (const [name, t] of c.optimizer.m) moments.push([`m.${name}`, t]);
    for (const [name, t] of c.optimizer.v) moments.push([`v.${name}`, t]);
    writeSafetensors(path.join(tmp, 'optimizer.safetensors'), moments);
    const state = { format: CHECKPOINT_FORMAT, step: c.step, dataPosition: c.dataPosition, optimizerUpdates: c.optimizer.t, train: c.train };
    fs.writeFileSync(path.join(tmp, STATE_FILE), JSON.stringify(state, null, 2));
  }, assertReplaceable);
}

export function isTrainingCheckpoint(dir: string): boolean {
  return fs.existsSync(path.join(dir, STATE_FILE));
}

function readState(file: string): { step: number; dataPosition: number; optimizerUpdates: number; train: unknown } {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InherituneError(file, `cannot read training state: ${(e as Error).message}`);
  }
  const s = raw as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || s.format !== CHECKPOINT_FORMAT) {
    throw new InherituneError(file, `not a training checkpoint of this version (expected format "${CHECKPOINT_FORMAT}")`);
  }
  for (const key of ['step', 'dataPosition', 'optimizerUpdates']) {
    if (!Number.isInteger(s[key]) || (s[key] as number) < 0) throw new InherituneError(file, `field "${key}" must be a non-negative integer`);
  }
  return { step: s.step as number, dataPosition: s.dataPosition as number, optimizerUpdates: s.optimizerUpdates as number, train: s.train };
}

export function readTrainingCheckpoint(dir: string): TrainingCheckpoint {
  const state = readState(path.join(dir, STATE_FILE));
  const { config, tensors } = loadModelDir(dir);
  const optFile = path.join(dir, 'optimizer.safetensors');
  const reader = SafetensorsReader.open(optFile);
  try {
    const m = new Map<string, HostTensor>();
    const v = new Map<string, HostTensor>();
    for (const [name, t] of tensors) {
      for (const [prefix, into] of [['m.', m], ['v.', v]] as const) {
        const key = prefix + name;
        if (!reader.has(key)) throw new InherituneError(optFile, `missing optimizer tensor "${key}"`);
        into.set(name, { shape: t.shape, data: reader.readFloat32(key) });
      }
    }
    return {
      config,
      weights: tensors,
      optimizer: { t: state.optimizerUpdates, m, v },
      step: state.step,
      dataPosition: state.dataPosition,
      train: state.train,
    };
  } finally {
    reader.close();
  }
}
