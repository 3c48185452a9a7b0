import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { InherituneError } from '../../engine/errors.js';
import { BLOCK_PARTS, inheritFromReference, type BlockPart, type InheritOptions, type InheritResult } from '../../engine/inherit.js';
import { saveGPT2 } from '../../engine/hfCheckpoint.js';
import { parameterCount } from '../../engine/gpt2Config.js';
import { int } from '../options.js';
import { checkOutputFolder } from './common.js';

function parts(value: string): BlockPart[] {
  const list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of list) {
    if (!(BLOCK_PARTS as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown part "${p}" (choose from ${BLOCK_PARTS.join(', ')}).`);
  }
  return list as BlockPart[];
}

type InheritCliOptions = InheritOptions & { out: string };

export function registerInherit(program: Command): void {
  program
    .command('inherit')
    .description("write an untrained model made of a reference's first n blocks (Inheritune's initialisation)")
    .argument('<referenceDir>', 'HF-style reference model directory')
    .requiredOption('--layers <n>', 'number of blocks to keep', int(1))
    .option('--parts <list>', `block parts to copy: ${BLOCK_PARTS.join(',')}`, parts, ['attn', 'mlp', 'norms'] as BlockPart[])
    .option('--no-embeddings', 'initialise the token embedding / LM head instead of copying it')
    .option('--no-positions', 'initialise the position embedding instead of copying it')
    .option('--no-final-norm', 'initialise the final LayerNorm instead of copying it')
    .option('--seed <S>', 'seed for what is initialised', int(0), 0)
    .requiredOption('--out <dir>', 'output model directory')
    .action((referenceDir: string, o: InheritCliOptions) => {
      checkOutputFolder('--out', o.out);
      let r: InheritResult;
      try {
        r = inheritFromReference(referenceDir, o);
      } catch (e) {
        // The engine names the field "layers"; here it is the option.
        throw e instanceof InherituneError && e.source === 'layers' ? new InherituneError('--layers', e.detail) : e;
      }
      saveGPT2(o.out, r.config, r.tensors, { inheritune_inherited_from: referenceDir, inheritune_inherited: JSON.stringify(r.inherited) });
      const fresh = r.tensors.size - r.inherited.length;
      process.stdout.write(
        `wrote ${o.out}: ${r.config.nLayer} layers, ${parameterCount(r.config).toLocaleString('en-US')} parameters; ${r.inherited.length} tensors inherited, ${fresh} initialised\n`,
      );
    });
}
