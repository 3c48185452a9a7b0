/**
 * Which workspace files New Run Config offers for training and validation data, best first: the
 * first offered is what Enter takes. Files named for their role (train / val, valid, dev, test) come
 * first, then the largest; files that are not data (a licence, a README, notes) are never offered.
 * No `vscode` import, so unit tests read it.
 */
import * as path from 'node:path';
import { TOKEN_FILE_EXTENSIONS } from '../server/protocol/dataFiles.js';

export interface DataFile {
  /** Absolute path. */
  path: string;
  bytes: number;
}

export type DataRole = 'train' | 'val';

/** Licences, readmes and other project documents that share a text file's extension. */
const NOT_DATA = /^(licen[cs]e|copying|notice|readme|changelog|changes|authors|contributing|citation|history|news|todo)(\b|[-_.]|$)/i;

const ROLE_WORDS: Record<DataRole, RegExp> = {
  train: /(^|[^a-z])(train|training)([^a-z]|$)/i,
  val: /(^|[^a-z])(val|valid|validation|dev|eval|test|heldout|held-out)([^a-z]|$)/i,
};

/** Whether `file` can be training or validation data: a token or text file type, not a project document. */
export function isDataFile(file: string): boolean {
  const base = path.basename(file);
  return (TOKEN_FILE_EXTENSIONS as readonly string[]).includes(path.extname(base).toLowerCase()) && !NOT_DATA.test(base);
}

/** How well a name fits `role`: 2 named for it, 1 named for neither, 0 named for the other role. */
function nameFit(file: string, role: DataRole): number {
  const base = path.basename(file, path.extname(file));
  const own = ROLE_WORDS[role].test(base);
  const other = ROLE_WORDS[role === 'train' ? 'val' : 'train'].test(base);
  return own && !other ? 2 : !own && !other ? 1 : own ? 1 : 0;
}

/**
 * The data files for `role`, best first: by name fit, then size (largest first), then path.
 * `exclude` (the training file, when picking validation data) is left out.
 */
export function rankDataFiles(files: readonly DataFile[], role: DataRole, exclude?: string): DataFile[] {
  return files
    .filter((f) => isDataFile(f.path) && f.path !== exclude)
    .sort((a, b) => nameFit(b.path, role) - nameFit(a.path, role) || b.bytes - a.bytes || a.path.localeCompare(b.path));
}
