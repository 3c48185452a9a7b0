/**
 * Names of models on the Hugging Face Hub: `ORG/NAME` with a revision (branch, tag or commit), and
 * the `hf://ORG/NAME[@REV]` form the CLI takes wherever a model folder is taken. Pure: no I/O.
 */
import { DEFAULT_REVISION, HUB_SCHEME, REPO_ID_PATTERN, REPO_ID_TEXT, REVISION_PATTERN, REVISION_TEXT } from '../../protocol/hubRef.js';
import { InherituneError } from '../errors.js';

export { DEFAULT_REVISION, HUB_SCHEME, REPO_ID_PATTERN, REPO_ID_TEXT, REVISION_PATTERN, REVISION_TEXT };

const REPO_ID = new RegExp(REPO_ID_PATTERN);
const REVISION = new RegExp(REVISION_PATTERN);
const COMMIT = /^[0-9a-f]{40}$/;

export interface HubRef {
  /** `ORG/NAME`. */
  repo: string;
  /** Branch, tag or commit hash. */
  revision: string;
}

export function isCommitHash(revision: string): boolean {
  return COMMIT.test(revision);
}

export function isHubUri(arg: string): boolean {
  return arg.startsWith(HUB_SCHEME);
}

/** `ORG/NAME@REV` (or `ORG/NAME`, revision main); `source` names the option or field in the error. */
export function parseHubRef(text: string, source: string, revision?: string): HubRef {
  const at = text.indexOf('@');
  const repo = at < 0 ? text : text.slice(0, at);
  const rev = at < 0 ? (revision ?? DEFAULT_REVISION) : text.slice(at + 1);
  if (at >= 0 && revision !== undefined) throw new InherituneError(source, `give the revision once: ${JSON.stringify(text)} already names ${JSON.stringify(rev)}`);
  if (!REPO_ID.test(repo) || repo.length > 96) throw new InherituneError(source, `${JSON.stringify(repo)} is not ${REPO_ID_TEXT}`);
  if (!REVISION.test(rev)) throw new InherituneError(source, `revision ${JSON.stringify(rev)} is not ${REVISION_TEXT}`);
  return { repo, revision: rev };
}

/** `hf://ORG/NAME[@REV]` -> its reference. */
export function parseHubUri(uri: string, source: string): HubRef {
  if (!isHubUri(uri)) throw new InherituneError(source, `${JSON.stringify(uri)} is not a Hub model (${HUB_SCHEME}ORG/NAME[@REV])`);
  return parseHubRef(uri.slice(HUB_SCHEME.length), source);
}

export function formatHubRef(ref: HubRef): string {
  return `${ref.repo}@${ref.revision}`;
}
