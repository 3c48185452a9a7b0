/**
 * A minimal LSP client for the language server tests: a real JSON-RPC connection, either over a pair
 * of in-memory streams to a server started in this process, or over node IPC to the built bundle
 * (dist/language.js, started the way vscode-languageclient starts it).
 */
import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
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
  type Position,
  type PublishDiagnosticsParams,
  type ProtocolConnection,
} from 'vscode-languageserver/node';
import { pathToFileURL } from 'node:url';
import { RunStore } from '../../server/engine/run/runStore.js';
import { referenceModel } from '../../server/protocol/events.js';
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

  /**
   * An initialized in-process server on the workspace `dir`, as the language tests use it: its token
   * cache in dir/cache, file checks 20 ms after an edit.
   */
  static async forWorkspace(dir: string): Promise<LspClient> {
    const client = LspClient.inProcess();
    await client.initialize(dir, { tokenCacheDir: path.join(dir, 'cache'), fileCheckDelayMs: 20 });
    return client;
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

  /** The built bundle in a child process over stdin/stdout (`--stdio`, as editors other than VS Code start a server). */
  static stdio(modulePath: string): { client: LspClient; child: ChildProcess } {
    const child = spawn(process.execPath, [modulePath, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
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

  /** Shuts the server down and closes the connection. */
  async stop(): Promise<void> {
    await this.shutdown();
    await this.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Text and fixtures shared by the language server tests

/** `text` with `from` (occurring once) replaced by `to`. */
export function replaceOnce(text: string, from: string, to: string): string {
  assert.equal(text.split(from).length, 2, `"${from}" occurs once`);
  return text.replace(from, to);
}

/** The LSP position of offset `offset` in `text`. */
export function positionAt(text: string, offset: number): Position {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}

/** The range of the `nth` occurrence of `needle` in `text` (LSP positions). */
export function rangeOf(text: string, needle: string, nth = 0): { start: Position; end: Position } {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    assert.ok(at >= 0, `"${needle}" in text`);
  }
  return { start: positionAt(text, at), end: positionAt(text, at + needle.length) };
}

/**
 * A run of `configFile` in `runsDir` whose only content is an attention analysis of the reference at
 * `referenceDir` with these per-layer statistics; returns its run id.
 */
export function storeReferenceAnalysis(
  runsDir: string,
  configFile: string,
  referenceDir: string,
  layers: { maxRank: number; avgMass: number; lazy: boolean }[],
): string {
  const text = fs.readFileSync(configFile, 'utf8');
  const name = path.basename(configFile).replace(/\.inheritune\.ya?ml$/, '');
  const store = RunStore.create(runsDir, name, text);
  fs.writeFileSync(path.join(store.dir, 'plan.json'), JSON.stringify({ name, configPath: configFile, referenceDir }));
  store.append({ type: 'runStarted', name, configPath: configFile, backend: 'cpu', resumed: false });
  store.append({
    type: 'attention',
    model: referenceModel(layers.length),
    step: 0,
    tau: 0.9,
    eta: 0.9,
    sequences: 2,
    seqLen: 16,
    layers: layers.map((l, i) => ({ layer: i, ...l, heads: [] })),
    file: 'attention/reference-step0.safetensors',
  });
  return store.runId;
}
