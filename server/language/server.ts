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
      const issues = [...parsed.issues, ...files.issues].sort(byPosition);
      const diagnostics = issues.map((i) => toDiagnostic(doc, i));
      const prev = states.get(doc.uri);
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
      states.set(doc.uri, state);
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
          for (const s of states.values()) {
            for (const r of s.needs.references) refs.add(r);
            for (const d of s.needs.data) data.set(JSON.stringify(d), d);
          }
          for (const r of refs) {
            try {
              if (facts.ensureReference(r)) changed = true;
            } catch (e) {
              log(`reading ${r}`, e);
            }
          }
          const results = await Promise.all([...data.values()].map((d) => facts.ensureData(d).catch((e) => (log(`reading ${d.file}`, e), false))));
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

  /** Asks the client for new code lenses when a config's last run changed (a run started or appeared). */
  function checkLastRuns(): void {
    let changed = false;
    for (const [uri, s] of states) {
      const id = s.values.outDir ? (lastRun({ file: s.file, runs: facts.runsIn(s.values.outDir) })?.runId ?? '') : '';
      if (lastRuns.has(uri) && lastRuns.get(uri) !== id) changed = true;
      lastRuns.set(uri, id);
    }
    if (changed && lensRefresh) void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
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
    return {
      uri,
      file: s.file,
      parsed: s.parsed,
      values: v,
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
    facts = new Facts({ tokenCacheDir: options.tokenCacheDir, maxTextBytes: options.maxTextBytes }, () => scheduleRefresh());
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
  async function checkedConfig(uri: string): Promise<{ file: string; values: ConfigValues; issues: ConfigIssue[] } | undefined> {
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
    return { file, values: configValues(parsed, file), issues: [...parsed.issues, ...files.issues] };
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
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] }).catch(() => undefined);
  });

  // -- features -------------------------------------------------------------------------------

  connection.onCompletion((params) => {
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
      const items = ctx.kind === 'key' ? keyItems(ctx, env) : valueItems(ctx, env);
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
      facts.dispose();
    },
  };
}
