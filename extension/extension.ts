/**
 * The extension's entry point: commands, the training-server manager, the sidebar view, the runs
 * tree, dashboards, the status bar and the config language client. VS Code side only: the engine
 * (tfjs) runs in the training server's processes, never in the extension host.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ANALYZE_REFERENCE_ARGS, COMMANDS, DOWNLOAD_REFERENCE_ARGS, OPEN_DASHBOARD_ARGS, RUN_ID_ARG, START_RUN_ARGS, type CommandId } from '../server/protocol/commands.js';
import { runAnalysis } from '../server/protocol/analysisWindows.js';
import { parseRunConfig, WEBGPU_ADAPTER_LINE } from '../server/protocol/config.js';
import type { Schema } from '../server/protocol/schema.js';
import type { RunEvent } from '../server/protocol/events.js';
import { isResumable } from '../server/protocol/runOutcome.js';
import { advanceProgress, NO_PROGRESS, progressText, type RunProgress } from '../server/protocol/progress.js';
import type { AnalyzeOptions, RunInfo, StopMode } from '../server/protocol/messages.js';
import { CONFIG_GLOB, isConfigUri, newRunConfig, pickConfig, runStoreOf } from './configFiles.js';
import { DashboardPanel, DASHBOARD_VIEW_TYPE, type DashboardActions } from './dashboard.js';
import { folderView } from './modelFolder.js';
import { endNotice, type EndAction } from './runEndNotice.js';
import { downloadReference, ServerDownloads } from './hubDownload.js';
import { configInfo, referenceInfo, startLanguageClient, stopLanguageClient } from './languageClient.js';
import { RunsController } from './runs.js';
import { RunItem, RunsTreeProvider, RUNS_VIEW_ID } from './runsTree.js';
import { ServerRequestError } from './serverClient.js';
import { ServerManager } from './serverManager.js';
import { settings } from './settings.js';
import { SidebarProvider, SIDEBAR_VIEW_ID } from './sidebar.js';

/** A command was invoked with arguments its schema refuses. */
class BadArguments extends Error {}

const UNTRUSTED = 'Inheritune: training is disabled in an untrusted workspace (it runs code and reads model files named by the config). Trust this folder (Manage Workspace Trust) to start runs.';

let server: ServerManager | undefined;

/** What the commands use: this activation's context, log, training server, runs, sidebar and status bar. */
interface Host {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  server: ServerManager;
  runs: RunsController;
  sidebar: SidebarProvider;
  /** Shows the run being trained in the status bar; `e` updates its progress first. */
  updateStatus(e?: RunEvent): void;
}

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Inheritune', { log: true });
  server = new ServerManager(context.extensionPath, log);
  const runs = new RunsController(server, log);
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (ws) runs.addRoot(settings().outDir(ws));
  context.subscriptions.push(log, server, runs);

  const sidebar = createViews(context, runs);
  watchRunStores(context, runs);
  const updateStatus = createStatusBar(context, runs);
  const serverDownloads = new ServerDownloads();
  context.subscriptions.push(serverDownloads, runs.onDownload((m) => serverDownloads.update(m)));
  notifyRunEnds(context, runs, log);
  const host: Host = { context, log, server, runs, sidebar, updateStatus };
  registerCommands(host);

  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => {
        runs.refresh();
        DashboardPanel.revive(context, runs, panel, state, DASHBOARD_ACTIONS);
      },
    }),

    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('inheritune.outDir') && ws) runs.addRoot(settings().outDir(ws));
      if (e.affectsConfiguration('inheritune.server')) void vscode.window.showInformationMessage('Inheritune: the server settings changed; "Inheritune: Restart Server" applies them.');
    }),
  );

  startLanguageClient(context, log);
  runs.refresh();
  updateStatus();
}

/** The sidebar view and the Runs tree. */
function createViews(context: vscode.ExtensionContext, runs: RunsController): SidebarProvider {
  const sidebar = new SidebarProvider(context, runs, {
    start: (uri) => void vscode.commands.executeCommand(COMMANDS.startRun, uri),
    stop: () => void vscode.commands.executeCommand(COMMANDS.stopRun),
    analyze: (uri) => void vscode.commands.executeCommand(COMMANDS.analyzeReference, uri),
    newConfig: () => void vscode.commands.executeCommand(COMMANDS.newConfig),
  });
  const tree = new RunsTreeProvider(runs);
  context.subscriptions.push(
    sidebar,
    tree,
    vscode.window.registerWebviewViewProvider(SIDEBAR_VIEW_ID, sidebar),
    vscode.window.createTreeView(RUNS_VIEW_ID, { treeDataProvider: tree, showCollapseAll: false }),
  );
  return sidebar;
}

/** Lists the run stores the workspace's configs name (runtime.out_dir), now and as configs open; watches for runs appearing or going. */
function watchRunStores(context: vscode.ExtensionContext, runs: RunsController): void {
  const addConfigRoots = async () => {
    for (const uri of await vscode.workspace.findFiles(CONFIG_GLOB, '**/{node_modules,.inheritune}/**', 200)) {
      try {
        const text = Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
        const out = runStoreOf(uri, text);
        if (out) runs.addRoot(out);
      } catch {
        // Unreadable: the language server reports it.
      }
    }
    runs.refresh();
  };
  void addConfigRoots();
  const watcher = vscode.workspace.createFileSystemWatcher('**/{events.jsonl,summary.json}', false, true, false);
  context.subscriptions.push(watcher, watcher.onDidCreate(() => runs.scheduleRefresh(1000)), watcher.onDidDelete(() => runs.scheduleRefresh(1000)));

  // A config opened later may name another run store.
  context.subscriptions.push(
    vscode.workspace.onDidOpenTextDocument((d) => {
      if (isConfigUri(d.uri)) {
        const out = runStoreOf(d.uri, d.getText());
        if (out) runs.addRoot(out);
      }
    }),
  );
}

/** Status bar: phase, step/total and loss of the run being trained; a click opens its dashboard. Returns its update. */
function createStatusBar(context: vscode.ExtensionContext, runs: RunsController): (e?: RunEvent) => void {
  const status = vscode.window.createStatusBarItem('inheritune.run', vscode.StatusBarAlignment.Left, 100);
  status.name = 'Inheritune run';
  context.subscriptions.push(status);
  const progress = new Map<string, { now: RunProgress; backend?: string; adapter?: string }>();
  const updateStatus = (e?: RunEvent) => {
    if (e) {
      const p = progress.get(e.runId) ?? { now: NO_PROGRESS };
      p.now = advanceProgress(p.now, e);
      if (e.type === 'runStarted') p.backend = e.backend;
      // The training process logs the GPU adapter it runs on (vendor, architecture, limits).
      if (e.type === 'log' && e.message.startsWith(WEBGPU_ADAPTER_LINE)) p.adapter = e.message.slice(WEBGPU_ADAPTER_LINE.length);
      progress.set(e.runId, p);
    }
    const active = runs.active();
    if (!active) {
      status.hide();
      void vscode.commands.executeCommand('setContext', 'inheritune.running', false);
      return;
    }
    void vscode.commands.executeCommand('setContext', 'inheritune.running', true);
    const p = progress.get(active.runId);
    const icon = active.status === 'stopping' ? '$(loading~spin)' : '$(sync~spin)';
    // The item shows the stop under way and goes when the run has stopped (runs.active()).
    status.text =
      active.status === 'stopping'
        ? `${icon} Inheritune: stopping ${active.name}...`
        : p
          ? `${icon} Inheritune: ${progressText(p.now, 'short')}`
          : `${icon} Inheritune: ${active.name} ${active.status}`;
    const on = p?.backend ? ` on ${p.backend}${p.adapter ? ` (${p.adapter})` : ''}` : '';
    status.tooltip = `${active.name} (${active.runId})${on}: click to open its dashboard`;
    status.command = { command: COMMANDS.openDashboard, title: 'Open Dashboard', arguments: [active.runId] };
    status.show();
  };
  context.subscriptions.push(runs.onEvent((e) => updateStatus(e)), runs.onDidChange(() => updateStatus()));
  return updateStatus;
}

/** A run that ends says so, unless its dashboard is in front of the user already. */
function notifyRunEnds(context: vscode.ExtensionContext, runs: RunsController, log: vscode.LogOutputChannel): void {
  context.subscriptions.push(
    runs.onRunEnded((run) => {
      if (DashboardPanel.forRun(run.runId)?.panel.visible) {
        log.info(`run ${run.runId} ${run.status}: no notification (its dashboard is on screen)`);
        return;
      }
      const notice = endNotice(run, run.status === 'finished' || fs.existsSync(path.join(run.dir, 'model', 'config.json')));
      const show = notice.level === 'error' ? vscode.window.showErrorMessage : notice.level === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
      void show(notice.text, ...notice.actions).then((choice?: EndAction) => {
        if (choice === 'Open Dashboard') void vscode.commands.executeCommand(COMMANDS.openDashboard, run.runId);
        else if (choice === 'Open Model Folder') void vscode.commands.executeCommand(COMMANDS.openModelFolder, run.runId);
        else if (choice === 'Resume') void vscode.commands.executeCommand(COMMANDS.resumeRun, run.runId);
        else if (choice === 'Show Server Log') log.show();
      });
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Commands

/** Every command's handler, one per id of COMMANDS (the type makes a missing one a compile error). */
const HANDLERS: Readonly<Record<keyof typeof COMMANDS, (h: Host, arg?: unknown) => unknown>> = {
  downloadReference: downloadReferenceCommand,
  startRun,
  stopRun,
  openDashboard: openDashboardCommand,
  analyzeReference,
  newConfig,
  showServerLog: (h) => h.log.show(true),
  restartServer,
  resumeRun,
  openModelFolder,
  deleteRun,
  refreshRuns: (h) => h.runs.refresh(),
};

function registerCommands(h: Host): void {
  for (const key of Object.keys(HANDLERS) as (keyof typeof COMMANDS)[]) {
    h.context.subscriptions.push(register(h.log, COMMANDS[key], (arg) => HANDLERS[key](h, arg)));
  }
}

/** Registers a command whose handler takes its raw argument; BadArguments are reported, not thrown. */
function register(log: vscode.LogOutputChannel, command: CommandId, handler: (arg?: unknown) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(command, async (arg?: unknown) => {
    try {
      return await handler(arg);
    } catch (e) {
      if (!(e instanceof BadArguments)) throw e;
      log.error(`${command}: ${e.message}`);
      void vscode.window.showErrorMessage(`Inheritune: ${e.message}`);
    }
  });
}

/** What a dashboard's buttons do: the commands, as the sidebar and the Runs view run them. */
const DASHBOARD_ACTIONS: DashboardActions = {
  stop: (id) => void vscode.commands.executeCommand(COMMANDS.stopRun, id),
  resume: (id) => void vscode.commands.executeCommand(COMMANDS.resumeRun, id),
};

function openDashboard(h: Host, runId: string): DashboardPanel {
  const feed = h.runs.feed(runId);
  return DashboardPanel.show(h.context, h.runs, feed, DASHBOARD_ACTIONS);
}

function requireTrust(): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showErrorMessage(UNTRUSTED, 'Manage Workspace Trust').then((c) => c && vscode.commands.executeCommand('workbench.trust.manage'));
  return false;
}

/** The error's first line in a toast; the whole message (a config's issue list) once, in the log. */
function fail(log: vscode.LogOutputChannel, what: string, e: unknown): void {
  const err = e as Error;
  const [first, ...more] = err.message.split('\n');
  log.error(`${what}: ${err.message}`);
  void vscode.window.showErrorMessage(`Inheritune: ${what}: ${first.replace(/:$/, '')}${more.length > 0 ? ' (listed in the server log)' : ''}`, 'Show Server Log').then((c) => c && log.show());
}

/**
 * When the config language server finds errors in the config at `uri`: its editor, at the first
 * error, and the Problems view listing them all, as a build with errors shows them; true then.
 */
async function showConfigErrors(h: Host, uri: vscode.Uri): Promise<boolean> {
  const info = await configInfo(uri, h.runs.rootList);
  const errors = info?.issues.filter((i) => i.severity === 'error') ?? [];
  if (errors.length === 0) return false;
  const at = new vscode.Position(errors[0].line - 1, errors[0].col - 1);
  await vscode.window.showTextDocument(uri, { selection: new vscode.Range(at, at) });
  await vscode.commands.executeCommand('workbench.actions.view.problems');
  const where = vscode.workspace.asRelativePath(uri);
  h.log.warn(`not starting ${where}: ${errors.length} error${errors.length === 1 ? '' : 's'} in the run config (listed in Problems)`);
  const note = vscode.window.setStatusBarMessage(`$(error) Inheritune: ${where} has ${errors.length} error${errors.length === 1 ? '' : 's'}: fix them to start the run`, 10_000);
  // Gone once the config has no errors left (not 10 s of a stale count).
  const fixed = vscode.languages.onDidChangeDiagnostics((e) => {
    if (!e.uris.some((u) => u.toString() === uri.toString())) return;
    if (vscode.languages.getDiagnostics(uri).some((d) => d.severity === vscode.DiagnosticSeverity.Error)) return;
    note.dispose();
    fixed.dispose();
  });
  setTimeout(() => fixed.dispose(), 10_000);
  return true;
}

// Each command's arguments, checked where it receives them: objects of this extension host
// (a Uri from an editor menu, a Runs view item) by class, JSON from the language server's lenses
// and links or a command id invocation by the schemas of protocol/commands.ts. Bad ones are
// reported (BadArguments) and the command does nothing.
function checkArgs<T>(command: CommandId, schema: Schema<T>, arg: unknown): T {
  const r = schema.check(arg, `the arguments of ${command}`);
  if (!r.ok) throw new BadArguments(r.error);
  return r.value;
}

/** startRun: none (the active config or a pick), an editor's Uri, or a lens's StartRunArgs. */
function configUri(arg: unknown): vscode.Uri | undefined {
  return arg === undefined || arg instanceof vscode.Uri ? arg : vscode.Uri.parse(checkArgs(COMMANDS.startRun, START_RUN_ARGS, arg).uri);
}

/** A run command: none (a pick), a Runs view item, or a run id (status bar, dashboard); openDashboard also a lens's or link's OpenDashboardArgs. */
function runIdOf(runs: RunsController, command: CommandId, arg: unknown): string | undefined {
  if (arg === undefined) return undefined;
  if (arg instanceof RunItem) return arg.run.runId;
  if (command === COMMANDS.openDashboard && typeof arg === 'object') {
    const a = checkArgs(command, OPEN_DASHBOARD_ARGS, arg);
    if (!runs.get(a.runId)) runs.feedForDir(a.runDir);
    return a.runId;
  }
  return checkArgs(command, RUN_ID_ARG, arg);
}

async function pickRun(runs: RunsController, filter: (r: RunInfo) => boolean, title: string): Promise<string | undefined> {
  runs.refresh();
  const list = runs.list().filter(filter);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0].runId;
  const choice = await vscode.window.showQuickPick(
    list.map((r) => ({ label: r.name, description: `${r.status} · ${r.runId}`, runId: r.runId })),
    { title },
  );
  return choice?.runId;
}

const isRunning = (r: RunInfo) => r.status === 'running' || r.status === 'queued' || r.status === 'stopping';

async function downloadReferenceCommand(h: Host, arg?: unknown): Promise<void> {
  if (!requireTrust()) return;
  await downloadReference(checkArgs(COMMANDS.downloadReference, DOWNLOAD_REFERENCE_ARGS, arg), h.log);
}

async function startRun(h: Host, arg?: unknown): Promise<void> {
  const { log, runs, sidebar } = h;
  if (!requireTrust()) return;
  const uri = await pickConfig(configUri(arg), 'Inheritune: Start Run: which config?');
  if (!uri) return;
  sidebar.bind(uri);
  const doc = await vscode.workspace.openTextDocument(uri);
  if (await showConfigErrors(h, uri)) return;
  try {
    const client = await h.server.ensure();
    const asOf = runs.mark();
    // A Hub reference the server's cache lacks is downloaded before the reply (its `download` messages show how far).
    const hub = parseRunConfig(doc.getText(), uri.fsPath).config?.reference.hub !== undefined;
    const reply = await client.request({ type: 'startRun', configPath: uri.fsPath, config: doc.getText() }, hub ? 24 * 3600_000 : 60_000);
    log.info(`run ${reply.run.runId} queued (${reply.run.dir})`);
    runs.noteRun(reply.run, asOf);
    openDashboard(h, reply.run.runId);
    h.updateStatus();
  } catch (e) {
    fail(log, 'could not start the run', e);
  }
}

async function stopRun(h: Host, arg?: unknown): Promise<void> {
  const { log, runs } = h;
  const runId = runIdOf(runs, COMMANDS.stopRun, arg) ?? (await pickRun(runs, isRunning, 'Inheritune: Stop Run: which run?'));
  if (!runId) {
    void vscode.window.showInformationMessage('Inheritune: no run is training.');
    return;
  }
  const modes: (vscode.QuickPickItem & { mode: StopMode })[] = [
    { label: 'Pause (checkpoint, resume later)', description: 'Resume continues from this step', mode: 'cancel' },
    { label: 'Stop and save the model now', description: 'checkpoint, stop, and save the model being trained as model/', mode: 'finish-and-save' },
  ];
  const mode = await vscode.window.showQuickPick(modes, { title: `Stop ${runs.get(runId)?.name ?? runId}`, ignoreFocusOut: true });
  if (!mode) return;
  const client = h.server.client;
  if (!client) {
    void vscode.window.showWarningMessage('Inheritune: the training server is not running; a run trained from a terminal stops with Ctrl-C there.');
    return;
  }
  try {
    await client.request({ type: 'stopRun', runId, mode: mode.mode });
    log.info(`stopping ${runId} (${mode.mode})`);
  } catch (e) {
    fail(log, 'could not stop the run', e);
  }
}

async function openDashboardCommand(h: Host, arg?: unknown): Promise<void> {
  const runId = runIdOf(h.runs, COMMANDS.openDashboard, arg) ?? (await pickRun(h.runs, () => true, 'Inheritune: Open Dashboard: which run?'));
  if (!runId) {
    void vscode.window.showInformationMessage('Inheritune: no runs yet. Start one with "Inheritune: Start Run".');
    return;
  }
  try {
    openDashboard(h, runId);
  } catch (e) {
    fail(h.log, 'could not open the dashboard', e);
  }
}

async function analyzeReference(h: Host, arg?: unknown): Promise<void> {
  const { log, sidebar } = h;
  if (!requireTrust()) return;
  // None (the sidebar's config or a pick), an editor's Uri, or a lens's AnalyzeReferenceArgs
  // (what the language server read of the config).
  const lens = arg === undefined || arg instanceof vscode.Uri ? undefined : checkArgs(COMMANDS.analyzeReference, ANALYZE_REFERENCE_ARGS, arg);
  const uri = (lens ? vscode.Uri.parse(lens.uri) : arg instanceof vscode.Uri ? arg : undefined) ?? sidebar.currentConfig ?? (await pickConfig(undefined, 'Analyze the reference of which config?'));
  if (!uri) return;
  const doc = await vscode.workspace.openTextDocument(uri);
  const parsed = parseRunConfig(doc.getText(), uri.fsPath);
  const dir = path.dirname(uri.fsPath);
  const cfg = parsed.config;
  const modelDir = lens?.modelDir ?? (cfg?.reference.path !== undefined ? path.resolve(dir, cfg.reference.path) : undefined);
  const data = lens?.data ?? (cfg ? path.resolve(dir, cfg.data.val) : undefined);
  if (!modelDir || !data) {
    void vscode.window.showErrorMessage(`Inheritune: ${vscode.workspace.asRelativePath(uri)} needs reference.path and data.val without errors to analyse the reference.`);
    return;
  }
  // The run's own windows and statistics (the config as it is now), so the figures are the run's.
  const options: AnalyzeOptions = cfg ? { ...runAnalysis(cfg), tokenizer: cfg.data.tokenizer } : (lens?.options ?? {});
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Inheritune: analysing the attention of ${path.basename(modelDir)}`, cancellable: true },
    async (_p, cancel) => {
      try {
        const client = await h.server.ensure();
        const reply = await Promise.race([
          client.request({ type: 'analyze', modelDir, data, options }, 30 * 60_000),
          new Promise<never>((_, reject) => cancel.onCancellationRequested(() => reject(new Error('cancelled')))),
        ]);
        const layers = reply.result.layers;
        sidebar.setAnalysis(modelDir, { source: 'analysis just now', tau: reply.result.tau, layers: layers.map(({ layer, maxRank, avgMass, lazy }) => ({ layer, maxRank, avgMass, lazy })) });
        const lazy = layers.filter((l) => l.lazy).map((l) => l.layer + 1);
        const text = lazy.length > 0 ? `${lazy.length} of ${layers.length} layers are lazy (rank-1 attention): ${lazy.join(', ')}` : `no lazy layers among ${layers.length}`;
        log.info(`analysis of ${modelDir}: ${layers.map((l) => `L${l.layer + 1} MaxRank ${l.maxRank.toFixed(2)} AvgMass ${l.avgMass.toFixed(2)}${l.lazy ? ' lazy' : ''}`).join('; ')}`);
        void vscode.window.showInformationMessage(`Inheritune: ${path.basename(modelDir)}: ${text}.`);
      } catch (e) {
        if ((e as Error).message !== 'cancelled') fail(log, 'the analysis failed', e);
      }
    },
  );
}

async function newConfig(h: Host): Promise<void> {
  const ws0 = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const roots = [...h.runs.rootList, ...(ws0 ? [settings().outDir(ws0)] : [])];
  const uri = await newRunConfig((refDir) => referenceInfo(refDir, roots));
  if (uri) h.sidebar.bind(uri);
}

async function restartServer(h: Host): Promise<void> {
  if (!requireTrust()) return;
  const active = h.runs.active();
  if (active && h.server.client && !h.server.remote) {
    const go = await vscode.window.showWarningMessage(
      `Restarting the training server stops ${active.name} (it checkpoints and can be resumed). Restart?`,
      { modal: true },
      'Restart',
    );
    if (go !== 'Restart') return;
  }
  try {
    await h.server.restart();
    void vscode.window.setStatusBarMessage('Inheritune: training server restarted', 4000);
  } catch (e) {
    fail(h.log, 'could not restart the training server', e);
  }
}

async function resumeRun(h: Host, arg?: unknown): Promise<void> {
  const { runs } = h;
  if (!requireTrust()) return;
  const runId = runIdOf(runs, COMMANDS.resumeRun, arg) ?? (await pickRun(runs, (r) => isResumable(r.status), 'Resume which run?'));
  if (!runId) return;
  try {
    const client = await h.server.ensure();
    runs.refresh();
    const asOf = runs.mark();
    const reply = await client.request({ type: 'resumeRun', runId }, 60_000);
    runs.noteRun(reply.run, asOf);
    openDashboard(h, runId);
  } catch (e) {
    fail(h.log, 'could not resume the run', e);
  }
}

async function openModelFolder(h: Host, arg?: unknown): Promise<void> {
  const runId = runIdOf(h.runs, COMMANDS.openModelFolder, arg);
  const run = runId ? h.runs.get(runId) : undefined;
  if (!run) return;
  const dir = run.final?.modelDir ?? path.join(run.dir, 'model');
  if (!fs.existsSync(dir)) {
    void vscode.window.showWarningMessage(`Inheritune: ${run.name} has no saved model (${dir}).`);
    return;
  }
  await showModelFolder(h.log, dir);
}

/** Reveals a folder in the Explorer or the OS file manager, or says why not and offers to open it (modelFolder.ts). */
async function showModelFolder(log: vscode.LogOutputChannel, dir: string): Promise<void> {
  const uri = vscode.Uri.file(dir);
  const folders = vscode.workspace.workspaceFolders?.map((f) => f.uri.fsPath) ?? [];
  const view = folderView(dir, folders, vscode.env.uiKind === vscode.UIKind.Desktop && vscode.env.remoteName === undefined);
  let why = 'is outside the opened folder, and this window cannot show it in a file manager';
  if (view !== 'ask') {
    try {
      await vscode.commands.executeCommand(view === 'explorer' ? 'revealInExplorer' : 'revealFileInOS', uri);
      return;
    } catch (e) {
      why = `could not be shown (${(e as Error).message})`;
      log.warn(`open model folder ${dir}: ${why}`);
    }
  }
  const choice = await vscode.window.showInformationMessage(
    `Inheritune: the model folder ${dir} ${why}.`,
    'Add to Workspace',
    'Open in New Window',
    'Copy Path',
  );
  if (choice === 'Add to Workspace') vscode.workspace.updateWorkspaceFolders(folders.length, 0, { uri });
  else if (choice === 'Open in New Window') await vscode.commands.executeCommand('vscode.openFolder', uri, { forceNewWindow: true });
  else if (choice === 'Copy Path') await vscode.env.clipboard.writeText(dir);
}

// The training server deletes a run, inside its own run folders only: a run's `dir` comes from
// the server (another machine's path, with a remote server) and is never deleted from here.
async function deleteRun(h: Host, arg?: unknown): Promise<void> {
  const { log, runs } = h;
  const runId = runIdOf(runs, COMMANDS.deleteRun, arg);
  const run = runId ? runs.get(runId) : undefined;
  if (!run) return;
  if (isRunning(run)) {
    void vscode.window.showWarningMessage(`Inheritune: ${run.name} is training; stop it first.`);
    return;
  }
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showErrorMessage('Inheritune: runs are deleted by the training server, which is disabled in an untrusted workspace. Trust this folder (Manage Workspace Trust) to delete runs.');
    return;
  }
  const where = h.server.remote ? `on the training server at ${settings().serverHost}:${settings().serverPort}` : 'on this machine';
  const ok = await vscode.window.showWarningMessage(`Delete the run ${run.name} (${run.runId}) and everything in its folder ${where} (${run.dir})?`, { modal: true }, 'Delete');
  if (ok !== 'Delete') return;
  try {
    const client = await h.server.ensure();
    await client.request({ type: 'deleteRun', runId: run.runId });
    log.info(`deleted run ${run.runId} (${run.dir}) ${where}`);
    DashboardPanel.forRun(run.runId)?.panel.dispose();
    runs.forget(run.runId);
    runs.refresh();
  } catch (e) {
    if (e instanceof ServerRequestError && e.code === 'notFound') {
      void vscode.window.showWarningMessage(
        `Inheritune: the training server does not know ${run.name} (it lists its run store and the runs it started), so nothing was deleted; delete ${run.dir} by hand if you mean to.`,
      );
    } else fail(log, 'could not delete the run', e);
  }
}

export async function deactivate(): Promise<void> {
  DashboardPanel.disposeAll();
  await Promise.allSettled([stopLanguageClient(), server?.stop(3000)]);
}
