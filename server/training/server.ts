/**
 * The training server: a WebSocket endpoint (ws) over the run manager.
 *
 * Security (the server starts training processes and reads files on its machine, so only the
 * extension host that started it may drive it):
 * - binds 127.0.0.1 unless told otherwise;
 * - the upgrade is refused (HTTP 403) when an Origin header is present and not allow-listed: a web
 *   page in a browser always sends one, the extension host's ws client never does;
 * - the first message must be `hello` with the token (compared in constant time) within
 *   HELLO_TIMEOUT_MS, or the socket is closed with a close code and reason saying why;
 * - frames above maxPayload close the socket (1009, by ws); binary frames and every message that
 *   fails validation get an `error` reply and are logged (rate-limited per connection); no message
 *   can crash the server or a run (runs live in their own processes anyway).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { BackendName } from '../engine/backend.js';
import { InherituneError } from '../engine/errors.js';
import {
  CloseCode,
  HELLO_TIMEOUT_MS,
  MAX_MESSAGE_BYTES,
  parseClientMessage,
  PROTOCOL_VERSION,
  replyTo,
  type ClientMessage,
  type ErrorCode,
  type RequestId,
  type ServerMessage,
} from '../protocol/messages.js';
import { AnalyzeJobs } from './analyzeJobs.js';
import { RequestError, type Peer } from './peer.js';
import { RunManager, type WorkerEntry } from './runManager.js';
import type { ServerRoots } from './serverFiles.js';

export interface TrainingServerOptions {
  host: string;
  port: number;
  token: string;
  runsDir: string;
  cwd: string;
  /** The folders (and the run store) whose files clients may have the server read. */
  roots: ServerRoots;
  /** Backend for runs and analyses whose config says auto. */
  backend: BackendName;
  /** Python of runtime.engine torch for configs that set no runtime.python. */
  python?: string;
  /** What `welcome` reports. */
  backendName: string;
  device: string;
  serverVersion: string;
  worker: WorkerEntry;
  /** Origin header values accepted (absent Origin is always accepted). */
  allowedOrigins?: string[];
  helloTimeoutMs?: number;
  maxPayload?: number;
  stopTimeoutMs?: number;
  metricsIntervalMs?: number;
  /** Bytes of unread data a client may hold before it is closed as too slow (DEFAULT_MAX_CLIENT_BUFFER). */
  maxClientBuffer?: number;
  log?(line: string): void;
}

/** A client's send buffer past this is a client that does not read: it is closed (it can reconnect with fromSeq). */
export const DEFAULT_MAX_CLIENT_BUFFER = 32 << 20;
const HEARTBEAT_MS = 30_000;
/** Unread data a replay leaves queued before it waits for the client to read (at most half its limit). */
const REPLAY_HIGH_WATER = 1 << 20;
/** A client with data waiting that reads none of it for this long is closed as too slow. */
const STALLED_CLIENT_MS = 10_000;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

class Connection implements Peer {
  authenticated = false;
  private invalid = 0;
  private alive = true;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    private readonly log: (line: string) => void,
    private readonly maxBuffer: number,
  ) {}

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  // Replays are paced well inside the client's limit, so a client that reads, however slowly the
  // machine lets it, is never pushed over the limit by a replay burst; only one that stops reading is.
  get congested(): boolean {
    return this.ws.bufferedAmount > Math.min(REPLAY_HIGH_WATER, this.maxBuffer / 2);
  }

  private tooSlow(): boolean {
    if (this.ws.bufferedAmount <= this.maxBuffer) return false;
    this.closeTooSlow();
    return true;
  }

  private closeTooSlow(): void {
    this.log(`client ${this.id}: ${this.ws.bufferedAmount} bytes unread; closing it`);
    this.close(CloseCode.tooSlow, 'client too slow: reconnect and subscribe with fromSeq');
  }

  send(msg: ServerMessage): void {
    if (!this.open || this.tooSlow()) return;
    this.ws.send(JSON.stringify(msg));
  }

  sendBinary(frame: Uint8Array): void {
    if (!this.open || this.tooSlow()) return;
    this.ws.send(frame, { binary: true });
  }

  drained(): Promise<void> {
    const low = Math.min(256 << 10, this.maxBuffer / 4);
    let queued = this.ws.bufferedAmount;
    let progress = Date.now();
    return new Promise((resolve) => {
      const check = () => {
        const now = this.ws.bufferedAmount;
        if (!this.open || now < low) return resolve();
        if (now < queued) {
          queued = now;
          progress = Date.now();
        } else if (Date.now() - progress > STALLED_CLIENT_MS) {
          this.closeTooSlow();
          return resolve();
        }
        setTimeout(check, 5);
      };
      check();
    });
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  error(code: ErrorCode, message: string, inReplyTo?: RequestId, issues?: string[]): void {
    this.send({ type: 'error', code, message, ...(inReplyTo !== undefined ? { inReplyTo } : {}), ...(issues ? { issues } : {}) });
  }

  /** Logs a bad message: the first few in full, then one line per 100. */
  logInvalid(what: string): void {
    this.invalid += 1;
    if (this.invalid <= 5) this.log(`client ${this.id}: ${what}`);
    else if (this.invalid % 100 === 0) this.log(`client ${this.id}: ${this.invalid} invalid messages so far (latest: ${what})`);
  }

  heartbeat(): void {
    if (!this.alive) {
      this.log(`client ${this.id}: no pong; dropping it`);
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  pong(): void {
    this.alive = true;
  }
}

export class TrainingServer {
  readonly manager: RunManager;
  private readonly analyses: AnalyzeJobs;
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly conns = new Set<Connection>();
  private readonly tokenDigest: Buffer;
  private readonly allowedOrigins: Set<string>;
  private readonly log: (line: string) => void;
  private nextId = 1;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly opts: TrainingServerOptions) {
    this.log = opts.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} serve: ${line}\n`));
    this.tokenDigest = digest(opts.token);
    this.allowedOrigins = new Set(opts.allowedOrigins ?? []);
    this.manager = new RunManager({
      runsDir: opts.runsDir,
      cwd: opts.cwd,
      roots: opts.roots,
      backend: opts.backend,
      ...(opts.python ? { python: opts.python } : {}),
      worker: opts.worker,
      log: this.log,
      stopTimeoutMs: opts.stopTimeoutMs,
      metricsIntervalMs: opts.metricsIntervalMs,
      onRunUpdate: (run) => {
        for (const c of this.conns) if (c.authenticated) c.send({ type: 'runUpdate', run });
      },
      onDownload: (m) => {
        for (const c of this.conns) if (c.authenticated) c.send(m);
      },
    });
    this.analyses = new AnalyzeJobs({ cwd: opts.cwd, roots: opts.roots, backend: opts.backend, worker: opts.worker, log: this.log });
    this.http = http.createServer((_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      res.end('inheritune training server: connect with a WebSocket client\n');
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload ?? MAX_MESSAGE_BYTES, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => {
      const origin = req.headers.origin;
      if (this.stopping || (origin !== undefined && !this.allowedOrigins.has(origin))) {
        const why = this.stopping ? 'the server is shutting down' : `Origin ${JSON.stringify(origin).slice(0, 100)} is not allowed`;
        this.log(`refused a connection from ${req.socket.remoteAddress}: ${why}`);
        socket.end(`HTTP/1.1 ${this.stopping ? '503 Service Unavailable' : '403 Forbidden'}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(why) + 1}\r\n\r\n${why}\n`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
    });
    this.http.on('clientError', (_e, socket) => socket.destroy());
  }

  async start(): Promise<{ host: string; port: number }> {
    this.manager.load();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', (e: NodeJS.ErrnoException) =>
        reject(new InherituneError(e.code === 'EADDRINUSE' ? '--port' : '--host', `cannot listen on ${this.opts.host}:${this.opts.port}: ${e.message}`)),
      );
      this.http.listen(this.opts.port, this.opts.host, () => {
        this.http.removeAllListeners('error');
        this.http.on('error', (e) => this.log(`server error: ${e.message}`));
        resolve();
      });
    });
    this.heartbeat = setInterval(() => {
      for (const c of this.conns) c.heartbeat();
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    const addr = this.http.address() as AddressInfo;
    this.log(`listening on ${addr.address}:${addr.port}`);
    return { host: addr.address, port: addr.port };
  }

  private onConnection(ws: WebSocket, req: http.IncomingMessage): void {
    const c = new Connection(this.nextId++, ws, this.log, this.opts.maxClientBuffer ?? DEFAULT_MAX_CLIENT_BUFFER);
    this.conns.add(c);
    this.log(`client ${c.id} connected from ${req.socket.remoteAddress}`);
    const helloTimer = setTimeout(() => {
      if (!c.authenticated) {
        this.log(`client ${c.id}: no hello in time; closing`);
        c.close(CloseCode.helloTimeout, `authentication timeout: send hello with the token within ${this.opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS} ms`);
      }
    }, this.opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS);
    ws.on('pong', () => c.pong());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      try {
        this.onMessage(c, data, isBinary);
      } catch (e) {
        this.log(`client ${c.id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        c.error('internal', `internal error: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    ws.on('error', (e) => this.log(`client ${c.id}: ${e.message}`));
    ws.on('close', (code, reason) => {
      clearTimeout(helloTimer);
      this.conns.delete(c);
      this.manager.dropPeer(c);
      this.log(`client ${c.id} disconnected (${code}${reason.length ? ` ${reason.toString()}` : ''})`);
    });
  }

  private onMessage(c: Connection, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      if (!c.authenticated) return this.refuse(c, 'the first message must be hello with the token (got a binary frame)');
      c.logInvalid('binary frame');
      return c.error('badMessage', 'binary frames are not accepted; send JSON text messages');
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const parsed = parseClientMessage(text);
    if (!c.authenticated) {
      if (!parsed.ok || parsed.message.type !== 'hello') {
        return this.refuse(c, parsed.ok ? `the first message must be hello with the token (got ${parsed.message.type})` : `the first message must be hello with the token (${parsed.message})`);
      }
      return this.hello(c, parsed.message);
    }
    if (!parsed.ok) {
      c.logInvalid(`${parsed.code}: ${parsed.message}`);
      return c.error(parsed.code, parsed.message, parsed.inReplyTo);
    }
    this.dispatch(c, parsed.message).catch((e: unknown) => this.answerFailure(c, parsed.message, e));
  }

  private refuse(c: Connection, why: string): void {
    this.log(`client ${c.id}: unauthorized: ${why}`);
    c.error('unauthorized', why);
    c.close(CloseCode.unauthorized, 'unauthorized: the first message must be hello with a valid token');
  }

  private hello(c: Connection, m: Extract<ClientMessage, { type: 'hello' }>): void {
    if (!timingSafeEqual(digest(m.token), this.tokenDigest)) {
      this.log(`client ${c.id}: wrong token; closing`);
      c.error('unauthorized', 'wrong token', m.id);
      c.close(CloseCode.unauthorized, 'unauthorized: wrong token');
      return;
    }
    if (m.protocolVersion !== PROTOCOL_VERSION) {
      const why = `protocol version ${m.protocolVersion} is not supported; this server speaks ${PROTOCOL_VERSION}`;
      this.log(`client ${c.id}: ${why}`);
      c.error('protocolVersion', why, m.id);
      c.close(CloseCode.protocolVersion, why);
      return;
    }
    c.authenticated = true;
    this.log(`client ${c.id} authenticated${m.client ? ` (${m.client})` : ''}`);
    c.send(
      replyTo(m, {
        type: 'welcome',
        serverVersion: this.opts.serverVersion,
        protocolVersion: PROTOCOL_VERSION,
        backend: this.opts.backendName,
        device: this.opts.device,
        pid: process.pid,
        runsDir: this.opts.runsDir,
      }),
    );
  }

  private async dispatch(c: Connection, m: ClientMessage): Promise<void> {
    switch (m.type) {
      case 'hello':
        throw new RequestError('badMessage', 'already authenticated: hello is only the first message');
      case 'startRun': {
        const run = await this.manager.startRun(m);
        this.log(`client ${c.id}: started run ${run.runId}`);
        return c.send(replyTo(m, { type: 'runQueued', run }));
      }
      case 'resumeRun': {
        const run = this.manager.resumeRun(m.runId);
        this.log(`client ${c.id}: resumed run ${run.runId}`);
        return c.send(replyTo(m, { type: 'runQueued', run }));
      }
      case 'stopRun':
        this.manager.stopRun(m.runId, m.mode);
        this.log(`client ${c.id}: stop ${m.runId} (${m.mode})`);
        return c.send(replyTo(m, { type: 'stopping', runId: m.runId, mode: m.mode }));
      case 'listRuns':
        return c.send(replyTo(m, { type: 'runs', runs: this.manager.list() }));
      case 'subscribe':
        return this.manager.subscribe(c, m);
      case 'unsubscribe':
        this.manager.unsubscribe(c, m.runId);
        return c.send(replyTo(m, { type: 'unsubscribed', runId: m.runId }));
      case 'deleteRun': {
        await this.manager.deleteRun(m.runId);
        this.log(`client ${c.id}: deleted run ${m.runId}`);
        for (const other of this.conns) if (other !== c && other.authenticated) other.send({ type: 'runDeleted', runId: m.runId });
        return c.send(replyTo(m, { type: 'runDeleted', runId: m.runId }));
      }
      case 'analyze':
        return this.analyses.submit(c, m);
    }
  }

  private answerFailure(c: Connection, m: ClientMessage, e: unknown): void {
    if (e instanceof RequestError) {
      this.log(`client ${c.id}: ${m.type} refused (${e.code}): ${e.message.split('\n')[0]}`);
      return c.error(e.code, e.message, m.id, e.issues);
    }
    this.log(`client ${c.id}: ${m.type} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    c.error('internal', `${m.type} failed: ${e instanceof Error ? e.message : String(e)}`, m.id);
  }

  /** Graceful stop: no new connections, the training run checkpoints, every client is told. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log('shutting down: stopping the training run at a checkpoint');
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.http.close();
      this.analyses.shutdown();
      await this.manager.shutdown();
      for (const c of this.conns) c.close(CloseCode.goingAway, 'server shutting down');
      await new Promise((r) => setTimeout(r, 100));
      for (const c of this.conns) c.ws.terminate();
      this.wss.close();
      this.log('stopped');
    })();
    return this.stopping;
  }
}
