/**
 * The seam between the Inheritune loop and what trains one model: the built-in tfjs Trainer
 * (TfjsEngine, here) or the PyTorch worker (TorchEngine, torchEngine.ts). Both take the same task,
 * start from the same weights or resume the same checkpoint format, report through the same
 * callbacks and hand back the trained model in tfjs for the loop's evaluation and analysis.
 */
import type { EngineName, Precision } from '../../protocol/config.js';
import * as os from 'node:os';
import type { DeviceInfo, ModelRef } from '../../protocol/events.js';
import { webgpuAdapterDescription } from '../backend.js';
import * as tf from '../tf.js';
import { InherituneError } from '../errors.js';
import { loadModelDir } from '../hfCheckpoint.js';
import type { HostTensor, LanguageModel, ModelConfig } from '../modelFamily.js';
import { createModel } from '../models.js';
import type { DistillSettings } from './distill.js';
import { isTrainingCheckpoint, readTrainingCheckpoint } from './checkpoint.js';
import { Trainer, type StepMetrics, type TrainConfig, type TrainData } from './trainer.js';

/** runtime.engine and the torch settings, as the run plan keeps them. */
export interface EngineSettings {
  name: EngineName;
  python: string;
  devices: string;
  precision: Precision;
  nproc: number;
  nnodes: number;
  nodeRank: number;
  rdzvEndpoint: string;
}

export const TFJS_ENGINE: EngineSettings = { name: 'tfjs', python: 'python3', devices: 'cpu', precision: 'fp32', nproc: 1, nnodes: 1, nodeRank: 0, rdzvEndpoint: '' };

export interface EngineTask {
  model: ModelRef;
  /** The training settings, steps included. */
  train: TrainConfig;
  /** Checkpoints go here; one already there is resumed. */
  checkpointDir: string;
  /** The weights to start from when there is no checkpoint. */
  weights: () => { config: ModelConfig; tensors: Map<string, HostTensor> };
  /** Aborting stops at the next step boundary, after a checkpoint. */
  signal?: AbortSignal;
  /** The kd baseline: distil from the model in `teacherDir` (its logits computed on the fly). */
  distill?: DistillSettings & { teacherDir: string };
}

export interface EngineCallbacks {
  /** The weights a fresh model starts from (not called when resuming). */
  onInit?(tensors: ReadonlyMap<string, HostTensor>): void;
  /** A checkpoint was found: training continues after `fromStep`. */
  onResumed?(fromStep: number): void;
  /** Called once, right before the first step. */
  onStart?(): void;
  /** `live`: the model being trained, when the engine holds it in this process (tfjs). */
  onStep?(m: StepMetrics, live: LanguageModel | undefined): void;
  onEval?(e: { step: number; valLoss: number }): void;
  onCheckpoint?(e: { step: number; dir: string }): void;
}

/** A model trained to the end (held in tfjs for the loop's evaluation and analysis; the caller disposes it), or stopped at a checkpoint. */
export type EngineOutcome =
  | { stopped: false; step: number; valLoss: number | undefined; model: LanguageModel }
  /** `reason`: why, when not by the signal (a crashed worker); the run resumes from the last checkpoint. */
  | { stopped: true; step: number; reason?: string };

/** What an engine trains on: its tfjs backend or torch devices setting, and each device (the run's `device` event). */
export interface EngineDevices {
  backend: string;
  devices: DeviceInfo[];
}

export interface TrainingEngine {
  readonly name: EngineName;
  /** The devices training will use (the torch engine probes its interpreter: errors name the setting at fault). */
  describe(): Promise<EngineDevices>;
  train(task: EngineTask, cb: EngineCallbacks): Promise<EngineOutcome>;
}

/** The machine's CPU as a device: its model, cores and memory. */
export function cpuDevice(extra = ''): DeviceInfo {
  const cpus = os.cpus();
  return { name: `${cpus[0]?.model.trim() || 'CPU'} (${cpus.length} cores${extra})`, memoryBytes: os.totalmem() };
}

/** The built-in engine: server/engine/train/trainer.ts in this process. */
export class TfjsEngine implements TrainingEngine {
  readonly name = 'tfjs';

  constructor(private readonly data: TrainData) {}

  async describe(): Promise<EngineDevices> {
    const backend = tf.getBackend();
    const adapter = backend === 'webgpu' ? webgpuAdapterDescription() : undefined;
    return { backend, devices: [adapter !== undefined ? { name: adapter, memoryBytes: null } : cpuDevice()] };
  }

  async train(task: EngineTask, cb: EngineCallbacks): Promise<EngineOutcome> {
    const ckpt = task.checkpointDir;
    // Read once: the model is built from the checkpoint's weights and the trainer takes the rest.
    const saved = isTrainingCheckpoint(ckpt) ? readTrainingCheckpoint(ckpt) : undefined;
    const start = saved ? { config: saved.config, tensors: saved.weights } : task.weights();
    if (!saved) cb.onInit?.(start.tensors);
    const model = createModel(start.config, start.tensors);
    const teacher = task.distill ? loadTeacher(task.distill.teacherDir) : undefined;
    try {
      const distill = task.distill && teacher ? { teacher, alpha: task.distill.alpha, temperature: task.distill.temperature } : undefined;
      const trainer = new Trainer(model, task.train, this.data, distill);
      if (saved) {
        trainer.restore(ckpt, saved);
        cb.onResumed?.(trainer.step);
      }
      cb.onStart?.();
      const result = await trainer.run({
        signal: task.signal,
        checkpointDir: ckpt,
        callbacks: { onStep: (m) => cb.onStep?.(withGpuMemory(m), model), onEval: cb.onEval, onCheckpoint: cb.onCheckpoint },
      });
      if (!result.interrupted) return { stopped: false, step: result.step, valLoss: result.valLoss, model };
      model.dispose();
      return { stopped: true, step: result.step };
    } catch (e) {
      model.dispose();
      throw e;
    } finally {
      teacher?.dispose();
    }
  }
}

/** A step's metrics with the bytes tfjs holds on the GPU (webgpu); unchanged on the CPU backends. */
function withGpuMemory(m: StepMetrics): StepMetrics {
  if (tf.getBackend() !== 'webgpu') return m;
  const bytes = (tf.memory() as { numBytesInGPU?: number }).numBytesInGPU;
  return typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes >= 0 ? { ...m, memoryBytes: bytes } : m;
}

/** The teacher of the kd baseline, whole in tfjs (its parameters are never updated). */
function loadTeacher(dir: string): LanguageModel {
  const { config, tensors } = loadModelDir(dir);
  return createModel(config, tensors);
}

/** The engines that cannot distil refuse a kd task with this error (the config check says it first). */
export function distillUnsupported(engine: EngineName): InherituneError {
  return new InherituneError('baselines', `the kd baseline is implemented in the tfjs engine only, not runtime.engine ${engine}`);
}
