/**
 * From a checked run config to the loop's plan, and the plan's copy in the run folder: a resumed
 * run reads plan.json, so it runs exactly what was started even if the config file changed since.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runAnalysis } from '../../protocol/analysisWindows.js';
import { ACCUMULATE_MODES, ANALYSIS_CONVENTIONS, BASELINES, BLOCK_PARTS, ENGINES, GROW_MODES, MASS_MODES, PRECISIONS, SAVE_DTYPES, TASK_DATA_HF_CACHE, TASK_NAMES, TOKENIZERS, type ResolvedRunConfig } from '../../protocol/config.js';
import { arrayOf, bool, int, num, obj, oneOf, optional, pairOf, str, type Infer, type Same } from '../../protocol/schema.js';
import { HUB_PIN } from '../../protocol/events.js';
import { InherituneError } from '../errors.js';
import { writeFileAtomic } from '../fsAtomic.js';
import { readJsonFile } from '../jsonFile.js';
import type { ResourceEstimate } from '../resources.js';
import type { RunPlan } from './inherituneRun.js';

const PLAN_FILE = 'plan.json';

export function planFromConfig(c: ResolvedRunConfig, configPath: string, estimate?: ResourceEstimate): RunPlan {
  return {
    name: c.name,
    configPath: path.resolve(configPath),
    referenceDir: c.reference.path,
    ...(c.reference.hub !== undefined && c.reference.commit !== undefined ? { hub: { repo: c.reference.hub, revision: c.reference.revision, commit: c.reference.commit } } : {}),
    layers: c.target.layers,
    saveDtype: c.runtime.save_dtype,
    ...(estimate ? { memoryBytes: estimate.tensorBytes } : {}),
    inherit: { parts: c.target.inherit, embeddings: c.target.embeddings, positions: c.target.positions, finalNorm: c.target.final_norm },
    grow: { enabled: c.grow.enabled, step: c.grow.step, maxLayers: c.grow.max_layers, mode: c.grow.mode, tolerance: c.grow.tolerance },
    data: { train: c.data.train, val: c.data.val, tokenizer: c.data.tokenizer, subset: c.data.subset },
    train: {
      steps: c.train.steps,
      batchTokens: c.train.batch_tokens,
      microBatch: c.train.micro_batch,
      blockSize: c.train.block_size,
      lr: c.train.lr,
      minLr: c.train.min_lr,
      warmup: c.train.warmup,
      weightDecay: c.train.weight_decay,
      betas: c.train.betas,
      gradClip: c.train.grad_clip,
      accumulate: c.train.accumulate,
      evalEvery: c.train.eval_every,
      evalWindows: c.train.eval_windows,
      seed: c.train.seed,
      checkpointEvery: c.runtime.checkpoint_every,
    },
    baselines: c.baselines,
    seeds: c.train.seeds,
    distill: { alpha: c.train.kd_alpha, temperature: c.train.kd_temperature },
    engine: {
      name: c.runtime.engine,
      python: c.runtime.python,
      devices: c.runtime.devices,
      precision: c.runtime.precision,
      nproc: c.runtime.nproc,
      nnodes: c.runtime.nnodes,
      nodeRank: c.runtime.node_rank,
      rdzvEndpoint: c.runtime.rdzv_endpoint,
    },
    analysis: { every: c.analysis.every, ...runAnalysis(c) },
    ...(c.evaluation.tasks.length > 0
      ? { evaluation: { tasks: c.evaluation.tasks, limit: c.evaluation.limit, ...(c.evaluation.data_dir !== TASK_DATA_HF_CACHE ? { dataDir: c.evaluation.data_dir } : {}) } }
      : {}),
  };
}

export function writePlan(runDir: string, plan: RunPlan): void {
  writeFileAtomic(path.join(runDir, PLAN_FILE), `${JSON.stringify(plan, null, 2)}\n`);
}

const count = int({ min: 0 });
const positive = int({ min: 1 });
const PLAN = obj({
  name: str({ min: 1 }),
  configPath: str({ min: 1 }),
  referenceDir: str({ min: 1 }),
  hub: optional(HUB_PIN),
  layers: positive,
  saveDtype: optional(oneOf(SAVE_DTYPES)),
  memoryBytes: optional(num({ min: 0 })),
  inherit: obj({ parts: arrayOf(oneOf(BLOCK_PARTS)), embeddings: bool(), positions: bool(), finalNorm: bool() }),
  grow: obj({ enabled: bool(), step: positive, maxLayers: positive, mode: oneOf(GROW_MODES), tolerance: num() }),
  data: obj({ train: str({ min: 1 }), val: str({ min: 1 }), tokenizer: oneOf(TOKENIZERS), subset: num({ min: 0, max: 1 }) }),
  train: obj({
    steps: positive,
    batchTokens: positive,
    microBatch: positive,
    blockSize: positive,
    lr: num({ min: 0 }),
    minLr: num({ min: 0 }),
    warmup: count,
    weightDecay: num({ min: 0 }),
    betas: pairOf(num({ min: 0, max: 1 })),
    gradClip: num({ min: 0 }),
    accumulate: optional(oneOf(ACCUMULATE_MODES)),
    evalEvery: count,
    evalWindows: positive,
    seed: count,
    checkpointEvery: count,
  }),
  baselines: arrayOf(oneOf(BASELINES)),
  seeds: optional(arrayOf(count)),
  distill: optional(obj({ alpha: num({ min: 0, max: 1 }), temperature: num({ min: 0 }) })),
  engine: optional(
    obj({
      name: oneOf(ENGINES),
      python: str({ min: 1 }),
      devices: str({ min: 1 }),
      precision: oneOf(PRECISIONS),
      nproc: positive,
      nnodes: positive,
      nodeRank: count,
      rdzvEndpoint: str(),
    }),
  ),
  analysis: obj({
    every: count,
    sequences: positive,
    seqLen: positive,
    windows: oneOf(['random', 'contiguous'] as const),
    seed: count,
    tau: num({ min: 0, max: 1 }),
    eta: num({ min: 0, max: 1 }),
    mass: oneOf(MASS_MODES),
    convention: optional(oneOf(ANALYSIS_CONVENTIONS)),
  }),
  evaluation: optional(obj({ tasks: arrayOf(oneOf(TASK_NAMES)), limit: count, dataDir: optional(str({ min: 1 })) })),
});

// Compile-time check: the schema accepts exactly RunPlan (both ways).
const schemaMatchesPlan: Same<Infer<typeof PLAN>, RunPlan> = true;
void schemaMatchesPlan;

/** The plan a run folder was started with; a missing, edited or foreign plan.json is an error naming its field. */
export function readPlan(runDir: string): RunPlan {
  const file = path.join(runDir, PLAN_FILE);
  if (!fs.existsSync(file)) throw new InherituneError(runDir, `not a resumable run folder: no ${PLAN_FILE}`);
  const r = PLAN.check(readJsonFile(file, PLAN_FILE), 'plan');
  if (!r.ok) throw new InherituneError(file, r.error);
  return r.value;
}
