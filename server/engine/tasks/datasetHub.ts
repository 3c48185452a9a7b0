/**
 * A task's dataset from the Hugging Face Hub into the Hugging Face cache, as models come
 * (server/engine/hub/): `datasets--ORG--NAME/{refs,blobs,snapshots}` in the layout Python's tools
 * use, each file resumable, hash-checked and locked by the Hub module's download. Only the files of
 * the task's split are fetched. A snapshot that already holds them is used without a request.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { datasetInfo, listFiles } from '@huggingface/hub';
import { InherituneError } from '../errors.js';
import { blobLockPath, blobPath, linkIntoSnapshot, snapshotDir, writeRef } from '../hub/cache.js';
import { downloadBlob } from '../hub/download.js';
import { hubEnv } from '../hub/env.js';
import { asHubError } from '../hub/errors.js';
import { hubCall, hubFile, type HubFile, type ResolveOptions } from '../hub/resolve.js';
import { Throughput } from '../hub/throughput.js';
import { TASK_SOURCES, type TaskName } from './formats.js';
import { cachedDataset, datasetFolder, pickSplitFiles, splitFiles } from './taskData.js';

const REVISION = 'main';
const SHA1 = /^[0-9a-f]{40}$/;

/** The cached snapshot when it holds the task's split. */
function cachedSplit(task: TaskName): string | undefined {
  try {
    const snapshot = cachedDataset(task);
    return splitFiles(snapshot, task).length > 0 ? snapshot : undefined;
  } catch {
    return undefined;
  }
}

/** The snapshot folder holding `task`'s split: from the cache, or downloaded into it (HF_HUB_OFFLINE=1: the cache only). */
export async function resolveTaskDataset(task: TaskName, opts: ResolveOptions = {}): Promise<string> {
  const hit = cachedSplit(task);
  if (hit) return hit;
  const env = hubEnv();
  if (env.offline) return cachedDataset(task); // throws, saying so
  const { repo, split } = TASK_SOURCES[task];
  const label = `dataset ${repo}`;
  let commit: string;
  const files = new Map<string, HubFile>();
  try {
    const info = await datasetInfo({ name: repo, revision: REVISION, additionalFields: ['sha'], ...hubCall(env, opts.signal) });
    if (typeof info.sha !== 'string' || !SHA1.test(info.sha)) throw new InherituneError(label, 'the Hub sent no commit hash for this revision');
    commit = info.sha;
    for await (const e of listFiles({ repo: { type: 'dataset', name: repo }, revision: commit, recursive: true, ...hubCall(env, opts.signal) })) {
      if (e.type === 'file') files.set(e.path, hubFile(e, label));
    }
  } catch (e) {
    throw asHubError(e, label, 'repo', env.endpoint);
  }
  const wanted = pickSplitFiles([...files.keys()], task).map((f) => files.get(f)!);
  if (wanted.length === 0) throw new InherituneError(label, `has no ${split} split as .parquet or .jsonl files (task ${task})`);
  const folder = datasetFolder(task);
  const totalBytes = wanted.reduce((a, f) => a + f.size, 0);
  opts.onNotice?.(`downloading ${label} (commit ${commit.slice(0, 12)}), ${split} split: ${wanted.length} file${wanted.length === 1 ? '' : 's'}, ${totalBytes} bytes, into ${folder}`);
  const meter = new Throughput();
  let finished = 0;
  for (const f of wanted) {
    const blob = blobPath(folder, f.etag);
    if (!fs.existsSync(blob)) {
      fs.mkdirSync(path.dirname(blob), { recursive: true });
      const url = `${env.endpoint}/datasets/${repo}/resolve/${commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
      await downloadBlob({
        label: `${repo}/${f.path}`,
        url,
        dest: blob,
        lock: blobLockPath(folder, f.etag),
        expected: f.expected,
        token: env.token,
        signal: opts.signal,
        onBytes: (onDisk) => {
          const bytes = finished + onDisk;
          const bytesPerSecond = meter.sample(bytes);
          opts.onProgress?.({ repo, file: f.path, bytes, totalBytes, bytesPerSecond, ...(bytesPerSecond > 0 ? { etaSeconds: (totalBytes - bytes) / bytesPerSecond } : {}) });
        },
      });
    }
    finished += f.size;
    linkIntoSnapshot(folder, commit, f.path, f.etag);
  }
  writeRef(folder, REVISION, commit);
  return snapshotDir(folder, commit);
}
