/**
 * The extension host's WebSocket client of the training server (server/protocol/messages.ts):
 * hello/welcome, requests answered by `inReplyTo`, and a stream of server messages and binary
 * heatmap frames for the listeners. Node only (no `vscode`).
 */
import { WebSocket } from 'ws';
import {
  isReplyTo,
  parseServerMessage,
  PROTOCOL_VERSION,
  type ClientMessageOf,
  type ClientMessageType,
  type ReplyTo,
  type RequestId,
  type ServerMessage,
  type ServerMessageOf,
} from '../server/protocol/messages.js';

export type Welcome = ServerMessageOf<'welcome'>;

/** A request's message without its id (the client adds one). */
export type Request<K extends ClientMessageType = ClientMessageType> = K extends ClientMessageType ? Omit<ClientMessageOf<K>, 'id'> : never;

export class ServerRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly issues?: string[],
  ) {
    super(message);
  }
}

export interface ServerClientListener {
  message?(msg: ServerMessage): void;
  binary?(frame: Uint8Array): void;
  close?(code: number, reason: string): void;
  /** A message that is not what the protocol says (dropped): why. */
  invalid?(why: string): void;
}

export class ServerClient {
  private nextId = 1;
  private readonly pending = new Map<RequestId, { resolve(m: ServerMessage): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
  private readonly listeners = new Set<ServerClientListener>();
  private closed = false;

  private constructor(
    private readonly ws: WebSocket,
    readonly url: string,
    public welcome: Welcome,
  ) {}

  /** Connects and says hello; rejects with a clear message when refused. */
  static connect(url: string, token: string, timeoutMs = 10_000): Promise<ServerClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { maxPayload: 64 << 20, handshakeTimeout: timeoutMs });
      let client: ServerClient | undefined;
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`no welcome from ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      const hello: ClientMessageOf<'hello'> = { type: 'hello', id: 0, token, protocolVersion: PROTOCOL_VERSION, client: 'inheritune-vscode' };
      ws.once('open', () => ws.send(JSON.stringify(hello)));
      ws.on('message', (data, isBinary) => {
        if (isBinary) {
          const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
          client?.emitBinary(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
          return;
        }
        const parsed = parseServerMessage(data.toString());
        if (!parsed.ok) {
          if (client) client.emitInvalid(parsed.error);
          else {
            clearTimeout(timer);
            ws.close();
            reject(new Error(`the server's first message is not a protocol message: ${parsed.error}`));
          }
          return;
        }
        const msg = parsed.message;
        if (!client) {
          clearTimeout(timer);
          if (msg.type === 'welcome') {
            client = new ServerClient(ws, url, msg);
            resolve(client);
          } else {
            ws.close();
            reject(new Error(msg.type === 'error' ? `the server refused the connection: ${msg.message}` : `unexpected first message ${msg.type}`));
          }
          return;
        }
        client.emitMessage(msg);
      });
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        if (!client) reject(new Error(`connection to ${url} closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`));
        else client.onClose(code, reason.toString());
      });
      ws.on('error', (e) => {
        if (!client) {
          clearTimeout(timer);
          reject(new Error(`cannot connect to ${url}: ${e.message}`));
        }
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  listen(l: ServerClientListener): { dispose(): void } {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  }

  /**
   * Sends a request and resolves with the reply that names it, of the type the protocol says
   * (REPLIES); rejects on an `error` reply or a reply of another type.
   */
  request<K extends ClientMessageType>(msg: Request<K> & { type: K }, timeoutMs = 30_000): Promise<ReplyTo<K>> {
    if (!this.isOpen) return Promise.reject(new Error('not connected to the training server'));
    const id = this.nextId++;
    const type = msg.type;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the training server did not answer ${type} within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const answer = (m: ServerMessage) => (isReplyTo(type, m) ? resolve(m) : reject(new Error(`the training server answered ${type} with ${m.type}`)));
      this.pending.set(id, { resolve: answer, reject, timer });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  /** Sends without waiting for an answer. */
  send(msg: Request): void {
    if (this.isOpen) this.ws.send(JSON.stringify(msg));
  }

  close(): void {
    this.closed = true;
    this.ws.close(1000, 'client closing');
  }

  private emitMessage(msg: ServerMessage): void {
    const id = 'inReplyTo' in msg ? msg.inReplyTo : undefined;
    if (id !== undefined) {
      const p = this.pending.get(id);
      if (p) {
        this.pending.delete(id);
        clearTimeout(p.timer);
        if (msg.type === 'error') p.reject(new ServerRequestError(msg.code, msg.message, msg.issues));
        else p.resolve(msg);
      }
    }
    for (const l of this.listeners) l.message?.(msg);
  }

  private emitInvalid(why: string): void {
    for (const l of this.listeners) l.invalid?.(why);
  }

  private emitBinary(frame: Uint8Array): void {
    for (const l of this.listeners) l.binary?.(frame);
  }

  private onClose(code: number, reason: string): void {
    this.closed = true;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`the training server closed the connection (${code}${reason ? `: ${reason}` : ''})`));
    }
    this.pending.clear();
    for (const l of this.listeners) l.close?.(code, reason);
  }
}
