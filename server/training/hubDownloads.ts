/**
 * The training server's Hub references: a startRun whose reference.hub the server's Hugging Face
 * cache lacks downloads it first (the engine's resumable, hash-checked download), telling every
 * client how far it is (`download` messages, a few a second); one download per model at a time,
 * shared by concurrent startRuns; cut off when the server closes (what was fetched stays).
 */
import { findCachedModel, formatHubRef, hubEnv, resolveReference, type DownloadProgress, type HubRef } from '../engine/hub/index.js';
import type { ServerMessageOf } from '../protocol/messages.js';

/** Progress messages are sent at most this often (the last one always). */
const PROGRESS_MS = 250;

export class HubDownloads {
  private readonly running = new Map<string, Promise<{ dir: string; commit: string }>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly send: (m: ServerMessageOf<'download'>) => void,
    private readonly log: (line: string) => void,
  ) {}

  /** The snapshot folder and commit of `ref`: from the cache when it holds the whole model, else downloaded into it. */
  resolve(ref: HubRef): Promise<{ dir: string; commit: string }> {
    const cached = findCachedModel(ref, hubEnv().cacheDir);
    if (cached) return Promise.resolve({ dir: cached.dir, commit: cached.commit });
    const key = formatHubRef(ref);
    let p = this.running.get(key);
    if (!p) {
      p = this.download(ref).finally(() => this.running.delete(key));
      this.running.set(key, p);
    }
    return p;
  }

  private async download(ref: HubRef): Promise<{ dir: string; commit: string }> {
    let last = 0;
    let latest: DownloadProgress | undefined;
    const message = (p: DownloadProgress, done: boolean): ServerMessageOf<'download'> => ({
      type: 'download',
      repo: ref.repo,
      revision: ref.revision,
      file: p.file,
      bytes: p.bytes,
      totalBytes: p.totalBytes,
      bytesPerSecond: p.bytesPerSecond,
      ...(p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds) ? { etaSeconds: Math.max(0, p.etaSeconds) } : {}),
      done,
    });
    try {
      const model = await resolveReference(ref, {
        signal: this.abort.signal,
        onNotice: (line) => this.log(line),
        onProgress: (p) => {
          latest = p;
          if (Date.now() - last < PROGRESS_MS) return;
          last = Date.now();
          this.send(message(p, false));
        },
      });
      this.log(`${formatHubRef(ref)}: commit ${model.commit} in ${model.dir}`);
      return { dir: model.dir, commit: model.commit };
    } finally {
      if (latest) this.send(message(latest, true));
    }
  }

  /** Cuts off the downloads under way (the next one continues them). */
  close(): void {
    this.abort.abort();
  }
}
