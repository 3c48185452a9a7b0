/**
 * Completion of the torch engine's runtime.devices and nproc from the probe of the
 * interpreter the run will use (what torch there sees: CUDA devices, bf16 support).
 */
import { CompletionItemKind, type CompletionItem } from 'vscode-languageserver/node';
import * as os from 'node:os';
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
