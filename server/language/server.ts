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
  const documents = new TextDocuments(TextDocument);
  const states = new Map<string, DocState>();
  let options: LanguageServerOptions = {};
  let roots: string[] = [];
  let snippets = false;
  let lensRefresh = false;
  let watchRegistration = false;
  let facts = new Facts();
  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> | undefined;
  let again = false;
  let disposed = false;
  const lastRuns = new Map<string, string>();
  /** Per document, what its Hub lens depends on (a change asks the client for new lenses). */
  const lensKeys = new Map<string, string>();
  let lensTimer: NodeJS.Timeout | undefined;

  /** Asks the client for new code lenses (once for changes close together). */
  function refreshLenses(): void {
    if (!lensRefresh || lensTimer || disposed) return;
    lensTimer = setTimeout(() => {
      lensTimer = undefined;
      void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
    }, 50);
  }

  const log = (what: string, e: unknown) => connection.console.error(`inheritune language server: ${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);

  /** The file a document stands for: its path, or (untitled) a name in the first workspace folder. */
  function fileOf(uri: string): string {
    if (uri.startsWith('file:')) {
      try {
        return fileURLToPath(uri);
      } catch {
        // fall through
      }
    }
    const name = decodeURIComponent(uri.split(/[/:]/).pop() || 'untitled');
    return path.join(roots[0] ?? process.cwd(), /\.inheritune\.ya?ml$/.test(name) ? name : `${name}.inheritune.yaml`);
  }

  // -- diagnostics ----------------------------------------------------------------------------

  /** Parses and checks `doc` against the cached facts and publishes its diagnostics. */
  function validate(doc: TextDocument, opts: { force?: boolean } = {}): DocState | undefined {
    try {
      const file = fileOf(doc.uri);
      const parsed = parseRunConfig(doc.getText(), file);
      const files = checkConfigFiles(parsed, file, facts);
      const values = configValues(parsed, file);
      // A Hub reference is read from its snapshot, as a folder is.
      values.referenceDir ??= files.hubModel?.dir;
      const issues = [...parsed.issues, ...files.issues].sort(byPosition);
      const diagnostics = issues.map((i) => toDiagnostic(doc, i));
      const prev = states.get(doc.uri);
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
      states.set(doc.uri, state);
      // The Download lens follows the cache (a download, or another tool's) and the Hub's answer.
      const lensKey = `${files.hubModel?.dir ?? ''}|${JSON.stringify(files.needs.hub.map((h) => facts.hubRemote(h)?.ok ?? null))}`;
      if (lensKeys.has(doc.uri) && lensKeys.get(doc.uri) !== lensKey) refreshLenses();
      lensKeys.set(doc.uri, lensKey);
      if (opts.force || !prev || prev.version !== doc.version || prev.published !== json) {
        void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics }).catch((e) => log('publishing diagnostics', e));
      }
      return state;
    } catch (e) {
      log(`checking ${doc.uri}`, e);
      return undefined;
    }
  }

  function scheduleRefresh(delay = options.fileCheckDelayMs ?? 200): void {
    if (disposed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void refresh();
    }, delay);
  }

  /** Brings the facts every open document needs up to date; re-checks the documents when they changed. */
  function refresh(): Promise<void> {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      do {
        again = false;
        for (let round = 0; round < 3; round++) {
          let changed = false;
          const refs = new Set<string>();
          const data = new Map<string, DataReading>();
          const hubRefs = new Map<string, HubRef>();
          const pythons = new Set<string>();
          for (const s of states.values()) {
            for (const r of s.needs.references) refs.add(r);
            for (const d of s.needs.data) data.set(JSON.stringify(d), d);
            for (const h of s.needs.hub) hubRefs.set(formatHubRef(h), h);
            for (const p of s.needs.pythons) pythons.add(p);
          }
          for (const r of refs) {
            try {
              if (facts.ensureReference(r)) changed = true;
            } catch (e) {
              log(`reading ${r}`, e);
            }
          }
          const results = await Promise.all([
            ...[...data.values()].map((d) => facts.ensureData(d).catch((e) => (log(`reading ${d.file}`, e), false))),
            // The Hub and Python answer in their own time: waited for a moment, then checked again when they do.
            ...[...hubRefs.values()].map((h) => awhile(facts.hub.ensureRemote(h))),
            ...[...pythons].map((p) => awhile(facts.pythons.ensure(p))),
          ]);
          if (results.some(Boolean)) changed = true;
          let pending = false;
          for (const doc of documents.all()) {
            const s = states.get(doc.uri);
            if (!s || changed || s.pending) pending = (validate(doc)?.pending ?? false) || pending;
          }
          if (!pending && !changed) break;
        }
        checkLastRuns();
      } while (again && !disposed);
    })()
      .catch((e) => log('file checks', e))
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  }

  /** `p` if it settles within a few seconds; otherwise false now, and a new pass when it settles with a change. */
  function awhile(p: Promise<boolean>): Promise<boolean> {
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
      if (late && changed) scheduleRefresh(0);
    });
    return Promise.race([p, waited]);
  }

  /** Asks the client for new code lenses when a config's last run changed (a run started or appeared). */
  function checkLastRuns(): void {
    let changed = false;
    for (const [uri, s] of states) {
      const id = s.values.outDir ? (lastRun({ file: s.file, runs: facts.runsIn(s.values.outDir) })?.runId ?? '') : '';
      if (lastRuns.has(uri) && lastRuns.get(uri) !== id) changed = true;
      lastRuns.set(uri, id);
    }
    if (changed) refreshLenses();
  }

  /** The state of an open document, checked now if its text changed since. */
  function stateOf(uri: string): { doc: TextDocument; state: DocState } | undefined {
    const doc = documents.get(uri);
    if (!doc) return undefined;
    let state = states.get(uri);
    if (!state || state.version !== doc.version) state = validate(doc);
    return state ? { doc, state } : undefined;
  }

  function documentFacts(uri: string, s: DocState): DocumentFacts {
    const v = s.values;
    const hub = v.hub !== undefined ? hubRefOf(v) : undefined;
    const engine = torchSettings(s.parsed, facts.defaultPython);
    return {
      uri,
      file: s.file,
      parsed: s.parsed,
      values: v,
      hub: hub && { ref: hub, cached: s.hubModel, remote: facts.hubRemote(hub) },
      python: engine ? { python: engine.python, fact: facts.pythonProbe(engine.python) } : undefined,
      reference: v.referenceDir ? facts.reference(v.referenceDir) : undefined,
      runs: v.outDir ? facts.runsIn(v.outDir) : [],
      trainData: v.train && v.tokenizer ? facts.dataFile(dataReading(v, v.train)) : undefined,
      estimate: s.estimate,
    };
  }

  /** Reads the reference now when it was never read (hover and completion may come before the file pass). */
  function ensureReferenceNow(s: DocState): void {
    const dir = s.values.referenceDir;
    if (dir && !facts.reference(dir)) {
      try {
        if (facts.ensureReference(dir)) scheduleRefresh(0);
      } catch (e) {
        log(`reading ${dir}`, e);
      }
    }
  }

  // -- lifecycle ------------------------------------------------------------------------------

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    options = (params.initializationOptions ?? {}) as LanguageServerOptions;
    facts = new Facts({ tokenCacheDir: options.tokenCacheDir, maxTextBytes: options.maxTextBytes, defaultPython: options.pythonPath?.trim() || undefined }, () => scheduleRefresh());
    const folders = params.workspaceFolders ?? (params.rootUri ? [{ uri: params.rootUri, name: '' }] : []);
    roots = folders.filter((f) => f.uri.startsWith('file:')).map((f) => fileURLToPath(f.uri));
    const caps = params.capabilities;
    snippets = caps.textDocument?.completion?.completionItem?.snippetSupport === true;
    lensRefresh = caps.workspace?.codeLens?.refreshSupport === true;
    watchRegistration = caps.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
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
    if (!watchRegistration) return;
    // Models, data and runs anywhere in the workspace; the debounced pass decides what changed.
    const globs = ['**/config.json', '**/*.safetensors', '**/*.safetensors.index.json', '**/*.{bin,npy,txt,jsonl}', '**/plan.json', '**/summary.json'];
    void connection.client
      .register(DidChangeWatchedFilesNotification.type, { watchers: globs.map((globPattern) => ({ globPattern })) })
      .catch((e) => log('registering file watchers', e));
  });

  connection.onDidChangeWatchedFiles((p) => {
    // events.jsonl grows every training step: runs are watched through their folder instead.
    if (p.changes.some((c) => !c.uri.endsWith('/events.jsonl'))) scheduleRefresh();
  });

  connection.onShutdown(() => {
    disposed = true;
    if (timer) clearTimeout(timer);
    if (lensTimer) clearTimeout(lensTimer);
    facts.dispose();
  });

  connection.onNotification(REFRESH_NOTIFICATION, () => {
    facts.clear();
    for (const doc of documents.all()) validate(doc);
    scheduleRefresh(0);
  });

  /** What the server knows of the reference at `dir`: its description or why not, and its newest analysis in `runStores`. */
  function referenceResult(dir: string | undefined, runStores: readonly string[], issues: readonly ConfigIssue[] = []): ReferenceInfoResult {
    if (dir === undefined) return {};
    const ref = facts.reference(dir);
    const analysis = referenceAnalysis(facts.runsInAll(runStores), dir);
    const error = ref && !ref.ok ? (issues.find((i) => i.path.join('.') === 'reference.path')?.message ?? ref.error.message) : undefined;
    return { reference: ref?.ok ? ref.info : undefined, referenceError: error, referenceAnalysis: analysis };
  }

  /** An open document's state after the file pass, or (a config not open) its checks with every fact read. */
  async function checkedConfig(uri: string): Promise<{ file: string; values: ConfigValues; issues: ConfigIssue[]; parsed: ParsedRunConfig; hubModel?: { dir: string; commit: string } } | undefined> {
    if (documents.get(uri)) {
      await refresh();
      return stateOf(uri)?.state;
    }
    if (!uri.startsWith('file:')) return undefined;
    const file = fileOf(uri);
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch {
      return undefined;
    }
    const parsed = parseRunConfig(text, file);
    const files = await checkReadingFacts(parsed, file, facts);
    const values = configValues(parsed, file);
    values.referenceDir ??= files.hubModel?.dir;
    return { file, values, issues: [...parsed.issues, ...files.issues], parsed, hubModel: files.hubModel };
  }

  /** configInfo's hub and engine: the Hub model with its commit, and what will train with which devices (the interpreter probed now if it never was). */
  async function runInfo(s: { values: ConfigValues; parsed: ParsedRunConfig; hubModel?: { dir: string; commit: string } }): Promise<Pick<ConfigInfo, 'hub' | 'engine'>> {
    const out: Pick<ConfigInfo, 'hub' | 'engine'> = {};
    const ref = hubRefOf(s.values);
    if (ref) {
      const remote = facts.hubRemote(ref);
      out.hub = {
        repo: ref.repo,
        revision: ref.revision,
        cached: s.hubModel !== undefined,
        ...(s.hubModel ? { commit: s.hubModel.commit } : remote?.ok ? { commit: remote.commit, downloadBytes: remote.downloadBytes } : {}),
      };
    }
    const torch = torchSettings(s.parsed, facts.defaultPython);
    const python = torch?.python ?? (s.parsed.present(['runtime', 'python']) ? s.parsed.value(['runtime', 'python']) : undefined) ?? facts.defaultPython ?? schemaDefault(['runtime', 'python']);
    if (typeof python !== 'string') return out;
    await facts.pythons.ensure(python);
    const probe = facts.pythonProbe(python);
    const torchDevices = probe ? deviceChoices(probe) : [];
    if (torch) {
      out.engine = { name: 'torch', devices: torch.devices, detail: probe ? describeProbe(probe) : `${python}: not probed`, torchDevices };
    } else if (s.parsed.value(['runtime', 'engine']) !== 'torch') {
      const backend = s.parsed.value(['runtime', 'backend']);
      out.engine = { name: 'tfjs', devices: typeof backend === 'string' ? backend : 'auto', detail: 'the built-in engine (runtime.backend: cpu, wasm, tensorflow or webgpu)', torchDevices };
    }
    return out;
  }

  connection.onRequest(CONFIG_INFO_REQUEST, async (raw: unknown): Promise<ConfigInfo | null> => {
    try {
      const params = CONFIG_INFO_PARAMS.check(raw, 'configInfo');
      if (!params.ok) throw new ResponseError(ErrorCodes.InvalidParams, params.error);
      const s = await checkedConfig(params.value.uri);
      if (!s) return null;
      const { outDir, referenceDir } = s.values;
      return {
        configPath: s.file,
        ...referenceResult(referenceDir, [...(outDir ? [outDir] : []), ...(params.value.runStores ?? [])], s.issues),
        // A Hub model not in the cache has no folder yet: its diagnostic says why.
        ...(referenceDir === undefined && hubIssue(s.issues) ? { referenceError: hubIssue(s.issues) } : {}),
        ...(await runInfo(s)),
        outDir,
        lastRun: outDir ? lastRun({ file: s.file, runs: facts.runsIn(outDir) }) : undefined,
        errors: s.issues.filter((i) => i.severity === 'error').length,
        warnings: s.issues.filter((i) => i.severity === 'warning').length,
        issues: [...s.issues].sort(byPosition).map(({ line, col, severity, message }) => ({ line, col, severity, message })),
      };
    } catch (e) {
      if (e instanceof ResponseError) throw e;
      log('configInfo', e);
      return null;
    }
  });

  connection.onRequest(REFERENCE_INFO_REQUEST, (raw: unknown): ReferenceInfoResult => {
    const params = REFERENCE_INFO_PARAMS.check(raw, 'referenceInfo');
    if (!params.ok) throw new ResponseError(ErrorCodes.InvalidParams, params.error);
    const dir = path.resolve(params.value.dir);
    try {
      facts.ensureReference(dir);
      return referenceResult(dir, params.value.runStores);
    } catch (e) {
      log('referenceInfo', e);
      return {};
    }
  });

  // -- documents ------------------------------------------------------------------------------

  documents.onDidChangeContent((e) => {
    validate(e.document);
    scheduleRefresh();
  });

  documents.onDidClose((e) => {
    states.delete(e.document.uri);
    lastRuns.delete(e.document.uri);
    lensKeys.delete(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] }).catch(() => undefined);
  });

  // -- features -------------------------------------------------------------------------------

  connection.onCompletion(async (params) => {
    try {
      const got = stateOf(params.textDocument.uri);
      if (!got) return null;
      const { doc, state } = got;
      const offset = doc.offsetAt(params.position);
      const ctx = completionContext(doc.getText(), offset);
      if (!ctx) return null;
      ensureReferenceNow(state);
      const ref = state.values.referenceDir ? facts.reference(state.values.referenceDir) : undefined;
      const env = { file: state.file, roots, snippets, reference: ref?.ok ? ref.config : undefined, layers: state.values.layers };
      const extra = ctx.kind === 'value' ? await sourcedItems(ctx, state) : [];
      const labels = new Set(extra.map((i) => i.label));
      const items = [...extra, ...(ctx.kind === 'key' ? keyItems(ctx, env) : valueItems(ctx, env)).filter((i) => !labels.has(i.label))];
      const range = { start: doc.positionAt(ctx.start), end: params.position };
      for (const item of items) {
        item.textEdit = { range, newText: item.insertText ?? item.label };
        delete item.insertText;
      }
      return { isIncomplete: false, items };
    } catch (e) {
      log('completion', e);
      return null;
    }
  });

  /** Value items from the HF cache and the interpreter's probe. */
  async function sourcedItems(ctx: Extract<CompletionContext, { kind: 'value' }>, state: DocState): Promise<CompletionItem[]> {
    const key = ctx.path.join('.');
    if (key === 'reference.hub' || key === 'reference.revision') {
      const models = (await facts.hub.cachedModels()).map(describeCachedModel);
      if (key === 'reference.hub') return hubItems(ctx, models);
      const repo = state.values.hub?.split('@')[0];
      return repo ? revisionItems(ctx, repo, models) : [];
    }
    if (key === 'runtime.python') {
      const candidates = pythonCandidates(roots, facts.defaultPython);
      await Promise.all(candidates.map((p) => awhile(facts.pythons.ensure(p))));
      return pythonItems(ctx, candidates, (p) => facts.pythonProbe(p));
    }
    if (key.startsWith('runtime.')) {
      const torch = torchSettings(state.parsed, facts.defaultPython);
      if (!torch) return [];
      await facts.pythons.ensure(torch.python);
      return runtimeItems(ctx, facts.pythonProbe(torch.python));
    }
    return [];
  }

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
      facts.hub.clear();
      for (const doc of documents.all()) validate(doc);
      scheduleRefresh(0);
    }
  });

  connection.onRequest(HUB_MODELS_REQUEST, async (): Promise<CachedHubModel[]> => {
    try {
      return (await facts.hub.cachedModels()).map(describeCachedModel);
    } catch (e) {
      log('hubModels', e);
      return [];
    }
  });

  connection.onHover((params) => {
    try {
      const got = stateOf(params.textDocument.uri);
      if (!got) return null;
      ensureReferenceNow(got.state);
      return hover(got.doc, got.doc.offsetAt(params.position), documentFacts(params.textDocument.uri, got.state)) ?? null;
    } catch (e) {
      log('hover', e);
      return null;
    }
  });

  connection.languages.inlayHint.on((params) => {
    try {
      const got = stateOf(params.textDocument.uri);
      if (!got) return null;
      return inlayHints(got.doc, params.range, documentFacts(params.textDocument.uri, got.state));
    } catch (e) {
      log('inlay hints', e);
      return null;
    }
  });

  connection.onCodeLens((params) => {
    try {
      const got = stateOf(params.textDocument.uri);
      if (!got) return null;
      const f = documentFacts(params.textDocument.uri, got.state);
      lastRuns.set(params.textDocument.uri, lastRun(f)?.runId ?? '');
      return codeLenses(f);
    } catch (e) {
      log('code lenses', e);
      return null;
    }
  });

  connection.onCodeAction((params) => {
    try {
      const got = stateOf(params.textDocument.uri);
      if (!got) return null;
      const now = got.state.issues.map((issue, i) => ({ issue, d: got.state.diagnostics[i] }));
      return quickFixes(params.textDocument.uri, params.context.diagnostics, now);
    } catch (e) {
      log('code actions', e);
      return null;
    }
  });

  documents.listen(connection);

  return {
    dispose() {
      disposed = true;
      if (timer) clearTimeout(timer);
      if (lensTimer) clearTimeout(lensTimer);
      facts.dispose();
    },
  };
}
