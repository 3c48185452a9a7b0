/**
 * Per-item results and the task metrics, as lm-evaluation-harness aggregates them:
 * multiple choice (ConfigurableTask.process_results): acc = argmax of the choices' log-likelihoods is
 * the gold one; acc_norm = the same after dividing each by the choice's length in characters
 * (`len(choice)` in Python: code points, without the " " delimiter; the harness's docs call this
 * byte-length normalisation, its code counts characters; the two agree on ASCII). Ties go to the
 * first choice (np.argmax).
 * LAMBADA: perplexity = exp(-mean ll), acc = mean of "the target is the greedy continuation".
 * wikitext: word_perplexity = exp(-sum ll / sum words), byte_perplexity = exp(-sum ll / sum bytes),
 * bits_per_byte = -sum ll / sum bytes / ln 2 (weighted_perplexity and bits_per_byte aggregations).
 */
import type { TaskName } from './formats.js';

export type ItemResult =
  | { kind: 'choice'; lls: number[]; gold: number; pred: number; predNorm: number }
  | { kind: 'target'; ll: number; greedy: boolean }
  | { kind: 'rolling'; ll: number; words: number; bytes: number; windows: number };

export interface TaskResult {
  task: TaskName;
  /** Items evaluated. */
  items: number;
  /** Metric name (the harness's) to value. */
  metrics: Record<string, number>;
}

function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** One multiple-choice item's predictions from its choices' log-likelihoods. */
export function choiceResult(lls: number[], choices: string[], gold: number): ItemResult {
  return { kind: 'choice', lls, gold, pred: argmax(lls), predNorm: argmax(lls.map((ll, i) => ll / [...choices[i]].length)) };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The task's metrics over its items (at least one). */
export function aggregate(task: TaskName, items: ItemResult[]): TaskResult {
  const metrics: Record<string, number> = {};
  const choice = items.filter((r) => r.kind === 'choice');
  const target = items.filter((r) => r.kind === 'target');
  const rolling = items.filter((r) => r.kind === 'rolling');
  if (choice.length > 0) {
    metrics.acc = mean(choice.map((r) => (r.pred === r.gold ? 1 : 0)));
    metrics.acc_norm = mean(choice.map((r) => (r.predNorm === r.gold ? 1 : 0)));
  }
  if (target.length > 0) {
    metrics.perplexity = Math.exp(-mean(target.map((r) => r.ll)));
    metrics.acc = mean(target.map((r) => (r.greedy ? 1 : 0)));
  }
  if (rolling.length > 0) {
    const ll = rolling.reduce((a, r) => a + r.ll, 0);
    const words = rolling.reduce((a, r) => a + r.words, 0);
    const bytes = rolling.reduce((a, r) => a + r.bytes, 0);
    metrics.word_perplexity = Math.exp(-ll / words);
    metrics.byte_perplexity = Math.exp(-ll / bytes);
    metrics.bits_per_byte = -ll / bytes / Math.LN2;
  }
  return { task, items: items.length, metrics };
}
