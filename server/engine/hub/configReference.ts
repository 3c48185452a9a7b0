/**
 * The Hub model a run config names (reference.hub at reference.revision), made available before the
 * config is checked: the checks themselves (configCheck.ts) only look in the cache, so that an
 * editor never starts a download; whoever starts a run calls this first and passes the result on
 * as CheckOptions.hubModel.
 */
import { parseRunConfig } from '../../protocol/config.js';
import { resolveReference, type ResolveOptions } from './resolve.js';
import { parseHubRef } from './repoRef.js';

/** Resolves (downloading if needed) the reference.hub of a config text; undefined when it names a folder or does not parse (the checks report that). */
export async function resolveConfigReference(text: string, file: string, opts: ResolveOptions = {}): Promise<{ dir: string; commit: string } | undefined> {
  const ref = parseRunConfig(text, file).config?.reference;
  if (ref?.hub === undefined) return undefined;
  const { dir, commit } = await resolveReference(parseHubRef(ref.hub, 'reference.hub', ref.revision), opts);
  return { dir, commit };
}
