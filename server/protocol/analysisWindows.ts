/**
 * The analysis a config's run makes of its reference, as the options of an `analyze` request: the
 * same windows (analysis.sequences random windows of analysis.seq_len tokens of data.val, drawn with
 * train.seed) and the same statistics (tau, eta, mass, convention), so "Analyze Reference Attention"
 * gives the run's MaxRank and AvgMass. The run's plan (engine/run/plan.ts) reads the same fields.
 */
import type { RunConfig } from './config.js';
import type { AnalyzeOptions } from './messages.js';

export function runAnalysisOptions(c: Pick<RunConfig, 'analysis' | 'train' | 'data'>): AnalyzeOptions {
  return {
    sequences: c.analysis.sequences,
    seqLen: c.analysis.seq_len,
    windows: 'random',
    seed: c.train.seed,
    tau: c.analysis.tau,
    eta: c.analysis.eta,
    mass: c.analysis.mass,
    convention: c.analysis.convention,
    tokenizer: c.data.tokenizer,
  };
}
