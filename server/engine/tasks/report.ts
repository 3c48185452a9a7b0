/** The Tasks table: one row per task and metric, one column per model (the CLI and the run's results). */
import type { TaskResult } from './metrics.js';

export interface ModelTaskResults {
  /** The column heading: "reference", "6 layers", "scratch", a folder. */
  model: string;
  results: TaskResult[];
}

/** Perplexities with 2 decimals (or exponent when huge), accuracies and bits per byte with 4. */
function cell(metric: string, v: number | undefined): string {
  if (v === undefined) return '-';
  if (metric.includes('perplexity')) return v >= 1e6 ? v.toExponential(2) : v.toFixed(2);
  return v.toFixed(4);
}

export function formatTasksTable(columns: ModelTaskResults[]): string {
  const rows: string[][] = [['task', 'metric', 'n', ...columns.map((c) => c.model)]];
  const seen = new Set<string>();
  for (const col of columns) {
    for (const r of col.results) {
      for (const metric of Object.keys(r.metrics)) {
        const key = `${r.task}\u0000${metric}`;
        if (seen.has(key)) continue;
        seen.add(key);
        rows.push([r.task, metric, String(r.items), ...columns.map((c) => cell(metric, c.results.find((x) => x.task === r.task)?.metrics[metric]))]);
      }
    }
  }
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (j < 2 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ').trimEnd()).join('\n');
}
