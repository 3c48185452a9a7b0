/** What a Hub model is before it is downloaded (for a hover or a sidebar): commit, files, sizes, cache state. */
import { CONFIG_FILE, findCachedModel, SAFETENSORS_INDEX, type CachedModel } from './cache.js';
import { hubEnv } from './env.js';
import { fetchCommit, listHubFiles, OPTIONAL_FILES, weightFilesOf } from './resolve.js';
import { formatHubRef, isCommitHash, type HubRef } from './repoRef.js';

export interface HubModelDescription extends HubRef {
  commit: string;
  gated: boolean;
  /** Files at the top of the repo, with their sizes. */
  files: { path: string; size: number }[];
  /** Bytes of the safetensors weights (model.safetensors, or every .safetensors file of a sharded repo). */
  weightBytes: number;
  /** Bytes a download fetches: the weights, config.json, the index and the tokenizer files the repo has. */
  downloadBytes: number;
  /** The snapshot when the cache already holds the whole model. */
  cached?: CachedModel;
}

/** Asks the Hub (two small requests) about `ref`; a bad id, a missing revision or no access is an InherituneError. */
export async function describeHubModel(ref: HubRef, signal?: AbortSignal): Promise<HubModelDescription> {
  const env = hubEnv();
  const { commit, gated } = isCommitHash(ref.revision) ? { commit: ref.revision, gated: false } : await fetchCommit(ref, env, signal);
  const files = await listHubFiles(ref, commit, env, signal);
  const weights = weightFilesOf(files, formatHubRef(ref));
  const weightBytes = weights.single ? weights.single.size : [...files.values()].filter((f) => /\.safetensors$/.test(f.path)).reduce((a, f) => a + f.size, 0);
  const extras = [CONFIG_FILE, SAFETENSORS_INDEX, ...OPTIONAL_FILES].reduce((a, f) => a + (files.get(f)?.size ?? 0), 0);
  const downloadBytes = weightBytes + (weights.single ? extras - (files.get(SAFETENSORS_INDEX)?.size ?? 0) : extras);
  const cached = findCachedModel({ repo: ref.repo, revision: commit }, env.cacheDir);
  return { ...ref, commit, gated, files: [...files.values()].map((f) => ({ path: f.path, size: f.size })), weightBytes, downloadBytes, ...(cached ? { cached } : {}) };
}
