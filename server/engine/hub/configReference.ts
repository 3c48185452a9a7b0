/**
 * The Hub model a run config names (reference.hub at reference.revision), made available before the
 * config is checked: the checks themselves (configCheck.ts) only look in the cache, so that an
 * editor never starts a download; whoever starts a run calls this first and passes the result on
 * as CheckOptions.hubModel. A resumed run reads the commit it started with (resolvePinnedReference).
 */
import { parseRunConfig } from '../../protocol/config.js';
import { resolveReference, type ResolveOptions } from './resolve.js';
import { describeDownload } from '../../protocol/format.js';
import { parseHubRef } from './repoRef.js';

/** Resolves (downloading if needed) the reference.hub of a config text; undefined when it names a folder or does not parse (the checks report that). */
export async function resolveConfigReference(text: string, file: string, opts: ResolveOptions = {}): Promise<{ dir: string; commit: string } | undefined> {
  const ref = parseRunConfig(text, file).config?.reference;
  if (ref?.hub === undefined) return undefined;
  const { dir, commit } = await resolveReference(parseHubRef(ref.hub, 'reference.hub', ref.revision), opts);
  return { dir, commit };
}

/** How often a resumed run's re-download is logged to its events. */
const PROGRESS_LOG_MS = 5000;

/**
 * A run's reference at the commit its plan pinned (plan.hub): the cache's snapshot (no request), or
 * fetched again when the cache lost it; progress goes to `log` every few seconds.
 */
export async function resolvePinnedReference(pin: { repo: string; commit: string }, log: (line: string) => void, signal?: AbortSignal): Promise<string> {
  let last = 0;
  const model = await resolveReference(
    { repo: pin.repo, revision: pin.commit },
    {
      signal,
      onNotice: log,
      onProgress: (p) => {
        if (Date.now() - last < PROGRESS_LOG_MS && p.bytes < p.totalBytes) return;
        last = Date.now();
        log(`download ${describeDownload(p)}`);
      },
    },
  );
  return model.dir;
}
