/**
 * Messages between the server and its training processes (node IPC, JSON). One process per run (or
 * per analyze request): a step of tfjs blocks its event loop for up to seconds, so training never
 * runs in the process that serves the sockets.
 */
import type { BackendName } from '../engine/backend.js';
import type { AnalysisLayer, AnalyzeOptions, StopMode } from '../protocol/messages.js';
import type { RunEvent } from '../protocol/events.js';

/** The hidden CLI command a training process runs. */
export const WORKER_COMMAND = '__training-worker';

export type ToWorker =
  | { type: 'run'; dir: string; backend: BackendName; lockWaitMs: number }
  | { type: 'analyze'; modelDir: string; data: string; options: AnalyzeOptions; backend: BackendName }
  /** 'shutdown': the server is stopping; like cancel. */
  | { type: 'stop'; mode: StopMode | 'shutdown' };

export interface WorkerHeatmap {
  layer: number;
  head: number;
  size: number;
  max: number;
  seqLen: number;
  /** uint8 cells, base64. */
  cells: string;
}

export type FromWorker =
  | { type: 'started'; backend: string }
  | { type: 'event'; event: RunEvent }
  | { type: 'done'; status: 'finished' | 'interrupted' | 'failed'; error?: string }
  | {
      type: 'analysis';
      backend: string;
      result: { tau: number; eta: number; sequences: number; seqLen: number; layers: AnalysisLayer[] };
      heatmaps: WorkerHeatmap[];
    }
  | { type: 'analysisFailed'; error: string };
