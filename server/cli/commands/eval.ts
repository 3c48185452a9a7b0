import type { Command } from 'commander';
import type { BackendName } from '../../engine/backend.js';
import type { TokenizerName } from '../../engine/data/tokenizer.js';
import { contiguousStarts, randomStarts } from '../../engine/data/windows.js';
import { ModelDir } from '../../engine/hfCheckpoint.js';
import { evaluateDir } from '../../engine/layerwise.js';
import { isRotary } from '../../engine/modelFamily.js';
import { backendOption, int, tokenizerOption, windowsOption } from '../options.js';
import { startProgress } from '../progress.js';
import { evaluationMemory } from '../../engine/resources.js';
import { modelDirArg } from '../hubModel.js';
import { checkContext, loadDataWindows, useBackend } from './common.js';

interface EvalOptions {
  data: string;
  blockSize?: number;
  windows: 'contiguous' | 'random';
  maxWindows?: number;
  seed: number;
  batchSize: number;
  tokenizer: TokenizerName;
  backend: BackendName;
  json?: boolean;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('mean next-token cross-entropy (nats) of a model on a token or text file')
    .argument('<modelDir>', 'HF-style model directory, GPT-2, LLaMA or Qwen2 (config.json + safetensors), or hf://ORG/NAME[@REV]')
    .requiredOption('--data <file>', 'tokens (.bin uint16) or text (.txt, .jsonl)')
    .option('--block-size <T>', 'window length (default: the model context)', int(1))
    .addOption(windowsOption('contiguous'))
    .option('--max-windows <N>', 'evaluate only the first N windows', int(1))
    .option('--seed <S>', 'seed for random windows', int(0), 0)
    .option('--batch-size <B>', 'windows per forward pass', int(1), 8)
    .addOption(tokenizerOption())
    .addOption(backendOption())
    .option('--json', 'print one JSON object')
    .action(async (modelArg: string, o: EvalOptions) => {
      const modelDir = await modelDirArg(modelArg, '<modelDir>', o.json === true);
      const model = ModelDir.open(modelDir);
      try {
        const { config } = model;
        const T = o.blockSize ?? config.nPositions;
        checkContext('--block-size', T, config.nPositions, modelDir);
        const backend = await useBackend(o.backend, o.json === true, evaluationMemory(config, o.batchSize, T).total);
        const { tokens, starts } = await loadDataWindows(
          o.data,
          o.tokenizer,
          config.vocabSize,
          T + 1,
          T,
          (n) => (o.windows === 'contiguous' ? contiguousStarts(n, T, true, o.maxWindows) : randomStarts(o.seed, 0, o.maxWindows ?? Math.floor((n - 1) / T), n, T)),
          modelDir,
        );
        // Rotary-family checkpoints run block by block (progress in blocks), GPT-2 whole (progress in windows).
        const bar = isRotary(config) ? startProgress('eval (blocks)', config.nLayer + 1) : startProgress('eval', starts.length);
        const r = await evaluateDir(model, tokens, starts, T, o.batchSize, (done) => bar.update(done));
        bar.stop();
        if (o.json) process.stdout.write(`${JSON.stringify({ ...r, backend })}\n`);
        else process.stdout.write(`val loss ${r.valLoss.toFixed(4)} nats (perplexity ${Math.exp(r.valLoss).toFixed(2)}) over ${r.windows} windows, ${r.tokens} tokens\n`);
      } finally {
        model.close();
      }
    });
}
