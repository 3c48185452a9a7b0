/**
 * Dashboard panels: one webview panel per run. After the webview's `ready` (carrying the last seq
 * it restored from its saved state) the panel sends the run's events it lacks, then forwards live
 * ones in small batches. Heatmaps are read from the run store here (or taken from the frames the
 * server sent, for a remote server) and posted as binary frames.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { RunEvent } from '../server/protocol/events.js';
import type { DashboardToHost, HostToDashboard } from '../webview/protocol.js';
import type { FeedListener, RunFeed, RunsController } from './runs.js';
import { heatmapFrame } from './runStore.js';
import { dashboardHtml } from './webviewHtml.js';

export const DASHBOARD_VIEW_TYPE = 'inheritune.dashboard';

/** What a dashboard's buttons ask the extension to do with its run. */
export interface DashboardActions {
  stop(runId: string): void;
  resume(runId: string): void;
}

export class DashboardPanel implements FeedListener {
  private static readonly panels = new Map<string, DashboardPanel>();
  private ready = false;
  private queue: RunEvent[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private sentSeq = 0;
  private readonly disposables: vscode.Disposable[] = [];

  /** Opens (or reveals) the dashboard of a run. */
  static show(context: vscode.ExtensionContext, runs: RunsController, feed: RunFeed, actions: DashboardActions): DashboardPanel {
    const existing = DashboardPanel.panels.get(feed.runId);
    if (existing) {
      existing.panel.reveal(undefined, true);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, `Inheritune: ${feed.info.name}`, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, DashboardPanel.options(context));
    return new DashboardPanel(context, runs, feed, panel, actions);
  }

  static options(context: vscode.ExtensionContext): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')],
    };
  }

  /** Restores a panel VS Code kept across a reload (its webview state names the run). */
  static revive(context: vscode.ExtensionContext, runs: RunsController, panel: vscode.WebviewPanel, state: unknown, actions: DashboardActions): void {
    const runId = (state as { runId?: string } | undefined)?.runId;
    let feed: RunFeed | undefined;
    try {
      feed = runId ? runs.feed(runId) : undefined;
    } catch {
      feed = undefined;
    }
    if (!feed) {
      panel.webview.html = `<!DOCTYPE html><html><body><p>This run is no longer in the run store.</p></body></html>`;
      return;
    }
    panel.webview.options = DashboardPanel.options(context);
    new DashboardPanel(context, runs, feed, panel, actions);
  }

  static forRun(runId: string): DashboardPanel | undefined {
    return DashboardPanel.panels.get(runId);
  }

  static disposeAll(): void {
    for (const p of [...DashboardPanel.panels.values()]) p.panel.dispose();
  }

  private constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly runs: RunsController,
    private readonly feed: RunFeed,
    readonly panel: vscode.WebviewPanel,
    private readonly actions: DashboardActions,
  ) {
    DashboardPanel.panels.set(feed.runId, this);
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'inheritune.svg');
    panel.webview.html = dashboardHtml(panel.webview, context.extensionUri, feed.info.name);
    feed.listeners.add(this);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: DashboardToHost) => this.onMessage(m)),
      panel.onDidDispose(() => this.dispose()),
      // A hidden webview is torn down (retainContextWhenHidden is off): it restores from its state
      // and says `ready` again when shown.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
    );
  }

  private post(msg: HostToDashboard): void {
    void this.panel.webview.postMessage(msg);
  }

  events(events: RunEvent[]): void {
    if (!this.ready) return;
    this.queue.push(...events);
    this.flushTimer ??= setTimeout(() => this.flush(), 100);
  }

  status(): void {
    if (this.ready) this.postStatus();
  }

  private postStatus(): void {
    const info = this.feed.info;
    this.post({ type: 'status', status: info.status, source: this.feed.source, ...(info.error ? { message: info.error } : {}) });
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (!this.ready || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.post({ type: 'events', events: batch });
    for (const e of batch) this.sentSeq = Math.max(this.sentSeq, e.seq);
  }

  private onMessage(m: DashboardToHost): void {
    switch (m.type) {
      case 'ready': {
        this.ready = true;
        const sameRun = m.runId === undefined || m.runId === this.feed.runId;
        const from = sameRun ? m.lastSeq : 0;
        this.post({ type: 'init', runId: this.feed.runId, name: this.feed.info.name, source: this.feed.source, reset: !sameRun });
        this.postStatus();
        // Whatever the webview lacks, in chunks (a long run has thousands of events).
        const missing = this.feed.events.filter((e) => e.seq > from);
        for (let i = 0; i < missing.length; i += 2000) this.post({ type: 'events', events: missing.slice(i, i + 2000) });
        this.queue = [];
        break;
      }
      case 'heatmap':
        this.sendHeatmap(m.key, m.model, m.step, m.seq, m.file, m.layer, m.head);
        break;
      case 'export':
        void this.saveExport(m.format, m.suggestedName, m.data);
        break;
      case 'stop':
        this.actions.stop(this.feed.runId);
        break;
      case 'resume':
        this.actions.resume(this.feed.runId);
        break;
    }
  }

  private sendHeatmap(key: string, model: string, step: number, seq: number, file: string, layer: number, head: number): void {
    try {
      const frame = (this.feed.local ? heatmapFrame(this.feed.info.dir, this.feed.runId, seq, file, layer, head) : undefined) ?? this.runs.frames.get(this.feed.runId, seq, layer, head);
      if (!frame) {
        this.post({ type: 'heatmapError', key, message: `no attention matrices stored for ${model} at step ${step} (${file})` });
        return;
      }
      this.post({ type: 'heatmap', key, frame, model, step });
    } catch (e) {
      this.post({ type: 'heatmapError', key, message: `could not read ${file}: ${(e as Error).message}` });
    }
  }

  private async saveExport(format: 'png' | 'csv' | 'json', suggestedName: string, data: string): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, suggestedName) : undefined,
      filters: format === 'png' ? { 'PNG image': ['png'] } : format === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] },
      saveLabel: 'Export',
    });
    if (!target) return;
    const bytes = format === 'png' ? Buffer.from(data.replace(/^data:image\/png;base64,/, ''), 'base64') : Buffer.from(data, 'utf8');
    await vscode.workspace.fs.writeFile(target, bytes);
    void vscode.window.showInformationMessage(`Inheritune: exported ${target.fsPath}`);
  }

  /** Whether the run's model folder exists (for "open model folder"). */
  static modelDirExists(dir: string): boolean {
    return fs.existsSync(dir);
  }

  dispose(): void {
    DashboardPanel.panels.delete(this.feed.runId);
    this.runs.release(this.feed.runId, this);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const d of this.disposables) d.dispose();
    void this.context;
  }
}
