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

/**
 * How a heatmap's cells map to the colour ramp. linear: share of the largest cell (one sink cell,
 * e.g. t0 -> t0, leaves the rest dark); log: log of the cell over the quantisation's range (the
 * smallest non-zero cell, max/255, to max), which shows every decade; row: share of its row's largest
 * cell (where each query looks, whatever its scale).
 */
export const HEATMAP_SCALES = ['log', 'linear', 'row'] as const;
export type HeatmapScale = (typeof HEATMAP_SCALES)[number];

/** The largest quantised cell: a cell's level under `log` is ln(cell) / ln(LEVELS). */
const LEVELS = 255;

/** Each cell's 0..1 position on the colour ramp under `scale`. */
export function heatmapLevels(h: Heatmap, scale: HeatmapScale): Float32Array {
  const { rows, cols } = h.header;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let rowMax = 0;
    if (scale === 'row') for (let c = 0; c < cols; c++) rowMax = Math.max(rowMax, h.cells[r * cols + c]);
    for (let c = 0; c < cols; c++) {
      const q = h.cells[r * cols + c];
      out[r * cols + c] = scale === 'linear' ? q / LEVELS : scale === 'log' ? (q === 0 ? 0 : Math.log(q) / Math.log(LEVELS)) : rowMax === 0 ? 0 : q / rowMax;
    }
  }
  return out;
}

/** RGBA pixels (one per cell) of a heatmap under `scale` (heatmapLevels on the ramp). */
export function heatmapPixels(h: Heatmap, scale: HeatmapScale = 'linear'): Uint8ClampedArray {
  const levels = heatmapLevels(h, scale);
  const out = new Uint8ClampedArray(levels.length * 4);
  for (let i = 0; i < levels.length; i++) {
    const [r, g, b] = rampColor(levels[i]);
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** The colour bar's ticks: positions 0..1 on the ramp and the attention values (or shares) they stand for. */
export function colorBarTicks(h: Heatmap, scale: HeatmapScale): { at: number; label: string }[] {
  const max = h.header.max;
  const num = (v: number) => (v === 0 || v >= 0.01 ? v.toFixed(3) : v.toExponential(1));
  if (scale === 'row') return [{ at: 0, label: '0' }, { at: 0.5, label: 'half row max' }, { at: 1, label: 'row max' }];
  if (scale === 'linear') return [0, 0.25, 0.5, 0.75, 1].map((at) => ({ at, label: num(at * max) }));
  // log: every decade below max down to the smallest non-zero cell, and that cell.
  const ticks = [{ at: 0, label: `<= ${num(max / LEVELS)}` }];
  for (let d = 0; 10 ** d < LEVELS; d++) ticks.push({ at: 1 - Math.log(10 ** d) / Math.log(LEVELS), label: num(max / 10 ** d) });
  return ticks.sort((a, b) => a.at - b.at);
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
