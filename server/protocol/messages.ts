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
import { FINAL_RESULT, RUN_EVENT } from './events.js';
import { STORED_RUN_STATUSES } from './runOutcome.js';
import { arrayOf, bool, either, int, isPlainObject, num, obj, oneOf, optional, show, str, tagged, type Infer, type Schema } from './schema.js';
import { ANALYSIS_CONVENTIONS } from './names.js';

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
  convention: optional(oneOf(ANALYSIS_CONVENTIONS)),
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

export const ERROR_CODES = [
  /** The frame is not JSON (or is binary). */
  'badJson',
  /** A known message type with a missing, unknown or ill-typed field. */
  'badMessage',
  'unknownType',
  'unauthorized',
  'protocolVersion',
  /** startRun: the config has errors (listed in `issues` with its warnings, in file order). */
  'invalidConfig',
  /** No run (or file) by that name. */
  'notFound',
  /** A path the server does not read for clients: outside its roots, not a run config, not a regular file. */
  'forbidden',
  /** The request contradicts the run's state (resuming a running run, stopping a finished one). */
  'conflict',
  'analyzeFailed',
  /** A bug: the request failed; the server and every run go on. */
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

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
// Server -> client: the schema of every message, which the extension checks before using one.

export const RUN_STATUSES = [
  /** Waiting for the run before it to finish. */
  'queued',
  'running',
  /** A stop was requested; the run checkpoints at the next step boundary. */
  'stopping',
  /** What the run's events say (runOutcome): finished; stopped (by the user) or interrupted (killed
   * or crashed before the end): resumeRun continues either from its last checkpoint; failed (with an
   * error; resumeRun tries again); created (never started, e.g. the server stopped while it was
   * queued: resumeRun starts it). */
  ...STORED_RUN_STATUSES,
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

const text = str({ max: 1 << 20 });
const path = str({ min: 1, max: 4096 });
/** The id of the request a message answers. */
const inReplyTo = requestId;

const RUN_INFO = obj({
  runId,
  name: text,
  /** The run folder on the server's machine. */
  dir: path,
  status: oneOf(RUN_STATUSES),
  /** Seq of the last stored event (0: none yet). */
  lastSeq: int({ min: 0 }),
  configPath: optional(path),
  /** 1-based place in the queue while queued. */
  queuePosition: optional(int({ min: 1 })),
  /** Time of the first event (ISO). */
  startedAt: optional(str({ max: 64 })),
  /** Time of the last event (ISO). */
  updatedAt: optional(str({ max: 64 })),
  /** Why the run failed or stopped. */
  error: optional(text),
  /** From the runFinished event once finished. */
  final: optional(FINAL_RESULT),
});
export type RunInfo = Infer<typeof RUN_INFO>;

const ANALYSIS_LAYER = obj({ layer: int({ min: 0 }), maxRank: num({ min: 0 }), avgMass: num({ min: 0 }), lazy: bool(), nearLazy: optional(bool()), heads: arrayOf(obj({ rank: num({ min: 0 }), mass: num({ min: 0 }) }), { max: 100_000 }) });
export type AnalysisLayer = Infer<typeof ANALYSIS_LAYER>;
/** Attention statistics of a model (analyze's answer; also what a training process sends the server). */
export const ANALYSIS_RESULT = obj({ tau: num({ min: 0, max: 1 }), eta: num({ min: 0, max: 1 }), sequences: int({ min: 1 }), seqLen: int({ min: 1 }), convention: optional(oneOf(ANALYSIS_CONVENTIONS)), layers: arrayOf(ANALYSIS_LAYER, { max: 100_000 }) });

function serverMessage<const T extends string, S extends Record<string, Schema<unknown> | ReturnType<typeof optional>>>(type: T, shape: S) {
  return obj({ type: oneOf([type] as const), ...shape });
}

/** The schema of every server message, by type. */
export const SERVER_MESSAGES = {
  welcome: serverMessage('welcome', { serverVersion: str({ max: 200 }), protocolVersion: int({ min: 0 }), backend: str({ max: 200 }), device: str({ max: 4096 }), pid: int({ min: 0 }), runsDir: path, inReplyTo }),
  error: serverMessage('error', { code: oneOf(ERROR_CODES), message: text, inReplyTo, issues: optional(arrayOf(text, { max: 10_000 })) }),
  /** A startRun or resumeRun was accepted: the run is queued (or already starting, queuePosition 1). */
  runQueued: serverMessage('runQueued', { run: RUN_INFO, inReplyTo }),
  runs: serverMessage('runs', { runs: arrayOf(RUN_INFO, { max: 100_000 }), inReplyTo }),
  /** Sent to every client when a run's status changes. */
  runUpdate: serverMessage('runUpdate', { run: RUN_INFO }),
  /** A run was deleted (sent to every client; the one that asked gets inReplyTo). */
  runDeleted: serverMessage('runDeleted', { runId, inReplyTo }),
  /** A stopRun was accepted. */
  stopping: serverMessage('stopping', { runId, mode: oneOf(STOP_MODES), inReplyTo }),
  /**
   * One run event. `coalesced`: how many metrics events just before this one (seq - coalesced ..
   * seq - 1) were not sent live because metrics are throttled; they are in the run store and a
   * replay sends them. So a client checks `event.seq - (coalesced ?? 0) === lastSeq + 1`.
   * `heatmaps`: the number of binary heatmap frames that follow this attention event.
   */
  event: serverMessage('event', { event: RUN_EVENT, coalesced: optional(int({ min: 1 })), heatmaps: optional(int({ min: 0 })) }),
  /** The replay from the run store is done (up to seq `replayedTo`); live events follow. */
  subscribed: serverMessage('subscribed', { runId, fromSeq: int({ min: 1 }), replayedTo: int({ min: 0 }), status: oneOf(RUN_STATUSES), inReplyTo }),
  unsubscribed: serverMessage('unsubscribed', { runId, inReplyTo }),
  /**
   * A Hub reference of a startRun being downloaded into the server's Hugging Face cache (sent to
   * every client, a few times a second; `done` once at the end, also when it failed or was cut off).
   */
  download: serverMessage('download', {
    repo: str({ min: 1, max: 200 }),
    revision: str({ min: 1, max: 256 }),
    file: str({ max: 4096 }),
    bytes: int({ min: 0 }),
    totalBytes: int({ min: 0 }),
    bytesPerSecond: num({ min: 0 }),
    etaSeconds: optional(num({ min: 0 })),
    done: bool(),
  }),
  /** The answer to analyze; `heatmaps` binary frames (with this requestId) follow. */
  analysisResult: serverMessage('analysisResult', { requestId: str({ min: 1, max: 64 }), modelDir: path, backend: str({ max: 200 }), result: ANALYSIS_RESULT, heatmaps: int({ min: 0 }), inReplyTo }),
} as const;

export type ServerMessageType = keyof typeof SERVER_MESSAGES;
export type ServerMessage = { [K in ServerMessageType]: Infer<(typeof SERVER_MESSAGES)[K]> }[ServerMessageType];
export type ServerMessageOf<K extends ServerMessageType> = Extract<ServerMessage, { type: K }>;
const SERVER_MESSAGE: Schema<ServerMessage> = tagged('type', SERVER_MESSAGES);

/** A server text frame checked field by field, or why it is not a server message. Never throws. */
export function parseServerMessage(frame: string): { ok: true; message: ServerMessage } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return { ok: false, error: `a message that is not JSON: ${frame.slice(0, 80)}` };
  }
  const r = SERVER_MESSAGE.check(value, 'message');
  return r.ok ? { ok: true, message: r.value } : { ok: false, error: r.error };
}

/**
 * The reply (besides `error`) to each client message: a request is answered by a message of one of
 * these types with `inReplyTo` its id. ServerClient.request's result type is ReplyTo<its type>.
 */
export const REPLIES = {
  hello: ['welcome'],
  startRun: ['runQueued'],
  resumeRun: ['runQueued'],
  stopRun: ['stopping'],
  listRuns: ['runs'],
  subscribe: ['subscribed'],
  unsubscribe: ['unsubscribed'],
  deleteRun: ['runDeleted'],
  analyze: ['analysisResult'],
} as const satisfies { [K in ClientMessageType]: readonly ServerMessageType[] };
export type ReplyType<K extends ClientMessageType> = (typeof REPLIES)[K][number];
export type ReplyTo<K extends ClientMessageType> = ServerMessageOf<ReplyType<K>>;

/** The server's answer to request `m`: `body`, of the type REPLIES names for it (another does not compile), with `inReplyTo` its id. */
export function replyTo<K extends ClientMessageType>(m: { type: K; id?: RequestId }, body: Omit<ReplyTo<K>, 'inReplyTo'>): ReplyTo<K> {
  // Omit over the generic reply loses its link to ReplyTo<K> for the compiler; the signature holds it.
  return (m.id === undefined ? body : { ...body, inReplyTo: m.id }) as ReplyTo<K>;
}

/** Whether `m` is a reply that a `type` request may get (error aside). */
export function isReplyTo<K extends ClientMessageType>(type: K, m: ServerMessage): m is ReplyTo<K> {
  return (REPLIES[type] as readonly ServerMessageType[]).includes(m.type);
}

/**
 * The line `inheritune serve` prints on stdout once it listens (the rest of its output goes to
 * stderr); the extension starts the server and reads it to connect.
 */
const READY_LINE = obj({
  type: oneOf(['ready'] as const),
  host: str({ min: 1, max: 256 }),
  port: int({ min: 1, max: 65535 }),
  pid: int({ min: 0 }),
  protocolVersion: int({ min: 0 }),
  serverVersion: str({ max: 200 }),
  backend: str({ max: 200 }),
  runsDir: path,
  roots: arrayOf(path, { max: 1000 }),
  tokenSource: oneOf(['env', 'file', 'generated'] as const),
  tokenFile: optional(path),
});
export type ReadyLine = Infer<typeof READY_LINE>;

/** The ready line, or undefined for any other line of output. */
export function parseReadyLine(line: string): ReadyLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const r = READY_LINE.check(value, 'ready');
  return r.ok ? r.value : undefined;
}

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
