import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { InherituneError } from '../../engine/errors.js';
import { SAVE_DTYPES, storageDtype, type SaveDtype } from '../../engine/hfCheckpoint.js';
import { BLOCK_PARTS, inheritToDir, type BlockPart, type InheritOptions, type InheritToDirResult } from '../../engine/inherit.js';
import { parameterCountOf } from '../../engine/modelFamily.js';
import { int } from '../options.js';
import { modelDirArg } from '../hubModel.js';
import { checkOutputFolder } from './common.js';

function parts(value: string): BlockPart[] {
  const list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of list) {
    if (!(BLOCK_PARTS as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown part "${p}" (choose from ${BLOCK_PARTS.join(', ')}).`);
  }
  return list as BlockPart[];
}

type InheritCliOptions = Omit<InheritOptions, 'allowNonFinite'> & { out: string; dtype: SaveDtype; force?: boolean; allowNonfinite?: boolean };

export function registerInherit(program: Command): void {
  program
    .command('inherit')
    .description("write an untrained model made of a reference's first n blocks (Inheritune's initialisation)")
    .argument('<referenceDir>', 'HF-style reference model directory (GPT-2, LLaMA or Qwen2), or hf://ORG/NAME[@REV]')
    .requiredOption('--layers <n>', 'number of blocks to keep', int(1))
    .option('--parts <list>', `block parts to copy: ${BLOCK_PARTS.join(',')}`, parts, ['attn', 'mlp', 'norms'] as BlockPart[])
    .option('--no-embeddings', 'initialise the token embedding / LM head instead of copying it')
    .option('--no-positions', 'initialise the position embedding instead of copying it (GPT-2)')
    .option('--no-final-norm', 'initialise the final norm instead of copying it')
    .option('--seed <S>', 'seed for what is initialised', int(0), 0)
    .addOption(new Option('--dtype <dtype>', 'precision the derived model is saved in').choices(SAVE_DTYPES).default('float32'))
    .requiredOption('--out <dir>', 'output model directory (new or empty, or with --force a model inheritune wrote)')
    .option('--force', 'replace a model that inheritune wrote earlier in --out')
    .option('--allow-nonfinite', 'copy NaN or infinite reference weights instead of refusing them')
    .action(async (referenceArg: string, o: InheritCliOptions) => {
      checkOutputFolder('--out', o.out, { allowed: o.force === true, hint: 'pass --force to replace it' });
      const referenceDir = await modelDirArg(referenceArg, '<referenceDir>');
      let r: InheritToDirResult;
      try {
        // Streams: the copied tensors are read from the reference in pieces (checked for NaN and
        // infinities as they pass) and written straight out.
        r = inheritToDir(referenceDir, { ...o, allowNonFinite: o.allowNonfinite === true }, o.out, { dtype: storageDtype(o.dtype) });
      } catch (e) {
        // The engine names the field "layers"; here it is the option.
        throw e instanceof InherituneError && e.source === 'layers' ? new InherituneError('--layers', e.detail) : e;
      }
      process.stdout.write(
        `wrote ${o.out}: ${r.config.nLayer} layers, ${parameterCountOf(r.config).toLocaleString('en-US')} parameters; ${r.inherited.length} tensors inherited, ${r.fresh.length} initialised\n`,
      );
    });
}
