/**
 * The dashboard header's line on what trains the run: the engine and its backend or devices setting,
 * each device (GPU, WebGPU adapter or CPU) with its memory, and the bytes in use on the GPU.
 */
import type { DeviceInfo } from '../../server/protocol/events.js';
import { formatBytes } from '../../server/protocol/format.js';

export interface DeviceState {
  /** The run's latest `device` event; null before one (or in runs stored before it existed). */
  device: { engine: string; backend: string; devices: DeviceInfo[] } | null;
  /** Bytes in use on the GPU, from the latest metrics that say. */
  memoryBytes: number | null;
  /** runStarted's backend, for runs without a `device` event. */
  backend: string;
}

/** `torch cuda bf16 · 2 × NVIDIA H100 80GB HBM3 (79 GiB each) · 12 GiB in use`; '' when nothing is known. */
export function deviceLine(s: DeviceState): string {
  const d = s.device;
  if (!d) return s.backend ? `backend ${s.backend}` : '';
  const names = new Map<string, { n: number; memoryBytes: number | null }>();
  for (const x of d.devices) {
    const seen = names.get(x.name);
    if (seen) seen.n++;
    else names.set(x.name, { n: 1, memoryBytes: x.memoryBytes });
  }
  const devices = [...names].map(([name, { n, memoryBytes }]) => `${n > 1 ? `${n} × ` : ''}${name}${memoryBytes !== null ? ` (${formatBytes(memoryBytes)}${n > 1 ? ' each' : ''})` : ''}`);
  return [`${d.engine} ${d.backend}`, ...devices, ...(s.memoryBytes !== null ? [`${formatBytes(s.memoryBytes)} in use`] : [])].join(' · ');
}
