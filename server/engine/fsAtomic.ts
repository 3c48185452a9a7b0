/**
 * Atomic writes: output appears complete under its final name or not at all, so a crash or a kill
 * never leaves a half-written file or folder that looks finished.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from './errors.js';

/**
 * A failed write as an error naming `file`: Node's write errors (ENOSPC, EFBIG, EIO) name no path,
 * so without this the user learns that a disk is full but not which file the run was writing.
 */
export function writeError(file: string, e: unknown): InherituneError {
  if (e instanceof InherituneError) return e;
  return new InherituneError(file, `cannot write: ${e instanceof Error ? e.message : String(e)}`);
}

function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes a file through a temporary sibling, fsync and rename. */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempName(target);
  try {
    fs.writeFileSync(tmp, data);
    fsyncPath(tmp);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw writeError(target, e);
  }
}

/**
 * Builds a folder in a temporary sibling with `fill`, then swaps it in for `target` (an existing
 * folder is replaced only once the new one is complete). `mayReplace(target)` throws when the folder
 * there must not be replaced; it is asked before the work and again right before the swap.
 */
export function writeDirAtomic(target: string, fill: (tmpDir: string) => void, mayReplace: (target: string) => void): void {
  mayReplace(target);
  fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true });
  const tmp = tempName(target);
  const old = `${tmp}.old`;
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
    for (const f of fs.readdirSync(tmp)) fsyncPath(path.join(tmp, f));
    mayReplace(target);
    if (fs.existsSync(target)) fs.renameSync(target, old);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (fs.existsSync(old) && !fs.existsSync(target)) fs.renameSync(old, target);
    throw writeError(target, e);
  }
  fs.rmSync(old, { recursive: true, force: true });
}
