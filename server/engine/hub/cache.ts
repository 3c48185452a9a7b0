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

/** Whether a snapshot folder holds a whole model: config.json and every weight file (links resolving). */
export function isCompleteSnapshot(dir: string): boolean {
  if (!fs.existsSync(path.join(dir, CONFIG_FILE))) return false;
  if (fs.existsSync(path.join(dir, SAFETENSORS_FILE))) return true;
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, SAFETENSORS_INDEX), 'utf8');
  } catch {
    return false;
  }
  const shards = shardsOfIndex(text);
  return shards !== undefined && shards.length > 0 && shards.every((s) => fs.existsSync(path.join(dir, s)));
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
  const folder = repoFolder(cacheDir, ref.repo);
  const commit = cachedCommit(folder, ref.revision);
  if (!commit) return undefined;
  const dir = snapshotDir(folder, commit);
  return isCompleteSnapshot(dir) ? { ...ref, commit, dir } : undefined;
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
}

/** Every whole model in the cache (the models a config could name without a download), newest first. */
export async function listCachedModels(cacheDir: string): Promise<CachedModelEntry[]> {
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
      if (!isCompleteSnapshot(rev.path)) continue;
      out.push({ repo: repo.id.name, commit: rev.commitOid, refs: [...rev.refs].sort(), dir: rev.path, bytes: rev.size, lastModified: rev.lastModifiedAt });
    }
  }
  return out.sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime() || a.repo.localeCompare(b.repo));
}
