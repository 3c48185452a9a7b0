/**
 * Pure helpers for the dashboard's canvases: decoding binary heatmap frames into values, colour
 * scales for attention heatmaps and the head x layer rank grid, and hit-testing. No DOM: unit tests
 * run them under node; the dashboard paints their RGBA arrays with putImageData.
 */
import { decodeHeatmapFrame, type HeatmapHeader } from '../../server/protocol/messages.js';
import type { LayerStatsEvent } from '../../server/protocol/events.js';

export interface Heatmap {
  header: HeatmapHeader;
  /** rows x cols mean attention values (row-major: query rows, key columns), dequantised. */
  values: Float32Array;
  /** The quantised cells as received. */
  cells: Uint8Array;
}

/** Decodes one binary frame (as posted by the host: a Uint8Array, or a plain array/ArrayBuffer after cloning). */
export function decodeHeatmap(frame: Uint8Array | ArrayBuffer | ArrayLike<number>): Heatmap {
  const bytes = frame instanceof Uint8Array ? frame : frame instanceof ArrayBuffer ? new Uint8Array(frame) : Uint8Array.from(frame);
  const { header, cells } = decodeHeatmapFrame(bytes);
  const values = new Float32Array(cells.length);
  for (let i = 0; i < cells.length; i++) values[i] = (cells[i] / 255) * header.max;
  return { header, values, cells: cells.slice() };
}

/** Full-resolution positions [first, last] that heatmap row/column `i` of `size` covers (windows of T tokens). */
export function cellSpan(i: number, size: number, seqLen: number): [number, number] {
  const first = Math.ceil((i * seqLen) / size);
  const last = Math.ceil(((i + 1) * seqLen) / size) - 1;
  return [first, Math.max(first, last)];
}

/** Axis label of heatmap row/column i: the token position(s) it covers. */
export function positionLabel(i: number, size: number, seqLen: number): string {
  const [a, b] = cellSpan(i, size, seqLen);
  return a === b ? `t${a}` : `t${a}-${b}`;
}

/** 0..1 -> RGB on a perceptual dark-to-bright ramp (viridis-like, readable in every theme). */
export function rampColor(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f)];
}

/** RGBA pixels (one per cell) of a heatmap: brightness = the cell's share of the largest cell. */
export function heatmapPixels(h: Heatmap): Uint8ClampedArray {
  const { rows, cols } = h.header;
  const out = new Uint8ClampedArray(rows * cols * 4);
  for (let i = 0; i < rows * cols; i++) {
    const [r, g, b] = rampColor(h.cells[i] / 255);
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/**
 * Colour of a head's rank in the rank grid: red at rank 1 (a lazy, rank-collapsed head), through
 * orange and yellow-green to blue for ranks at or above `high`. Hue runs 0..210 degrees.
 */
export function rankColor(rank: number, high: number): [number, number, number] {
  if (!Number.isFinite(rank)) return [128, 128, 128];
  const t = Math.max(0, Math.min(1, (rank - 1) / Math.max(1e-9, high - 1)));
  return hslToRgb(210 * Math.sqrt(t), 0.68, 0.5);
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const hp = h / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  const [r, g, b] = hp < 1 ? [c, x, 0] : hp < 2 ? [x, c, 0] : hp < 3 ? [0, c, x] : hp < 4 ? [0, x, c] : hp < 5 ? [x, 0, c] : [c, 0, x];
  const m = l - c / 2;
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/** The rank grid's cells: rows = heads, columns = layers, each with rank, mass and lazy flag. */
export interface RankGrid {
  heads: number;
  layers: number;
  rank(head: number, layer: number): number;
  mass(head: number, layer: number): number;
}

export function rankGrid(layers: readonly LayerStatsEvent[]): RankGrid {
  const heads = layers.reduce((m, l) => Math.max(m, l.heads.length), 0);
  const byLayer = [...layers].sort((a, b) => a.layer - b.layer);
  return {
    heads,
    layers: byLayer.length,
    rank: (h, l) => byLayer[l]?.heads[h]?.rank ?? NaN,
    mass: (h, l) => byLayer[l]?.heads[h]?.mass ?? NaN,
  };
}

/** Which cell of a rows x cols grid drawn in a w x h box contains (x, y), or null outside. */
export function hitCell(x: number, y: number, w: number, h: number, rows: number, cols: number): { row: number; col: number } | null {
  if (x < 0 || y < 0 || x >= w || y >= h || rows <= 0 || cols <= 0) return null;
  return { row: Math.min(rows - 1, Math.floor((y / h) * rows)), col: Math.min(cols - 1, Math.floor((x / w) * cols)) };
}
