/**
 * What `inheritune run` shows: one progress line per phase while the run goes, and at the end a
 * results table in the style of the paper's Table 1 with a one-line verdict.
 */
import type { RunEvent, RunSummary } from '../protocol/events.js';
import { formatTasksTable } from '../engine/tasks/report.js';
import { startProgress, type Progress } from './progress.js';

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

/** The results table; lazy layers are numbered from 1 as in the paper. */
export function resultsTable(summary: RunSummary, events: RunEvent[]): string {
  const lazy = new Map<string, number[] | null>();
  for (const e of events) if (e.type === 'modelFinished') lazy.set(e.model.label, e.lazyLayers);
  const k = summary.reference.layers;
  const rows: string[][] = [['model', 'layers', 'init', 'steps', 'val loss', 'lazy layers']];
  rows.push(['reference', String(k), 'pre-trained', '-', summary.reference.valLoss.toFixed(4), lazyText(lazy.get('reference'))]);
  summary.rounds.forEach((r, i) => {
    rows.push([`derived, round ${i + 1}`, String(r.layers), `inherit ${r.layers}/${k} blocks`, String(r.steps), r.valLoss.toFixed(4), lazyText(lazy.get(`round-${i + 1}`))]);
  });
  for (const b of summary.baselines) rows.push([b.name, String(b.layers), 'random', String(b.steps), b.valLoss.toFixed(4), 'n/a']);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 || c === 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
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
  const parts = [
    f.matchedReference
      ? `The ${f.layers}-layer derived model (${share}% of the reference's parameters) matches the ${summary.reference.layers}-layer reference: val loss ${f.valLoss.toFixed(4)} vs ${summary.reference.valLoss.toFixed(4)}.`
      : `The ${f.layers}-layer derived model (${share}% of the parameters) does not match the reference: val loss ${f.valLoss.toFixed(4)}, ${gap.toFixed(4)} nats above ${summary.reference.valLoss.toFixed(4)}.`,
  ];
  const scratch = summary.baselines.find((b) => b.name === 'scratch');
  if (scratch) {
    const d = scratch.valLoss - f.valLoss;
    parts.push(
      d > 0
        ? `It beats the same-size scratch baseline by ${d.toFixed(4)} nats after the same ${scratch.steps} steps.`
        : `It does NOT beat the same-size scratch baseline (${scratch.valLoss.toFixed(4)}) at this scale.`,
    );
  }
  return parts.join(' ');
}
