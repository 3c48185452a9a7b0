/**
 * The run config's rules across keys (batch arithmetic, schedule order, the reference's form,
 * engine support; grow.max_layers >= target.layers is checked with the reference in
 * server/engine/configCheck.ts, as its fix depends on the reference's layers). They run on every valid value, written or default, even while other
 * parts of the file have errors; parseRunConfig.ts calls them after checking each key on its own.
 */
import type { IssueOptions } from './configIssue.js';
import { pathText } from './configPaths.js';

/** What the rules read from a parsed config and how they report. */
export interface CrossCheckContext {
  /** The valid value at `path`: as written, or the default when not written; undefined when invalid. */
  value(path: readonly string[]): unknown;
  /** Whether `path` is written in the file. */
  present(path: readonly string[]): boolean;
  /** Whether `path` is written in the file and its value is valid. */
  validWritten(path: readonly string[]): boolean;
  report(path: readonly string[], message: string, opts?: IssueOptions): void;
}

export function crossCheckRunConfig(ctx: CrossCheckContext): void {
  checkBatchTokens(ctx);
  checkSchedule(ctx);
  checkReference(ctx);
  checkEngineSupport(ctx);
  checkSomethingInherited(ctx);
}

function num(ctx: CrossCheckContext, ...path: string[]): number | undefined {
  const v = ctx.value(path);
  return typeof v === 'number' ? v : undefined;
}

/** The first of `paths` written in the file (where an issue about them all points), else the first. */
function writtenOf(ctx: CrossCheckContext, ...paths: string[][]): string[] {
  return paths.find((p) => ctx.present(p)) ?? paths[0];
}

/** `train.steps (200, the default)`: a value named with its key, marked when it is not written. */
function named(ctx: CrossCheckContext, p: string[], v: number): string {
  return `${pathText(p)} (${v}${ctx.present(p) ? '' : ', the default'})`;
}

function checkBatchTokens(ctx: CrossCheckContext): void {
  const bt = num(ctx, 'train', 'batch_tokens');
  const mb = num(ctx, 'train', 'micro_batch');
  const bs = num(ctx, 'train', 'block_size');
  if (bt === undefined || mb === undefined || bs === undefined) return;
  const m = mb * bs;
  if (bt % m === 0) return;
  const lo = Math.floor(bt / m) * m;
  const hi = lo + m;
  const nearest = lo > 0 && bt - lo < hi - bt ? lo : hi;
  const where = writtenOf(ctx, ['train', 'batch_tokens'], ['train', 'micro_batch'], ['train', 'block_size']);
  ctx.report(
    where,
    `${named(ctx, ['train', 'batch_tokens'], bt)} must be a multiple of train.micro_batch * train.block_size = ${mb} * ${bs} = ${m}; nearest valid values: ${lo > 0 ? `${lo} or ${hi}` : hi}`,
    { fix: where[1] === 'batch_tokens' ? { text: String(nearest), title: `Change to ${nearest}` } : undefined },
  );
}

function checkSchedule(ctx: CrossCheckContext): void {
  const lr = num(ctx, 'train', 'lr');
  const minLr = num(ctx, 'train', 'min_lr');
  if (lr !== undefined && minLr !== undefined && minLr > lr) {
    ctx.report(writtenOf(ctx, ['train', 'min_lr'], ['train', 'lr']), `${named(ctx, ['train', 'min_lr'], minLr)} must not exceed ${named(ctx, ['train', 'lr'], lr)}`);
  }
  const steps = num(ctx, 'train', 'steps');
  const warmup = num(ctx, 'train', 'warmup');
  if (steps !== undefined && warmup !== undefined && warmup > steps) {
    const where = writtenOf(ctx, ['train', 'warmup'], ['train', 'steps']);
    ctx.report(where, `${named(ctx, ['train', 'warmup'], warmup)} must not exceed ${named(ctx, ['train', 'steps'], steps)}`, {
      fix: where[1] === 'warmup' ? { text: String(steps), title: `Change to ${steps}` } : undefined,
    });
  }
  const evalEvery = num(ctx, 'train', 'eval_every');
  if (steps !== undefined && evalEvery !== undefined && evalEvery > steps && ctx.present(['train', 'eval_every'])) {
    ctx.report(['train', 'eval_every'], `train.eval_every (${evalEvery}) is more than train.steps (${steps}): validation runs only at the end`, { severity: 'warning' });
  }
}

/** The reference: a folder or a Hub model, exactly one; a revision only with a Hub model. */
function checkReference(ctx: CrossCheckContext): void {
  if (!ctx.validWritten(['reference'])) return;
  const hasPath = ctx.present(['reference', 'path']);
  const hasHub = ctx.present(['reference', 'hub']);
  if (hasPath && hasHub) ctx.report(['reference', 'hub'], 'give reference.path (a model folder) or reference.hub (a Hub model), not both', { at: 'key' });
  else if (!hasPath && !hasHub) ctx.report(['reference'], 'missing reference.path (a model folder) or reference.hub (a Hugging Face model id ORG/NAME)', { at: 'key' });
  else if (hasPath && ctx.present(['reference', 'revision'])) ctx.report(['reference', 'revision'], 'reference.revision applies to reference.hub only; a folder has no revision', { at: 'key' });
}

function checkEngineSupport(ctx: CrossCheckContext): void {
  const baselines = ctx.value(['baselines']);
  if (Array.isArray(baselines) && baselines.includes('kd') && ctx.value(['runtime', 'engine']) === 'torch') {
    ctx.report(['baselines'], 'the kd baseline (distillation from the reference) is implemented in the tfjs engine only: remove kd from baselines or set runtime.engine: tfjs');
  }
}

function checkSomethingInherited(ctx: CrossCheckContext): void {
  const inherit = ctx.value(['target', 'inherit']);
  if (Array.isArray(inherit) && inherit.length === 0 && ['embeddings', 'positions', 'final_norm'].every((k) => ctx.value(['target', k]) === false)) {
    ctx.report(['target'], 'nothing is inherited (target.inherit is [] and embeddings, positions and final_norm are false): the target is a randomly initialised model', {
      severity: 'warning',
      at: 'key',
    });
  }
}
