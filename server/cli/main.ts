/**
 * `inheritune`: the engine from a terminal. Every command reports bad input as one clear line on
 * stderr naming the file, field or option at fault, and exits non-zero.
 */
import { Command, CommanderError } from 'commander';
import { InherituneError } from '../engine/errors.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerEval } from './commands/eval.js';
import { registerInherit } from './commands/inherit.js';
import { registerPretrain } from './commands/pretrain.js';

const program = new Command('inheritune')
  .description('Derive small, strong language models from large ones with the Inheritune recipe.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerEval(program);
registerAnalyze(program);
registerInherit(program);
registerPretrain(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // Commander has already printed its message (unknown option, missing argument, help, version).
    process.exit(e.exitCode);
  }
  if (e instanceof InherituneError) process.stderr.write(`error: ${e.message}\n`);
  else process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
