/**
 * The config language server: wires documents, diagnostics, completion, hover, inlay hints, code
 * lenses and quick fixes to an LSP connection (IPC, stdio or any stream pair).
 *
 * Diagnostics: every edit publishes at once the schema issues (server/protocol/config.ts) plus the
 * file checks (server/engine/configCheck.ts, the one check `inheritune run` makes too) over the
 * cached facts; a debounced pass then brings the facts up to date (stat stamps; a changed or new
 * model, data file or run is read again) and publishes again when they changed. File watching
 * (fs.watch on the folders read, and workspace/didChangeWatchedFiles when the client offers it)
 * triggers that pass without an edit. No handler lets an error out: a
 * broken model or file is a diagnostic, a bug is logged, and the server keeps answering.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  ErrorCodes,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type Diagnostic,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { byPosition, parseRunConfig, type ConfigIssue, type ParsedRunConfig } from '../protocol/config.js';
import { checkConfigFiles, checkReadingFacts, configValues, dataReading, type ConfigValues, type FileNeeds } from '../engine/configCheck.js';
import type { DataReading } from '../engine/configFacts.js';
import { completionContext, keyItems, valueItems } from './completion.js';
import type { ResourceEstimate } from '../engine/resources.js';
import { Facts, referenceAnalysis } from './facts.js';
import { codeLenses, hover, inlayHints, lastRun, quickFixes, toDiagnostic, type DocumentFacts } from './features.js';
import {
  CONFIG_INFO_PARAMS,
  CONFIG_INFO_REQUEST,
  REFERENCE_INFO_PARAMS,
  REFERENCE_INFO_REQUEST,
  REFRESH_NOTIFICATION,
  type ConfigInfo,
  type LanguageServerOptions,
  type ReferenceInfoResult,
} from './protocol.js';

interface DocState {
  version: number;
  file: string;
  parsed: ParsedRunConfig;
  values: ConfigValues;
  issues: ConfigIssue[];
  diagnostics: Diagnostic[];
  needs: FileNeeds;
  pending: boolean;
  estimate?: ResourceEstimate;
  /** JSON of the diagnostics last published (to skip identical republishing from the file pass). */
  published: string;
}

/** Starts serving on `connection` (call connection.listen() afterwards). Returns a disposer. */
export function startLanguageServer(connection: Connection): { dispose(): void } {
  const server = new ConfigServer(connection);
  registerLifecycle(server);
  registerRequests(server);
  registerDocuments(server);
  registerFeatures(server);
  server.documents.listen(connection);
  return { dispose: () => server.dispose() };
}

/** One connection's state: the open documents and their checks, the cached facts, what the client supports. */
class ConfigServer {
  readonly documents = new TextDocuments(TextDocument);
  readonly states = new Map<string, DocState>();
  options: LanguageServerOptions = {};
  roots: string[] = [];
  snippets = false;
  lensRefresh = false;
  watchRegistration = false;
  facts = new Facts();
  /** The last run id each open config's code lens shows. */
  readonly lastRuns = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  private disposed = false;

  constructor(readonly connection: Connection) {}

  log(what: string, e: unknown): void {
    this.connection.console.error(`inheritune language server: ${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.facts.dispose();
  }

  /** The file a document stands for: its path, or (untitled) a name in the first workspace folder. */
  fileOf(uri: string): string {
    if (uri.startsWith('file:')) {
      try {
        return fileURLToPath(uri);
      } catch {
        // fall through
      }
    }
    const name = decodeURIComponent(uri.split(/[/:]/).pop() || 'untitled');
    return path.join(this.roots[0] ?? process.cwd(), /\.inheritune\.ya?ml$/.test(name) ? name : `${name}.inheritune.yaml`);
  }

  // -- diagnostics ----------------------------------------------------------------------------

  /** Parses and checks `doc` against the cached facts and publishes its diagnostics. */
  validate(doc: TextDocument, opts: { force?: boolean } = {}): DocState | undefined {
    try {
      const file = this.fileOf(doc.uri);
      const parsed = parseRunConfig(doc.getText(), file);
      const files = checkConfigFiles(parsed, file, this.facts);
      const issues = [...parsed.issues, ...files.issues].sort(byPosition);
      const diagnostics = issues.map((i) => toDiagnostic(doc, i));
      const prev = this.states.get(doc.uri);
      const json = JSON.stringify(diagnostics);
      const state: DocState = {
        version: doc.version,
        file,
        parsed,
        values: configValues(parsed, file),
        issues,
        diagnostics,
        needs: files.needs,
        pending: files.pending,
        estimate: files.estimate,
        published: json,
      };
      this.states.set(doc.uri, state);
      if (opts.force || !prev || prev.version !== doc.version || prev.published !== json) {
        void this.connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics }).catch((e) => this.log('publishing diagnostics', e));
      }
      return state;
    } catch (e) {
      this.log(`checking ${doc.uri}`, e);
      return undefined;
    }
  }

  scheduleRefresh(delay = this.options.fileCheckDelayMs ?? 200): void {
    if (this.disposed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, delay);
  }

  /** Brings the facts every open document needs up to date; re-checks the documents when they changed. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        for (let round = 0; round < 3; round++) {
          if (!(await this.refreshRound())) break;
        }
        this.checkLastRuns();
      } while (this.again && !this.disposed);
    })()
      .catch((e) => this.log('file checks', e))
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /** One round of the file pass: reads the facts the documents need, re-checks them; whether another round is due. */
  private async refreshRound(): Promise<boolean> {
    let changed = false;
    const refs = new Set<string>();
    const data = new Map<string, DataReading>();
    for (const s of this.states.values()) {
      for (const r of s.needs.references) refs.add(r);
      for (const d of s.needs.data) data.set(JSON.stringify(d), d);
    }
    for (const r of refs) {
      try {
        if (this.facts.ensureReference(r)) changed = true;
      } catch (e) {
        this.log(`reading ${r}`, e);
      }
    }
    const results = await Promise.all([...data.values()].map((d) => this.facts.ensureData(d).catch((e) => (this.log(`reading ${d.file}`, e), false))));
    if (results.some(Boolean)) changed = true;
    let pending = false;
    for (const doc of this.documents.all()) {
      const s = this.states.get(doc.uri);
      if (!s || changed || s.pending) pending = (this.validate(doc)?.pending ?? false) || pending;
    }
    return pending || changed;
  }

  /** Asks the client for new code lenses when a config's last run changed (a run started or appeared). */
  private checkLastRuns(): void {
    let changed = false;
    for (const [uri, s] of this.states) {
      const id = s.values.outDir ? (lastRun({ file: s.file, runs: this.facts.runsIn(s.values.outDir) })?.runId ?? '') : '';
      if (this.lastRuns.has(uri) && this.lastRuns.get(uri) !== id) changed = true;
      this.lastRuns.set(uri, id);
    }
    if (changed && this.lensRefresh) void this.connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
  }

  /** The state of an open document, checked now if its text changed since. */
  stateOf(uri: string): { doc: TextDocument; state: DocState } | undefined {
    const doc = this.documents.get(uri);
    if (!doc) return undefined;
    let state = this.states.get(uri);
    if (!state || state.version !== doc.version) state = this.validate(doc);
    return state ? { doc, state } : undefined;
  }

  documentFacts(uri: string, s: DocState): DocumentFacts {
    const v = s.values;
    return {
      uri,
      file: s.file,
      parsed: s.parsed,
      values: v,
      reference: v.referenceDir ? this.facts.reference(v.referenceDir) : undefined,
      runs: v.outDir ? this.facts.runsIn(v.outDir) : [],
      trainData: v.train && v.tokenizer ? this.facts.dataFile(dataReading(v, v.train)) : undefined,
      estimate: s.estimate,
    };
  }

  /** Reads the reference now when it was never read (hover and completion may come before the file pass). */
  ensureReferenceNow(s: DocState): void {
    const dir = s.values.referenceDir;
    if (dir && !this.facts.reference(dir)) {
      try {
        if (this.facts.ensureReference(dir)) this.scheduleRefresh(0);
      } catch (e) {
        this.log(`reading ${dir}`, e);
      }
    }
  }

  /** What the server knows of the reference at `dir`: its description or why not, and its newest analysis in `runStores`. */
  referenceResult(dir: string | undefined, runStores: readonly string[], issues: readonly ConfigIssue[] = []): ReferenceInfoResult {
    if (dir === undefined) return {};
    const ref = this.facts.reference(dir);
    const analysis = referenceAnalysis(this.facts.runsInAll(runStores), dir);
    const error = ref && !ref.ok ? (issues.find((i) => i.path.join('.') === 'reference.path')?.message ?? ref.error.message) : undefined;
    return { reference: ref?.ok ? ref.info : undefined, referenceError: error, referenceAnalysis: analysis };
  }

  /** An open document's state after the file pass, or (a config not open) its checks with every fact read. */
  async checkedConfig(uri: string): Promise<{ file: string; values: ConfigValues; issues: ConfigIssue[] } | undefined> {
    if (this.documents.get(uri)) {
      await this.refresh();
      return this.stateOf(uri)?.state;
    }
    if (!uri.startsWith('file:')) return undefined;
    const file = this.fileOf(uri);
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch {
      return undefined;
    }
    const parsed = parseRunConfig(text, file);
    const files = await checkReadingFacts(parsed, file, this.facts);
    return { file, values: configValues(parsed, file), issues: [...parsed.issues, ...files.issues] };
  }
}

// -- lifecycle --------------------------------------------------------------------------------

function registerLifecycle(server: ConfigServer): void {
  const { connection } = server;
  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const options = (params.initializationOptions ?? {}) as LanguageServerOptions;
    server.options = options;
    server.facts = new Facts({ tokenCacheDir: options.tokenCacheDir, maxTextBytes: options.maxTextBytes }, () => server.scheduleRefresh());
    const folders = params.workspaceFolders ?? (params.rootUri ? [{ uri: params.rootUri, name: '' }] : []);
    server.roots = folders.filter((f) => f.uri.startsWith('file:')).map((f) => fileURLToPath(f.uri));
    const caps = params.capabilities;
    server.snippets = caps.textDocument?.completion?.completionItem?.snippetSupport === true;
    server.lensRefresh = caps.workspace?.codeLens?.refreshSupport === true;
    server.watchRegistration = caps.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: [':', ' ', '/', '[', ',', '-'], resolveProvider: false },
        hoverProvider: true,
        codeLensProvider: { resolveProvider: false },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        inlayHintProvider: true,
      },
      serverInfo: { name: 'inheritune-config' },
    };
  });

  connection.onInitialized(() => {
    if (!server.watchRegistration) return;
    // Models, data and runs anywhere in the workspace; the debounced pass decides what changed.
    const globs = ['**/config.json', '**/*.safetensors', '**/*.safetensors.index.json', '**/*.{bin,npy,txt,jsonl}', '**/plan.json', '**/summary.json'];
    void connection.client
      .register(DidChangeWatchedFilesNotification.type, { watchers: globs.map((globPattern) => ({ globPattern })) })
      .catch((e) => server.log('registering file watchers', e));
  });

  connection.onDidChangeWatchedFiles((p) => {
    // events.jsonl grows every training step: runs are watched through their folder instead.
    if (p.changes.some((c) => !c.uri.endsWith('/events.jsonl'))) server.scheduleRefresh();
  });

  connection.onShutdown(() => server.dispose());

  connection.onNotification(REFRESH_NOTIFICATION, () => {
    server.facts.clear();
    for (const doc of server.documents.all()) server.validate(doc);
    server.scheduleRefresh(0);
  });
}

// -- requests ---------------------------------------------------------------------------------

function registerRequests(server: ConfigServer): void {
  const { connection } = server;
  connection.onRequest(CONFIG_INFO_REQUEST, async (raw: unknown): Promise<ConfigInfo | null> => {
    try {
      const params = CONFIG_INFO_PARAMS.check(raw, 'configInfo');
      if (!params.ok) throw new ResponseError(ErrorCodes.InvalidParams, params.error);
      const s = await server.checkedConfig(params.value.uri);
      if (!s) return null;
      const { outDir, referenceDir } = s.values;
      return {
        configPath: s.file,
        ...server.referenceResult(referenceDir, [...(outDir ? [outDir] : []), ...(params.value.runStores ?? [])], s.issues),
        outDir,
        lastRun: outDir ? lastRun({ file: s.file, runs: server.facts.runsIn(outDir) }) : undefined,
        errors: s.issues.filter((i) => i.severity === 'error').length,
        warnings: s.issues.filter((i) => i.severity === 'warning').length,
        issues: [...s.issues].sort(byPosition).map(({ line, col, severity, message }) => ({ line, col, severity, message })),
      };
    } catch (e) {
      if (e instanceof ResponseError) throw e;
      server.log('configInfo', e);
      return null;
    }
  });

  connection.onRequest(REFERENCE_INFO_REQUEST, (raw: unknown): ReferenceInfoResult => {
    const params = REFERENCE_INFO_PARAMS.check(raw, 'referenceInfo');
    if (!params.ok) throw new ResponseError(ErrorCodes.InvalidParams, params.error);
    const dir = path.resolve(params.value.dir);
    try {
      server.facts.ensureReference(dir);
      return server.referenceResult(dir, params.value.runStores);
    } catch (e) {
      server.log('referenceInfo', e);
      return {};
    }
  });
}

// -- documents --------------------------------------------------------------------------------

function registerDocuments(server: ConfigServer): void {
  server.documents.onDidChangeContent((e) => {
    server.validate(e.document);
    server.scheduleRefresh();
  });

  server.documents.onDidClose((e) => {
    server.states.delete(e.document.uri);
    server.lastRuns.delete(e.document.uri);
    void server.connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] }).catch(() => undefined);
  });
}

// -- features ---------------------------------------------------------------------------------

/** `f` on the checked state of the open document `uri`; null when it is not open, or on an error (logged). */
function withDocument<R>(server: ConfigServer, uri: string, what: string, f: (got: { doc: TextDocument; state: DocState }) => R): R | null {
  try {
    const got = server.stateOf(uri);
    return got ? f(got) : null;
  } catch (e) {
    server.log(what, e);
    return null;
  }
}

function registerFeatures(server: ConfigServer): void {
  const { connection } = server;
  connection.onCompletion((params) =>
    withDocument(server, params.textDocument.uri, 'completion', ({ doc, state }) => {
      const offset = doc.offsetAt(params.position);
      const ctx = completionContext(doc.getText(), offset);
      if (!ctx) return null;
      server.ensureReferenceNow(state);
      const ref = state.values.referenceDir ? server.facts.reference(state.values.referenceDir) : undefined;
      const env = { file: state.file, roots: server.roots, snippets: server.snippets, reference: ref?.ok ? ref.config : undefined, layers: state.values.layers };
      const items = ctx.kind === 'key' ? keyItems(ctx, env) : valueItems(ctx, env);
      const range = { start: doc.positionAt(ctx.start), end: params.position };
      for (const item of items) {
        item.textEdit = { range, newText: item.insertText ?? item.label };
        delete item.insertText;
      }
      return { isIncomplete: false, items };
    }),
  );

  connection.onHover((params) =>
    withDocument(server, params.textDocument.uri, 'hover', ({ doc, state }) => {
      server.ensureReferenceNow(state);
      return hover(doc, doc.offsetAt(params.position), server.documentFacts(params.textDocument.uri, state)) ?? null;
    }),
  );

  connection.languages.inlayHint.on((params) =>
    withDocument(server, params.textDocument.uri, 'inlay hints', ({ doc, state }) => inlayHints(doc, params.range, server.documentFacts(params.textDocument.uri, state))),
  );

  connection.onCodeLens((params) =>
    withDocument(server, params.textDocument.uri, 'code lenses', ({ state }) => {
      const f = server.documentFacts(params.textDocument.uri, state);
      server.lastRuns.set(params.textDocument.uri, lastRun(f)?.runId ?? '');
      return codeLenses(f);
    }),
  );

  connection.onCodeAction((params) =>
    withDocument(server, params.textDocument.uri, 'code actions', ({ state }) => {
      const now = state.issues.map((issue, i) => ({ issue, d: state.diagnostics[i] }));
      return quickFixes(params.textDocument.uri, params.context.diagnostics, now);
    }),
  );
}
