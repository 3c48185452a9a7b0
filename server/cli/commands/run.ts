/**
 * `inheritune run <config>`: the whole Inheritune loop from a terminal. The config is checked
 * completely (every problem reported with file:line:col) before any work starts; progress goes to
 * stderr, NDJSON events to stdout with --json, and the results table to stdout at the end.
 * Ctrl-C (or SIGTERM) checkpoints and stops; `--resume <runDir>` continues exactly there.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import type { BackendName } from '../../engine/backend.js';
import { loadRunConfig } from '../../engine/configCheck.js';
import { InherituneError } from '../../engine/errors.js';
import { assertResumable, InherituneRun, USER_STOP, type RunPlan } from '../../engine/run/inherituneRun.js';
import { planFromConfig, readPlan, writePlan } from '../../engine/run/plan.js';
import { RunStore } from '../../engine/run/runStore.js';
import { describeEstimate } from '../../engine/resources.js';
import { resolveConfigReference } from '../../engine/hub/index.js';
import { formatIssue } from '../../protocol/config.js';
import { resolveHubModel, withDownloadProgress } from '../hubModel.js';
import { assertTorchRuntime } from '../../engine/train/torchProbe.js';
import { backendOption } from '../options.js';
import { resultsTable, RunProgress, tasksTable, verdict } from '../runReport.js';
import { resolveTaskDataset } from '../../engine/tasks/datasetHub.js';
import { taskFiles } from '../../engine/tasks/taskData.js';
import { useBackend } from './common.js';

interface RunOptions {
  out?: string;
  resume?: string;
  json?: boolean;
  backend?: BackendName;
}

/** reference.hub of a config, downloaded when missing (the config's other problems are reported by loadRunConfig). */
async function hubReference(configFile: string, quiet: boolean): Promise<{ dir: string; commit: string } | undefined> {
  let text: string;
  try {
    text = fs.readFileSync(configFile, 'utf8');
  } catch {
    return undefined; // loadRunConfig says why.
  }
  const model = await withDownloadProgress(quiet, (opts) => resolveConfigReference(text, configFile, opts));
  if (model && !quiet) process.stderr.write(`reference: commit ${model.commit} in ${model.dir}\n`);
  return model;
}

/** A resumed run reads its reference at the commit it started with, fetched again if the cache lost it. */
async function pinnedReference(plan: RunPlan, quiet: boolean): Promise<RunPlan> {
  if (!plan.hub) return plan;
  const { dir } = await resolveHubModel({ repo: plan.hub.repo, revision: plan.hub.commit }, quiet);
  return { ...plan, referenceDir: dir };
}

/**
 * The zero-shot tasks run at the end: their data must be there before hours of training, not after.
 * Datasets missing from the Hugging Face cache are downloaded now.
 */
async function prepareTaskData(plan: RunPlan, quiet: boolean): Promise<void> {
  const evaluation = plan.evaluation;
  for (const task of evaluation?.tasks ?? []) {
    if (evaluation?.dataDir !== undefined) taskFiles(task, evaluation.dataDir);
    else await withDownloadProgress(quiet, (opts) => resolveTaskDataset(task, opts));
  }
}

/** A new run folder for `configFile`, or the folder being resumed, with its plan and backend. */
async function prepare(configFile: string | undefined, o: RunOptions): Promise<{ store: RunStore; plan: RunPlan; backend: BackendName }> {
  if (o.resume !== undefined) {
    if (configFile !== undefined) throw new InherituneError('--resume', 'takes the run folder; do not also give a config file');
    const store = RunStore.open(o.resume);
    assertResumable(store);
    const plan = await pinnedReference(readPlan(store.dir), o.json === true);
    if (plan.engine?.name === 'torch') await assertTorchRuntime(plan.engine);
    await prepareTaskData(plan, o.json === true);
    return { store, plan, backend: o.backend ?? 'auto' };
  }
  if (configFile === undefined) throw new InherituneError('run', 'give a config file (*.inheritune.yaml) or --resume <runDir>');
  // Refuses (with every problem listed) a config whose run would not fit the machine's free memory or disk.
  // With --out the run writes there, so that is where the config check measures free disk.
  const { config, estimate, warnings } = await loadRunConfig(configFile, { outDir: o.out, hubModel: await hubReference(configFile, o.json === true) });
  // The warnings the editor shows: `file:line:col: warning: message`, as an error would be listed (stderr, so --json's stdout stays events).
  for (const w of warnings) process.stderr.write(`${formatIssue(configFile, w)}\n`);
  if (estimate && !o.json) process.stderr.write(`${describeEstimate(estimate)}\n`);
  const plan = planFromConfig(config, configFile, estimate);
  // Python, torch and the devices are checked before a run folder exists.
  if (plan.engine?.name === 'torch') await assertTorchRuntime(plan.engine);
  await prepareTaskData(plan, o.json === true);
  const store = RunStore.create(config.runtime.out_dir, config.name, fs.readFileSync(configFile, 'utf8'));
  writePlan(store.dir, plan);
  return { store, plan, backend: o.backend ?? config.runtime.backend };
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the Inheritune loop of a config file: inherit, train, evaluate, grow, baselines, analysis')
    .argument('[config]', 'run config (*.inheritune.yaml)')
    .option('--out <dir>', 'run store folder (default: runtime.out_dir of the config)')
    .option('--resume <runDir>', 'continue a stopped or killed run from its last checkpoint')
    .option('--json', 'print every event as one JSON line on stdout')
    .addOption(backendOption().default(undefined))
    .action(async (configFile: string | undefined, o: RunOptions) => {
      const { store, plan, backend: requested } = await prepare(configFile, o);
      const backend = await useBackend(requested, o.json === true, plan.memoryBytes);
      if (!o.json) process.stderr.write(`run ${store.runId} in ${store.dir}\n`);
      const progress = new RunProgress();
      const abort = new AbortController();
      // Ctrl-C is the user's stop; SIGTERM (a shutdown, a job scheduler) is not.
      const userStop = () => abort.abort(USER_STOP);
      const stop = () => abort.abort();
      process.once('SIGINT', userStop);
      process.once('SIGTERM', stop);
      const run = new InherituneRun(plan, store, {
        backend,
        signal: abort.signal,
        onEvent: (e) => {
          if (o.json) process.stdout.write(`${JSON.stringify(e)}\n`);
          else progress.onEvent(e);
        },
      });
      const outcome = await run.run();
      process.off('SIGINT', userStop);
      process.off('SIGTERM', stop);
      if (outcome.interrupted || !outcome.summary) {
        process.stderr.write(`stopped; continue with: inheritune run --resume ${store.dir}\n`);
        process.exit(130);
      }
      if (!o.json) {
        const tasks = tasksTable(outcome.summary);
        const note = outcome.summary.analysisNote;
        process.stdout.write(`\n${resultsTable(outcome.summary, store.events())}\n${tasks ? `\nTasks (zero-shot)\n${tasks}\n` : ''}\n${verdict(outcome.summary)}\n${note ? `Note: ${note}.\n` : ''}`);
        process.stdout.write(`model: ${outcome.summary.final.modelDir}\nrun store: ${store.dir}\n`);
      }
    });
}
