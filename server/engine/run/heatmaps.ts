/**
 * Heatmap frames of an attention event: the run store keeps the full-resolution mean attention
 * matrices (attention/<label>-step<k>.safetensors, `layer.<l>` [heads, T, T]); clients get each head
 * down-sampled to at most 64 x 64 uint8 cells in a binary frame that names the event (runId, seq).
 * Frames are computed once per event and kept in a small cache: 20 watchers cost one file read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsReader } from '../safetensors.js';
import type { RunEvent } from '../../protocol/events.js';
import { downsampleHeatmap, encodeHeatmapFrame, HEATMAP_MAX_SIZE } from '../../protocol/messages.js';

type AttentionEvent = Extract<RunEvent, { type: 'attention' }>;

export class HeatmapCache {
  private readonly cache = new Map<string, Uint8Array[]>();

  constructor(private readonly capacity = 16) {}

  /** The frames of `event` (empty when its matrices are not in the run store). */
  frames(runDir: string, event: AttentionEvent): Uint8Array[] {
    const key = `${runDir}\0${event.seq}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const frames = this.compute(runDir, event);
    this.cache.set(key, frames);
    while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value as string);
    return frames;
  }

  private compute(runDir: string, event: AttentionEvent): Uint8Array[] {
    if (!event.file.endsWith('.safetensors')) return [];
    const file = path.resolve(runDir, event.file);
    // Events come from our own training process, but a path must never leave the run folder.
    if (!file.startsWith(path.resolve(runDir) + path.sep) || !fs.existsSync(file)) return [];
    const reader = SafetensorsReader.open(file);
    try {
      const layers = reader
        .names()
        .filter((n) => /^layer\.\d+$/.test(n))
        .map((n) => ({ name: n, layer: Number(n.slice(6)) }))
        .sort((a, b) => a.layer - b.layer);
      const frames: Uint8Array[] = [];
      for (const { name, layer } of layers) {
        const shape = reader.info(name).shape;
        if (shape.length !== 3 || shape[1] !== shape[2]) continue;
        const [H, T] = shape;
        const data = reader.readFloat32(name);
        for (let head = 0; head < H; head++) {
          const h = downsampleHeatmap(data, T, head * T * T, HEATMAP_MAX_SIZE);
          frames.push(encodeHeatmapFrame({ runId: event.runId, seq: event.seq, layer, head, rows: h.size, cols: h.size, seqLen: T, max: h.max }, h.cells));
        }
      }
      return frames;
    } finally {
      reader.close();
    }
  }
}
