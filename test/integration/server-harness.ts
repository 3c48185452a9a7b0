/**
 * Helpers of the training-server tests: a tiny reference model and data (so a run takes seconds), the
 * real `inheritune serve` process (bin/inheritune.js -> dist/cli.js) and real `ws` clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import WebSocket from 'ws';
import type { GPT2Config } from '../../server/engine/gpt2Config.js';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import type { RunEvent } from '../../server/protocol/events.js';
import { decodeHeatmapFrame, parseServerMessage, PROTOCOL_VERSION, type HeatmapHeader, type ServerMessage } from '../../server/protocol/messages.js';

export const REPO = path.resolve(__dirname, '..', '..');
export const BIN = path.join(REPO, 'bin', 'inheritune.js');
export const TOKEN = 'test-token-0123456789abcdef';

export const refConfig: GPT2Config = {
  family: 'gpt2',
  vocabSize: 257,
  nPositions: 16,
  nEmbd: 16,
  nLayer: 4,
  nHead: 2,
  nInner: 64,
  layerNormEpsilon: 1e-5,
  bias: true,
  scaleAttnByInverseLayerIdx: false,
  tieWordEmbeddings: true,
};

export interface ConfigOptions {
  name?: string;
  steps?: number;
  evalEvery?: number;
  analysisEvery?: number;
  checkpointEvery?: number;
  grow?: boolean;
  batchTokens?: number;
  /** runtime.save_dtype */
  saveDtype?: 'float32' | 'float16' | 'bfloat16';
  /** runtime.backend (default wasm) */
  backend?: string;
}

export class Fixture {
  readonly referenceDir: string;
  readonly runsDir: string;
  readonly cacheDir: string;

  constructor(readonly dir: string) {
    this.referenceDir = path.join(dir, 'reference');
    this.runsDir = path.join(dir, 'runs');
    this.cacheDir = path.join(dir, 'cache');
  }

  static create(): Fixture {
    const f = new Fixture(fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-serve-')));
    saveGPT2(f.referenceDir, refConfig, initWeightsOf(refConfig, 11));
    const text = (seed: number) =>
      Array.from({ length: 300 }, (_, i) => JSON.stringify({ text: `Line ${i * seed} of a small corpus: the quick brown fox jumps over the lazy dog.` })).join('\n');
    fs.writeFileSync(path.join(f.dir, 'train.jsonl'), text(7));
    fs.writeFileSync(path.join(f.dir, 'val.jsonl'), text(13));
    return f;
  }

  configText(o: ConfigOptions = {}): string {
    return [
      `name: ${o.name ?? 'tiny'}`,
      'reference: { path: reference }',
      'target: { layers: 2 }',
      o.grow ? 'grow: { enabled: true, step: 1, max_layers: 3, tolerance: 0 }' : 'grow: { enabled: false }',
      'data: { train: train.jsonl, val: val.jsonl, tokenizer: bytes }',
      `train: { steps: ${o.steps ?? 20}, batch_tokens: ${o.batchTokens ?? 64}, micro_batch: 4, block_size: 16, lr: 0.003, min_lr: 0.0003, warmup: 1, eval_every: ${o.evalEvery ?? 10}, eval_windows: 8, seed: 1 }`,
      'baselines: []',
      `analysis: { every: ${o.analysisEvery ?? 10}, sequences: 2, seq_len: 16 }`,
      `runtime: { backend: ${o.backend ?? 'wasm'}, out_dir: runs, checkpoint_every: ${o.checkpointEvery ?? 5}${o.saveDtype ? `, save_dtype: ${o.saveDtype}` : ''} }`,
      '',
    ].join('\n');
  }

  writeConfig(o: ConfigOptions = {}): string {
    const file = path.join(this.dir, `${o.name ?? 'tiny'}.inheritune.yaml`);
    fs.writeFileSync(file, this.configText(o));
    return file;
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Ready {
  type: 'ready';
  host: string;
  port: number;
  pid: number;
  protocolVersion: number;
  serverVersion: string;
  backend: string;
  runsDir: string;
  tokenSource: string;
  tokenFile?: string;
}

/** `inheritune serve` in a child process. */
export class ServerProcess {
  /** Every server started and not yet exited: killAll() in an after() hook, so a failed test leaves none behind. */
  private static readonly running = new Set<ServerProcess>();
  stderr = '';
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly ready: Ready,
  ) {
    this.exit = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    ServerProcess.running.add(this);
    void this.exit.then(() => ServerProcess.running.delete(this));
  }

  static async killAll(): Promise<void> {
    for (const s of [...ServerProcess.running]) {
      s.child.kill('SIGKILL');
      await s.exit;
    }
  }

  static async start(f: Fixture, opts: { env?: NodeJS.ProcessEnv; args?: string[]; token?: string | null } = {}): Promise<ServerProcess> {
    if (!fs.existsSync(path.join(REPO, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` (npm test does it)');
    const env: NodeJS.ProcessEnv = { ...process.env, INHERITUNE_CACHE_DIR: f.cacheDir, ...opts.env };
    if (opts.token === null) delete env.INHERITUNE_TOKEN;
    else env.INHERITUNE_TOKEN = opts.token ?? TOKEN;
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--runs-dir', f.runsDir, '--backend', 'wasm', ...(opts.args ?? [])], {
      cwd: f.dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (process.env.INHERITUNE_TEST_VERBOSE) process.stderr.write(d);
    });
    const ready = await new Promise<Ready>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`serve did not print its ready line in 30 s; stderr:\n${stderr}`)), 30_000);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(out.slice(0, nl)) as Ready);
          } catch (e) {
            reject(new Error(`ready line is not JSON: ${out.slice(0, nl)} (${String(e)})`));
          }
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${signal ?? code}) before it was ready; stderr:\n${stderr}`));
      });
    });
    const s = new ServerProcess(child, ready);
    child.stderr!.on('data', (d: string) => (s.stderr += d));
    s.stderr = stderr;
    return s;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.ready.port}`;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit;
  }

  /** Resident memory of the server process (Linux). */
  rssBytes(): number {
    const status = fs.readFileSync(`/proc/${this.ready.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb * 1024;
  }

  /** CPU time (user + system) the server process has used (Linux). */
  cpuSeconds(): number {
    const stat = fs.readFileSync(`/proc/${this.ready.pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    await this.exit;
    clearTimeout(timer);
  }
}

export interface ReceivedEvent {
  event: RunEvent;
  coalesced: number;
  heatmaps?: number;
}

/** A server message of type T. */
export type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/**
 * The fixture of one test file and, with `serve`, a server on it (with `args`), made before its
 * tests and handed to `use`; afterwards every server the file started is killed and the fixture
 * removed (kept with INHERITUNE_TEST_KEEP=1).
 */
export function fixtureForFile(opts: { serve: boolean; args?: string[] }, use: (f: Fixture, server?: ServerProcess) => void): void {
  let f: Fixture | undefined;
  let server: ServerProcess | undefined;
  before(async () => {
    f = Fixture.create();
    if (opts.serve) server = await ServerProcess.start(f, { args: opts.args });
    use(f, server);
  });
  after(async () => {
    await server?.stop();
    await ServerProcess.killAll();
    if (!process.env.INHERITUNE_TEST_KEEP) f?.remove();
  });
}

/** Polls `cond` every 50 ms until it holds. */
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A real `ws` client that records everything the server sends. */
export class Client {
  readonly messages: ServerMessage[] = [];
  readonly frames: { header: HeatmapHeader; cells: Uint8Array }[] = [];
  closeInfo: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];
  private nextId = 1;

  private constructor(
    readonly ws: WebSocket,
    /** The TCP connection under it: pausing it makes a client that stops reading. */
    private readonly socket: () => net.Socket | undefined,
  ) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.frames.push(decodeHeatmapFrame(new Uint8Array(data as Buffer)));
      else this.messages.push(JSON.parse(data.toString()) as ServerMessage);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      // Every message the server sent must pass the schema the extension checks it with; checked
      // once the connection is over, so that reading stays as fast as a client that does not check.
      for (const m of this.messages) {
        const r = parseServerMessage(JSON.stringify(m));
        if (!r.ok) throw new Error(`the server sent a message outside the protocol: ${r.error}`);
      }
      this.wake();
    });
    ws.on('error', () => this.wake());
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Connects; with `token` (default TOKEN) sends hello and waits for welcome. */
  static async connect(url: string, opts: { token?: string | null; origin?: string; maxPayload?: number } = {}): Promise<Client> {
    let socket: net.Socket | undefined;
    const ws = new WebSocket(url, {
      ...(opts.origin ? { origin: opts.origin } : {}),
      maxPayload: 64 << 20,
      // ws calls it with an options object (the first of net.createConnection's overloads).
      createConnection: ((o: net.NetConnectOpts) => (socket = net.createConnection(o))) as typeof net.createConnection,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    const c = new Client(ws, () => socket);
    if (opts.token !== null) {
      c.send({ type: 'hello', token: opts.token ?? TOKEN, protocolVersion: PROTOCOL_VERSION, client: 'test' });
      await c.waitFor((m) => m.type === 'welcome' || m.type === 'error');
    }
    return c;
  }

  send(msg: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** Stops reading from the socket: what the server sends piles up in the kernel, then in its send buffer. */
  pauseReading(): void {
    this.socket()?.pause();
  }

  resumeReading(): void {
    this.socket()?.resume();
  }

  /** Sends `msg` with a fresh id and waits for the reply naming it. */
  async request(msg: Record<string, unknown>, timeoutMs = 30_000): Promise<ServerMessage> {
    const id = this.nextId++;
    this.send({ ...msg, id });
    return this.waitFor((m) => 'inReplyTo' in m && m.inReplyTo === id, timeoutMs);
  }

  /** The first message (received so far or later) matching `pred`. */
  async waitFor<T extends ServerMessage>(pred: (m: ServerMessage) => boolean, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.find(pred);
      if (m) return m as T;
      if (this.closeInfo) throw new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; last messages: ${JSON.stringify(this.messages.slice(-3)).slice(0, 600)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the close of the connection. */
  async closed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closeInfo) {
      if (Date.now() > deadline) throw new Error('the connection was not closed');
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closeInfo;
  }

  events(runId: string): ReceivedEvent[] {
    const out: ReceivedEvent[] = [];
    for (const m of this.messages) {
      if (m.type === 'event' && m.event.runId === runId) out.push({ event: m.event, coalesced: m.coalesced ?? 0, heatmaps: m.heatmaps });
    }
    return out;
  }

  waitForEvent(runId: string, pred: (e: RunEvent) => boolean, timeoutMs = 60_000): Promise<ServerMessage> {
    return this.waitFor((m) => m.type === 'event' && m.event.runId === runId && pred(m.event), timeoutMs);
  }

  /** Waits for the run's final event (runFinished or runFailed). */
  waitForEnd(runId: string, timeoutMs = 120_000): Promise<ServerMessage> {
    return this.waitForEvent(runId, (e) => e.type === 'runFinished' || e.type === 'runFailed', timeoutMs);
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/**
 * Checks a received stream against the run store's: each event once, in order, with no gap other
 * than announced coalesced metrics. Returns a description of the first problem, or undefined.
 */
export function streamProblem(received: ReceivedEvent[], stored: RunEvent[], fromSeq = 1): string | undefined {
  let last = fromSeq - 1;
  const bySeq = new Map(stored.map((e) => [e.seq, e]));
  for (const r of received) {
    const e = r.event;
    if (e.seq <= last) return `seq ${e.seq} after ${last}: duplicate or out of order`;
    if (e.seq - r.coalesced !== last + 1) return `seq ${e.seq} (coalesced ${r.coalesced}) after ${last}: gap`;
    for (let s = last + 1; s < e.seq; s++) if (bySeq.get(s)?.type !== 'metrics') return `seq ${s} (${bySeq.get(s)?.type}) was skipped but is not metrics`;
    if (JSON.stringify(bySeq.get(e.seq)) !== JSON.stringify(e)) return `seq ${e.seq} differs from the stored event`;
    last = e.seq;
  }
  const end = stored.at(-1)?.seq ?? 0;
  if (last !== end) return `stream ends at ${last}, the store at ${end}`;
  return undefined;
}

/** The events.jsonl of a run folder. */
export function storedEvents(runDir: string): RunEvent[] {
  const text = fs.readFileSync(path.join(runDir, 'events.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as RunEvent);
}
