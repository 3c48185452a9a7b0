/**
 * A minimal LSP client for the language server tests: a real JSON-RPC connection, either over a pair
 * of in-memory streams to a server started in this process, or over node IPC to the built bundle
 * (dist/language.js, started the way vscode-languageclient starts it).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import {
  createConnection,
  createProtocolConnection,
  IPCMessageReader,
  IPCMessageWriter,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
  type ClientCapabilities,
  type PublishDiagnosticsParams,
  type ProtocolConnection,
} from 'vscode-languageserver/node';
import { pathToFileURL } from 'node:url';
import { startLanguageServer } from '../../server/language/server.js';
import { CONFIG_LANGUAGE_ID, type LanguageServerOptions } from '../../server/language/protocol.js';

export const CLIENT_CAPABILITIES: ClientCapabilities = {
  textDocument: {
    completion: { completionItem: { snippetSupport: true, documentationFormat: ['markdown', 'plaintext'] } },
    hover: { contentFormat: ['markdown', 'plaintext'] },
    publishDiagnostics: { versionSupport: true, dataSupport: true },
    codeAction: { dataSupport: true, codeActionLiteralSupport: { codeActionKind: { valueSet: ['quickfix'] } } },
    inlayHint: {},
    codeLens: {},
  },
  workspace: { codeLens: { refreshSupport: true }, didChangeWatchedFiles: { dynamicRegistration: false } },
};

interface Waiter {
  uri: string;
  pred: (p: PublishDiagnosticsParams) => boolean;
  resolve: (p: PublishDiagnosticsParams) => void;
}

export class LspClient {
  /** Every publishDiagnostics received, per URI, in order. */
  readonly published = new Map<string, PublishDiagnosticsParams[]>();
  /** Receipt time (performance.now()) of each publishDiagnostics, parallel to `published`. */
  readonly receivedAt = new Map<string, number[]>();
  readonly logs: string[] = [];
  lensRefreshes = 0;
  private waiters: Waiter[] = [];

  private constructor(
    readonly conn: ProtocolConnection,
    private readonly cleanup: () => Promise<void>,
  ) {
    conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      const t = performance.now();
      const list = this.published.get(p.uri) ?? [];
      list.push(p);
      this.published.set(p.uri, list);
      const times = this.receivedAt.get(p.uri) ?? [];
      times.push(t);
      this.receivedAt.set(p.uri, times);
      this.waiters = this.waiters.filter((w) => {
        if (w.uri === p.uri && w.pred(p)) {
          w.resolve(p);
          return false;
        }
        return true;
      });
    });
    conn.onNotification('window/logMessage', (p: { message: string }) => {
      this.logs.push(p.message);
    });
    conn.onRequest('workspace/codeLens/refresh', () => {
      this.lensRefreshes++;
      return null;
    });
    conn.listen();
  }

  /** A server in this process, connected through two in-memory streams. */
  static inProcess(): LspClient {
    const up = new PassThrough();
    const down = new PassThrough();
    const server = createConnection(ProposedFeatures.all, new StreamMessageReader(up), new StreamMessageWriter(down));
    const ls = startLanguageServer(server);
    server.listen();
    const client = createProtocolConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
    return new LspClient(client, async () => {
      ls.dispose();
      client.dispose();
      server.dispose();
      up.end();
      down.end();
    });
  }

  /** The built bundle in a child process over node IPC (as vscode-languageclient's TransportKind.ipc). */
  static bundle(modulePath: string): { client: LspClient; child: ChildProcess } {
    const child = fork(modulePath, ['--node-ipc'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const conn = createProtocolConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    const client = new LspClient(conn, async () => {
      conn.dispose();
      if (child.exitCode === null) child.kill();
    });
    return { client, child };
  }

  async initialize(rootDir: string, options: LanguageServerOptions = {}, processId: number | null = null): Promise<unknown> {
    const root = pathToFileURL(rootDir).href;
    const result = await this.conn.sendRequest('initialize', {
      processId,
      rootUri: root,
      workspaceFolders: [{ uri: root, name: 'test' }],
      capabilities: CLIENT_CAPABILITIES,
      initializationOptions: options,
    });
    await this.conn.sendNotification('initialized', {});
    return result;
  }

  open(uri: string, text: string, version = 1): Promise<void> {
    return this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: CONFIG_LANGUAGE_ID, version, text } });
  }

  /** Replaces the whole text (a full-content change). */
  change(uri: string, text: string, version: number): Promise<void> {
    return this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  close(uri: string): Promise<void> {
    return this.conn.sendNotification('textDocument/didClose', { textDocument: { uri } });
  }

  /** The next (or an already received, when `past`) publishDiagnostics for `uri` that satisfies `pred`. */
  waitDiagnostics(uri: string, pred: (p: PublishDiagnosticsParams) => boolean, timeoutMs = 5000, past = true): Promise<PublishDiagnosticsParams> {
    if (past) {
      const hit = [...(this.published.get(uri) ?? [])].reverse().find(pred);
      if (hit) return Promise.resolve(hit);
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { uri, pred, resolve: (p) => (clearTimeout(timer), resolve(p)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        const last = this.published.get(uri)?.at(-1);
        reject(new Error(`no matching diagnostics for ${uri} within ${timeoutMs} ms; last: ${JSON.stringify(last?.diagnostics.map((d) => d.message))}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** The latest diagnostics of `uri`, after the server's file checks are done (configInfo waits for them). */
  async settled(uri: string): Promise<PublishDiagnosticsParams> {
    await this.conn.sendRequest('inheritune/configInfo', { uri });
    const last = this.published.get(uri)?.at(-1);
    if (!last) throw new Error(`no diagnostics for ${uri}`);
    return last;
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.conn.sendRequest(method, params) as Promise<R>;
  }

  async shutdown(): Promise<void> {
    await this.conn.sendRequest('shutdown');
  }

  async dispose(): Promise<void> {
    await this.cleanup();
  }
}
