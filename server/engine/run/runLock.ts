/**
 * One writer per run folder: the training process holds `<runDir>/.lock` (its pid) while it runs the
 * loop. A lock whose process is gone (killed, crashed) is stale and taken over; a live holder (for
 * example the process of a server that was killed, still checkpointing) is waited for.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InherituneError } from '../errors.js';

export const LOCK_FILE = '.lock';

interface LockInfo {
  pid: number;
  host: string;
  time: string;
}

/** The process exists and is not a zombie (an exited process its new parent has not reaped yet). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No procfs (not Linux): kill(0) is all there is.
    return true;
  }
}

/** The live process holding the run folder's lock, if any. */
export function lockHolder(runDir: string): number | undefined {
  let info: LockInfo;
  try {
    info = JSON.parse(fs.readFileSync(path.join(runDir, LOCK_FILE), 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
  if (info.host !== os.hostname()) return undefined;
  return typeof info.pid === 'number' && info.pid !== process.pid && processAlive(info.pid) ? info.pid : undefined;
}

/**
 * Takes the lock, waiting up to `waitMs` for a live holder to finish. Returns the release function
 * (also run at process exit).
 */
export async function acquireRunLock(runDir: string, waitMs: number, onWait?: (pid: number) => void): Promise<() => void> {
  const file = path.join(runDir, LOCK_FILE);
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname(), time: new Date().toISOString() } satisfies LockInfo));
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = lockHolder(runDir);
    if (holder === undefined) {
      // Stale (its process is gone) or unreadable (torn by a kill): take it over.
      fs.rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new InherituneError(runDir, `the run is in use by process ${holder}`);
    if (!told) onWait?.(holder);
    told = true;
    await new Promise((r) => setTimeout(r, 100));
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    try {
      const info = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
      if (info.pid === process.pid) fs.rmSync(file, { force: true });
    } catch {
      // Already gone.
    }
  };
  process.once('exit', release);
  return release;
}
