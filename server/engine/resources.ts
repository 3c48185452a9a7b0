/**
 * Memory and disk a run will need, estimated from its config and the reference's shape before any
 * work starts, and compared with what the machine has free. The figures are deliberate
 * over-estimates of the dominant terms (float32 tensors, 4 bytes a value):
 *
 * memory, the larger of two phases:
 *   reference: GPT-2 is evaluated whole (its weights on the host and in tfjs: 2 x 4 P_ref); LLaMA/Qwen2
 *              block by block (one block twice, plus the head for the loss: 2 x 4 (P_block + V C)).
 *   training:  the largest model trained (P = its parameters, L layers): weights in tfjs and the
 *              host copy it was built from (2 x 4P), AdamW's two moments (8P) and its update's
 *              temporaries for the largest parameter tensor (10 x 4 P_max), gradients (summed and
 *              per micro-batch: 8P), and activations kept for backprop, per micro-batch of B windows
 *              of T tokens: 2 x 4 x [L (12 B T C + 3 B H T^2 + 4 B T F) + 4 B T V]
 *              (the factor 2 is the backward pass).
 * disk: a checkpoint per trained model (weights 4P + moments 8P, one more while a checkpoint is
 *       swapped in), the final model in runtime.save_dtype, and the attention statistics.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ResolvedRunConfig } from '../protocol/config.js';
import { formatBytes } from '../protocol/format.js';
import { blockShapesOf, parameterCountOf, isRotary, shapesOf, type ModelConfig } from './modelFamily.js';
import { loadAddon } from './native/addon.js';

export interface ResourceEstimate {
  /** Peak bytes of host memory, and the terms of the phase that sets it. */
  memory: { total: number; phase: 'reference' | 'training'; weights: number; optimizer: number; gradients: number; activations: number };
  /** Bytes written to the run folder. */
  disk: { total: number; checkpoints: number; finalModel: number; attention: number };
  /** Peak bytes of tfjs tensors (trainingTensorBytes), what `auto` checks against wasm's heap. */
  tensorBytes: number;
  /** Layers of the largest model trained. */
  largestLayers: number;
  /** Free memory (MemAvailable) and free disk in diskFolder, where the run store goes; disk undefined when unknown. */
  free: { memory: number; disk?: number; diskFolder: string };
}

const F32 = 4;
/** Tensors of a parameter's size alive at once inside AdamW's update of that parameter. */
const ADAMW_TEMPORARIES = 10;
const SAVE_BYTES = { float32: 4, float16: 2, bfloat16: 2 } as const;

/** Bytes of free space on the file system that holds `p` (or its nearest existing ancestor). */
export function freeDiskBytes(p: string): number | undefined {
  let dir = path.resolve(p);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return undefined;
  }
}

/** Activation bytes of one micro-batch through an L-layer model, backward included. */
function activationBytes(cfg: ModelConfig, layers: number, B: number, T: number): number {
  const { nEmbd: C, nHead: H, nInner: F, vocabSize: V } = cfg;
  const perLayer = 12 * B * T * C + 3 * B * H * T * T + 4 * B * T * F;
  return 2 * F32 * (layers * perLayer + 4 * B * T * V);
}

/** Peak bytes of evaluating (or analysing) `cfg` on micro-batches of B windows of T tokens. */
export function evaluationMemory(cfg: ModelConfig, B: number, T: number): { weights: number; activations: number; total: number } {
  let weights: number;
  if (isRotary(cfg)) {
    let block = 0;
    for (const s of blockShapesOf(cfg, 0).values()) block += s.reduce((a, b) => a * b, 1);
    weights = 2 * F32 * (block + cfg.vocabSize * cfg.nEmbd);
  } else {
    weights = 2 * F32 * parameterCountOf(cfg);
  }
  const activations = activationBytes(cfg, cfg.nLayer, B, T) / 2;
  return { weights, activations, total: weights + activations };
}

/** Elements of `cfg`'s largest parameter tensor (AdamW's temporaries are its size). */
function largestTensor(cfg: ModelConfig): number {
  return Math.max(...[...shapesOf(cfg).values()].map((s) => s.reduce((a, b) => a * b, 1)));
}

/** Peak bytes of training `cfg` on micro-batches of B windows of T tokens. */
export function trainingMemory(cfg: ModelConfig, B: number, T: number): { weights: number; optimizer: number; gradients: number; activations: number; total: number } {
  const P = parameterCountOf(cfg);
  const weights = 2 * F32 * P;
  // AdamW's two moments, and its update's temporaries for one parameter at a time (train/adamw.ts).
  const largest = largestTensor(cfg);
  const optimizer = 2 * F32 * P + ADAMW_TEMPORARIES * F32 * largest;
  const gradients = 2 * F32 * P;
  const activations = activationBytes(cfg, cfg.nLayer, B, T);
  return { weights, optimizer, gradients, activations, total: weights + optimizer + gradients + activations };
}

/**
 * Peak bytes of tfjs tensors while training `cfg` (what wasm's 4 GiB heap must hold, for the choice
 * `auto` makes; the host-side figures above are deliberate over-estimates for the refusal): the
 * weights, AdamW's two moments and the gradients once each (the gradients twice when micro-batches
 * accumulate), AdamW's temporaries unless the native kernels update in place, and one copy of the
 * activations (train/backward.ts frees them as the backward pass goes). GPT-2 small on 4 x 128
 * tokens: 3.04 GB estimated, 2.77 GB of heap measured.
 */
export function trainingTensorBytes(cfg: ModelConfig, B: number, T: number, accumulating = false): number {
  const P = parameterCountOf(cfg);
  const largest = largestTensor(cfg);
  const temporaries = loadAddon().addon === undefined ? ADAMW_TEMPORARIES * F32 * largest : 0;
  return F32 * P * (accumulating ? 5 : 4) + temporaries + activationBytes(cfg, cfg.nLayer, B, T) / 2;
}

export function estimateRun(c: ResolvedRunConfig, reference: ModelConfig): ResourceEstimate {
  const grow = c.grow.enabled;
  const largestLayers = grow ? Math.max(c.target.layers, Math.min(c.grow.max_layers, reference.nLayer)) : c.target.layers;
  // The full_scratch baseline trains the reference's whole shape.
  const largest: ModelConfig = c.baselines.includes('full_scratch') ? reference : { ...reference, nLayer: largestLayers };
  const P = parameterCountOf(largest);
  const ref = evaluationMemory(reference, c.train.micro_batch, c.train.block_size);
  const student = trainingMemory(largest, c.train.micro_batch, c.train.block_size);
  // The kd baseline holds the reference as its teacher beside the student.
  const teacher = c.baselines.includes('kd') ? ref.weights : 0;
  const train = { ...student, weights: student.weights + teacher, total: student.total + teacher };
  const memory =
    train.total >= ref.total
      ? { ...train, phase: 'training' as const }
      : { total: ref.total, phase: 'reference' as const, weights: ref.weights, optimizer: 0, gradients: 0, activations: ref.activations };

  // Disk: one checkpoint per trained model (each at most the largest size), plus one being swapped in.
  const rounds = grow ? 1 + Math.max(0, Math.floor((Math.min(c.grow.max_layers, reference.nLayer) - c.target.layers) / c.grow.step)) : 1;
  // Every model once per seed; stacking also keeps its first stage's checkpoint.
  const seeds = Math.max(1, c.train.seeds.length);
  const models = (rounds + c.baselines.length + (c.baselines.includes('stacking') ? 1 : 0)) * seeds;
  const checkpoints = (models + 1) * 3 * F32 * P;
  const finalModel = SAVE_BYTES[c.runtime.save_dtype] * P;
  const analyses = c.analysis.every > 0 ? Math.floor(c.train.steps / c.analysis.every) + 1 : 1;
  const S = c.analysis.seq_len;
  const attention = (rounds * seeds + 1) * analyses * largestLayers * reference.nHead * S * S * F32;
  const refTensors = F32 * parameterCountOf(reference) + ref.activations;
  const tensorBytes = Math.max(refTensors, trainingTensorBytes(largest, c.train.micro_batch, c.train.block_size, c.train.batch_tokens > c.train.micro_batch * c.train.block_size) + teacher / 2);
  return {
    memory,
    tensorBytes,
    disk: { total: checkpoints + finalModel + attention, checkpoints, finalModel, attention },
    largestLayers,
    free: { memory: os.freemem(), disk: freeDiskBytes(c.runtime.out_dir), diskFolder: c.runtime.out_dir },
  };
}

/**
 * The refusal of a run the machine cannot hold (memory, then disk), before hours of work, at the key
 * most to blame (`given`: whether a key is written in the config); none when it fits.
 * INHERITUNE_SKIP_RESOURCE_CHECK=1 skips it.
 */
export function resourceIssues(estimate: ResourceEstimate, given: (p: string[]) => boolean): { path: string[]; message: string }[] {
  if (process.env.INHERITUNE_SKIP_RESOURCE_CHECK === '1') return [];
  const out: { path: string[]; message: string }[] = [];
  const m = estimate.memory;
  if (m.total > estimate.free.memory) {
    const at = m.phase === 'training' && m.activations > m.weights ? ['train', 'micro_batch'] : given(['grow', 'max_layers']) ? ['grow', 'max_layers'] : ['target', 'layers'];
    out.push({ path: at, message: `the run needs about ${formatBytes(m.total)} of memory but ${formatBytes(estimate.free.memory)} is free: ${describeEstimate(estimate)}` });
  }
  if (estimate.free.disk !== undefined && estimate.disk.total > estimate.free.disk) {
    out.push({ path: ['runtime', 'out_dir'], message: `the run writes about ${formatBytes(estimate.disk.total)} but ${formatBytes(estimate.free.disk)} is free in ${estimate.free.diskFolder}: ${describeEstimate(estimate)}` });
  }
  return out;
}

/** One line for a terminal or a hover. */
export function describeEstimate(e: ResourceEstimate): string {
  const m = e.memory;
  const parts =
    m.phase === 'training'
      ? `weights ${formatBytes(m.weights)}, optimizer ${formatBytes(m.optimizer)}, gradients ${formatBytes(m.gradients)}, activations ${formatBytes(m.activations)}`
      : `reference weights ${formatBytes(m.weights)}, activations ${formatBytes(m.activations)}`;
  const disk = e.free.disk === undefined ? 'unknown' : formatBytes(e.free.disk);
  return (
    `estimated peak memory ${formatBytes(m.total)} (${m.phase === 'training' ? `training ${e.largestLayers} layers` : 'evaluating the reference'}: ${parts}; ` +
    `free ${formatBytes(e.free.memory)}), disk ${formatBytes(e.disk.total)} (checkpoints ${formatBytes(e.disk.checkpoints)}, final model ${formatBytes(e.disk.finalModel)}; free ${disk})`
  );
}
