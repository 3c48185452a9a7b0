/**
 * Completion of the torch engine's runtime.python (the interpreters at hand: the setting, python3,
 * the workspace's virtual environments, each with what its probe found), and runtime.devices and
 * nproc from the probe of the interpreter the run will use (what torch there sees: CUDA devices).
 */
import { CompletionItemKind, type CompletionItem } from 'vscode-languageserver/node';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PythonFact } from '../engine/configFacts.js';
import type { CompletionContext } from './completion.js';

type ValueContext = Extract<CompletionContext, { kind: 'value' }>;

/** One line on what the probe found, for details and the sidebar. */
export function describeProbe(fact: PythonFact): string {
  if (!fact.ok) return fact.error.message;
  const p = fact.probe;
  if (p.torch === null) return `${p.python}: Python ${p.pythonVersion}, no torch`;
  const cuda = p.cudaDevices > 0 ? `${p.cudaDevices} CUDA device${p.cudaDevices === 1 ? '' : 's'}${p.cudaBf16 ? ' (bf16)' : ''}` : 'no CUDA device';
  return `${p.python}: Python ${p.pythonVersion}, torch ${p.torch}, ${cuda}`;
}

/** The runtime.devices values the probe found usable: cpu, and cuda with each cuda:N when torch sees CUDA; [] without torch. */
export function deviceChoices(fact: PythonFact): string[] {
  if (!fact.ok || fact.probe.torch === null) return [];
  const n = fact.probe.cudaDevices;
  return ['cpu', ...(n > 0 ? ['cuda', ...Array.from({ length: n }, (_, i) => `cuda:${i}`)] : [])];
}

/** Items for runtime.devices and nproc; [] for other keys or without a probe. */
export function runtimeItems(ctx: ValueContext, fact: PythonFact | undefined): CompletionItem[] {
  const key = ctx.path.join('.');
  if (!fact?.ok || fact.probe.torch === null) return [];
  const p = fact.probe;
  const sp = ctx.needsSpace ? ' ' : '';
  const item = (label: string, detail: string, sort: number): CompletionItem => ({ label, insertText: sp + label, filterText: label, kind: CompletionItemKind.Value, detail, sortText: String(sort).padStart(4, '0') });
  if (key === 'runtime.devices') {
    const out = [item('cpu', `the CPU (torch ${p.torch})`, 0)];
    if (p.cudaDevices > 0) {
      out.push(item('cuda', `all ${p.cudaDevices} CUDA device${p.cudaDevices === 1 ? '' : 's'} (one process each with nproc)`, 1));
      for (let i = 0; i < p.cudaDevices; i++) out.push(item(`cuda:${i}`, `CUDA device ${i}`, 2 + i));
    }
    return out;
  }
  if (key === 'runtime.nproc') {
    const most = p.cudaDevices > 0 ? p.cudaDevices : os.cpus().length;
    return Array.from({ length: most }, (_, i) => item(String(i + 1), p.cudaDevices > 0 ? `${i + 1} of ${p.cudaDevices} CUDA devices` : `${i + 1} of ${most} CPU cores`, i));
  }
  return [];
}

/** Interpreters worth offering for runtime.python: the setting's, python3, and virtual environments in the workspace roots. */
export function pythonCandidates(roots: readonly string[], defaultPython?: string): string[] {
  const venvs = roots.flatMap((r) => ['.venv', 'venv', 'env'].map((v) => path.join(r, v, 'bin', 'python')).filter((p) => fs.existsSync(p)));
  return [...new Set([...(defaultPython ? [defaultPython] : []), 'python3', ...venvs])];
}

/** runtime.python items: each candidate with what its probe found (torch version and CUDA devices, or why not). */
export function pythonItems(ctx: ValueContext, candidates: readonly string[], probeOf: (python: string) => PythonFact | undefined): CompletionItem[] {
  const sp = ctx.needsSpace ? ' ' : '';
  return candidates.map((python, i) => {
    const fact = probeOf(python);
    const usable = fact?.ok === true && fact.probe.torch !== null;
    return {
      label: python,
      insertText: sp + (/^[\w./-]+$/.test(python) ? python : JSON.stringify(python)),
      filterText: python,
      kind: CompletionItemKind.File,
      detail: fact ? describeProbe(fact) : 'not probed yet',
      sortText: `${usable ? '0' : '1'}${String(i).padStart(3, '0')}`,
    };
  });
}
