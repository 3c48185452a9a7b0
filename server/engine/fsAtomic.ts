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

/** The temporary sibling every atomic writer here and in safetensors.ts builds `target` in. */
export function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
}

/** tempName's names, and the `.old` a folder's previous version takes while writeDirAtomic swaps it: target, pid, old. */
const TEMP_NAME = /^\.(.+)\.tmp-(\d+)-[0-9a-z]+(\.old)?$/;

/** Whether process `pid` is running (and is not this one). */
function otherProcessAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Clears what killed atomic writers left in `dir` (not below it): temporaries are removed, and the
 * `.old` copy of a folder whose target is missing (a kill between writeDirAtomic's two renames) is
 * renamed back, so the previous complete version is in place again. Only names tempName makes are
 * touched, and none of a process still running (it may be writing them now).
 */
export function recoverAtomicWrites(dir: string): { restored: string[]; removed: string[] } {
  const restored: string[] = [];
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return { restored, removed };
  }
  const temps = names.flatMap((name) => {
    const m = TEMP_NAME.exec(name);
    return m && !otherProcessAlive(Number(m[2])) ? [{ name, target: path.join(dir, m[1]), old: m[3] !== undefined }] : [];
  });
  // Restores first: a .old is only ever the complete previous version, so it wins over a new temporary.
  temps.sort((a, b) => Number(b.old) - Number(a.old));
  for (const t of temps) {
    const p = path.join(dir, t.name);
    if (t.old && !fs.existsSync(t.target)) {
      fs.renameSync(p, t.target);
      restored.push(t.target);
    } else {
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    }
  }
  return { restored, removed };
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
