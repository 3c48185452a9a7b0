/**
 * `hf://ORG/NAME[@REV]` wherever a command takes a model folder: resolved to its snapshot in the
 * Hugging Face cache, downloading what is missing with a progress bar (bytes, speed, ETA) on stderr;
 * Ctrl-C stops the download, and the next run continues it.
 */
import cliProgress from 'cli-progress';
import { isHubUri, parseHubUri, resolveReference, type DownloadProgress, type HubRef, type ResolvedModel, type ResolveOptions } from '../engine/hub/index.js';
import { describeDownload } from '../protocol/format.js';

/** A byte progress bar in a terminal; a line every 5 s in a log. */
function downloadBar(quiet: boolean): { update(p: DownloadProgress): void; stop(): void } {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    let bar: cliProgress.SingleBar | undefined;
    return {
      update(p) {
        if (!bar) {
          bar = new cliProgress.SingleBar({ format: 'download [{bar}] {percentage}% {state}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
          bar.start(p.totalBytes, 0, { state: '' });
        }
        bar.update(p.bytes, { state: describeDownload(p) });
      },
      stop: () => bar?.stop(),
    };
  }
  let last = 0;
  let pending: string | undefined;
  return {
    update(p) {
      pending = `download ${describeDownload(p)}\n`;
      if (Date.now() - last < 5000) return;
      last = Date.now();
      process.stderr.write(pending);
      pending = undefined;
    },
    stop() {
      if (pending !== undefined) process.stderr.write(pending);
    },
  };
}

/** Runs `resolve` with download progress on stderr (unless quiet); Ctrl-C cancels it. */
export async function withDownloadProgress<T>(quiet: boolean, resolve: (opts: ResolveOptions) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const bar = downloadBar(quiet);
  try {
    return await resolve({
      signal: abort.signal,
      onProgress: (p) => bar.update(p),
      onNotice: (line) => {
        if (!quiet) process.stderr.write(`${line}\n`);
      },
    });
  } finally {
    bar.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** Resolves a Hub model with progress on stderr (unless quiet), and says which commit it is. */
export async function resolveHubModel(ref: HubRef, quiet = false): Promise<ResolvedModel> {
  const model = await withDownloadProgress(quiet, (opts) => resolveReference(ref, opts));
  if (!quiet) process.stderr.write(`${ref.repo}@${ref.revision}: commit ${model.commit} in ${model.dir}\n`);
  return model;
}

/** A command's model argument: a folder as given, or a `hf://` model resolved to its snapshot folder. */
export async function modelDirArg(arg: string, option: string, quiet = false): Promise<string> {
  if (!isHubUri(arg)) return arg;
  return (await resolveHubModel(parseHubUri(arg, option), quiet)).dir;
}
