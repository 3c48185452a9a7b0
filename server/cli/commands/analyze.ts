import type { Command } from 'commander';
import { Option } from 'commander';
import type { BackendName } from '../../engine/backend.js';
import type { TokenizerName } from '../../engine/data/tokenizer.js';
import { ANALYSIS_BATCH, analysisStarts, paperWindowsNote, type AnalysisResult } from '../../engine/analyze.js';
import { ANALYSIS_CONVENTIONS, describeLazy, type AnalysisConvention, type MassMode } from '../../engine/attentionStats.js';
import { ModelDir } from '../../engine/hfCheckpoint.js';
import { analyzeDir } from '../../engine/layerwise.js';
import { isRotary } from '../../engine/modelFamily.js';
import { backendOption, float, int, tokenizerOption, windowsOption } from '../options.js';
import { startProgress } from '../progress.js';
import { evaluationMemory } from '../../engine/resources.js';
import { modelDirArg } from '../hubModel.js';
import { checkContext, loadDataWindows, useBackend } from './common.js';

interface AnalyzeOptions {
  data: string;
  sequences: number;
  seqLen: number;
  windows: 'contiguous' | 'random';
  seed: number;
  tau: number;
  eta: number;
  mass: MassMode;
  convention: AnalysisConvention;
  tokenizer: TokenizerName;
  backend: BackendName;
  json?: boolean;
}

function table(r: AnalysisResult): string {
  const lines = [`layer  MaxRank  AvgMass  lazy  (tau ${r.tau}, eta ${r.eta}, ${r.sequences} windows of ${r.seqLen} tokens, ${r.convention})`];
  for (const l of r.layers) {
    // "near": floor(MaxRank) = 1, the paper's lazy group, beside strict rank 1.
    lines.push(`${String(l.layer + 1).padStart(5)}  ${l.maxRank.toFixed(2).padStart(7)}  ${l.avgMass.toFixed(2).padStart(7)}  ${l.lazy ? 'LAZY' : l.nearLazy ? 'near' : '-'}`);
  }
  return lines.join('\n');
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('attention rank and column mass per layer and head: finds lazy (rank-1) layers')
    .argument('<modelDir>', 'HF-style model directory, GPT-2, LLaMA or Qwen2 (LLaMA and Qwen2 are analysed block by block), or hf://ORG/NAME[@REV]')
    .requiredOption('--data <file>', 'tokens (.bin uint16) or text (.txt, .jsonl)')
    .option('--sequences <N>', 'number of windows', int(1), 100)
    .option('--seq-len <T>', 'tokens per window', int(1), 100)
    .addOption(windowsOption('random'))
    .option('--seed <S>', 'seed for random windows', int(0), 0)
    .option('--tau <x>', 'energy threshold of the approximate rank', float(0, 1), 0.9)
    .option('--eta <x>', 'mass threshold of the column mass', float(0, 1), 0.9)
    .addOption(new Option('--mass <mode>', 'columns sorted by mass, or in index order').choices(['sorted', 'prefix']).default('sorted'))
    .addOption(
      new Option('--convention <c>', "a head's Rank over the windows: mean of per-window ranks (paper text), or rank of the mean matrix (authors' notebook)")
        .choices(ANALYSIS_CONVENTIONS)
        .default('mean-of-ranks'),
    )
    .addOption(tokenizerOption())
    .addOption(backendOption())
    .option('--json', 'print one JSON object')
    .action(async (modelArg: string, o: AnalyzeOptions) => {
      const modelDir = await modelDirArg(modelArg, '<modelDir>', o.json === true);
      const model = ModelDir.open(modelDir);
      let r: AnalysisResult;
      let backend: string;
      let positions: number;
      try {
        const { config } = model;
        positions = config.nPositions;
        checkContext('--seq-len', o.seqLen, config.nPositions, modelDir);
        backend = await useBackend(o.backend, o.json === true, evaluationMemory(config, ANALYSIS_BATCH, o.seqLen).total);
        const opts = { sequences: o.sequences, seqLen: o.seqLen, windows: o.windows, seed: o.seed, tau: o.tau, eta: o.eta, mass: o.mass, convention: o.convention };
        const { tokens, starts } = await loadDataWindows(o.data, o.tokenizer, config.vocabSize, o.seqLen, o.seqLen, (n) => analysisStarts(n, opts, o.data), modelDir);
        // Rotary-family checkpoints run block by block (progress in blocks), GPT-2 whole (progress in windows).
        const bar = isRotary(config) ? startProgress('analyze (blocks)', config.nLayer) : startProgress('analyze', starts.length);
        r = await analyzeDir(model, tokens, starts, opts, (done) => bar.update(done));
        bar.stop();
      } finally {
        model.close();
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      const note = paperWindowsNote(r.sequences, r.seqLen, positions, '--sequences / --seq-len ask for it');
      process.stdout.write(`${table(r)}\n\n${describeLazy(r.layers)} [backend ${backend}]\n${note ? `Note: ${note}.\n` : ''}`);
    });
}
