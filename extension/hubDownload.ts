/**
 * The "Download (size)" code lens of a config whose reference.hub the Hugging Face cache lacks:
 * the language server downloads the model into that cache (the CLI's download: resumable, checked
 * against the Hub's hashes) while a cancellable progress notification shows bytes, speed and ETA;
 * the server then checks its configs again. Also the notification of a download the training
 * server makes for a startRun (its `download` messages).
 */
import * as vscode from 'vscode';
import type { DownloadReferenceArgs } from '../server/protocol/commands.js';
import { describeDownload, formatBytes } from '../server/protocol/format.js';
import type { ServerMessageOf } from '../server/protocol/messages.js';
import { downloadReferenceModel } from './languageClient.js';

/** Downloads `args.repo` at `args.revision`; cancelling stops it (what was fetched stays, the next download continues it). */
export async function downloadReference(args: DownloadReferenceArgs, log: vscode.LogOutputChannel): Promise<void> {
  const label = `${args.repo}@${args.revision}`;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Inheritune: downloading ${label}`, cancellable: true }, async (progress, cancel) => {
    let shown = 0;
    try {
      const model = await downloadReferenceModel(
        { repo: args.repo, revision: args.revision },
        (p) => {
          const pct = p.totalBytes > 0 ? (100 * p.bytes) / p.totalBytes : 0;
          progress.report({ increment: pct - shown, message: describeDownload(p) });
          shown = pct;
        },
        cancel,
      );
      log.info(`${label}: commit ${model.commit} in ${model.dir} (${formatBytes(model.downloadedBytes)} downloaded)`);
      void vscode.window.showInformationMessage(`Inheritune: ${args.repo} is in the Hugging Face cache (commit ${model.commit.slice(0, 12)}).`);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (cancel.isCancellationRequested) {
        log.info(`${label}: download cancelled; the next download continues it`);
        void vscode.window.showInformationMessage(`Inheritune: download of ${args.repo} cancelled; starting it again continues where it stopped.`);
      } else {
        log.error(`${label}: ${message}`);
        void vscode.window.showErrorMessage(`Inheritune: ${message}`);
      }
    }
  });
}

/** Shows the training server's downloads (`download` messages) as progress notifications, one per model. */
export class ServerDownloads implements vscode.Disposable {
  private readonly shown = new Map<string, { report(m: ServerMessageOf<'download'>): void; end(): void }>();

  /** A `download` message: the notification of its model is opened, advanced, or closed (`done`). */
  update(m: ServerMessageOf<'download'>): void {
    const key = `${m.repo}@${m.revision}`;
    let n = this.shown.get(key);
    if (!n && !m.done) {
      let resolveEnd = () => {};
      let shownPct = 0;
      let progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
      let pendingMessage: ServerMessageOf<'download'> | undefined;
      const report = (x: ServerMessageOf<'download'>) => {
        if (!progress) return void (pendingMessage = x);
        const pct = x.totalBytes > 0 ? (100 * x.bytes) / x.totalBytes : 0;
        progress.report({ increment: pct - shownPct, message: describeDownload(x) });
        shownPct = pct;
      };
      void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Inheritune: the training server is downloading ${key}` }, (p) => {
        progress = p;
        if (pendingMessage) report(pendingMessage);
        return new Promise<void>((resolve) => (resolveEnd = resolve));
      });
      n = { report, end: () => resolveEnd() };
      this.shown.set(key, n);
    }
    if (!n) return;
    n.report(m);
    if (m.done) {
      n.end();
      this.shown.delete(key);
    }
  }

  dispose(): void {
    for (const n of this.shown.values()) n.end();
    this.shown.clear();
  }
}
