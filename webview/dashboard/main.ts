/**
 * The run dashboard (a webview panel, one per run): loss curves, lr and throughput, per-layer
 * MaxRank/AvgMass of the reference and the derived model, the head x layer rank grid, an attention
 * heatmap per clicked cell, the results table and exports. Data arrives from the host as run events
 * (replayed, then live); RunModel merges them. The state (events, selection) is saved with setState
 * so a hidden panel restores at once, and `ready` tells the host which seq the webview already has.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LogarithmicScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
  type Plugin,
} from 'chart.js';
import type { RunEvent } from '../../server/protocol/events.js';
import { isResumable } from '../../server/protocol/runOutcome.js';
import { progressText } from '../../server/protocol/progress.js';
import type { DashboardToHost, HostToDashboard } from '../protocol.js';
import { RunModel, type AttentionSnapshot } from './runModel.js';
import { deviceLine } from './deviceLine.js';
import { colorBarTicks, decodeHeatmap, HEATMAP_SCALES, heatmapPixels, hitCell, positionLabel, rampColor, rankColor, rankGrid, type Heatmap, type HeatmapScale } from './heatmap.js';
import { lossRange } from './lossAxis.js';
import { renderResults } from './results.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, CategoryScale, BarController, BarElement, Legend, Tooltip);

interface VsCodeApi {
  postMessage(msg: DashboardToHost): void;
  getState(): SavedState | undefined;
  setState(s: SavedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface SavedState {
  runId: string | null;
  events: RunEvent[];
  selected: Selection | null;
  view?: ViewChoices;
}
/** The user's choices of how the charts show the data. */
interface ViewChoices {
  heatmapScale: HeatmapScale;
  lossLog: boolean;
  /** Fit the loss axis to the baselines too (else they are clipped to the derived models' range). */
  lossBaselines: boolean;
}
interface Selection {
  model: string;
  step: number;
  seq: number;
  file: string;
  layer: number;
  head: number;
}

const vscode = acquireVsCodeApi();
const model = new RunModel();
let source = 'store';
let status = 'unknown';
/** What the host says of the run's end (its error or where it stopped), before or without the final event. */
let statusMessage: string | null = null;
let selected: Selection | null = null;
let heatmap: Heatmap | null = null;
let heatmapKey = '';
let view: ViewChoices = { heatmapScale: 'log', lossLog: false, lossBaselines: false };

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

// ---------------------------------------------------------------------------------------------
// Theme

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}
function themeColors() {
  return {
    fg: cssVar('--vscode-foreground', '#cccccc'),
    muted: cssVar('--vscode-descriptionForeground', '#999999'),
    grid: cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.35)'),
    series: [
      cssVar('--vscode-charts-blue', '#3794ff'),
      cssVar('--vscode-charts-green', '#89d185'),
      cssVar('--vscode-charts-purple', '#b180d7'),
      cssVar('--vscode-charts-yellow', '#cca700'),
      cssVar('--vscode-charts-orange', '#d18616'),
    ],
    red: cssVar('--vscode-charts-red', '#f14c4c'),
    baseline: cssVar('--vscode-disabledForeground', '#888888'),
  };
}

// ---------------------------------------------------------------------------------------------
// Charts

/** Draws vertical grow markers (and their labels) on the loss chart. */
const growMarkersPlugin: Plugin<'line'> = {
  id: 'growMarkers',
  afterDatasetsDraw(chart) {
    const x = chart.scales.x;
    const area = chart.chartArea;
    if (!x || !area) return;
    const ctx = chart.ctx;
    const c = themeColors();
    ctx.save();
    for (const m of model.growMarkers) {
      const px = x.getPixelForValue(m.x);
      if (px < area.left || px > area.right) continue;
      ctx.strokeStyle = c.muted;
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(px, area.top);
      ctx.lineTo(px, area.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = c.muted;
      ctx.font = '11px sans-serif';
      ctx.fillText(`grow: ${m.layers} layers`, px + 4, area.top + 12);
    }
    ctx.restore();
  },
};

let lossChart: Chart<'line'> | null = null;
let speedChart: Chart<'line'> | null = null;
let refLayerChart: Chart<'bar'> | null = null;
let derivedLayerChart: Chart<'bar'> | null = null;

function baseOptions(xTitle: string, yTitle: string) {
  const c = themeColors();
  return {
    animation: false as const,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false as const,
    normalized: true,
    interaction: { mode: 'nearest' as const, intersect: false },
    plugins: { legend: { labels: { color: c.fg, boxWidth: 12 } }, tooltip: { enabled: true } },
    scales: {
      x: { type: 'linear' as const, title: { display: true, text: xTitle, color: c.muted }, ticks: { color: c.muted }, grid: { color: c.grid } },
      y: { title: { display: true, text: yTitle, color: c.muted }, ticks: { color: c.muted }, grid: { color: c.grid } },
    },
  };
}

function lossDatasets(): ChartDataset<'line', { x: number; y: number }[]>[] {
  const c = themeColors();
  const out: ChartDataset<'line', { x: number; y: number }[]>[] = [];
  let i = 0;
  for (const m of model.models.values()) {
    if (m.kind === 'reference') continue;
    const color = m.kind === 'baseline' ? c.baseline : c.series[i++ % c.series.length];
    const dash = m.kind === 'baseline' ? [6, 3] : [];
    // One legend entry per model (its train curve); its val points share the colour (lossLegend hides them).
    const name = `${m.label} · ${m.layers}L`;
    out.push({ label: name, data: m.train.map((p) => ({ x: m.offset + p.x, y: p.y })), borderColor: color, backgroundColor: color, borderWidth: 1.5, borderDash: dash, pointRadius: 0 });
    if (m.val.length > 0) {
      out.push({ label: `${name} val`, data: m.val.map((p) => ({ x: m.offset + p.x, y: p.y })), borderColor: color, backgroundColor: color, borderWidth: 2.5, borderDash: [2, 2], pointRadius: 3 });
    }
  }
  if (model.referenceValLoss !== null) {
    // Across the steps trained so far (not the planned ones: a live run's curve would be squeezed).
    let end = 1;
    for (const m of model.models.values()) end = Math.max(end, m.offset + (m.train[m.train.length - 1]?.x ?? 0), m.offset + (m.val[m.val.length - 1]?.x ?? 0));
    out.push({ label: 'reference (val)', data: [{ x: 0, y: model.referenceValLoss }, { x: end, y: model.referenceValLoss }], borderColor: c.red, backgroundColor: c.red, borderWidth: 1.5, borderDash: [8, 4], pointRadius: 0 });
  }
  return out;
}

/** The loss axis: log or linear, fitted to the derived models and the reference unless the baselines are asked for. */
function applyLossAxis(chart: Chart<'line'>): void {
  const range = lossRange(model.models.values(), model.referenceValLoss, view.lossBaselines);
  const y = chart.options.scales?.y;
  if (!y) return;
  const c = themeColors();
  Object.assign(y, { type: view.lossLog ? 'logarithmic' : 'linear', min: range?.min, max: range?.max, ticks: { color: c.muted, maxTicksLimit: 8 } });
  const canvas = chart.canvas;
  canvas.dataset.yMin = range ? range.min.toFixed(4) : '';
  canvas.dataset.yMax = range ? range.max.toFixed(4) : '';
  canvas.dataset.yScale = view.lossLog ? 'log' : 'linear';
}

function speedDatasets(): ChartDataset<'line', { x: number; y: number }[]>[] {
  const c = themeColors();
  const lr: { x: number; y: number }[] = [];
  const tps: { x: number; y: number }[] = [];
  for (const m of model.models.values()) {
    if (m.kind !== 'round') continue;
    for (const p of m.lr) lr.push({ x: m.offset + p.x, y: p.y });
    for (const p of m.tokensPerSec) tps.push({ x: m.offset + p.x, y: p.y });
  }
  return [
    { label: 'learning rate', data: lr, borderColor: c.series[2], backgroundColor: c.series[2], borderWidth: 1.5, pointRadius: 0, yAxisID: 'y' },
    { label: 'tokens/s', data: tps, borderColor: c.series[3], backgroundColor: c.series[3], borderWidth: 1, pointRadius: 0, yAxisID: 'y1' },
  ];
}

function layerChartData(snap: AttentionSnapshot | null) {
  const c = themeColors();
  const layers = snap ? [...snap.layers].sort((a, b) => a.layer - b.layer) : [];
  return {
    labels: layers.map((l) => `L${l.layer + 1}`),
    datasets: [
      {
        type: 'bar' as const,
        label: 'MaxRank',
        data: layers.map((l) => l.maxRank),
        backgroundColor: layers.map((l) => (l.lazy ? c.red : c.series[0])),
        yAxisID: 'y',
      },
      {
        type: 'line' as const,
        label: 'AvgMass',
        data: layers.map((l) => l.avgMass),
        borderColor: c.series[1],
        backgroundColor: c.series[1],
        pointRadius: 3,
        yAxisID: 'y1',
      },
      // Its legend entry; lazyThresholdPlugin draws the line across the whole chart.
      { type: 'line' as const, label: 'lazy threshold (MaxRank 1)', data: [] as number[], borderColor: c.red, backgroundColor: c.red, borderDash: [6, 3], borderWidth: 1.5, pointRadius: 0, yAxisID: 'y' },
    ],
  };
}

/** The lazy threshold: a dashed line at MaxRank 1 across the layer chart. */
const lazyThresholdPlugin: Plugin<'bar'> = {
  id: 'lazyThreshold',
  afterDatasetsDraw(chart) {
    const y = chart.scales.y;
    const area = chart.chartArea;
    if (!y || !area) return;
    const py = y.getPixelForValue(1);
    const ctx = chart.ctx;
    ctx.save();
    ctx.strokeStyle = themeColors().red;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([6, 3]);
    ctx.beginPath();
    ctx.moveTo(area.left, py);
    ctx.lineTo(area.right, py);
    ctx.stroke();
    ctx.restore();
  },
};

function makeLayerChart(canvas: HTMLCanvasElement): Chart<'bar'> {
  const c = themeColors();
  return new Chart(canvas, {
    plugins: [lazyThresholdPlugin],
    type: 'bar',
    data: layerChartData(null) as never,
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { labels: { color: c.fg, boxWidth: 12 } } },
      scales: {
        x: { ticks: { color: c.muted }, grid: { color: c.grid } },
        y: { beginAtZero: true, title: { display: true, text: 'MaxRank (k*)', color: c.muted }, ticks: { color: c.muted }, grid: { color: c.grid } },
        y1: { beginAtZero: true, position: 'right', title: { display: true, text: 'AvgMass (m*)', color: c.muted }, ticks: { color: c.muted }, grid: { drawOnChartArea: false } },
      },
    },
  });
}

function ensureCharts(): void {
  if (!lossChart) {
    const o = baseOptions('step (growth rounds back to back; baselines from 0)', 'loss (nats)');
    lossChart = new Chart($<HTMLCanvasElement>('loss-chart'), {
      type: 'line',
      data: { datasets: [] },
      options: {
        ...o,
        plugins: {
          ...o.plugins,
          // Compact: one short entry per model on as few lines as the width allows.
          legend: { align: 'start' as const, labels: { color: o.plugins.legend.labels.color, boxWidth: 10, boxHeight: 3, padding: 8, font: { size: 11 }, filter: (item: { text: string }) => !item.text.endsWith(' val') } },
        },
      },
      plugins: [growMarkersPlugin],
    });
  }
  if (!speedChart) {
    const o = baseOptions('step', 'learning rate');
    const c = themeColors();
    speedChart = new Chart($<HTMLCanvasElement>('speed-chart'), {
      type: 'line',
      data: { datasets: [] },
      options: { ...o, scales: { ...o.scales, y1: { position: 'right', title: { display: true, text: 'tokens/s', color: c.muted }, ticks: { color: c.muted }, grid: { drawOnChartArea: false } } } },
    });
  }
  refLayerChart ??= makeLayerChart($<HTMLCanvasElement>('ref-layer-chart'));
  derivedLayerChart ??= makeLayerChart($<HTMLCanvasElement>('derived-layer-chart'));
}

// ---------------------------------------------------------------------------------------------
// Rank grid and heatmap canvases

const GRID_CELL = 26;
/** Room for the head labels (left) and layer labels (top) of the rank grid. */
const GRID_LEFT = 30;
const GRID_TOP = 16;

function drawRankGrid(canvas: HTMLCanvasElement, snap: AttentionSnapshot | null): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const c = themeColors();
  if (!snap) {
    canvas.width = 200;
    canvas.height = 40;
    canvas.style.width = '200px';
    canvas.style.height = '40px';
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = c.muted;
    ctx.font = '12px sans-serif';
    ctx.fillText('no attention analysis yet', 4, 24);
    canvas.dataset.cells = '0';
    return;
  }
  const g = rankGrid(snap.layers);
  const high = Math.max(2, snap.seqLen / 4);
  canvas.width = GRID_LEFT + g.layers * GRID_CELL;
  canvas.height = GRID_TOP + g.heads * GRID_CELL;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = c.muted;
  ctx.font = '10px sans-serif';
  ctx.textAlign = 'center';
  const labelEvery = Math.max(1, Math.ceil(g.layers / 16));
  for (let l = 0; l < g.layers; l += labelEvery) ctx.fillText(`L${l + 1}`, GRID_LEFT + (l + 0.5) * GRID_CELL, 11);
  ctx.textAlign = 'right';
  for (let h = 0; h < g.heads; h++) ctx.fillText(`h${h + 1}`, GRID_LEFT - 4, GRID_TOP + (h + 0.5) * GRID_CELL + 3);
  ctx.textAlign = 'left';
  for (let h = 0; h < g.heads; h++) {
    for (let l = 0; l < g.layers; l++) {
      const [r, gg, b] = rankColor(g.rank(h, l), high);
      ctx.fillStyle = `rgb(${r},${gg},${b})`;
      ctx.fillRect(GRID_LEFT + l * GRID_CELL, GRID_TOP + h * GRID_CELL, GRID_CELL - 1, GRID_CELL - 1);
      if (selected && selected.model === snap.model.label && selected.step === snap.step && selected.layer === l && selected.head === h) {
        ctx.strokeStyle = c.fg;
        ctx.lineWidth = 2;
        ctx.strokeRect(GRID_LEFT + l * GRID_CELL + 1, GRID_TOP + h * GRID_CELL + 1, GRID_CELL - 3, GRID_CELL - 3);
      }
    }
  }
  canvas.dataset.cells = String(g.heads * g.layers);
  canvas.dataset.model = snap.model.label;
  canvas.dataset.step = String(snap.step);
  canvas.style.width = `${canvas.width}px`;
  canvas.style.height = `${canvas.height}px`;
}

function gridSnapshot(which: 'ref' | 'derived'): AttentionSnapshot | null {
  return which === 'ref' ? model.latestAttention('reference') : model.latestDerivedAttention();
}

function onGridEvent(which: 'ref' | 'derived', e: MouseEvent, click: boolean): void {
  const canvas = e.currentTarget as HTMLCanvasElement;
  const snap = gridSnapshot(which);
  const tip = $('grid-tip');
  if (!snap) return;
  const g = rankGrid(snap.layers);
  const rect = canvas.getBoundingClientRect();
  const cell = hitCell(e.clientX - rect.left - GRID_LEFT, e.clientY - rect.top - GRID_TOP, g.layers * GRID_CELL, g.heads * GRID_CELL, g.heads, g.layers);
  if (!cell) {
    tip.textContent = '';
    return;
  }
  const rank = g.rank(cell.row, cell.col);
  tip.textContent = `${snap.model.label} step ${snap.step}: layer ${cell.col + 1}, head ${cell.row + 1}: Rank ${rank.toFixed(2)}, mass ${g.mass(cell.row, cell.col).toFixed(2)}${rank <= 1 ? ' (rank 1: lazy)' : ''}`;
  if (click) selectCell({ model: snap.model.label, step: snap.step, seq: snap.seq, file: snap.file, layer: cell.col, head: cell.row });
}

function selectCell(sel: Selection): void {
  selected = sel;
  const key = `${sel.model}@${sel.step}/L${sel.layer}/H${sel.head}`;
  heatmapKey = key;
  $('heatmap-title').textContent = `Attention of ${sel.model} (step ${sel.step}), layer ${sel.layer + 1}, head ${sel.head + 1}: mean over the analysed windows`;
  $('heatmap-status').textContent = 'loading...';
  vscode.postMessage({ type: 'heatmap', key, model: sel.model, step: sel.step, seq: sel.seq, file: sel.file, layer: sel.layer, head: sel.head });
  saveState();
  renderGrids();
}

const HEATMAP_PX = 320;
/** Room around the heatmap: row labels (left), a line of text (top), rotated column labels (bottom), the colour bar and its labels (right). */
const HM = { left: 46, top: 10, bottom: 44, gap: 14, bar: 12, barLabels: 76 };

function drawHeatmap(): void {
  const canvas = $<HTMLCanvasElement>('heatmap');
  const ctx = canvas.getContext('2d');
  if (!ctx || !heatmap) return;
  const { rows, cols, seqLen } = heatmap.header;
  const off = document.createElement('canvas');
  off.width = cols;
  off.height = rows;
  const octx = off.getContext('2d');
  if (!octx) return;
  const img = octx.createImageData(cols, rows);
  img.data.set(heatmapPixels(heatmap, view.heatmapScale));
  octx.putImageData(img, 0, 0);
  canvas.width = HM.left + HEATMAP_PX + HM.gap + HM.bar + HM.barLabels;
  canvas.height = HM.top + HEATMAP_PX + HM.bottom;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, HM.left, HM.top, HEATMAP_PX, HEATMAP_PX);
  // Token position labels on both axes (rows: queries, columns: keys), inside the canvas.
  const c = themeColors();
  ctx.fillStyle = c.muted;
  ctx.font = '10px sans-serif';
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  const every = Math.max(1, Math.ceil(rows / 8));
  for (let i = 0; i < rows; i += every) ctx.fillText(positionLabel(i, rows, seqLen), HM.left - 4, HM.top + ((i + 0.5) * HEATMAP_PX) / rows);
  ctx.textAlign = 'left';
  for (let j = 0; j < cols; j += every) {
    const x = HM.left + ((j + 0.5) * HEATMAP_PX) / cols;
    ctx.save();
    ctx.translate(x, HM.top + HEATMAP_PX + 4);
    ctx.rotate(Math.PI / 4);
    ctx.fillText(positionLabel(j, cols, seqLen), 0, 0);
    ctx.restore();
  }
  // The colour bar: the ramp from bottom (0) to top (1), with the values its ticks stand for.
  const barX = HM.left + HEATMAP_PX + HM.gap;
  for (let y = 0; y < HEATMAP_PX; y++) {
    const [r, g, b] = rampColor(1 - y / (HEATMAP_PX - 1));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(barX, HM.top + y, HM.bar, 1);
  }
  ctx.fillStyle = c.muted;
  ctx.strokeStyle = c.muted;
  ctx.textAlign = 'left';
  const ticks = colorBarTicks(heatmap, view.heatmapScale);
  for (const t of ticks) {
    const y = HM.top + (1 - t.at) * (HEATMAP_PX - 1);
    ctx.beginPath();
    ctx.moveTo(barX + HM.bar, y);
    ctx.lineTo(barX + HM.bar + 3, y);
    ctx.stroke();
    ctx.fillText(t.label, barX + HM.bar + 5, Math.min(HM.top + HEATMAP_PX - 4, Math.max(HM.top + 4, y)));
  }
  canvas.dataset.drawn = '1';
  canvas.dataset.size = `${rows}x${cols}`;
  canvas.dataset.scale = view.heatmapScale;
  canvas.dataset.ticks = String(ticks.length);
  const scaleText = view.heatmapScale === 'log' ? 'log colour scale' : view.heatmapScale === 'row' ? 'each row scaled to its largest cell' : 'linear colour scale';
  $('heatmap-status').textContent = `${rows}x${cols} cells of a ${seqLen}-token window; rows: query position, columns: key position; ${scaleText}; largest cell ${heatmap.header.max.toFixed(3)}`;
}

function onHeatmapHover(e: MouseEvent): void {
  if (!heatmap) return;
  const canvas = e.currentTarget as HTMLCanvasElement;
  const rect = canvas.getBoundingClientRect();
  const scale = canvas.width / rect.width;
  const x = (e.clientX - rect.left) * scale - HM.left;
  const y = (e.clientY - rect.top) * scale - HM.top;
  const { rows, cols, seqLen } = heatmap.header;
  const cell = hitCell(x, y, HEATMAP_PX, HEATMAP_PX, rows, cols);
  $('heatmap-tip').textContent = cell
    ? `query ${positionLabel(cell.row, rows, seqLen)} -> key ${positionLabel(cell.col, cols, seqLen)}: ${heatmap.values[cell.row * cols + cell.col].toFixed(4)}`
    : '';
}

// ---------------------------------------------------------------------------------------------
// Rendering

let renderedVersion = -1;
let renderQueued = false;

function scheduleRender(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function renderGrids(): void {
  const ref = gridSnapshot('ref');
  const der = gridSnapshot('derived');
  drawRankGrid($<HTMLCanvasElement>('ref-grid'), ref);
  drawRankGrid($<HTMLCanvasElement>('derived-grid'), der);
  $('ref-grid-title').textContent = ref ? `reference (${ref.model.layers} layers)` : 'reference';
  $('derived-grid-title').textContent = der ? `${der.model.label} at step ${der.step} (${der.model.layers} layers)` : 'derived model';
}

function render(): void {
  if (renderedVersion === model.version) return;
  renderedVersion = model.version;
  ensureCharts();
  $('run-name').textContent = model.name || model.runId || 'run';
  $('backend').textContent = deviceLine(model);
  const state = model.state === 'unknown' ? status : model.state === 'running' && status !== 'unknown' ? status : model.state;
  const badge = $('status');
  badge.textContent = state;
  badge.dataset.state = state;
  $('source').textContent = source === 'server' ? 'live from the training server' : 'replayed from the run store';
  const p = model.progress;
  const bar = $<HTMLElement & { value?: number; max: number; indeterminate: boolean }>('progress');
  const running = state === 'running' || state === 'stopping' || state === 'queued';
  bar.hidden = !running;
  // Determinate while a model trains (step of steps); moving while the loop evaluates, analyses or waits.
  bar.indeterminate = p.step === null || p.steps === null;
  if (p.step !== null && p.steps !== null) {
    bar.max = p.steps;
    bar.value = p.step;
  }
  $('progress-text').textContent = running
    ? progressText(p)
    : (model.error ?? statusMessage)
      ? state === 'stopped'
        ? `${model.error ?? statusMessage}; Resume continues from there.`
        : `${state}: ${model.error ?? statusMessage}`
      : '';
  $<HTMLElement>('stop').hidden = !running;
  $<HTMLElement>('resume').hidden = running || !isResumable(state);

  if (lossChart) {
    lossChart.data.datasets = lossDatasets();
    applyLossAxis(lossChart);
    lossChart.update('none');
  }
  if (speedChart) {
    speedChart.data.datasets = speedDatasets() as never;
    speedChart.update('none');
  }
  const ref = model.latestAttention('reference');
  const der = model.latestDerivedAttention();
  if (refLayerChart) {
    refLayerChart.data = layerChartData(ref) as never;
    refLayerChart.update('none');
  }
  if (derivedLayerChart) {
    derivedLayerChart.data = layerChartData(der) as never;
    derivedLayerChart.update('none');
  }
  $('ref-layer-title').textContent = ref ? `reference, ${ref.layers.length} layers` : 'reference: no analysis yet';
  $('derived-layer-title').textContent = der ? `${der.model.label} at step ${der.step}, ${der.layers.length} layers` : 'derived model: no analysis yet';
  renderGrids();
  renderResults($('results'), model.results());
  const trainPoints = [...model.models.values()].reduce((n, m) => n + m.train.length, 0);
  const lossCanvas = $('loss-chart');
  lossCanvas.dataset.points = String(trainPoints);
  lossCanvas.dataset.valPoints = String([...model.models.values()].reduce((n, m) => n + m.val.length, 0));
  lossCanvas.dataset.growMarkers = String(model.growMarkers.length);
  $('ref-layer-chart').dataset.layers = String(ref?.layers.length ?? 0);
  $('derived-layer-chart').dataset.layers = String(der?.layers.length ?? 0);
  document.body.dataset.lastSeq = String(model.lastSeq);
  document.body.dataset.state = state;
}

let saveTimer: ReturnType<typeof setTimeout> | undefined;
function saveState(): void {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => vscode.setState({ runId: model.runId, events: model.events(), selected, view }), 200);
}

// ---------------------------------------------------------------------------------------------
// Exports

function download(format: 'png' | 'csv' | 'json', suggestedName: string, data: string): void {
  vscode.postMessage({ type: 'export', format, suggestedName, data });
}

function exportPng(which: string): void {
  const base = model.name || 'run';
  if (which === 'loss' && lossChart) download('png', `${base}-loss.png`, lossChart.toBase64Image('image/png', 1));
  else if (which === 'speed' && speedChart) download('png', `${base}-lr-throughput.png`, speedChart.toBase64Image('image/png', 1));
  else if (which === 'layers' && refLayerChart && derivedLayerChart) {
    // Both layer charts side by side in one picture.
    const a = refLayerChart.canvas;
    const b = derivedLayerChart.canvas;
    const out = document.createElement('canvas');
    out.width = a.width + b.width;
    out.height = Math.max(a.height, b.height);
    const ctx = out.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = cssVar('--vscode-editor-background', '#1e1e1e');
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(a, 0, 0);
    ctx.drawImage(b, a.width, 0);
    download('png', `${base}-layers.png`, out.toDataURL('image/png'));
  } else if (which === 'grid') download('png', `${base}-rank-grid.png`, $<HTMLCanvasElement>('derived-grid').toDataURL('image/png'));
  else if (which === 'heatmap' && heatmap) download('png', `${base}-heatmap.png`, $<HTMLCanvasElement>('heatmap').toDataURL('image/png'));
}

// ---------------------------------------------------------------------------------------------
// Messages

window.addEventListener('message', (ev: MessageEvent<HostToDashboard>) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'init':
      source = msg.source;
      if (msg.reset || (model.runId !== null && model.runId !== msg.runId)) {
        model.clear(msg.runId);
        heatmap = null;
        selected = null;
      } else model.runId ??= msg.runId;
      if (!model.name) model.name = msg.name;
      model.version++;
      scheduleRender();
      break;
    case 'events':
      if (model.add(msg.events) > 0) {
        saveState();
        scheduleRender();
      }
      break;
    case 'status':
      status = msg.status;
      statusMessage = msg.message ?? null;
      source = msg.source;
      if (msg.backend && !model.backend) model.backend = msg.backend;
      model.version++;
      scheduleRender();
      break;
    case 'heatmap':
      if (msg.key !== heatmapKey) return;
      try {
        heatmap = decodeHeatmap(msg.frame);
        drawHeatmap();
      } catch (e) {
        $('heatmap-status').textContent = `could not read the heatmap: ${(e as Error).message}`;
      }
      break;
    case 'heatmapError':
      if (msg.key === heatmapKey) $('heatmap-status').textContent = msg.message;
      break;
  }
});

function wire(): void {
  $('ref-grid').addEventListener('mousemove', (e) => onGridEvent('ref', e, false));
  $('ref-grid').addEventListener('click', (e) => onGridEvent('ref', e, true));
  $('derived-grid').addEventListener('mousemove', (e) => onGridEvent('derived', e, false));
  $('derived-grid').addEventListener('click', (e) => onGridEvent('derived', e, true));
  $('heatmap').addEventListener('mousemove', onHeatmapHover);
  const scaleSelect = $<HTMLSelectElement>('heatmap-scale');
  scaleSelect.replaceChildren(...HEATMAP_SCALES.map((k) => new Option(k === 'row' ? 'per row' : k, k)));
  scaleSelect.value = view.heatmapScale;
  scaleSelect.addEventListener('change', () => {
    view = { ...view, heatmapScale: HEATMAP_SCALES.find((k) => k === scaleSelect.value) ?? 'log' };
    saveState();
    if (heatmap) drawHeatmap();
  });
  const logBox = $<HTMLInputElement>('loss-log');
  const baselinesBox = $<HTMLInputElement>('loss-baselines');
  logBox.checked = view.lossLog;
  baselinesBox.checked = view.lossBaselines;
  const onLossAxis = () => {
    view = { ...view, lossLog: logBox.checked, lossBaselines: baselinesBox.checked };
    saveState();
    model.version++;
    scheduleRender();
  };
  logBox.addEventListener('change', onLossAxis);
  baselinesBox.addEventListener('change', onLossAxis);
  $('stop').addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
  $('resume').addEventListener('click', () => vscode.postMessage({ type: 'resume' }));
  $('export-csv').addEventListener('click', () => download('csv', `${model.name || 'run'}-metrics.csv`, model.toCsv()));
  $('export-json').addEventListener('click', () =>
    download('json', `${model.name || 'run'}-events.json`, `${JSON.stringify({ runId: model.runId, summary: model.summary, events: model.events() }, null, 1)}\n`),
  );
  for (const el of document.querySelectorAll<HTMLElement>('[data-png]')) el.addEventListener('click', () => exportPng(el.dataset.png ?? ''));
  // Theme changes re-colour the charts.
  new MutationObserver(() => {
    for (const ch of [lossChart, speedChart, refLayerChart, derivedLayerChart]) ch?.destroy();
    lossChart = speedChart = refLayerChart = derivedLayerChart = null;
    model.version++;
    scheduleRender();
    if (heatmap) drawHeatmap();
  }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}

// Restore at once from the saved state, then tell the host what we hold.
const saved = vscode.getState();
if (saved && saved.events.length > 0) {
  model.clear(saved.runId);
  model.add(saved.events);
  selected = saved.selected;
}
if (saved?.view) view = saved.view;
wire();
render();
if (selected) selectCell(selected);
vscode.postMessage({ type: 'ready', runId: model.runId ?? undefined, lastSeq: model.lastSeq });
