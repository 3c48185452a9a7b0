import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { BackendName } from '../../engine/backend.js';
import { getTokenizer, type TokenizerName } from '../../engine/data/tokenizer.js';
import { InherituneError } from '../../engine/errors.js';
import { loadModelDir, TOKENIZER_FILE } from '../../engine/hfCheckpoint.js';
import { createModel } from '../../engine/models.js';
import { evaluationMemory } from '../../engine/resources.js';
import { evaluateTasks } from '../../engine/tasks/evaluateTasks.js';
import { isTaskName, TASK_NAMES, type TaskName } from '../../engine/tasks/formats.js';
import { formatTasksTable } from '../../engine/tasks/report.js';
import { backendOption, int } from '../options.js';
import { startProgress } from '../progress.js';
import { modelDirArg, withDownloadProgress } from '../hubModel.js';
import { resolveTaskDataset } from '../../engine/tasks/datasetHub.js';
import { useBackend } from './common.js';

interface EvaluateTasksOptions {
  tasks: string;
  limit?: number;
  dataDir?: string;
  tokenizer?: TokenizerName;
  backend: BackendName;
  json?: boolean;
}

/** `--tasks a,b,c`: known names, each once. */
export function parseTaskList(value: string, option: string): TaskName[] {
  const names = value.split(',').map((s) => s.trim());
  const out: TaskName[] = [];
  for (const n of names) {
    if (!isTaskName(n)) throw new InherituneError(option, `unknown task "${n}"; the tasks are ${TASK_NAMES.join(', ')}`);
    if (out.includes(n)) throw new InherituneError(option, `lists task "${n}" twice`);
    out.push(n);
  }
  return out;
}

export function registerEvaluateTasks(program: Command): void {
  program
    .command('evaluate-tasks')
    .description("zero-shot downstream tasks with lm-evaluation-harness's prompts and metrics (wikitext, lambada, arc_easy, piqa, sciq, hellaswag)")
    .argument('<modelDir>', 'HF-style model directory (GPT-2, LLaMA or Qwen2), or hf://ORG/NAME[@REV]')
    .option('--tasks <list>', `comma-separated, of ${TASK_NAMES.join(', ')}`, TASK_NAMES.join(','))
    .option('--limit <N>', 'at most the first N items of each task', int(1))
    .option('--data-dir <dir>', 'a folder holding <task>.jsonl or <task>.parquet (default: the datasets in the Hugging Face cache, downloaded when missing)')
    .addOption(new Option('--tokenizer <name>', "tokenizer (default: the model folder's tokenizer.json when it has one, else gpt2)").choices(['gpt2', 'bytes', 'model']))
    .addOption(backendOption())
    .option('--json', 'print one JSON object')
    .action(async (modelArg: string, o: EvaluateTasksOptions) => {
      const tasks = parseTaskList(o.tasks, '--tasks');
      if (o.dataDir !== undefined && !(fs.existsSync(o.dataDir) && fs.statSync(o.dataDir).isDirectory())) throw new InherituneError('--data-dir', `${o.dataDir} is not a folder`);
      const modelDir = await modelDirArg(modelArg, '<modelDir>', o.json === true);
      // Datasets missing from the Hugging Face cache are downloaded first (only their split's files).
      if (o.dataDir === undefined) for (const task of tasks) await withDownloadProgress(o.json === true, (opts) => resolveTaskDataset(task, opts));
      const tokenizer = o.tokenizer ?? (fs.existsSync(path.join(modelDir, TOKENIZER_FILE)) ? 'model' : 'gpt2');
      const tok = getTokenizer(tokenizer, modelDir);
      // Host tensors first: the backend is chosen from the model's size before any tfjs variable exists.
      const { config, tensors } = loadModelDir(modelDir);
      if (tok.vocabSize > config.vocabSize) {
        throw new InherituneError('--tokenizer', `${tokenizer} has ${tok.vocabSize} ids, more than the ${config.vocabSize} of the model (${modelDir})`);
      }
      const backend = await useBackend(o.backend, o.json === true, evaluationMemory(config, 1, config.nPositions).total);
      const model = createModel(config, tensors);
      try {
        let bar: ReturnType<typeof startProgress> | undefined;
        let current: TaskName | undefined;
        const results = await evaluateTasks(model, tok, tasks, {
          limit: o.limit,
          sourceOf: () => o.dataDir,
          onProgress: (task, done, total) => {
            if (o.json) return;
            if (task !== current) {
              bar?.stop();
              bar = startProgress(task, total);
              current = task;
            }
            bar?.update(done);
          },
        });
        bar?.stop();
        const summary = results.map(({ task, items, metrics, files }) => ({ task, items, metrics, files }));
        if (o.json) process.stdout.write(`${JSON.stringify({ model: modelDir, tokenizer, backend, tasks: summary })}\n`);
        else process.stdout.write(`${formatTasksTable([{ model: path.basename(path.resolve(modelDir)), results }])}\n`);
      } finally {
        model.dispose();
      }
    });
}
