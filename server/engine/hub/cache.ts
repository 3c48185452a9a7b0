/**
 * The Hugging Face cache layout, shared with Python's huggingface_hub so either tool reuses what the
 * other downloaded, without a copy:
 *
 *   <cacheDir>/models--ORG--NAME/refs/<revision>          the commit hash a branch or tag pointed at
 *                               /blobs/<etag>             file contents, named by LFS sha256 or git blob sha1
 *                               /blobs/<etag>.incomplete  a download in progress (never read as a file)
 *                               /snapshots/<commit>/<file> relative symlinks to ../../blobs/<etag>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getRepoFolderName, scanCacheDir } from '@huggingface/hub';
import { InherituneError } from '../errors.js';
import { isCommitHash, type HubRef } from './repoRef.js';

export const CONFIG_FILE = 'config.json';
export const SAFETENSORS_FILE = 'model.safetensors';
export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

export function repoFolder(cacheDir: string, repo: string): string {
  return path.join(cacheDir, getRepoFolderName({ name: repo, type: 'model' }));
}

export function snapshotDir(folder: string, commit: string): string {
  return path.join(folder, 'snapshots', commit);
}

export function blobPath(folder: string, etag: string): string {
  return path.join(folder, 'blobs', etag);
}

/** Our lock for downloading a blob: beside Python's (<cache>/.locks/models--ORG--NAME/), under a name of our own. */
export function blobLockPath(folder: string, etag: string): string {
  return path.join(path.dirname(folder), '.locks', path.basename(folder), `${etag}.inheritune.lock`);
}

/** The commit `revision` resolves to in the cache (a commit hash is itself), if known. */
export function cachedCommit(folder: string, revision: string): string | undefined {
  if (isCommitHash(revision)) return revision;
  try {
    const commit = fs.readFileSync(path.join(folder, 'refs', revision), 'utf8').trim();
    return isCommitHash(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

export function writeRef(folder: string, revision: string, commit: string): void {
  if (isCommitHash(revision)) return;
  const file = path.join(folder, 'refs', revision);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, commit);
  fs.renameSync(tmp, file);
}

/** Points snapshots/<commit>/<file> at blobs/<etag> (a relative symlink, as Python makes; a copy where links are not allowed). */
export function linkIntoSnapshot(folder: string, commit: string, file: string, etag: string): void {
  const link = path.join(snapshotDir(folder, commit), file);
  fs.mkdirSync(path.dirname(link), { recursive: true });
  const blob = blobPath(folder, etag);
  fs.rmSync(link, { force: true });
  try {
    fs.symlinkSync(path.relative(path.dirname(link), blob), link);
  } catch {
    fs.copyFileSync(blob, link);
  }
}

/** Shard file names a model.safetensors.index.json lists; `undefined` when it cannot be read as one. */
export function shardsOfIndex(text: string): string[] | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const map = typeof json === 'object' && json !== null ? (json as { weight_map?: unknown }).weight_map : undefined;
  if (typeof map !== 'object' || map === null) return undefined;
  const shards = new Set<string>();
  for (const v of Object.values(map)) {
    // Shards sit beside the index: a name with a folder or `..` is not one we would read.
    if (typeof v !== 'string' || v === '' || v.includes('/') || v.includes('\\') || v === '..') return undefined;
    shards.add(v);
  }
  return [...shards].sort();
}

/** The files a snapshot folder lacks to be a whole model (config.json and every weight file, links resolving); [] when whole. */
export function missingFiles(dir: string): string[] {
  const missing = fs.existsSync(path.join(dir, CONFIG_FILE)) ? [] : [CONFIG_FILE];
  if (fs.existsSync(path.join(dir, SAFETENSORS_FILE))) return missing;
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, SAFETENSORS_INDEX), 'utf8');
  } catch {
    return [...missing, `${SAFETENSORS_FILE} (or ${SAFETENSORS_INDEX})`];
  }
  const shards = shardsOfIndex(text);
  if (shards === undefined || shards.length === 0) return [...missing, `the shards ${SAFETENSORS_INDEX} should list`];
  return [...missing, ...shards.filter((s) => !fs.existsSync(path.join(dir, s)))];
}

/** Whether a snapshot folder holds a whole model: config.json and every weight file (links resolving). */
export function isCompleteSnapshot(dir: string): boolean {
  return missingFiles(dir).length === 0;
}

export interface CachedModel {
  repo: string;
  revision: string;
  commit: string;
  /** The snapshot folder: a plain model folder the engine reads. */
  dir: string;
}

/** The whole model `ref` names, if the cache holds it (no network). */
export function findCachedModel(ref: HubRef, cacheDir: string): CachedModel | undefined {
  const state = cacheState(ref, cacheDir);
  return state.kind === 'whole' ? state.model : undefined;
}

/** What the cache holds of `ref`: the whole model, a snapshot lacking files, a repo without that revision, or nothing. */
export type CacheState =
  | { kind: 'whole'; model: CachedModel }
  | { kind: 'partial'; dir: string; commit: string; missing: string[] }
  | { kind: 'unknownRevision'; folder: string; known: string[] }
  | { kind: 'absent'; folder: string };

export function cacheState(ref: HubRef, cacheDir: string): CacheState {
  const folder = repoFolder(cacheDir, ref.repo);
  const commit = cachedCommit(folder, ref.revision);
  if (!commit) {
    if (!fs.existsSync(folder)) return { kind: 'absent', folder };
    return { kind: 'unknownRevision', folder, known: knownRevisions(folder) };
  }
  const dir = snapshotDir(folder, commit);
  const missing = fs.existsSync(dir) ? missingFiles(dir) : [CONFIG_FILE, SAFETENSORS_FILE];
  return missing.length === 0 ? { kind: 'whole', model: { ...ref, commit, dir } } : { kind: 'partial', dir, commit, missing };
}

/** Branches and tags (refs/) and snapshot commits of a cached repo, for messages. */
function knownRevisions(folder: string): string[] {
  const list = (d: string) => {
    try {
      return fs.readdirSync(d).filter((n) => !n.startsWith('.'));
    } catch {
      return [];
    }
  };
  return [...list(path.join(folder, 'refs')), ...list(path.join(folder, 'snapshots')).map((c) => c.slice(0, 12))].sort();
}

export interface CachedModelEntry {
  repo: string;
  commit: string;
  /** Branches and tags pointing at this commit. */
  refs: string[];
  dir: string;
  /** Bytes of the files the snapshot links to. */
  bytes: number;
  lastModified: Date;
  /** The files the snapshot lacks to be a whole model ([]: whole). */
  missing: string[];
}

/**
 * The models in the cache, newest first: the whole ones (what a config could name without a
 * download), and with `incomplete` also snapshots a download left unfinished.
 */
export async function listCachedModels(cacheDir: string, opts: { incomplete?: boolean } = {}): Promise<CachedModelEntry[]> {
  if (!fs.existsSync(cacheDir)) return [];
  let info: Awaited<ReturnType<typeof scanCacheDir>>;
  try {
    info = await scanCacheDir(cacheDir);
  } catch (e) {
    throw new InherituneError(cacheDir, `cannot read the Hugging Face cache: ${e instanceof Error ? e.message : String(e)}`);
  }
  const out: CachedModelEntry[] = [];
  for (const repo of info.repos) {
    if (repo.id.type !== 'model') continue;
    for (const rev of repo.revisions) {
      const missing = missingFiles(rev.path);
      if (missing.length > 0 && !opts.incomplete) continue;
      out.push({ repo: repo.id.name, commit: rev.commitOid, refs: [...rev.refs].sort(), dir: rev.path, bytes: rev.size, lastModified: rev.lastModifiedAt, missing });
    }
  }
  return out.sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime() || a.repo.localeCompare(b.repo));
}
