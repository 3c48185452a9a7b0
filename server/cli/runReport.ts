/**
 * What `inheritune run` shows: one progress line per phase while the run goes, and at the end a
 * results table in the style of the paper's Table 1 with a one-line verdict.
 */
import { BASELINES, type Baseline } from '../protocol/config.js';
import type { RoundResult, RunEvent, RunSummary } from '../protocol/events.js';
import { formatTasksTable } from '../engine/tasks/report.js';
import { startProgress, type Progress } from './progress.js';
import { formatBytes } from '../protocol/format.js';

/** Turns run events into progress bars and phase lines on stderr. */
export class RunProgress {
  private bar: Progress | undefined;
  /** What the bar shows: the last step's numbers and the latest validation loss. */
  private step = 0;
  private shown = { loss: '-', val: '-', tps: 0 };

  onEvent(e: RunEvent): void {
    switch (e.type) {
      case 'phase':
        if (e.phase === 'train' || e.phase === 'baseline') return;
        this.stopBar();
        process.stderr.write(`${e.model ? `[${e.model.label}] ` : ''}${e.message}\n`);
        return;
      case 'metrics':
        if (!this.bar) {
          this.bar = startProgress(`${e.model.label} (${e.model.layers} layers)`, e.steps, 'loss {loss} val {val} {tps} tok/s');
        }
        this.step = e.step;
        this.shown = { ...this.shown, loss: e.trainLoss.toFixed(3), tps: Math.round(e.tokensPerSec) };
        this.bar.update(this.step, this.shown);
        return;
      case 'eval':
        // An evaluation follows its step's metrics: shown at once, not with the next step.
        this.shown = { ...this.shown, val: e.valLoss.toFixed(3) };
        this.bar?.update(this.step, this.shown);
        return;
      case 'modelFinished':
        this.stopBar();
        process.stderr.write(`[${e.model.label}] ${e.model.layers} layers: val loss ${e.valLoss.toFixed(4)}\n`);
        return;
      case 'resumed':
        process.stderr.write(`resuming${e.model ? ` ${e.model.label} at step ${e.fromStep}` : ''}\n`);
        return;
      case 'log':
        process.stderr.write(`${e.level}: ${e.message}\n`);
        return;
      case 'device':
        process.stderr.write(`device: ${e.engine} ${e.backend}: ${e.devices.map((d) => (d.memoryBytes !== null ? `${d.name} (${formatBytes(d.memoryBytes)})` : d.name)).join(', ')}\n`);
        return;
      case 'runFinished':
      case 'runFailed':
        this.stopBar();
        return;
      default:
        return;
    }
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.shown = { loss: '-', val: '-', tps: 0 };
  }
}

const lazyText = (layers: number[] | null | undefined): string => (layers === null || layers === undefined ? 'n/a' : layers.length ? layers.map((l) => l + 1).join(',') : 'none');

/** What each baseline starts from, in the table's words (run/baselines.ts says exactly). */
const BASELINE_INIT: Record<Baseline, string> = {
  scratch: 'random',
  scratch_2x: 'random',
  stacking: 'stacked n/2 (Gong 2019)',
  hybrid_stacking: 'ref blocks 0..n/2-1 twice',
  half_width: 'random, half width',
  kd: 'distilled (KD)',
  full_scratch: 'random, full size',
};
const initOf = (name: string): string => (BASELINES as readonly string[]).includes(name) ? BASELINE_INIT[name as Baseline] : 'random';

const f4 = (x: number) => x.toFixed(4);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;
/** Mean val loss, with the 95% interval over seeds when there are several. */
const lossText = (r: RoundResult): string => (r.ci95 !== undefined ? `${f4(r.valLoss)} ± ${f4(r.ci95)}` : f4(r.valLoss));
/** The paired difference to the reference: mean [95% interval] (se). */
const diffText = (r: RoundResult): string => (r.vsReference ? `${signed(r.vsReference.meanDiff)} [${signed(r.vsReference.ci95[0])}, ${signed(r.vsReference.ci95[1])}] (se ${r.vsReference.se.toFixed(4)})` : '-');

/** The results table; lazy layers are numbered from 1 as in the paper. */
export function resultsTable(summary: RunSummary, events: RunEvent[]): string {
  const lazy = new Map<string, number[] | null>();
  for (const e of events) if (e.type === 'modelFinished') lazy.set(e.model.label, e.lazyLayers);
  const k = summary.reference.layers;
  const seeds = summary.seeds ?? [];
  const seedOf = (label: string) => (seeds.length > 1 ? `${label}-seed${seeds[0]}` : label);
  const rows: string[][] = [['model', 'layers', 'init', 'steps', seeds.length > 1 ? `val loss (mean ± 95%, ${seeds.length} seeds)` : 'val loss', 'vs reference: diff [95% CI] (se)', 'lazy layers']];
  rows.push(['reference', String(k), 'pre-trained', '-', f4(summary.reference.valLoss), '-', lazyText(lazy.get('reference'))]);
  summary.rounds.forEach((r, i) => {
    rows.push([`derived, round ${i + 1}`, String(r.layers), `inherit ${r.layers}/${k} blocks`, String(r.steps), lossText(r), diffText(r), lazyText(lazy.get(seedOf(`round-${i + 1}`)))]);
  });
  for (const b of summary.baselines) rows.push([b.name, String(b.layers), initOf(b.name), String(b.steps), lossText(b), diffText(b), 'n/a']);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 || c === 2 || c === 5 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  const table = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  if (summary.evaluation) {
    const e = summary.evaluation;
    table.push('', `evaluation: the same ${e.windows} windows (${e.tokens} tokens) for every model; diff = model - reference per window (paired t-test, 95% t interval)${seeds.length > 1 ? `; seeds ${seeds.join(', ')}` : ''}`);
  }
  return table.join('\n');
}

/** The Tasks table (evaluation.tasks): one column per model, reference first; undefined without tasks. */
export function tasksTable(summary: RunSummary): string | undefined {
  if (!summary.tasks || summary.tasks.length === 0) return undefined;
  const name = (label: string, layers: number) => (label === 'reference' ? `reference (${layers}L)` : label.startsWith('round-') ? `derived ${label.slice(6)} (${layers}L)` : `${label} (${layers}L)`);
  return formatTasksTable(summary.tasks.map((t) => ({ model: name(t.model.label, t.model.layers), results: t.results })));
}

export function verdict(summary: RunSummary): string {
  const f = summary.final;
  const gap = f.valLoss - summary.reference.valLoss;
  const share = ((100 * f.params) / summary.reference.params).toFixed(0);
  const p = f.vsReference;
  const test = p ? ` (paired over ${p.windows} windows: difference ${signed(p.meanDiff)}, 95% CI [${signed(p.ci95[0])}, ${signed(p.ci95[1])}], se ${p.se.toFixed(4)})` : '';
  const parts = [
    f.matchedReference
      ? `The ${f.layers}-layer derived model (${share}% of the reference's parameters) matches the ${summary.reference.layers}-layer reference: val loss ${f4(f.valLoss)} vs ${f4(summary.reference.valLoss)}${test}.`
      : `The ${f.layers}-layer derived model (${share}% of the parameters) does not match the reference: val loss ${f4(f.valLoss)}, ${f4(gap)} nats above ${f4(summary.reference.valLoss)}${test}.`,
  ];
  const scratch = summary.baselines.find((b) => b.name === 'scratch');
  if (scratch) {
    const d = scratch.valLoss - f.valLoss;
    parts.push(
      d > 0
        ? `It beats the same-size scratch baseline by ${f4(d)} nats after the same ${scratch.steps} steps.`
        : `It does NOT beat the same-size scratch baseline (${f4(scratch.valLoss)}) at this scale.`,
    );
  }
  return parts.join(' ');
}
