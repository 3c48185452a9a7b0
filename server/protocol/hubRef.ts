/**
 * How a Hugging Face Hub model is named, for the run config schema and the engine alike (pure: the
 * webview imports the schema). The engine's parsing is in server/engine/hub/repoRef.ts.
 */
export const HUB_SCHEME = 'hf://';
export const DEFAULT_REVISION = 'main';

/** A Hub model id: `NAME` (legacy, e.g. gpt2) or `ORG/NAME`, as the Hub spells them. */
export const REPO_ID_PATTERN = '^(?:[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*$';
export const REPO_ID_TEXT = 'a Hugging Face model id ORG/NAME (letters, digits, ".", "_", "-")';
/** Branches, tags, commits and `refs/pr/N`; no `.` or `..` segment (a revision names a file under refs/ in the cache). */
export const REVISION_PATTERN = '^(?!.*(?:^|/)\\.\\.?(?:/|$))[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$';
export const REVISION_TEXT = 'a branch, tag or commit (letters, digits, ".", "_", "-", "/")';
