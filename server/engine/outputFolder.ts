/**
 * What an output folder holds, so that no command deletes a file it did not create: an empty
 * folder is written into, a model or training checkpoint that inheritune wrote may be replaced
 * (the CLI asks for --force first), and any other folder is refused, whatever the options.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from './errors.js';
import { SafetensorsReader } from './safetensors.js';

/** The files inheritune writes into a model or training-checkpoint folder, and no others. */
const OWN_FILE = /^(config\.json|model\.safetensors|model-\d{5}-of-\d{5}\.safetensors|model\.safetensors\.index\.json|optimizer\.safetensors|trainer\.json)$/;

/** Safetensors metadata that marks a model as written by inheritune (every key it writes has this prefix). */
export const OWN_METADATA_PREFIX = 'inheritune_';

/** The format recorded in trainer.json of a training checkpoint. */
export const CHECKPOINT_FORMAT = 'inheritune-train-checkpoint-1';

export type FolderContents =
  | { kind: 'absent' }
  | { kind: 'empty' }
  | { kind: 'model' | 'checkpoint' }
  | { kind: 'file' }
  | { kind: 'foreign'; entries: string[] };

function isCheckpointState(file: string): boolean {
  try {
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return typeof state === 'object' && state !== null && (state as { format?: unknown }).format === CHECKPOINT_FORMAT;
  } catch {
    return false;
  }
}

function hasOwnMetadata(file: string): boolean {
  try {
    const r = SafetensorsReader.open(file);
    try {
      return Object.keys(r.metadata).some((k) => k.startsWith(OWN_METADATA_PREFIX));
    } finally {
      r.close();
    }
  } catch {
    return false;
  }
}

/** Classifies `dir`: absent, empty, a model or checkpoint inheritune wrote, or anything else. */
export function inspectOutputFolder(dir: string): FolderContents {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    // Nothing there (or a file where a parent folder should be, which writing reports).
    return { kind: 'absent' };
  }
  if (!st.isDirectory()) return { kind: 'file' };
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new InherituneError(dir, `cannot read the folder: ${(e as Error).message}`);
  }
  if (names.length === 0) return { kind: 'empty' };
  const foreign = { kind: 'foreign' as const, entries: names.sort().map((n) => (fs.lstatSync(path.join(dir, n)).isDirectory() ? `${n}/` : n)) };
  if (!names.every((n) => OWN_FILE.test(n) && fs.lstatSync(path.join(dir, n)).isFile())) return foreign;
  if (names.includes('trainer.json')) return isCheckpointState(path.join(dir, 'trainer.json')) ? { kind: 'checkpoint' } : foreign;
  const weights = names.find((n) => n.endsWith('.safetensors') && n !== 'optimizer.safetensors');
  return weights !== undefined && names.includes('config.json') && hasOwnMetadata(path.join(dir, weights)) ? { kind: 'model' } : foreign;
}

function listSome(entries: string[]): string {
  return entries.length <= 4 ? entries.join(', ') : `${entries.slice(0, 4).join(', ')} and ${entries.length - 4} more`;
}

/** The error for a folder that holds files inheritune did not write; `source` names the option or the folder. */
export function foreignFolderError(source: string, dir: string, entries: string[]): InherituneError {
  return new InherituneError(source, `${dir} is not empty and is not a model written by inheritune (it holds ${listSome(entries)}); nothing was deleted: choose a new or empty folder`);
}

/**
 * Throws unless `dir` may be replaced wholesale: it is absent, empty, or a model or checkpoint that
 * inheritune wrote. The atomic folder writes call it before they build and again before they swap.
 */
export function assertReplaceable(dir: string): void {
  const contents = inspectOutputFolder(dir);
  if (contents.kind === 'file') throw new InherituneError(dir, 'exists and is not a folder; nothing was deleted');
  if (contents.kind === 'foreign') throw foreignFolderError(dir, dir, contents.entries);
}
