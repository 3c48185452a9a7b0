/**
 * Hover, inlay hints, code lenses and quick fixes of a config document, from its parse and the
 * cached facts (pure functions of their inputs; server.ts wires them to the connection).
 */
import * as path from 'node:path';
import {
  CodeActionKind,
  InlayHintKind,
  MarkupKind,
  type CodeAction,
  type CodeLens,
  type Diagnostic,
  type Hover,
  type InlayHint,
  type Range,
} from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { parameterCountOf, withLayers } from '../engine/modelFamily.js';
import { describeEstimate, type ResourceEstimate } from '../engine/resources.js';
import { hoverText, pathAtOffset, type ConfigIssue, type ParsedRunConfig } from '../protocol/config.js';
import type { ConfigValues } from '../engine/configCheck.js';
import { isTokenizerName, type DataFact, type ReferenceFact } from '../engine/configFacts.js';
import { referenceAnalysis, type RunFact } from './facts.js';
import { describeModelShape, formatBytes, formatCount, formatParams } from '../protocol/format.js';
import type { AnalyzeReferenceArgs, DownloadReferenceArgs, OpenDashboardArgs, StartRunArgs } from '../protocol/commands.js';
import type { HubRemoteFact, PythonFact } from '../engine/configFacts.js';
import type { HubRef } from '../engine/hub/index.js';
import { describeProbe } from './runtimeCompletion.js';
import { commandUri, LENS_COMMANDS, type LastRunInfo, type ReferenceAnalysis } from './protocol.js';

/** What the features read besides the text: the config file, its values, the facts they name. */
export interface DocumentFacts {
  uri: string;
  file: string;
  parsed: ParsedRunConfig;
  values: ConfigValues;
  reference?: ReferenceFact;
  /** Runs in runtime.out_dir, newest first. */
  runs: RunFact[];
  trainData?: DataFact;
  /** Memory and disk the run will need (once the config is valid and its reference read). */
  estimate?: ResourceEstimate;
  /** reference.hub: as found in the HF cache, and the Hub's answer when the cache lacks it. */
  hub?: { ref: HubRef; cached?: { dir: string; commit: string }; remote?: HubRemoteFact };
  /** runtime.engine torch: the interpreter the run will use and its probe. */
  python?: { python: string; fact?: PythonFact };
}

const toRange = (doc: TextDocument, r: { start: number; end: number }): Range => ({ start: doc.positionAt(r.start), end: doc.positionAt(r.end) });

/** The newest run of this config file. */
export function lastRun(f: Pick<DocumentFacts, 'file' | 'runs'>): LastRunInfo | undefined {
  const file = path.resolve(f.file);
  const r = f.runs.find((x) => x.configPath === file);
  return r ? { runId: r.runId, runDir: r.runDir, state: r.state } : undefined;
}

export function analysisOf(f: Pick<DocumentFacts, 'values' | 'runs'>): ReferenceAnalysis | undefined {
  return f.values.referenceDir ? referenceAnalysis(f.runs, f.values.referenceDir) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Hover

function referenceSection(f: DocumentFacts): string | undefined {
  const r = f.reference;
  if (!r || !f.values.referenceDir) return undefined;
  if (!r.ok) return `**Reference** cannot be read: ${r.error instanceof Error ? r.error.message : String(r.error)}`;
  const i = r.info;
  return `**Reference** \`${i.path}\`: ${describeModelShape(i)} (${formatCount(i.params)}); weights ${i.weightDtype}, ${formatBytes(i.weightBytes)}${i.hasTokenizer ? ', with tokenizer.json' : ''}`;
}

function hubSection(f: DocumentFacts): string | undefined {
  const h = f.hub;
  if (!h) return undefined;
  const name = `\`${h.ref.repo}\` at \`${h.ref.revision}\``;
  if (h.cached) return `**Hub model** ${name}: commit \`${h.cached.commit}\`, in the Hugging Face cache (\`${h.cached.dir}\`)`;
  if (h.remote?.ok) return `**Hub model** ${name}: commit \`${h.remote.commit}\` on the Hub, not downloaded yet (${formatBytes(h.remote.downloadBytes)}; code lens "Download")`;
  if (h.remote) return `**Hub model** ${name}: ${h.remote.error.message}`;
  return `**Hub model** ${name}: not in the Hugging Face cache`;
}

function pythonSection(f: DocumentFacts): string | undefined {
  const p = f.python;
  if (!p) return undefined;
  return `**Torch engine**: ${p.fact ? describeProbe(p.fact) : `\`${p.python}\` not probed yet`}`;
}

function analysisSection(f: DocumentFacts, uri: string, inherited?: number): string | undefined {
  const a = analysisOf(f);
  if (!a) return undefined;
  const rows = a.layers.map((l) => `| ${l.layer + 1} | ${l.maxRank.toFixed(2)} | ${l.avgMass.toFixed(2)} | ${l.lazy ? '**lazy**' : ''} |`);
  const lazy = a.lazyLayers.length > 0 ? `Lazy layers (rank-1 attention): **${a.lazyLayers.join(', ')}** of ${a.layers.length}.` : `No lazy layers: every layer has a head above rank 1.`;
  let inheritedLine = '';
  if (inherited !== undefined) {
    const hit = a.lazyLayers.filter((l) => l <= inherited);
    inheritedLine = hit.length > 0 ? `\n\nThe inherited blocks 1–${inherited} include lazy layer${hit.length > 1 ? 's' : ''} ${hit.join(', ')}.` : `\n\nThe inherited blocks 1–${inherited} include no lazy layer.`;
  }
  const args: OpenDashboardArgs = { runId: a.runId, runDir: a.runDir, uri, model: 'reference', step: a.step, seq: a.seq };
  return [
    `**Attention of the reference** (run \`${a.runId}\`, τ ${a.tau}, η ${a.eta}):`,
    `| layer | MaxRank | AvgMass | |\n|---:|---:|---:|---|\n${rows.join('\n')}`,
    `${lazy}${inheritedLine}`,
    `[Open the heatmap in the dashboard](${commandUri(LENS_COMMANDS.openDashboard, args)})`,
  ].join('\n\n');
}

export function hover(doc: TextDocument, offset: number, f: DocumentFacts): Hover | undefined {
  const text = doc.getText();
  const at = pathAtOffset(text, offset);
  if (!at) return undefined;
  const docs = hoverText(at.path);
  if (!docs) return undefined;
  const parts = [docs];
  const key = at.path.join('.');
  const loc = f.parsed.locate(at.path, at.part);
  if (key === 'reference.hub' || key === 'reference.revision') {
    const h = hubSection(f);
    if (h) parts.push(h);
  }
  if (key.startsWith('runtime.') && key !== 'runtime.out_dir') {
    const p = pythonSection(f);
    if (p) parts.push(p);
  }
  if (key === 'reference.path' || key === 'reference.hub' || key === 'target.layers' || key === 'grow.max_layers') {
    const ref = referenceSection(f);
    if (ref) parts.push(ref);
    if (f.reference?.ok && key !== 'reference.path') {
      const n = key === 'target.layers' ? f.values.layers : f.values.maxLayers;
      const c = f.reference.config;
      if (n !== undefined && n <= c.nLayer) {
        const p = parameterCountOf(withLayers(c, n));
        parts.push(`**Derived model** with ${n} of ${c.nLayer} layers: ${formatParams(p)} parameters (${((100 * p) / f.reference.info.params).toFixed(0)}% of the reference).`);
      }
    }
    const analysis = analysisSection(f, f.uri, key === 'target.layers' ? f.values.layers : undefined);
    if (analysis) parts.push(analysis);
    else if (f.reference?.ok) parts.push('_No attention analysis of this reference in the run store yet (code lens "Analyze Reference Attention")._');
  } else if ((key === 'data.train' || key === 'data.val') && at.part === 'value') {
    const abs = key === 'data.train' ? f.values.train : f.values.val;
    if (abs) parts.push(`\`${abs}\``);
  }
  return { contents: { kind: MarkupKind.Markdown, value: parts.join('\n\n---\n\n') }, range: loc.present ? toRange(doc, loc.range) : undefined };
}

// ---------------------------------------------------------------------------------------------
// Inlay hints

export function inlayHints(doc: TextDocument, range: Range, f: DocumentFacts): InlayHint[] {
  const out: InlayHint[] = [];
  const from = doc.offsetAt(range.start);
  const to = doc.offsetAt(range.end);
  const add = (p: string[], label: string, tooltip: string) => {
    if (!f.parsed.present(p)) return;
    const end = f.parsed.locate(p).range.end;
    if (end < from || end > to) return;
    out.push({ position: doc.positionAt(end), label, kind: InlayHintKind.Type, paddingLeft: true, tooltip });
  };
  const v = f.values;
  if (v.layers !== undefined && f.reference?.ok && v.layers <= f.reference.config.nLayer) {
    const p = parameterCountOf(withLayers(f.reference.config, v.layers));
    add(['target', 'layers'], `${formatParams(p)} params`, `The derived model: ${v.layers} of the reference's ${f.reference.config.nLayer} layers, ${formatCount(p)} parameters.`);
  }
  const { batchTokens: bt, microBatch: mb, blockSize: bs, steps } = v;
  if (bt !== undefined && mb !== undefined && bs !== undefined && bt % (mb * bs) === 0) {
    const accum = bt / (mb * bs);
    add(
      ['train', 'batch_tokens'],
      `tokens/step = ${mb} × ${bs}${accum > 1 ? ` × ${accum} accum` : ''}`,
      `${formatCount(bt)} tokens per optimizer step: micro_batch ${mb} windows × block_size ${bs} tokens${accum > 1 ? ` × ${accum} gradient-accumulation steps` : ''}.`,
    );
  }
  if (steps !== undefined && bt !== undefined) {
    const total = steps * bt;
    let epochs = '';
    const tokens = f.trainData?.tokens;
    if (tokens !== undefined && tokens > 0) {
      const used = Math.floor((v.subset ?? 1) * tokens);
      if (used > 0) epochs = ` (${(total / used).toFixed(total / used >= 10 ? 0 : 2)} epochs)`;
    }
    add(['train', 'steps'], `${formatParams(total)} tokens${epochs}`, `${formatCount(steps)} steps × ${formatCount(bt)} tokens = ${formatCount(total)} training tokens per model (per growth round)${epochs ? `; the training data holds ${formatCount(Math.floor((v.subset ?? 1) * (tokens ?? 0)))} tokens${(v.subset ?? 1) < 1 ? ' (after data.subset)' : ''}` : ''}.`);
  }
  return out.sort((a, b) => a.position.line - b.position.line || a.position.character - b.position.character);
}

// ---------------------------------------------------------------------------------------------
// Code lenses

export function codeLenses(f: DocumentFacts): CodeLens[] {
  const top: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  const v = f.values;
  const start: StartRunArgs = { uri: f.uri };
  // A tokenizer the schema does not know is an error shown on the config: the lens then names no
  // files, and the extension reports the config instead of analysing with another tokenizer.
  const tokenizer = v.tokenizer === undefined || isTokenizerName(v.tokenizer) ? v.tokenizer : null;
  const analyze: AnalyzeReferenceArgs =
    tokenizer === null
      ? { uri: f.uri, options: {} }
      : { uri: f.uri, modelDir: v.referenceDir, data: v.val, options: { sequences: v.sequences, seqLen: v.seqLen, windows: 'random', seed: v.seed, tau: v.tau, eta: v.eta, mass: v.mass, convention: v.convention, tokenizer } };
  const lenses: CodeLens[] = [
    { range: top, command: { title: 'Start Run', command: LENS_COMMANDS.startRun, arguments: [start] } },
    { range: top, command: { title: 'Analyze Reference Attention', command: LENS_COMMANDS.analyzeReference, arguments: [analyze] } },
  ];
  const h = f.hub;
  if (h && !h.cached && h.remote?.ok) {
    const args: DownloadReferenceArgs = { repo: h.ref.repo, revision: h.ref.revision, uri: f.uri };
    lenses.push({ range: top, command: { title: `Download (${formatBytes(h.remote.downloadBytes)})`, command: LENS_COMMANDS.downloadReference, arguments: [args], tooltip: `Download ${h.ref.repo} (commit ${h.remote.commit}) into the Hugging Face cache` } });
  }
  const last = lastRun(f);
  if (last) {
    const open: OpenDashboardArgs = { runId: last.runId, runDir: last.runDir, uri: f.uri };
    lenses.push({ range: top, command: { title: 'Open Last Run', command: LENS_COMMANDS.openDashboard, arguments: [open], tooltip: `${last.runId} (${last.state})` } });
  }
  const e = f.estimate;
  if (e) {
    // Not a command: what the run will take, before it starts (the tooltip has the terms).
    lenses.push({ range: top, command: { title: `needs ≈ ${formatBytes(e.memory.total)} memory, ${formatBytes(e.disk.total)} disk`, command: '', tooltip: describeEstimate(e) } });
  }
  return lenses;
}

// ---------------------------------------------------------------------------------------------
// Diagnostics and quick fixes

export interface DiagnosticData {
  fix?: { text: string; title: string };
}

export function toDiagnostic(doc: TextDocument, i: ConfigIssue): Diagnostic {
  const d: Diagnostic = {
    range: toRange(doc, i.range),
    message: i.message,
    severity: i.severity === 'error' ? 1 : 2,
    source: 'inheritune',
    code: i.path.length ? i.path.join('.') : 'yaml',
  };
  if (i.fix) d.data = { fix: { text: i.fix.text, title: i.fix.title } } satisfies DiagnosticData;
  return d;
}

export function quickFixes(uri: string, diagnostics: Diagnostic[], issuesNow: { d: Diagnostic; issue: ConfigIssue }[]): CodeAction[] {
  const out: CodeAction[] = [];
  for (const d of diagnostics) {
    let fix = (d.data as DiagnosticData | undefined)?.fix;
    if (!fix) {
      // Clients that drop `data`: find the issue by its range and message.
      const same = issuesNow.find((x) => x.d.message === d.message && JSON.stringify(x.d.range) === JSON.stringify(d.range));
      fix = same?.issue.fix;
    }
    if (!fix) continue;
    out.push({
      title: fix.title,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      isPreferred: true,
      edit: { changes: { [uri]: [{ range: d.range, newText: fix.text }] } },
    });
  }
  return out;
}
