/**
 * The run's zero-shot evaluation (evaluation.tasks): every model of the run in turn, loaded from its
 * folder, evaluated on every task, its results emitted as one `tasks` event. A resumed run keeps the
 * results its events already hold. Datasets not in the Hugging Face cache are fetched first (the CLI
 * has done it before the run; the training server's runs get here without it).
 */
import type { TokenizerName } from '../data/tokenizer.js';
import { getTokenizer } from '../data/tokenizer.js';
import { loadModelDir } from '../hfCheckpoint.js';
import { createModel } from '../models.js';
import type { ModelRef, ModelTasks, RunEvent, TaskResultEvent } from '../../protocol/events.js';
import { resolveTaskDataset } from './datasetHub.js';
import type { TaskResult } from './metrics.js';
import type { TaskName } from './formats.js';
import { evaluateTasks } from './evaluateTasks.js';

export interface RunTasksPlan {
  tasks: TaskName[];
  /** 0: every item. */
  limit: number;
  /** A folder of <task>.jsonl|.parquet; absent: the Hugging Face cache. */
  dataDir?: string;
}

export interface RunTasksHooks {
  /** Before a model is evaluated (a phase line). */
  onStart(model: ModelRef): void;
  /** A model's results (the `tasks` event). */
  onResults(results: ModelTasks): void;
  /** A warning for the run's log. */
  onWarning(message: string): void;
}

/**
 * The results as stored: a metric that overflowed (a perplexity past 1e308, from a model that puts
 * almost no probability on the text) cannot be written as JSON, so it is left out, with a warning.
 */
export function storable(model: ModelRef, results: TaskResult[], warn: (message: string) => void): TaskResultEvent[] {
  return results.map(({ task, items, metrics }) => {
    const kept: Record<string, number> = {};
    for (const [name, v] of Object.entries(metrics)) {
      if (Number.isFinite(v)) kept[name] = v;
      else warn(`${model.label}: ${task} ${name} is ${v} (the model gives the text almost no probability); left out of the results`);
    }
    return { task, items, metrics: kept };
  });
}

/** The results `events` already hold, by model label. */
function priorResults(events: RunEvent[]): Map<string, ModelTasks> {
  const out = new Map<string, ModelTasks>();
  for (const e of events) if (e.type === 'tasks') out.set(e.model.label, { model: e.model, results: e.results });
  return out;
}

export async function evaluateRunTasks(
  plan: RunTasksPlan,
  models: { model: ModelRef; dir: string }[],
  tokenizer: { name: TokenizerName; modelDir: string },
  events: RunEvent[],
  hooks: RunTasksHooks,
): Promise<ModelTasks[]> {
  const tok = getTokenizer(tokenizer.name, tokenizer.modelDir);
  if (plan.dataDir === undefined) for (const task of plan.tasks) await resolveTaskDataset(task);
  const known = priorResults(events);
  const out: ModelTasks[] = [];
  for (const { model, dir } of models) {
    const prior = known.get(model.label);
    if (prior) {
      out.push(prior);
      continue;
    }
    hooks.onStart(model);
    const { config, tensors } = loadModelDir(dir);
    const lm = createModel(config, tensors);
    try {
      const results = await evaluateTasks(lm, tok, plan.tasks, { limit: plan.limit > 0 ? plan.limit : undefined, sourceOf: () => plan.dataDir });
      const entry: ModelTasks = { model, results: storable(model, results, hooks.onWarning) };
      hooks.onResults(entry);
      out.push(entry);
    } finally {
      lm.dispose();
    }
  }
  return out;
}
