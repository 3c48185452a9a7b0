/** Zero-shot task evaluation of one model: rows to requests, requests to scores, scores to metrics. */
import type { LanguageModel } from '../modelFamily.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { taskDoc, type TaskName } from './formats.js';
import { scoreRequests, TaskEncoder, type TokenRequest } from './loglikelihood.js';
import { aggregate, choiceResult, type ItemResult, type TaskResult } from './metrics.js';
import { loadTaskRows } from './taskData.js';

export interface TaskEvalOptions {
  /** At most this many items per task (the first ones), as the harness's --limit. */
  limit?: number;
  /** A task's data: a .jsonl/.parquet file or a folder holding `<task>.jsonl|.parquet`; absent: the Hugging Face cache. */
  sourceOf?: (task: TaskName) => string | undefined;
  onProgress?: (task: TaskName, done: number, total: number) => void;
}

export interface TaskEvaluation extends TaskResult {
  /** The files the rows came from. */
  files: string[];
  /** Per item, what the metrics were computed from. */
  itemResults: ItemResult[];
}

export async function evaluateTask(model: LanguageModel, tok: Tokenizer, task: TaskName, opts: TaskEvalOptions = {}): Promise<TaskEvaluation> {
  const { files, rows } = await loadTaskRows(task, opts.sourceOf?.(task), opts.limit);
  const maxLength = model.config.nPositions;
  const enc = new TaskEncoder(tok);
  const docs = rows.map(({ row, where }) => taskDoc(task, row, where));
  // Every request, and for each item the range of its requests.
  const requests: TokenRequest[] = [];
  const owner: number[] = [];
  const spans = docs.map((doc, i) => {
    const batch = doc.kind === 'choice' ? doc.choices.map((c) => enc.pair(doc.context, ` ${c}`)) : doc.kind === 'target' ? [enc.pair(doc.context, doc.target)] : enc.rolling(doc.text, maxLength);
    const start = requests.length;
    requests.push(...batch);
    owner.push(...batch.map(() => i));
    return { start, end: requests.length };
  });
  const scores = scoreRequests(model, requests, maxLength, (r) => `task ${task}, ${rows[owner[r]].where}`, (done) => opts.onProgress?.(task, done, requests.length));
  const itemResults = docs.map((doc, i): ItemResult => {
    const mine = scores.slice(spans[i].start, spans[i].end);
    switch (doc.kind) {
      case 'choice':
        return choiceResult(
          mine.map((s) => s.ll),
          doc.choices,
          doc.gold,
        );
      case 'target':
        return { kind: 'target', ll: mine[0].ll, greedy: mine[0].greedy };
      case 'rolling':
        return { kind: 'rolling', ll: mine.reduce((a, s) => a + s.ll, 0), words: doc.words, bytes: doc.bytes, windows: mine.length };
    }
  });
  return { ...aggregate(task, itemResults), files, itemResults };
}

/** Every task in order. */
export async function evaluateTasks(model: LanguageModel, tok: Tokenizer, tasks: readonly TaskName[], opts: TaskEvalOptions = {}): Promise<TaskEvaluation[]> {
  const out: TaskEvaluation[] = [];
  for (const task of tasks) out.push(await evaluateTask(model, tok, task, opts));
  return out;
}
