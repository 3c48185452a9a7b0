/**
 * The analysis a config's run makes of its reference and its models: the windows (analysis.sequences
 * random windows of analysis.seq_len tokens of data.val, drawn with train.seed) and the statistics
 * (tau, eta, mass, convention). The run's plan (engine/run/plan.ts) and "Analyze Reference
 * Attention" (an `analyze` request's options) both take them from here, so both give the same
 * MaxRank and AvgMass.
 */
import type { AnalysisConvention, MassMode, RunConfig } from './config.js';

export interface RunAnalysis {
  sequences: number;
  seqLen: number;
  windows: 'random';
  seed: number;
  tau: number;
  eta: number;
  mass: MassMode;
  convention: AnalysisConvention;
}

export function runAnalysis(c: Pick<RunConfig, 'analysis' | 'train'>): RunAnalysis {
  return {
    sequences: c.analysis.sequences,
    seqLen: c.analysis.seq_len,
    windows: 'random',
    seed: c.train.seed,
    tau: c.analysis.tau,
    eta: c.analysis.eta,
    mass: c.analysis.mass,
    convention: c.analysis.convention,
  };
}
