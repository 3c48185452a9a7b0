/**
 * Attention analysis of a model on N windows of T tokens: runs the forward pass with attention
 * capture and reduces every head's post-softmax matrix to k* (approximate rank) and m* (column
 * mass), averaged over the windows (method.md section 5).
 */
import * as tf from './tf.js';
import type { LanguageModel } from './modelFamily.js';
import { InherituneError } from './errors.js';
import { AttentionAccumulator, NonFiniteAttention, type AnalysisConvention, type LayerStats, type MassMode } from './attentionStats.js';
import { contiguousStarts, makeBatch, randomStarts } from './data/windows.js';

/** Windows per forward pass of an analysis, unless told otherwise. */
export const ANALYSIS_BATCH = 4;

export interface AnalysisOptions {
  sequences: number;
  seqLen: number;
  windows: 'random' | 'contiguous';
  seed: number;
  tau: number;
  eta: number;
  mass: MassMode;
  /** How Rank(h,l) is taken over the windows; default 'mean-of-ranks'. */
  convention?: AnalysisConvention;
  /** Windows per forward pass. */
  batchSize?: number;
}

export interface AnalysisResult {
  tau: number;
  eta: number;
  sequences: number;
  seqLen: number;
  convention: AnalysisConvention;
  layers: LayerStats[];
}

/** The paper's analysis inputs: 100 random validation windows of 100 tokens. */
export const PAPER_WINDOWS = { sequences: 100, seqLen: 100 } as const;

/** Why a run's analysis is smaller than the paper's when the model does not force it. */
export const RUN_WINDOWS_SETTING = 'analysis.sequences / analysis.seq_len are set so (the config defaults keep runs quick; 100 and 100 give figures comparable with the paper)';

/**
 * A plain sentence when an analysis uses fewer windows or shorter ones than the paper, saying why;
 * undefined when it matches. `positions`: the model's context, which may be what forces it;
 * `setting`: what asked for fewer otherwise.
 */
export function paperWindowsNote(sequences: number, seqLen: number, positions: number, setting = RUN_WINDOWS_SETTING): string | undefined {
  if (sequences >= PAPER_WINDOWS.sequences && seqLen >= PAPER_WINDOWS.seqLen) return undefined;
  const reasons: string[] = [];
  // Windows as long as the model allows, and that is under 100: the model is the reason for their length.
  const shortByModel = seqLen < PAPER_WINDOWS.seqLen && seqLen >= positions;
  if (shortByModel) reasons.push(`the model has only ${positions} positions`);
  if (sequences < PAPER_WINDOWS.sequences || (seqLen < PAPER_WINDOWS.seqLen && !shortByModel)) {
    reasons.push(setting);
  }
  return `analysis on ${sequences} windows of ${seqLen} tokens, fewer than the paper's ${PAPER_WINDOWS.sequences} x ${PAPER_WINDOWS.seqLen} because ${reasons.join(', and ')}`;
}

export function analysisStarts(nTokens: number, o: AnalysisOptions, source: string): number[] {
  if (o.seqLen > nTokens) {
    throw new InherituneError(source, `has ${nTokens} tokens, fewer than one window of ${o.seqLen}`);
  }
  if (o.windows === 'contiguous') return contiguousStarts(nTokens, o.seqLen, false, o.sequences);
  // randomStarts leaves room for a target after the window; analysis needs none, but one token of
  // room changes nothing and keeps a single definition of random windows. Data of exactly one
  // window has no such room: its only window, start 0, is every random window.
  if (nTokens === o.seqLen) return new Array<number>(o.sequences).fill(0);
  return randomStarts(o.seed, 0, o.sequences, nTokens, o.seqLen, source);
}

/** Runs an analysis of the model stored at `source`, naming that file when its attention is not finite. */
export async function analysisOf<R>(source: string, analyse: () => Promise<R>): Promise<R> {
  try {
    return await analyse();
  } catch (e) {
    if (e instanceof NonFiniteAttention) throw new InherituneError(source, e.detail);
    throw e;
  }
}

/**
 * The mean post-softmax attention matrix of every head over the analysed windows: per layer one
 * [heads, T, T] tensor named `layer.<l>` (what the run store keeps and the dashboard draws).
 */
export class MeanAttention {
  private readonly sums: Float32Array[];
  private readonly counts: number[];

  constructor(
    readonly nLayer: number,
    readonly nHead: number,
    readonly seqLen: number,
  ) {
    this.sums = Array.from({ length: nLayer }, () => new Float32Array(nHead * seqLen * seqLen));
    this.counts = new Array<number>(nLayer).fill(0);
  }

  /** A layer's attention for `batch` windows: [batch, heads, T, T], row-major. */
  add(layer: number, data: ArrayLike<number>, batch: number): void {
    const sum = this.sums[layer];
    const n = sum.length;
    for (let b = 0; b < batch; b++) {
      const offset = b * n;
      for (let i = 0; i < n; i++) sum[i] += data[offset + i];
    }
    this.counts[layer] += batch;
  }

  /** `layer.<l>` -> mean over the windows, [heads, T, T] float32. */
  tensors(): [string, { shape: number[]; data: Float32Array }][] {
    const { nHead: H, seqLen: T } = this;
    return this.sums.map((sum, l) => {
      const n = this.counts[l];
      const data = sum.map((v) => (n > 0 ? v / n : 0));
      return [`layer.${l}`, { shape: [H, T, T], data }];
    });
  }
}

/** The accumulator of an analysis of a model shaped `config` (whose context must hold o.seqLen). */
export function accumulatorFor(config: { nLayer: number; nHead: number; nPositions: number }, o: AnalysisOptions): AttentionAccumulator {
  if (o.seqLen > config.nPositions) throw new InherituneError('seq-len', `${o.seqLen} exceeds the model's ${config.nPositions} positions`);
  return new AttentionAccumulator(config.nLayer, config.nHead, o.seqLen, { tau: o.tau, eta: o.eta, mass: o.mass, convention: conventionOf(o) });
}

/** An analysis's figures, once `acc` has seen its `windows` windows. */
export function analysisResultOf(acc: AttentionAccumulator, o: AnalysisOptions, windows: number): AnalysisResult {
  return { tau: o.tau, eta: o.eta, sequences: windows, seqLen: o.seqLen, convention: conventionOf(o), layers: acc.result() };
}

const conventionOf = (o: AnalysisOptions): AnalysisConvention => o.convention ?? 'mean-of-ranks';

export async function analyzeAttention(
  model: Pick<LanguageModel, 'config' | 'attentionMaps'>,
  tokens: ArrayLike<number>,
  starts: number[],
  o: AnalysisOptions,
  onProgress?: (done: number, total: number) => void,
  means?: MeanAttention,
): Promise<AnalysisResult> {
  const acc = accumulatorFor(model.config, o);
  const batchSize = o.batchSize ?? ANALYSIS_BATCH;
  for (let i = 0; i < starts.length; i += batchSize) {
    const chunk = starts.slice(i, i + batchSize);
    const { inputs } = makeBatch(tokens, chunk, o.seqLen);
    const attention = tf.tidy(() => model.attentionMaps(tf.tensor2d(inputs, [chunk.length, o.seqLen], 'int32')));
    try {
      for (const [layer, probs] of attention.entries()) {
        const data = (await probs.data()) as Float32Array;
        acc.addBatch(layer, data, chunk.length);
        means?.add(layer, data, chunk.length);
      }
    } finally {
      for (const probs of attention) probs.dispose();
    }
    onProgress?.(Math.min(i + batchSize, starts.length), starts.length);
  }
  return analysisResultOf(acc, o, starts.length);
}
