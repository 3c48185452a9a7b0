/**
 * Models on the Hugging Face Hub as references: what the CLI, the run, the language server and the
 * sidebar call. Everything else in this folder is internal to it.
 */
export { DEFAULT_REVISION, formatHubRef, HUB_SCHEME, isCommitHash, isHubUri, parseHubRef, parseHubUri, REPO_ID_PATTERN, REPO_ID_TEXT, REVISION_PATTERN, REVISION_TEXT, type HubRef } from './repoRef.js';
export { hubEnv, type HubEnv } from './env.js';
export { cacheState, findCachedModel, listCachedModels, type CacheState, type CachedModel, type CachedModelEntry } from './cache.js';
export { cachedReference, resolveReference, type DownloadProgress, type ResolvedModel, type ResolveOptions } from './resolve.js';
export { resolveConfigReference, resolvePinnedReference } from './configReference.js';
export { describeHubModel, type HubModelDescription } from './describe.js';
