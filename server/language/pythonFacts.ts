/**
 * Probes of the Python interpreters that runtime.engine torch names, for the language server: one
 * probe per interpreter (torchProbe.ts, the one `inheritune run` makes), kept until the client asks
 * for a refresh or the interpreter file changes (a new venv, torch installed), so typing never
 * starts Python again. Nothing here throws: an interpreter that cannot run is a fact too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PythonFact } from '../engine/configFacts.js';
import { probePython } from '../engine/train/torchProbe.js';

/** The file an interpreter command runs (a path, or the first match on PATH), with its stamp; '' when none. */
function interpreterStamp(python: string): string {
  const candidates = python.includes('/') || python.includes('\\') ? [python] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, python));
  for (const c of candidates) {
    try {
      const st = fs.statSync(c);
      if (st.isFile()) return `${c}:${st.mtimeMs}:${st.size}`;
    } catch {
      // next
    }
  }
  return '';
}

export class PythonFacts {
  private readonly probes = new Map<string, { stamp: string; fact: PythonFact }>();
  private readonly running = new Map<string, Promise<boolean>>();

  get(python: string): PythonFact | undefined {
    return this.probes.get(python)?.fact;
  }

  /** Probes `python` unless a probe of the same interpreter file stands; true when the fact changed. */
  ensure(python: string): Promise<boolean> {
    const stamp = interpreterStamp(python);
    const old = this.probes.get(python);
    if (old && old.stamp === stamp) return Promise.resolve(false);
    const running = this.running.get(python);
    if (running) return running;
    const probe = probePython(python, 60_000)
      .then((p): PythonFact => ({ ok: true, probe: p }))
      .catch((e: unknown): PythonFact => ({ ok: false, error: e instanceof Error ? e : new Error(String(e)) }))
      .then((fact) => {
        this.probes.set(python, { stamp, fact });
        return !old || JSON.stringify(old.fact, (_k, v: unknown) => (v instanceof Error ? v.message : v)) !== JSON.stringify(fact, (_k, v: unknown) => (v instanceof Error ? v.message : v));
      })
      .finally(() => this.running.delete(python));
    this.running.set(python, probe);
    return probe;
  }

  clear(): void {
    this.probes.clear();
  }
}
