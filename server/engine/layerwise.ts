/**
 * Inference on a rotary-family (LLaMA, Qwen2) checkpoint one block at a time, for references far
 * larger than memory would hold as float32 tfjs variables (OpenLLaMA-3B is 6.9 GB in BF16, 13.7 GB
 * as float32).
 *
 * Every window goes through block 0, then every window through block 1, and so on: only the
 * hidden states of the windows ([N, T, C] float32) and one block's weights (read from the
 * checkpoint tensor by tensor, converted from F16/BF16 to float32 as they are uploaded, and freed
 * before the next block) are held at once. The embedding table is not loaded at all: only the rows
 * of the tokens present are read. Analysis never needs the head; evaluation loads the final norm
 * and head last. The ops are llama.ts's own, in the same order, so results equal the whole model's.
 */
import * as tf from './tf.js';
import { InherituneError } from './errors.js';
import { accumulatorFor, analysisOf, analysisResultOf, analyzeAttention, type AnalysisOptions, type AnalysisResult, type MeanAttention } from './analyze.js';
import { makeBatch } from './data/windows.js';
import { evalResult, evaluate, type EvalResult } from './evaluate.js';
import { loadModelDir, ModelDir } from './hfCheckpoint.js';
import { createModel } from './models.js';
import { crossEntropy } from './crossEntropy.js';
import { disposeContext, llamaBlock, llamaContext, llamaHead, type ParamLookup } from './llama.js';
import { LLAMA_EMBED, LLAMA_FINAL_NORM, LLAMA_HEAD, llamaBlockShapes } from './llamaConfig.js';
import { isRotary, type LanguageModel, type RotaryModelConfig } from './modelFamily.js';

/** Progress in blocks: `done` of `total` passes (the blocks, plus the head when evaluating). */
export type LayerProgress = (done: number, total: number) => void;

interface Windows {
  /** Row-major [N, T] int32 ids. */
  inputs: Int32Array;
  /** Row-major [N, T]; -1 where there is no target. */
  targets?: Int32Array;
  count: number;
  seqLen: number;
}

/** The model's weights uploaded as tfjs tensors by name; freed with dispose(). */
class Uploaded {
  private readonly tensors = new Map<string, tf.Tensor>();

  constructor(private readonly dir: ModelDir) {}

  /** Reads `name` (as float32) and uploads it; the host copy is garbage as soon as this returns. */
  load(name: string): void {
    const { shape } = this.dir.info(name);
    this.tensors.set(name, tf.tensor(this.dir.read(name), shape, 'float32'));
  }

  set(name: string, t: tf.Tensor): void {
    this.tensors.set(name, t);
  }

  readonly lookup: ParamLookup = (name) => {
    const t = this.tensors.get(name);
    if (t === undefined) throw new Error(`layerwise: ${name} is not loaded`);
    return t;
  };

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}

export class LayerwiseLlama {
  readonly config: RotaryModelConfig;

  constructor(private readonly dir: ModelDir) {
    if (!isRotary(dir.config)) throw new InherituneError(dir.dir, 'layer-by-layer inference is implemented for the rotary families (LLaMA, Qwen2)');
    this.config = dir.config;
  }

  /**
   * Token embeddings of every window, in chunks of `batchSize` windows: [b, T, C] each. Reads only
   * the embedding rows of the distinct tokens present.
   */
  private embed(w: Windows, batchSize: number): tf.Tensor3D[] {
    const { nEmbd: C } = this.config;
    const T = w.seqLen;
    const distinct = [...new Set(w.inputs)].sort((a, b) => a - b);
    const local = new Map(distinct.map((id, i) => [id, i]));
    const rows = tf.tensor2d(this.dir.readRows(LLAMA_EMBED, distinct), [distinct.length, C]);
    const chunks: tf.Tensor3D[] = [];
    try {
      for (let s = 0; s < w.count; s += batchSize) {
        const b = Math.min(batchSize, w.count - s);
        const ids = Int32Array.from(w.inputs.subarray(s * T, (s + b) * T), (id) => local.get(id) as number);
        chunks.push(tf.tidy(() => tf.gather(rows, tf.tensor1d(ids, 'int32')).reshape([b, T, C]) as tf.Tensor3D));
      }
    } finally {
      rows.dispose();
    }
    return chunks;
  }

  /**
   * Runs the windows through every block. `onAttention(layer, data, first, count)` receives each
   * block's post-softmax attention of windows first..first+count-1 ([count, heads, T, T]). With
   * targets, returns the mean loss of each chunk of windows.
   */
  async run(w: Windows, opts: { batchSize: number; onAttention?: (layer: number, data: Float32Array, first: number, count: number) => void; onProgress?: LayerProgress }): Promise<number[] | undefined> {
    const cfg = this.config;
    const T = w.seqLen;
    if (T > cfg.nPositions) throw new InherituneError('seq-len', `${T} exceeds the model's ${cfg.nPositions} positions`);
    const passes = cfg.nLayer + (w.targets ? 1 : 0);
    const ctx = llamaContext(cfg, T);
    let hidden: tf.Tensor3D[] = [];
    try {
      hidden = this.embed(w, opts.batchSize);
      for (let i = 0; i < cfg.nLayer; i++) {
        const weights = new Uploaded(this.dir);
        try {
          for (const name of llamaBlockShapes(cfg, i).keys()) weights.load(name);
          const nextHidden: tf.Tensor3D[] = [];
          for (const [c, x] of hidden.entries()) {
            const capture: tf.Tensor4D[] | undefined = opts.onAttention ? [] : undefined;
            const next = tf.tidy(() => {
              const y = llamaBlock(cfg, weights.lookup, i, x, ctx, capture);
              capture?.forEach((a) => tf.keep(a));
              return y;
            });
            nextHidden.push(next);
            try {
              for (const a of capture ?? []) opts.onAttention?.(i, (await a.data()) as Float32Array, c * opts.batchSize, a.shape[0]);
            } finally {
              for (const a of capture ?? []) a.dispose();
            }
          }
          for (const x of hidden) x.dispose();
          hidden = nextHidden;
        } finally {
          weights.dispose();
        }
        opts.onProgress?.(i + 1, passes);
      }
      if (!w.targets) return undefined;
      const head = new Uploaded(this.dir);
      try {
        head.load(LLAMA_FINAL_NORM);
        head.load(cfg.tieWordEmbeddings ? LLAMA_EMBED : LLAMA_HEAD);
        const targets = w.targets;
        const losses: number[] = [];
        for (const [c, x] of hidden.entries()) {
          const loss = tf.tidy(() => {
            const b = x.shape[0];
            const first = c * opts.batchSize;
            const y = tf.tensor2d(targets.subarray(first * T, (first + b) * T), [b, T], 'int32');
            return crossEntropy(llamaHead(cfg, head.lookup, x), y, cfg.vocabSize);
          });
          losses.push((await loss.data())[0]);
          loss.dispose();
        }
        opts.onProgress?.(passes, passes);
        return losses;
      } finally {
        head.dispose();
      }
    } finally {
      for (const x of hidden) x.dispose();
      disposeContext(ctx);
    }
  }
}

function windowsOf(tokens: ArrayLike<number>, starts: number[], seqLen: number, withTargets: boolean): Windows {
  const { inputs, targets } = makeBatch(tokens, starts, seqLen);
  return { inputs, targets: withTargets ? targets : undefined, count: starts.length, seqLen };
}

/**
 * evaluate() for a rotary-family checkpoint, block by block: the same windows, the same batches and the
 * same averaging, so the same figure as evaluating the whole model.
 */
export async function evaluateLayerwise(dir: ModelDir, tokens: ArrayLike<number>, starts: number[], seqLen: number, batchSize: number, onProgress?: LayerProgress): Promise<EvalResult> {
  const losses = (await new LayerwiseLlama(dir).run(windowsOf(tokens, starts, seqLen, true), { batchSize, onProgress })) as number[];
  let sum = 0;
  losses.forEach((loss, c) => (sum += loss * Math.min(batchSize, starts.length - c * batchSize)));
  return evalResult(sum, starts.length, seqLen);
}

/** analyzeAttention() for a rotary-family checkpoint, block by block (peak memory: one block plus activations). */
export async function analyzeLayerwise(
  dir: ModelDir,
  tokens: ArrayLike<number>,
  starts: number[],
  o: AnalysisOptions,
  onProgress?: LayerProgress,
  means?: MeanAttention,
): Promise<AnalysisResult> {
  const acc = accumulatorFor(dir.config, o);
  await new LayerwiseLlama(dir).run(windowsOf(tokens, starts, o.seqLen, false), {
    batchSize: o.batchSize ?? 4,
    onProgress,
    onAttention: (layer, data, _first, count) => {
      acc.addBatch(layer, data, count);
      means?.add(layer, data, count);
    },
  });
  return analysisResultOf(acc, o, starts.length);
}

/** Progress of a whole-model run is in windows, of a layer-by-layer run in blocks. */
export type Progress = (done: number, total: number) => void;

async function withModelDir<R>(dir: string | ModelDir, f: (m: ModelDir) => Promise<R>): Promise<R> {
  if (typeof dir !== 'string') return f(dir);
  const m = ModelDir.open(dir);
  try {
    return await f(m);
  } finally {
    m.close();
  }
}

/** `f` on the model in `m` loaded whole (GPT-2 models are small), disposed after. */
async function withWholeModel<T>(m: ModelDir, f: (model: LanguageModel) => Promise<T>): Promise<T> {
  const { config, tensors } = loadModelDir(m.dir);
  const model = createModel(config, tensors);
  try {
    return await f(model);
  } finally {
    model.dispose();
  }
}

/**
 * Mean validation loss of the model in `dir`: LLaMA and Qwen2 checkpoints block by block (any size), GPT-2
 * models whole (they are small). The figure is the same either way.
 */
export async function evaluateDir(dir: string | ModelDir, tokens: ArrayLike<number>, starts: number[], seqLen: number, batchSize: number, onProgress?: Progress): Promise<EvalResult> {
  return withModelDir(dir, async (m) => {
    if (isRotary(m.config)) return evaluateLayerwise(m, tokens, starts, seqLen, batchSize, onProgress);
    return withWholeModel(m, (model) => evaluate(model, tokens, starts, seqLen, batchSize, onProgress));
  });
}

/** Attention analysis of the model in `dir`: LLaMA and Qwen2 block by block, GPT-2 whole (same figures either way). */
export async function analyzeDir(dir: string | ModelDir, tokens: ArrayLike<number>, starts: number[], o: AnalysisOptions, onProgress?: Progress, means?: MeanAttention): Promise<AnalysisResult> {
  return withModelDir(dir, (m) =>
    analysisOf(m.weightsFile, async () => {
      if (isRotary(m.config)) return analyzeLayerwise(m, tokens, starts, o, onProgress, means);
      return withWholeModel(m, (model) => analyzeAttention(model, tokens, starts, o, onProgress, means));
    }),
  );
}
