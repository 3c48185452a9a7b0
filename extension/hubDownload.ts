/**
 * The "Download (size)" code lens of a config whose reference.hub the Hugging Face cache lacks:
 * the model is downloaded into that cache (server/engine/hub, the CLI's download: resumable,
 * checked against the Hub's hashes) under a cancellable progress notification with bytes, speed
 * and ETA; the language server then checks the config again.
 */
import * as vscode from 'vscode';
import { describeDownload } from '../server/cli/hubModel.js';
import { resolveReference } from '../server/engine/hub/index.js';
import type { DownloadReferenceArgs } from '../server/protocol/commands.js';
import { formatBytes } from '../server/protocol/format.js';
import { refreshLanguageServer } from './languageClient.js';

/** Downloads `args.repo` at `args.revision`; cancelling stops it (what was fetched stays, the next download continues it). */
export async function downloadReference(args: DownloadReferenceArgs, log: vscode.LogOutputChannel): Promise<void> {
  const label = `${args.repo}@${args.revision}`;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Inheritune: downloading ${label}`, cancellable: true }, async (progress, cancel) => {
    const abort = new AbortController();
    const sub = cancel.onCancellationRequested(() => abort.abort());
    let shown = 0;
    try {
      const model = await resolveReference(
        { repo: args.repo, revision: args.revision },
        {
          signal: abort.signal,
          onNotice: (line) => log.info(line),
          onProgress: (p) => {
            const pct = p.totalBytes > 0 ? (100 * p.bytes) / p.totalBytes : 0;
            progress.report({ increment: pct - shown, message: describeDownload(p) });
            shown = pct;
          },
        },
      );
      log.info(`${label}: commit ${model.commit} in ${model.dir} (${formatBytes(model.downloadedBytes)} downloaded)`);
      void vscode.window.showInformationMessage(`Inheritune: ${args.repo} is in the Hugging Face cache (commit ${model.commit.slice(0, 12)}).`);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (abort.signal.aborted) {
        log.info(`${label}: download cancelled; the next download continues it`);
        void vscode.window.showInformationMessage(`Inheritune: download of ${args.repo} cancelled; starting it again continues where it stopped.`);
      } else {
        log.error(`${label}: ${message}`);
        void vscode.window.showErrorMessage(`Inheritune: ${message}`);
      }
    } finally {
      sub.dispose();
      refreshLanguageServer();
    }
  });
}
