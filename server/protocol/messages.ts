/**
 * The training server's WebSocket protocol: every message type, its runtime schema and the binary
 * heatmap frame, defined once here. The server validates each incoming message with
 * parseClientMessage; the extension and the webviews import the same types (and decodeHeatmapFrame).
 * No node or tfjs imports: this file runs in a webview too.
 *
 * Text frames carry one JSON object with a `type`. Binary frames carry attention heatmaps (see
 * encodeHeatmapFrame). The first client message must be `hello` with the token.
 */
import type { TokenizerChoice } from './config.js';
import type { RunEvent, RunSummary } from './events.js';
import { bool, either, int, isPlainObject, num, obj, oneOf, optional, show, str, type Infer, type Schema } from './schema.js';

/** Bumped on any incompatible change; `hello` must name it. */
export const PROTOCOL_VERSION = 1;
/** Largest frame the server accepts (ws maxPayload): a run config is a few KiB. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
/** Largest run config, as text in startRun or as a file the server reads. */
export const MAX_CONFIG_BYTES = 128 * 1024;
/** Milliseconds a new connection has to send `hello`. */
export const HELLO_TIMEOUT_MS = 2000;
/** Heatmaps are at most this many cells on a side. */
export const HEATMAP_MAX_SIZE = 64;
/** Live metrics events are sent at most this often per run (eval, phase, final events never wait). */
export const METRICS_INTERVAL_MS = 250;

/** WebSocket close codes the server uses (4000-4999 are the application's). */
export const CloseCode = {
  /** ws itself: a frame larger than MAX_MESSAGE_BYTES. */
  messageTooBig: 1009,
  /** The server is shutting down. */
  goingAway: 1001,
  /** No `hello` within HELLO_TIMEOUT_MS. */
  helloTimeout: 4000,
  /** The first message was not `hello`, or its token was wrong. */
  unauthorized: 4001,
  /** `hello` named a protocol version the server does not speak. */
  protocolVersion: 4002,
  /** The client read too slowly and its send buffer grew past the limit; reconnect with fromSeq. */
  tooSlow: 4008,
} as const;

// ---------------------------------------------------------------------------------------------
// Client -> server

/** Correlates a request with its reply (`inReplyTo`). */
const requestId = optional(either(str({ min: 1, max: 64 }), int({ min: 0 })));
const runId = str({ min: 1, max: 200 });

export const STOP_MODES = ['cancel', 'finish-and-save'] as const;
export type StopMode = (typeof STOP_MODES)[number];

export const ANALYZE_OPTIONS = obj({
  sequences: optional(int({ min: 1, max: 10_000 })),
  seqLen: optional(int({ min: 1, max: 8192 })),
  windows: optional(oneOf(['random', 'contiguous'] as const)),
  seed: optional(int({ min: 0 })),
  tau: optional(num({ min: 0, max: 1 })),
  eta: optional(num({ min: 0, max: 1 })),
  mass: optional(oneOf(['sorted', 'prefix'] as const)),
  // The run config's tokenizers (a type-only import keeps the YAML parser out of webview bundles).
  tokenizer: optional(oneOf(['gpt2', 'bytes', 'model'] as const satisfies readonly TokenizerChoice[])),
});
export type AnalyzeOptions = Infer<typeof ANALYZE_OPTIONS>;

/** The schema of every client message, by type. */
export const CLIENT_MESSAGES = {
  /** First message of every connection. */
  hello: obj({ type: oneOf(['hello'] as const), id: requestId, token: str({ min: 1, max: 1024 }), protocolVersion: int({ min: 0 }), client: optional(str({ max: 200 })) }),
  /**
   * A new run from a config: `configPath` (a file on the server's machine) and/or `config` (its text,
   * e.g. an unsaved editor buffer; relative paths in it resolve against configPath's folder, or the
   * server's working folder without one). Answered with runQueued, or error invalidConfig.
   */
  startRun: obj({ type: oneOf(['startRun'] as const), id: requestId, configPath: optional(str({ min: 1, max: 4096 })), config: optional(str({ min: 1, max: MAX_CONFIG_BYTES })) }),
  /** Continue an interrupted (stopped, killed, crashed) run from its last checkpoint. */
  resumeRun: obj({ type: oneOf(['resumeRun'] as const), id: requestId, runId }),
  /** cancel: checkpoint and stop (resumable); finish-and-save: the same, and the model being trained is saved as model/. */
  stopRun: obj({ type: oneOf(['stopRun'] as const), id: requestId, runId, mode: oneOf(STOP_MODES) }),
  listRuns: obj({ type: oneOf(['listRuns'] as const), id: requestId }),
  /** Events with seq >= fromSeq (default 1) from the run store, then the live stream. */
  subscribe: obj({ type: oneOf(['subscribe'] as const), id: requestId, runId, fromSeq: optional(int({ min: 1 })), heatmaps: optional(bool()) }),
  unsubscribe: obj({ type: oneOf(['unsubscribe'] as const), id: requestId, runId }),
  /**
   * Deletes a stored run (not queued, running or stopping) and its folder, on the server's machine:
   * the server removes only a run folder of its own (see RunManager.deleteRun). Answered with runDeleted.
   */
  deleteRun: obj({ type: oneOf(['deleteRun'] as const), id: requestId, runId }),
  /** Attention statistics (and heatmaps) of a model directory on a data file, in a separate process. */
  analyze: obj({ type: oneOf(['analyze'] as const), id: requestId, modelDir: str({ min: 1, max: 4096 }), data: str({ min: 1, max: 4096 }), options: optional(ANALYZE_OPTIONS) }),
} as const;

export type ClientMessageType = keyof typeof CLIENT_MESSAGES;
export type ClientMessage = { [K in ClientMessageType]: Infer<(typeof CLIENT_MESSAGES)[K]> }[ClientMessageType];
export type ClientMessageOf<K extends ClientMessageType> = Extract<ClientMessage, { type: K }>;
export type RequestId = string | number;

export type ErrorCode =
  /** The frame is not JSON (or is binary). */
  | 'badJson'
  /** A known message type with a missing, unknown or ill-typed field. */
  | 'badMessage'
  | 'unknownType'
  | 'unauthorized'
  | 'protocolVersion'
  /** startRun: the config has errors (listed in `issues`). */
  | 'invalidConfig'
  /** No run (or file) by that name. */
  | 'notFound'
  /** A path the server does not read for clients: outside its roots, not a run config, not a regular file. */
  | 'forbidden'
  /** The request contradicts the run's state (resuming a running run, stopping a finished one). */
  | 'conflict'
  | 'analyzeFailed'
  /** A bug: the request failed; the server and every run go on. */
  | 'internal';

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; code: ErrorCode; message: string; inReplyTo?: RequestId };

/** Parses and validates one text frame. Never throws. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, code: 'badJson', message: `the message is not valid JSON (${(e as Error).message.slice(0, 100)})` };
  }
  if (!isPlainObject(value)) return { ok: false, code: 'badMessage', message: `a message must be a JSON object with a "type", got ${show(value)}` };
  const id = value.id;
  const inReplyTo = (typeof id === 'string' && id.length > 0 && id.length <= 64) || (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) ? (id as RequestId) : undefined;
  const type = value.type;
  if (typeof type !== 'string') return { ok: false, code: 'badMessage', message: 'the message has no "type" string', inReplyTo };
  if (!Object.prototype.hasOwnProperty.call(CLIENT_MESSAGES, type)) {
    return { ok: false, code: 'unknownType', message: `unknown message type ${show(type)}; known: ${Object.keys(CLIENT_MESSAGES).join(', ')}`, inReplyTo };
  }
  const r = (CLIENT_MESSAGES[type as ClientMessageType] as Schema<ClientMessage>).check(value, type);
  if (!r.ok) return { ok: false, code: 'badMessage', message: r.error, inReplyTo };
  if (r.value.type === 'startRun' && r.value.config === undefined && r.value.configPath === undefined) {
    return { ok: false, code: 'badMessage', message: 'startRun needs "configPath" (a config file on the server) or "config" (the config text), or both', inReplyTo };
  }
  return { ok: true, message: r.value };
}

// ---------------------------------------------------------------------------------------------
// Server -> client

export type RunStatus =
  /** Waiting for the run before it to finish. */
  | 'queued'
  | 'running'
  /** A stop was requested; the run checkpoints at the next step boundary. */
  | 'stopping'
  | 'finished'
  /** Stopped or killed before the end: resumeRun continues it from its last checkpoint. */
  | 'interrupted'
  /** Failed with an error (see `error`); resumeRun tries again from the last checkpoint. */
  | 'failed'
  /** Created but never started (the server stopped while it was queued): resumeRun starts it. */
  | 'created';

export interface RunInfo {
  runId: string;
  name: string;
  /** The run folder on the server's machine. */
  dir: string;
  status: RunStatus;
  /** Seq of the last stored event (0: none yet). */
  lastSeq: number;
  configPath?: string;
  /** 1-based place in the queue while queued. */
  queuePosition?: number;
  /** Time of the first event (ISO). */
  startedAt?: string;
  /** Time of the last event (ISO). */
  updatedAt?: string;
  /** Why the run failed or stopped. */
  error?: string;
  /** From summary.json once finished. */
  final?: RunSummary['final'];
}

export interface AnalysisLayer {
  layer: number;
  maxRank: number;
  avgMass: number;
  lazy: boolean;
  heads: { rank: number; mass: number }[];
}

export type ServerMessage =
  | { type: 'welcome'; serverVersion: string; protocolVersion: number; backend: string; device: string; pid: number; runsDir: string; inReplyTo?: RequestId }
  | { type: 'error'; code: ErrorCode; message: string; inReplyTo?: RequestId; issues?: string[] }
  /** A startRun or resumeRun was accepted: the run is queued (or already starting, queuePosition 1). */
  | { type: 'runQueued'; run: RunInfo; inReplyTo?: RequestId }
  | { type: 'runs'; runs: RunInfo[]; inReplyTo?: RequestId }
  /** Sent to every client when a run's status changes. */
  | { type: 'runUpdate'; run: RunInfo }
  /** A run was deleted (sent to every client; the one that asked gets inReplyTo). */
  | { type: 'runDeleted'; runId: string; inReplyTo?: RequestId }
  /** A stopRun was accepted. */
  | { type: 'stopping'; runId: string; mode: StopMode; inReplyTo?: RequestId }
  /**
   * One run event. `coalesced`: how many metrics events just before this one (seq - coalesced ..
   * seq - 1) were not sent live because metrics are throttled; they are in the run store and a
   * replay sends them. So a client checks `event.seq - (coalesced ?? 0) === lastSeq + 1`.
   * `heatmaps`: the number of binary heatmap frames that follow this attention event.
   */
  | { type: 'event'; event: RunEvent; coalesced?: number; heatmaps?: number }
  /** The replay from the run store is done (up to seq `replayedTo`); live events follow. */
  | { type: 'subscribed'; runId: string; fromSeq: number; replayedTo: number; status: RunStatus; inReplyTo?: RequestId }
  | { type: 'unsubscribed'; runId: string; inReplyTo?: RequestId }
  /** The answer to analyze; `heatmaps` binary frames (with this requestId) follow. */
  | {
      type: 'analysisResult';
      requestId: string;
      modelDir: string;
      backend: string;
      result: { tau: number; eta: number; sequences: number; seqLen: number; layers: AnalysisLayer[] };
      heatmaps: number;
      inReplyTo?: RequestId;
    };

export type ServerMessageType = ServerMessage['type'];

// ---------------------------------------------------------------------------------------------
// Heatmap binary frames
//
//   bytes 0..3      "IHM1"
//   bytes 4..7      header length H, uint32 little-endian
//   bytes 8..8+H    header, UTF-8 JSON (HeatmapHeader)
//   then            rows x cols uint8 cells, row-major (query rows, key columns);
//                   a cell's mean attention is about byte / 255 * header.max

export const HEATMAP_MAGIC = 'IHM1';

export interface HeatmapHeader {
  /** The attention event's run and seq (run heatmaps), or the analyze request (analysis heatmaps). */
  runId?: string;
  seq?: number;
  requestId?: string;
  layer: number;
  head: number;
  rows: number;
  cols: number;
  /** The window length T of the full-resolution matrix. */
  seqLen: number;
  /** The largest cell value (cells are scaled to 0..255 of it). */
  max: number;
}

export function encodeHeatmapFrame(header: HeatmapHeader, cells: Uint8Array): Uint8Array {
  if (cells.length !== header.rows * header.cols) throw new Error(`heatmap: ${cells.length} cells for ${header.rows}x${header.cols}`);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + cells.length);
  out.set(new TextEncoder().encode(HEATMAP_MAGIC), 0);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  out.set(cells, 8 + json.length);
  return out;
}

export function decodeHeatmapFrame(frame: Uint8Array): { header: HeatmapHeader; cells: Uint8Array } {
  if (frame.length < 8 || new TextDecoder().decode(frame.subarray(0, 4)) !== HEATMAP_MAGIC) throw new Error('not a heatmap frame (no IHM1 magic)');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const n = view.getUint32(4, true);
  if (8 + n > frame.length) throw new Error('heatmap frame: header runs past the frame');
  const header = JSON.parse(new TextDecoder().decode(frame.subarray(8, 8 + n))) as HeatmapHeader;
  const cells = frame.subarray(8 + n);
  if (cells.length !== header.rows * header.cols) throw new Error(`heatmap frame: ${cells.length} cells for ${header.rows}x${header.cols}`);
  return { header, cells };
}

/**
 * Down-samples one T x T matrix (at `offset` in `data`) to at most `maxSize` x `maxSize` by averaging
 * blocks, and quantises it to uint8 relative to its largest cell.
 */
export function downsampleHeatmap(data: ArrayLike<number>, T: number, offset = 0, maxSize = HEATMAP_MAX_SIZE): { size: number; cells: Uint8Array; max: number } {
  const size = Math.min(T, maxSize);
  const sums = new Float64Array(size * size);
  const counts = new Float64Array(size * size);
  for (let r = 0; r < T; r++) {
    const rr = Math.floor((r * size) / T);
    for (let c = 0; c < T; c++) {
      const cc = Math.floor((c * size) / T);
      sums[rr * size + cc] += data[offset + r * T + c];
      counts[rr * size + cc] += 1;
    }
  }
  let max = 0;
  for (let i = 0; i < sums.length; i++) {
    sums[i] /= counts[i];
    if (sums[i] > max) max = sums[i];
  }
  const cells = new Uint8Array(size * size);
  if (max > 0) for (let i = 0; i < cells.length; i++) cells[i] = Math.max(0, Math.min(255, Math.round((sums[i] / max) * 255)));
  return { size, cells, max };
}
