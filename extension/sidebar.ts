/**
 * The sidebar webview view, bound to the active run config (the config editor in front, or the one
 * shown last). It shows the config's reference model, a layer slider over the reference's lazy-layer
 * strip, data files and steps; edits are written into the YAML with a WorkspaceEdit that touches
 * only the edited value, so comments and formatting stay. What it shows about the reference (its
 * shape, or why it cannot be read, and its newest stored analysis) comes from the config language
 * server (configInfo), defaults from the config schema.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { BACKENDS, defaultTargetLayers, parseRunConfig } from '../server/protocol/config.js';
import { advanceProgress, NO_PROGRESS, progressText } from '../server/protocol/progress.js';
import { TOKEN_FILE_EXTENSIONS } from '../server/protocol/dataFiles.js';
import type { LayerStrip, SidebarState, SidebarToHost } from '../webview/protocol.js';
import { isConfigUri } from './configFiles.js';
import { configInfo } from './languageClient.js';
import type { RunsController } from './runs.js';
import { settings } from './settings.js';
import { sidebarHtml } from './webviewHtml.js';
import { pickReference } from './referencePick.js';
import { replaceYamlMapping, setYamlValue } from './yamlEdit.js';

export const SIDEBAR_VIEW_ID = 'inheritune.sidebar';

export interface SidebarActions {
  start(uri: vscode.Uri): void;
  stop(): void;
  analyze(uri: vscode.Uri): void;
  newConfig(): void;
}

export class SidebarProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private configUri: vscode.Uri | undefined;
  /** Analyses run from here (by reference folder), newer than any in the run store. */
  private readonly analyses = new Map<string, LayerStrip>();
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the pending update runs (Date.now() ms). */
  private due = 0;
  /** runtime.engine of the config last shown (a tfjs backend chosen from torch switches the engine back). */
  private lastEngine: string | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly runs: RunsController,
    private readonly actions: SidebarActions,
  ) {
    const ed = vscode.window.activeTextEditor;
    if (ed && isConfigUri(ed.document.uri)) this.configUri = ed.document.uri;
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((e) => {
        if (e && isConfigUri(e.document.uri) && e.document.uri.toString() !== this.configUri?.toString()) {
          this.configUri = e.document.uri;
          this.update();
        }
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.configUri && e.document.uri.toString() === this.configUri.toString()) this.update(250);
      }),
      // The problem list follows the language server's (a model or data file changed on disk, say).
      vscode.languages.onDidChangeDiagnostics((e) => {
        if (this.configUri && e.uris.some((u) => u.toString() === this.configUri?.toString())) this.update(100);
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.update()),
      runs.onDidChange(() => this.update(500)),
      runs.onEvent((e) => {
        if (e.type === 'metrics' || e.type === 'phase' || e.type === 'runFinished' || e.type === 'runFailed') this.update(500);
      }),
    );
  }

  get currentConfig(): vscode.Uri | undefined {
    return this.configUri;
  }

  /** Binds the view to a config file (e.g. one just created). */
  bind(uri: vscode.Uri): void {
    this.configUri = uri;
    this.update();
  }

  setAnalysis(referenceDir: string, strip: LayerStrip): void {
    this.analyses.set(path.resolve(referenceDir), strip);
    this.update();
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist'), vscode.Uri.joinPath(this.context.extensionUri, 'media')],
    };
    view.webview.html = sidebarHtml(view.webview, this.context.extensionUri);
    view.webview.onDidReceiveMessage((m: SidebarToHost) => void this.onMessage(m), undefined, this.disposables);
    view.onDidChangeVisibility(() => view.visible && this.update(), undefined, this.disposables);
    if (!this.configUri) void this.findAnyConfig();
  }

  private async findAnyConfig(): Promise<void> {
    const found = await vscode.workspace.findFiles('**/*.inheritune.{yaml,yml}', '**/{node_modules,.inheritune}/**', 1);
    if (!this.configUri && found[0]) {
      this.configUri = found[0];
      this.update();
    }
  }

  /**
   * Posts the state within `delay` ms. An update already due by then covers this one (it reads the
   * state when it runs), so a stream of run events cannot keep postponing it.
   */
  update(delay = 0): void {
    const due = Date.now() + delay;
    if (this.timer && this.due <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.post();
    }, delay);
  }

  private async readText(uri: vscode.Uri): Promise<string> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open) return open.getText();
    return Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
  }

  async state(): Promise<SidebarState> {
    const uri = this.configUri;
    const active = this.runs.active();
    const running = active ? this.runningInfo(active.runId, active.name) : null;
    const base: SidebarState = { configFile: null, config: null, problems: [], reference: null, strip: null, trusted: vscode.workspace.isTrusted, running };
    if (!uri) return base;
    let text: string;
    try {
      text = await this.readText(uri);
    } catch (e) {
      return { ...base, configFile: vscode.workspace.asRelativePath(uri), problems: [{ line: 1, col: 1, severity: 'error', message: (e as Error).message }] };
    }
    const parsed = parseRunConfig(text, uri.fsPath);
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const info = await configInfo(uri, [...this.runs.rootList, ...(ws ? [settings().outDir(ws)] : [])]);
    const num = (...p: string[]) => {
      const v = parsed.value(p);
      return typeof v === 'number' ? v : null;
    };
    const str = (...p: string[]) => {
      const v = parsed.value(p);
      return typeof v === 'string' ? v : '';
    };
    const state: SidebarState = {
      ...base,
      configFile: vscode.workspace.asRelativePath(uri),
      // Without the language server only the schema's issues are known (its file checks need it).
      problems: info?.issues ?? parsed.issues.map(({ line, col, severity, message }) => ({ line, col, severity, message })),
      config: {
        name: parsed.config?.name ?? str('name'),
        referencePath: str('reference', 'path'),
        layers: num('target', 'layers'),
        maxLayers: num('grow', 'max_layers'),
        train: str('data', 'train'),
        val: str('data', 'val'),
        steps: num('train', 'steps'),
        baselines: parsed.config?.baselines ?? [],
        backend: str('runtime', 'backend') || 'auto',
        backends: BACKENDS,
        analysisWindows: { sequences: num('analysis', 'sequences'), seqLen: num('analysis', 'seq_len') },
        referenceHub: str('reference', 'hub') ? `${str('reference', 'hub')}@${str('reference', 'revision') || 'main'}` : '',
      },
    };
    if (info?.engine) state.engine = info.engine;
    if (info?.hub) state.hub = { cached: info.hub.cached, ...(info.hub.commit ? { commit: info.hub.commit } : {}), ...(info.hub.downloadBytes !== undefined ? { downloadBytes: info.hub.downloadBytes } : {}) };
    if (!state.config?.referencePath && !state.config?.referenceHub) return state;
    if (!info) return { ...state, referenceError: 'the config language server is not running' };
    state.referenceError = info.referenceError;
    const ref = info.reference;
    if (ref && state.config) {
      state.reference = ref;
      state.config.layers ??= defaultTargetLayers(ref.layers);
      const a = info.referenceAnalysis;
      state.strip =
        this.analyses.get(ref.path) ??
        (a ? { source: `run ${a.runId}`, tau: a.tau, layers: a.layers.map(({ layer, maxRank, avgMass, lazy }) => ({ layer, maxRank, avgMass, lazy })) } : null);
    }
    return state;
  }

  private runningInfo(runId: string, name: string): SidebarState['running'] {
    let now = NO_PROGRESS;
    try {
      for (const e of this.runs.feed(runId).events) now = advanceProgress(now, e);
    } catch {
      // No feed.
    }
    return { runId, name, progress: now.phase === '' ? 'queued' : progressText(now) };
  }

  private async post(): Promise<void> {
    if (!this.view) return;
    try {
      const state = await this.state();
    this.lastEngine = state.engine?.name;
    await this.view.webview.postMessage({ type: 'state', state });
    } catch (e) {
      this.runs.log.warn(`sidebar: ${(e as Error).message}`);
    }
  }

  /** Makes `reference` exactly these keys (a folder or a Hub model), saving the file when it was saved before. */
  private async setReference(entries: { path: string } | { hub: string }): Promise<void> {
    const uri = this.configUri;
    if (!uri) return;
    const doc = await vscode.workspace.openTextDocument(uri);
    const wasDirty = doc.isDirty;
    const edit = replaceYamlMapping(doc.getText(), ['reference'], entries);
    if (!edit) return;
    const we = new vscode.WorkspaceEdit();
    we.replace(uri, new vscode.Range(doc.positionAt(edit.start), doc.positionAt(edit.end)), edit.text);
    if (!(await vscode.workspace.applyEdit(we))) throw new Error(`could not edit ${uri.fsPath}`);
    if (!wasDirty) await doc.save();
    this.update();
  }

  /** Writes one value into the config file (kept formatting and comments) and saves it when it was saved before. */
  async setValue(keyPath: string[], value: string | number | boolean): Promise<void> {
    const uri = this.configUri;
    if (!uri) return;
    const doc = await vscode.workspace.openTextDocument(uri);
    const wasDirty = doc.isDirty;
    const edit = setYamlValue(doc.getText(), keyPath, value);
    if (!edit) return;
    const we = new vscode.WorkspaceEdit();
    we.replace(uri, new vscode.Range(doc.positionAt(edit.start), doc.positionAt(edit.end)), edit.text);
    if (!(await vscode.workspace.applyEdit(we))) throw new Error(`could not edit ${uri.fsPath}`);
    if (!wasDirty) await doc.save();
    this.update();
  }

  private async onMessage(m: SidebarToHost): Promise<void> {
    const uri = this.configUri;
    try {
      switch (m.type) {
        case 'ready':
          this.update();
          break;
        case 'setLayers':
          await this.setValue(['target', 'layers'], m.layers);
          break;
        case 'setSteps':
          await this.setValue(['train', 'steps'], m.steps);
          break;
        case 'setBackend':
          if (!(BACKENDS as readonly string[]).includes(m.backend)) break;
          if (this.lastEngine === 'torch') await this.setValue(['runtime', 'engine'], 'tfjs');
          await this.setValue(['runtime', 'backend'], m.backend);
          break;
        case 'setTorchDevices':
          if (!/^(cpu|cuda(:\d+)?)$/.test(m.devices)) break;
          await this.setValue(['runtime', 'engine'], 'torch');
          await this.setValue(['runtime', 'devices'], m.devices);
          break;
        case 'pickReference': {
          if (!uri) return;
          const choice = await pickReference(uri);
          if (!choice) return;
          if ('hub' in choice) await this.setReference({ hub: choice.hub });
          else await this.setReference({ path: relativeTo(uri, choice.folder) });
          break;
        }
        case 'pickData': {
          if (!uri) return;
          const picked = await vscode.window.showOpenDialog({
            canSelectFiles: true,
            defaultUri: vscode.Uri.file(path.dirname(uri.fsPath)),
            filters: { 'Token or text data': TOKEN_FILE_EXTENSIONS.map((e) => e.slice(1)) },
            openLabel: `Use as ${m.which} data`,
          });
          if (picked?.[0]) await this.setValue(['data', m.which], relativeTo(uri, picked[0]));
          break;
        }
        case 'analyze':
          if (uri) this.actions.analyze(uri);
          break;
        case 'start':
          if (uri) this.actions.start(uri);
          break;
        case 'stop':
          this.actions.stop();
          break;
        case 'openConfig': {
          if (!uri) return;
          const at = m.at && Number.isInteger(m.at.line) && Number.isInteger(m.at.col) ? new vscode.Position(Math.max(0, m.at.line - 1), Math.max(0, m.at.col - 1)) : undefined;
          await vscode.window.showTextDocument(uri, at ? { selection: new vscode.Range(at, at) } : {});
          break;
        }
        case 'newConfig':
          this.actions.newConfig();
          break;
      }
    } catch (e) {
      void vscode.window.showErrorMessage(`Inheritune: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}

/** `target` relative to the config file's folder, with forward slashes. */
export function relativeTo(config: vscode.Uri, target: vscode.Uri): string {
  const rel = path.relative(path.dirname(config.fsPath), target.fsPath) || '.';
  return rel.split(path.sep).join('/');
}
