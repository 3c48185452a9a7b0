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
  LSPErrorCodes,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type CompletionItem,
  type Connection,
  type Diagnostic,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { byPosition, parseRunConfig, schemaDefault, type ConfigIssue, type ParsedRunConfig } from '../protocol/config.js';
import { checkConfigFiles, checkReadingFacts, configValues, dataReading, torchSettings, type ConfigValues, type FileNeeds } from '../engine/configCheck.js';
import type { DataReading } from '../engine/configFacts.js';
import { completionContext, keyItems, valueItems, type CompletionContext } from './completion.js';
import { describeCachedModel, hubItems, revisionItems } from './hubCompletion.js';
import { describeProbe, deviceChoices, pythonCandidates, pythonItems, runtimeItems } from './runtimeCompletion.js';
import { formatHubRef, parseHubRef, resolveReference, type HubRef } from '../engine/hub/index.js';
import type { ResourceEstimate } from '../engine/resources.js';
import { Facts, referenceAnalysis } from './facts.js';
import { codeLenses, hover, inlayHints, lastRun, quickFixes, toDiagnostic, type DocumentFacts } from './features.js';
import {
  CONFIG_INFO_PARAMS,
  CONFIG_INFO_REQUEST,
  DOWNLOAD_PROGRESS_NOTIFICATION,
  DOWNLOAD_REFERENCE_PARAMS,
  DOWNLOAD_REFERENCE_REQUEST,
  HUB_MODELS_REQUEST,
  REFERENCE_INFO_PARAMS,
  REFERENCE_INFO_REQUEST,
  REFRESH_NOTIFICATION,
  type CachedHubModel,
  type ConfigInfo,
  type DownloadProgressParams,
  type DownloadReferenceResult,
  type LanguageServerOptions,
  type ReferenceInfoResult,
} from './protocol.js';

/** reference.hub and reference.revision as a Hub reference; undefined when they do not parse (the schema says why). */
function hubRefOf(v: ConfigValues): HubRef | undefined {
  if (v.hub === undefined) return undefined;
  try {
    return parseHubRef(v.hub, 'reference.hub', v.revision);
  } catch {
    return undefined;
  }
}

/** Download progress notifications are sent at most this often (the last one always). */
const DOWNLOAD_PROGRESS_MS = 200;

/** How long a file pass waits for the Hub or a Python probe before going on without it. */
const SLOW_FACT_WAIT_MS = 5_000;

/** The message of the issue at reference.hub, if any. */
function hubIssue(issues: readonly ConfigIssue[]): string | undefined {
  return issues.find((i) => i.path.join('.') === 'reference.hub')?.message;
}

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
  /** reference.hub as found in the HF cache. */
  hubModel?: { dir: string; commit: string };
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
  /** Per document, what its Hub lens depends on (a change asks the client for new lenses). */
  readonly lensKeys = new Map<string, string>();
  private lensTimer: NodeJS.Timeout | undefined;
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
    if (this.lensTimer) clearTimeout(this.lensTimer);
    this.facts.dispose();
  }

  /** Asks the client for new code lenses (once for changes close together). */
  private refreshLenses(): void {
    if (!this.lensRefresh || this.lensTimer || this.disposed) return;
    this.lensTimer = setTimeout(() => {
      this.lensTimer = undefined;
      void this.connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
    }, 50);
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
      const values = configValues(parsed, file);
      // A Hub reference is read from its snapshot, as a folder is.
      values.referenceDir ??= files.hubModel?.dir;
      const issues = [...parsed.issues, ...files.issues].sort(byPosition);
      const diagnostics = issues.map((i) => toDiagnostic(doc, i));
      const prev = this.states.get(doc.uri);
      const json = JSON.stringify(diagnostics);
      const state: DocState = {
        version: doc.version,
        file,
        parsed,
        values,
        issues,
        diagnostics,
        needs: files.needs,
        pending: files.pending,
        estimate: files.estimate,
        hubModel: files.hubModel,
        published: json,
      };
      this.states.set(doc.uri, state);
      // The Download lens follows the cache (a download, or another tool's) and the Hub's answer.
      const lensKey = `${files.hubModel?.dir ?? ''}|${JSON.stringify(files.needs.hub.map((h) => this.facts.hubRemote(h)?.ok ?? null))}`;
      if (this.lensKeys.has(doc.uri) && this.lensKeys.get(doc.uri) !== lensKey) this.refreshLenses();
      this.lensKeys.set(doc.uri, lensKey);
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
    const hubRefs = new Map<string, HubRef>();
    const pythons = new Set<string>();
    for (const s of this.states.values()) {
      for (const r of s.needs.references) refs.add(r);
      for (const d of s.needs.data) data.set(JSON.stringify(d), d);
      for (const h of s.needs.hub) hubRefs.set(formatHubRef(h), h);
      for (const p of s.needs.pythons) pythons.add(p);
    }
    for (const r of refs) {
      try {
        if (this.facts.ensureReference(r)) changed = true;
      } catch (e) {
        this.log(`reading ${r}`, e);
      }
    }
    const results = await Promise.all([
      ...[...data.values()].map((d) => this.facts.ensureData(d).catch((e) => (this.log(`reading ${d.file}`, e), false))),
      // The Hub and Python answer in their own time: waited for a moment, then checked again when they do.
      ...[...hubRefs.values()].map((h) => this.awhile(this.facts.hub.ensureRemote(h))),
      ...[...pythons].map((p) => this.awhile(this.facts.pythons.ensure(p))),
    ]);
    if (results.some(Boolean)) changed = true;
    let pending = false;
    for (const doc of this.documents.all()) {
      const s = this.states.get(doc.uri);
      if (!s || changed || s.pending) pending = (this.validate(doc)?.pending ?? false) || pending;
    }
    return pending || changed;
  }

  /** `p` if it settles within a few seconds; otherwise false now, and a new pass when it settles with a change. */
  awhile(p: Promise<boolean>): Promise<boolean> {
    let late = false;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        late = true;
        resolve(false);
      }, SLOW_FACT_WAIT_MS);
    });
    void p.then((changed) => {
      clearTimeout(timer);
      if (late && changed) this.scheduleRefresh(0);
    });
    return Promise.race([p, waited]);
  }

  /** Asks the client for new code lenses when a config's last run changed (a run started or appeared). */
  private checkLastRuns(): void {
    let changed = false;
    for (const [uri, s] of this.states) {
      const id = s.values.outDir ? (lastRun({ file: s.file, runs: this.facts.runsIn(s.values.outDir) })?.runId ?? '') : '';
      if (this.lastRuns.has(uri) && this.lastRuns.get(uri) !== id) changed = true;
      this.lastRuns.set(uri, id);
    }
    if (changed) this.refreshLenses();
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
    const hub = v.hub !== undefined ? hubRefOf(v) : undefined;
    const engine = torchSettings(s.parsed, this.facts.defaultPython);
    return {
      uri,
      file: s.file,
      parsed: s.parsed,
      values: v,
      hub: hub && { ref: hub, cached: s.hubModel, remote: this.facts.hubRemote(hub) },
      python: engine ? { python: engine.python, fact: this.facts.pythonProbe(engine.python) } : undefined,
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
  async checkedConfig(uri: string): Promise<{ file: string; values: ConfigValues; issues: ConfigIssue[]; parsed: ParsedRunConfig; hubModel?: { dir: string; commit: string } } | undefined> {
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
    const values = configValues(parsed, file);
    values.referenceDir ??= files.hubModel?.dir;
    return { file, values, issues: [...parsed.issues, ...files.issues], parsed, hubModel: files.hubModel };
  }

  /** configInfo's hub and engine: the Hub model with its commit, and what will train with which devices (the interpreter probed now if it never was). */
  async runInfo(s: { values: ConfigValues; parsed: ParsedRunConfig; hubModel?: { dir: string; commit: string } }): Promise<Pick<ConfigInfo, 'hub' | 'engine'>> {
    const out: Pick<ConfigInfo, 'hub' | 'engine'> = {};
    const ref = hubRefOf(s.values);
    if (ref) {
      const remote = this.facts.hubRemote(ref);
      out.hub = {
        repo: ref.repo,
        revision: ref.revision,
        cached: s.hubModel !== undefined,
        ...(s.hubModel ? { commit: s.hubModel.commit } : remote?.ok ? { commit: remote.commit, downloadBytes: remote.downloadBytes } : {}),
      };
    }
    const torch = torchSettings(s.parsed, this.facts.defaultPython);
    const python = torch?.python ?? (s.parsed.present(['runtime', 'python']) ? s.parsed.value(['runtime', 'python']) : undefined) ?? this.facts.defaultPython ?? schemaDefault(['runtime', 'python']);
    if (typeof python !== 'string') return out;
    await this.facts.pythons.ensure(python);
    const probe = this.facts.pythonProbe(python);
    const torchDevices = probe ? deviceChoices(probe) : [];
    if (torch) {
      out.engine = { name: 'torch', devices: torch.devices, detail: probe ? describeProbe(probe) : `${python}: not probed`, torchDevices };
    } else if (s.parsed.value(['runtime', 'engine']) !== 'torch') {
      const backend = s.parsed.value(['runtime', 'backend']);
      out.engine = { name: 'tfjs', devices: typeof backend === 'string' ? backend : 'auto', detail: 'the built-in engine (runtime.backend: cpu, wasm, tensorflow or webgpu)', torchDevices };
    }
    return out;
  }

  /** Value items from the HF cache and the interpreter's probe. */
  async sourcedItems(ctx: Extract<CompletionContext, { kind: 'value' }>, state: DocState): Promise<CompletionItem[]> {
    const key = ctx.path.join('.');
    if (key === 'reference.hub' || key === 'reference.revision') {
      const models = (await this.facts.hub.cachedModels()).map(describeCachedModel);
      if (key === 'reference.hub') return hubItems(ctx, models);
      const repo = state.values.hub?.split('@')[0];
      return repo ? revisionItems(ctx, repo, models) : [];
    }
    if (key === 'runtime.python') {
      const candidates = pythonCandidates(this.roots, this.facts.defaultPython);
      await Promise.all(candidates.map((p) => this.awhile(this.facts.pythons.ensure(p))));
      return pythonItems(ctx, candidates, (p) => this.facts.pythonProbe(p));
    }
    if (key.startsWith('runtime.')) {
      const torch = torchSettings(state.parsed, this.facts.defaultPython);
      if (!torch) return [];
      await this.facts.pythons.ensure(torch.python);
      return runtimeItems(ctx, this.facts.pythonProbe(torch.python));
    }
    return [];
  }
}

// -- lifecycle --------------------------------------------------------------------------------

function registerLifecycle(server: ConfigServer): void {
  const { connection } = server;
  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const options = (params.initializationOptions ?? {}) as LanguageServerOptions;
    server.options = options;
    server.facts = new Facts({ tokenCacheDir: options.tokenCacheDir, maxTextBytes: options.maxTextBytes, defaultPython: options.pythonPath?.trim() || undefined }, () => server.scheduleRefresh());
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
        // A Hub model not in the cache has no folder yet: its diagnostic says why.
        ...(referenceDir === undefined && hubIssue(s.issues) ? { referenceError: hubIssue(s.issues) } : {}),
        ...(await server.runInfo(s)),
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

  connection.onRequest(DOWNLOAD_REFERENCE_REQUEST, async (raw: unknown, token): Promise<DownloadReferenceResult> => {
    const params = DOWNLOAD_REFERENCE_PARAMS.check(raw, 'downloadReference');
    if (!params.ok) throw new ResponseError(ErrorCodes.InvalidParams, params.error);
    const { repo, revision } = params.value;
    const abort = new AbortController();
    const cancel = token.onCancellationRequested(() => abort.abort());
    let last = 0;
    try {
      const ref = parseHubRef(repo, 'repo', revision);
      const model = await resolveReference(ref, {
        signal: abort.signal,
        onProgress: (p) => {
          if (Date.now() - last < DOWNLOAD_PROGRESS_MS && p.bytes < p.totalBytes) return;
          last = Date.now();
          const progress: DownloadProgressParams = { repo, revision, file: p.file, bytes: p.bytes, totalBytes: p.totalBytes, bytesPerSecond: p.bytesPerSecond, ...(p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds) ? { etaSeconds: Math.max(0, p.etaSeconds) } : {}) };
          void connection.sendNotification(DOWNLOAD_PROGRESS_NOTIFICATION, progress).catch(() => undefined);
        },
      });
      return { commit: model.commit, dir: model.dir, downloadedBytes: model.downloadedBytes };
    } catch (e) {
      if (abort.signal.aborted) throw new ResponseError(LSPErrorCodes.RequestCancelled, `download of ${repo}@${revision} cancelled`);
      throw new ResponseError(ErrorCodes.InternalError, e instanceof Error ? e.message : String(e));
    } finally {
      cancel.dispose();
      // The cache changed (or a partial download did): every config is checked again, lenses follow.
      server.facts.hub.clear();
      for (const doc of server.documents.all()) server.validate(doc);
      server.scheduleRefresh(0);
    }
  });

  connection.onRequest(HUB_MODELS_REQUEST, async (): Promise<CachedHubModel[]> => {
    try {
      return (await server.facts.hub.cachedModels()).map(describeCachedModel);
    } catch (e) {
      server.log('hubModels', e);
      return [];
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
    server.lensKeys.delete(e.document.uri);
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

/** withDocument for a handler that waits (an error while it waits is logged too). */
function withDocumentAsync<R>(server: ConfigServer, uri: string, what: string, f: (got: { doc: TextDocument; state: DocState }) => Promise<R | null>): Promise<R | null> {
  const waiting = withDocument(server, uri, what, (got) =>
    f(got).catch((e: unknown) => {
      server.log(what, e);
      return null;
    }),
  );
  return waiting ?? Promise.resolve(null);
}

function registerFeatures(server: ConfigServer): void {
  const { connection } = server;
  connection.onCompletion((params) =>
    withDocumentAsync(server, params.textDocument.uri, 'completion', async ({ doc, state }) => {
      const offset = doc.offsetAt(params.position);
      const ctx = completionContext(doc.getText(), offset);
      if (!ctx) return null;
      server.ensureReferenceNow(state);
      const ref = state.values.referenceDir ? server.facts.reference(state.values.referenceDir) : undefined;
      const env = { file: state.file, roots: server.roots, snippets: server.snippets, reference: ref?.ok ? ref.config : undefined, layers: state.values.layers };
      const extra = ctx.kind === 'value' ? await server.sourcedItems(ctx, state) : [];
      const labels = new Set(extra.map((i) => i.label));
      const items = [...extra, ...(ctx.kind === 'key' ? keyItems(ctx, env) : valueItems(ctx, env)).filter((i) => !labels.has(i.label))];
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
