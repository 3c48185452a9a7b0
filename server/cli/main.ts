/**
 * `inheritune`: the engine from a terminal. Every command reports bad input as one clear line on
 * stderr naming the file, field or option at fault, and exits non-zero.
 */
import { Command, CommanderError } from 'commander';
import { InherituneError } from '../engine/errors.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerBench } from './commands/bench.js';
import { registerEval } from './commands/eval.js';
import { registerEvaluateTasks } from './commands/evaluateTasks.js';
import { registerInherit } from './commands/inherit.js';
import { registerPretrain } from './commands/pretrain.js';
import { registerPush } from './commands/push.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';

const program = new Command('inheritune')
  .description('Derive small, strong language models from large ones with the Inheritune recipe.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerEval(program);
registerEvaluateTasks(program);
registerAnalyze(program);
registerInherit(program);
registerPretrain(program);
registerRun(program);
registerBench(program);
registerServe(program);
registerPush(program);

/** A Node file-system error (it carries the path at fault): reported like bad input, without a stack. */
function isFileSystemError(e: unknown): e is NodeJS.ErrnoException & { path: string } {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).path === 'string';
}

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // Commander has already printed its message (unknown option, missing argument, help, version).
    process.exit(e.exitCode);
  }
  if (e instanceof InherituneError) process.stderr.write(`error: ${e.message}\n`);
  else if (isFileSystemError(e)) process.stderr.write(`error: ${e.path}: ${e.message}\n`);
  else process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
