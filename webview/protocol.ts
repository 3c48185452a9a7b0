/**
 * Messages between the extension host and its webviews (the dashboard panels and the sidebar view),
 * defined once here and imported by both sides. Webviews post `ready` first; the host answers with
 * the data (the "ready handshake"), so nothing is lost while a webview loads.
 */
import type { ListedIssue, ReferenceInfo } from '../server/protocol/config.js';
import type { RunEvent, RunSummary } from '../server/protocol/events.js';
import type { RunStatus } from '../server/protocol/messages.js';

// ---------------------------------------------------------------------------------------------
// Dashboard

/** Where the dashboard's data comes from. */
export type DashboardSource = 'server' | 'store';

export type HostToDashboard =
  /** First answer to `ready`: which run this panel shows. `reset` drops events the webview kept. */
  | { type: 'init'; runId: string; name: string; source: DashboardSource; reset: boolean }
  /** Events in seq order (a replay batch or live events); duplicates are ignored by the webview. */
  | { type: 'events'; events: RunEvent[] }
  | { type: 'status'; status: RunStatus | 'unknown'; source: DashboardSource; backend?: string; message?: string }
  /** One binary heatmap frame (server/protocol/messages.ts encodeHeatmapFrame), answer to `heatmap`. */
  | { type: 'heatmap'; key: string; frame: Uint8Array; model: string; step: number }
  | { type: 'heatmapError'; key: string; message: string };

export type DashboardToHost =
  /** `lastSeq`: the highest seq the webview already holds (from its saved state), so a replay skips those. */
  | { type: 'ready'; runId?: string; lastSeq: number }
  /** Asks for the heatmap of one head of an attention snapshot (the attention event's file). */
  | { type: 'heatmap'; key: string; model: string; step: number; seq: number; file: string; layer: number; head: number }
  /** Saves an export: `data` is a data: URL (png) or text (csv, json). */
  | { type: 'export'; format: 'png' | 'csv' | 'json'; suggestedName: string; data: string }
  | { type: 'stop' }
  /** Continues a stopped (or interrupted, failed) run from its last checkpoint. */
  | { type: 'resume' };

// ---------------------------------------------------------------------------------------------
// Sidebar

/** Per-layer attention statistics of the reference, for the lazy-layer strip under the slider. */
export interface LayerStrip {
  /** Where they came from: a run's attention event, or an analysis the server ran. */
  source: string;
  tau: number;
  /** Per layer: MaxRank (approximate rank k*), AvgMass and the lazy verdict. */
  layers: { layer: number; maxRank: number; avgMass: number; lazy: boolean }[];
}

export interface SidebarState {
  /** The config file shown (workspace-relative), or null when no config file is open. */
  configFile: string | null;
  /** The config's valid values (the schema's defaults where not written; null or '' where invalid), or null without a config. */
  config: {
    name: string;
    referencePath: string;
    layers: number | null;
    maxLayers: number | null;
    train: string;
    val: string;
    /** null: what is written is invalid. */
    steps: number | null;
    baselines: string[];
    /** runtime.backend ('auto' where not written), and the names it may take. */
    backend: string;
    backends: readonly string[];
    /** The run's analysis windows (analysis.sequences of analysis.seq_len tokens of data.val); null where invalid. */
    analysisWindows: { sequences: number | null; seqLen: number | null };
    /** reference.hub as `ORG/NAME@REVISION`, '' when the reference is a folder. */
    referenceHub: string;
  } | null;
  /** What will train the run (configInfo's engine): runtime.engine, its devices, what the probe found, the torch devices usable here. */
  engine?: { name: string; devices: string; detail: string; torchDevices: string[] };
  /** reference.hub's commit (in the cache, else on the Hub) and whether it is downloaded. */
  hub?: { commit?: string; cached: boolean; downloadBytes?: number };
  /** The config's errors and warnings in file order: the language server's list, as the editor and `inheritune run` show it. */
  problems: ListedIssue[];
  reference: ReferenceInfo | null;
  referenceError?: string;
  strip: LayerStrip | null;
  /** Whether runs may start here (a trusted workspace). */
  trusted: boolean;
  /** The run training now, and its progress in words (server/protocol/progress.ts). */
  running: { runId: string; name: string; progress: string } | null;
}

export type HostToSidebar = { type: 'state'; state: SidebarState };

export type SidebarToHost =
  | { type: 'ready' }
  | { type: 'setLayers'; layers: number }
  | { type: 'setSteps'; steps: number }
  | { type: 'setBackend'; backend: string }
  /** runtime.engine torch on these runtime.devices. */
  | { type: 'setTorchDevices'; devices: string }
  | { type: 'pickReference' }
  | { type: 'pickData'; which: 'train' | 'val' }
  | { type: 'analyze' }
  | { type: 'start' }
  | { type: 'stop' }
  /** Opens the config file, with the cursor at `at` (1-based) when given. */
  | { type: 'openConfig'; at?: { line: number; col: number } }
  | { type: 'newConfig' };

export type { RunEvent, RunSummary, RunStatus };
