/** The runs view: past and running runs (server and run stores), with status icons and a context menu. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { COMMANDS } from '../server/protocol/commands.js';
import type { RunInfo } from '../server/protocol/messages.js';
import { isResumable } from '../server/protocol/runOutcome.js';
import type { RunsController } from './runs.js';

export const RUNS_VIEW_ID = 'inheritune.runs';

export class RunItem extends vscode.TreeItem {
  constructor(readonly run: RunInfo) {
    super(run.name, vscode.TreeItemCollapsibleState.None);
    this.id = run.runId;
    const when = run.startedAt ? new Date(run.startedAt).toLocaleString() : '';
    const final = run.final ? `${run.final.layers} layers, val ${run.final.valLoss.toFixed(4)}${run.final.matchedReference ? ', matches the reference' : ''}` : '';
    this.description = [run.status, final, when].filter(Boolean).join(' · ');
    this.tooltip = new vscode.MarkdownString(
      [`**${run.name}** (${run.status})`, `\`${run.runId}\``, run.dir, run.error ? (run.status === 'stopped' ? run.error : `error: ${run.error}`) : '', final].filter(Boolean).join('\n\n'),
    );
    this.iconPath = statusIcon(run.status);
    const hasModel = fs.existsSync(path.join(run.dir, 'model', 'config.json'));
    const resumable = isResumable(run.status);
    const running = run.status === 'running' || run.status === 'stopping' || run.status === 'queued';
    // contextValue words the package.json menus match with regular expressions.
    this.contextValue = ['run', running ? 'running' : 'idle', resumable ? 'resumable' : '', hasModel ? 'hasModel' : ''].filter(Boolean).join(' ');
    this.command = { command: COMMANDS.openDashboard, title: 'Open Dashboard', arguments: [this] };
  }
}

function statusIcon(status: RunInfo['status']): vscode.ThemeIcon {
  switch (status) {
    case 'running':
      return new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('charts.blue'));
    case 'stopping':
      return new vscode.ThemeIcon('loading~spin');
    case 'queued':
      return new vscode.ThemeIcon('clock');
    case 'finished':
      return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
    case 'failed':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    case 'stopped':
      return new vscode.ThemeIcon('debug-pause');
    case 'interrupted':
      return new vscode.ThemeIcon('debug-pause', new vscode.ThemeColor('charts.yellow'));
    default:
      return new vscode.ThemeIcon('circle-outline');
  }
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly runs: RunsController) {
    this.sub = runs.onDidChange(() => this.changed.fire());
  }

  getTreeItem(item: RunItem): vscode.TreeItem {
    return item;
  }

  getChildren(item?: RunItem): RunItem[] {
    if (item) return [];
    return this.runs.list().map((r) => new RunItem(r));
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
