/**
 * A Hub reference (`ORG/NAME@REV`) made into a plain model folder: the snapshot in the Hugging Face
 * cache. The cache is used first (a commit already there costs no request; a branch costs one, to
 * learn its commit); otherwise only the files a model needs are downloaded into the cache layout
 * (cache.ts), so Python tools reuse them. PyTorch pickles are never fetched: safetensors only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';
import { InherituneError } from '../errors.js';
import { blobLockPath, blobPath, cacheState, CONFIG_FILE, findCachedModel, type CachedModel, isCompleteSnapshot, linkIntoSnapshot, repoFolder, SAFETENSORS_FILE, SAFETENSORS_INDEX, shardsOfIndex, snapshotDir, writeRef } from './cache.js';
import { downloadBlob, type ExpectedFile } from './download.js';
import { hubCacheDir, hubEnv, hubOffline, type HubEnv } from './env.js';
import { asHubError, HubUnreachableError } from './errors.js';
import { Throughput } from './throughput.js';
import { formatHubRef, isCommitHash, type HubRef } from './repoRef.js';

/** Files read beside the weights when the repo has them (tokenizer for `data.tokenizer: model`). */
export const OPTIONAL_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'] as const;
const PICKLES = /^pytorch_model(-\d+-of-\d+)?\.bin(\.index\.json)?$/;

export interface DownloadProgress {
  repo: string;
  /** The file being fetched. */
  file: string;
  bytes: number;
  totalBytes: number;
  /** Bytes a second over the last seconds; 0 at the start. */
  bytesPerSecond: number;
  /** Seconds left at the current speed; undefined until there is a speed. */
  etaSeconds?: number;
}

export interface ResolveOptions {
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** One line when a download starts (what and how much), for a log. */
  onNotice?: (line: string) => void;
}

export interface ResolvedModel extends HubRef {
  /** The commit the revision resolved to: pin it to run the same model again. */
  commit: string;
  /** The snapshot folder (a plain model folder). */
  dir: string;
  /** Bytes fetched by this call (0: all from the cache). */
  downloadedBytes: number;
}

/** A file of the repo at a commit, as the Hub's tree lists it. */
export interface HubFile {
  path: string;
  size: number;
  /** Name of its blob in the cache: the LFS sha256, else the git blob id (what Python uses). */
  etag: string;
  expected: ExpectedFile;
}

const SHA1 = /^[0-9a-f]{40}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export function hubFile(e: ListFileEntry, label: string): HubFile {
  const bad = (what: string) => new InherituneError(label, `the Hub's file list has an invalid ${what} for ${JSON.stringify(e.path)}`);
  if (!Number.isSafeInteger(e.size) || e.size < 0) throw bad('size');
  if (e.lfs) {
    if (!SHA256.test(e.lfs.oid) || e.lfs.size !== e.size) throw bad('LFS entry');
    return { path: e.path, size: e.size, etag: e.lfs.oid, expected: { size: e.size, sha256: e.lfs.oid } };
  }
  // Xet storage without an LFS entry: the git oid is that of a pointer, so only the size can be checked.
  if (e.xetHash !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(e.xetHash)) throw bad('xet hash');
    return { path: e.path, size: e.size, etag: e.xetHash, expected: { size: e.size } };
  }
  if (typeof e.oid !== 'string' || !SHA1.test(e.oid)) throw bad('oid');
  return { path: e.path, size: e.size, etag: e.oid, expected: { size: e.size, gitSha1: e.oid } };
}

/** Options every @huggingface/hub call takes: the endpoint, the token, cancellation. */
export function hubCall(env: HubEnv, signal?: AbortSignal) {
  return {
    hubUrl: env.endpoint,
    ...(env.token ? { accessToken: env.token } : {}),
    fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, signal }),
  };
}

/** The commit `ref.revision` points at now, and whether the repo is gated. */
export async function fetchCommit(ref: HubRef, env: HubEnv, signal?: AbortSignal): Promise<{ commit: string; gated: boolean }> {
  const label = formatHubRef(ref);
  let info: Awaited<ReturnType<typeof modelInfo<'sha'>>>;
  try {
    info = await modelInfo({ name: ref.repo, revision: ref.revision, additionalFields: ['sha'], ...hubCall(env, signal) });
  } catch (e) {
    throw asHubError(e, label, 'revision', env.endpoint);
  }
  if (typeof info.sha !== 'string' || !SHA1.test(info.sha)) throw new InherituneError(label, 'the Hub sent no commit hash for this revision');
  return { commit: info.sha, gated: info.gated !== false && info.gated !== undefined };
}

/** The files at the top of the repo at `commit`. */
export async function listHubFiles(ref: HubRef, commit: string, env: HubEnv, signal?: AbortSignal): Promise<Map<string, HubFile>> {
  const label = formatHubRef(ref);
  const out = new Map<string, HubFile>();
  try {
    for await (const e of listFiles({ repo: { type: 'model', name: ref.repo }, revision: commit, ...hubCall(env, signal) })) {
      if (e.type === 'file') out.set(e.path, hubFile(e, label));
    }
  } catch (e) {
    throw asHubError(e, label, 'revision', env.endpoint);
  }
  return out;
}

/** The weight files to fetch: model.safetensors, or the index (its shards are read from it). */
export function weightFilesOf(files: Map<string, HubFile>, label: string): { single?: HubFile; index?: HubFile } {
  const single = files.get(SAFETENSORS_FILE);
  if (single) return { single };
  const index = files.get(SAFETENSORS_INDEX);
  if (index) return { index };
  const pickles = [...files.keys()].filter((f) => PICKLES.test(f));
  if (pickles.length > 0) {
    throw new InherituneError(label, `has only PyTorch pickle weights (${pickles.join(', ')}), which inheritune does not load (they can run code); use a revision or copy of the model with safetensors weights (model.safetensors)`);
  }
  throw new InherituneError(label, `has no safetensors weights (model.safetensors or ${SAFETENSORS_INDEX})`);
}

function fileUrl(env: HubEnv, ref: HubRef, commit: string, file: string): string {
  return `${env.endpoint}/${ref.repo}/resolve/${commit}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** The model folder for `ref` from the cache only (no network); a miss is an error that says what is missing and how to fill it. */
export function cachedReference(ref: HubRef): CachedModel {
  const state = cacheState(ref, hubCacheDir());
  if (state.kind === 'whole') return state.model;
  const offline = hubOffline();
  const how = offline ? 'download it once online (HF_HUB_OFFLINE is set)' : '`inheritune run` downloads it';
  const label = formatHubRef(ref);
  switch (state.kind) {
    case 'absent':
      throw new InherituneError(label, `not in the Hugging Face cache (${state.folder}) yet: ${how}`);
    case 'unknownRevision':
      throw new InherituneError(label, `revision "${ref.revision}" is not in the Hugging Face cache (${state.folder} has ${state.known.length > 0 ? state.known.join(', ') : 'no revision'}): ${how}, or name a revision the cache has`);
    case 'partial':
      throw new InherituneError(label, `incomplete in the Hugging Face cache: commit ${state.commit} lacks ${state.missing.join(', ')} (${state.dir}): ${offline ? 'download the rest once online (HF_HUB_OFFLINE is set)' : '`inheritune run` downloads the rest'}`);
  }
}

/**
 * The model folder for `ref`: from the cache, or downloaded into it. HF_HUB_OFFLINE=1 uses the cache
 * only. Cancelled by `signal` (what was fetched stays, and the next call continues it).
 */
export async function resolveReference(ref: HubRef, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const label = formatHubRef(ref);
  const cacheDir = hubCacheDir();
  const folder = repoFolder(cacheDir, ref.repo);
  const cached = findCachedModel(ref, cacheDir);
  // A commit in the cache is the model itself; a branch may have moved, so ask unless offline.
  if (cached && (isCommitHash(ref.revision) || hubOffline())) return { ...cached, downloadedBytes: 0 };
  if (hubOffline()) {
    throw new InherituneError(label, `not in the Hugging Face cache (${folder}) and HF_HUB_OFFLINE is set: download it once online, or unset HF_HUB_OFFLINE`);
  }
  const env = hubEnv();
  let commit: string;
  try {
    ({ commit } = isCommitHash(ref.revision) ? { commit: ref.revision } : await fetchCommit(ref, env, opts.signal));
  } catch (e) {
    // No network: the cached commit of the branch will do, as Python's tools do it.
    if (!(e instanceof HubUnreachableError) || !cached) throw e;
    opts.onNotice?.(`${e.detail}; using the cached commit ${cached.commit} of ${label}`);
    return { ...cached, downloadedBytes: 0 };
  }
  const dir = snapshotDir(folder, commit);
  const downloadedBytes = isCompleteSnapshot(dir) ? 0 : await downloadSnapshot(ref, commit, env, opts);
  writeRef(folder, ref.revision, commit);
  return { ...ref, commit, dir, downloadedBytes };
}

/** Fetches what the snapshot lacks; returns the bytes downloaded. */
async function downloadSnapshot(ref: HubRef, commit: string, env: HubEnv, opts: ResolveOptions): Promise<number> {
  const label = formatHubRef(ref);
  const folder = repoFolder(env.cacheDir, ref.repo);
  const dir = snapshotDir(folder, commit);
  const files = await listHubFiles(ref, commit, env, opts.signal);
  if (!files.has(CONFIG_FILE)) throw new InherituneError(label, `has no ${CONFIG_FILE}: not a transformers model`);
  const weights = weightFilesOf(files, label);
  const wanted = [files.get(CONFIG_FILE)!, ...OPTIONAL_FILES.flatMap((f) => (files.has(f) ? [files.get(f)!] : []))];
  let downloaded = 0;
  const fetchOne = async (f: HubFile, onBytes?: (n: number) => void): Promise<void> => {
    const link = path.join(dir, f.path);
    if (fs.existsSync(link)) return;
    const blob = blobPath(folder, f.etag);
    if (!fs.existsSync(blob)) {
      fs.mkdirSync(path.dirname(blob), { recursive: true });
      await downloadBlob({ label: `${ref.repo}/${f.path}`, url: fileUrl(env, ref, commit, f.path), dest: blob, lock: blobLockPath(folder, f.etag), expected: f.expected, token: env.token, signal: opts.signal, onBytes });
      downloaded += f.size;
    }
    linkIntoSnapshot(folder, commit, f.path, f.etag);
  };
  if (weights.index) {
    // The index says which shards to fetch: it comes first.
    await fetchOne(weights.index);
    const shards = shardsOfIndex(fs.readFileSync(path.join(dir, SAFETENSORS_INDEX), 'utf8'));
    if (!shards || shards.length === 0) throw new InherituneError(`${ref.repo}/${SAFETENSORS_INDEX}`, 'is not a safetensors index ("weight_map": {tensor: shard file})');
    for (const s of shards) {
      const f = files.get(s);
      if (!f) throw new InherituneError(`${ref.repo}/${SAFETENSORS_INDEX}`, `lists the shard ${s}, which the repo does not have`);
      wanted.push(f);
    }
  } else if (weights.single) wanted.push(weights.single);

  const todo = wanted.filter((f) => !fs.existsSync(path.join(dir, f.path)));
  const totalBytes = todo.reduce((a, f) => a + (fs.existsSync(blobPath(folder, f.etag)) ? 0 : f.size), 0);
  if (totalBytes > 0) opts.onNotice?.(`downloading ${label} (commit ${commit.slice(0, 12)}): ${todo.length} file${todo.length === 1 ? '' : 's'}, ${totalBytes} bytes, into ${folder}`);
  const meter = new Throughput();
  let finished = 0;
  for (const f of todo) {
    const counted = !fs.existsSync(blobPath(folder, f.etag));
    await fetchOne(f, (onDisk) => {
      const bytes = finished + onDisk;
      const bytesPerSecond = meter.sample(bytes);
      opts.onProgress?.({
        repo: ref.repo,
        file: f.path,
        bytes,
        totalBytes,
        bytesPerSecond,
        ...(bytesPerSecond > 0 ? { etaSeconds: (totalBytes - bytes) / bytesPerSecond } : {}),
      });
    });
    if (counted) finished += f.size;
  }
  return downloaded;
}
