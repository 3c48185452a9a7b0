/**
 * Publishing a model folder to the Hub through @huggingface/hub (create the repo, one commit of every
 * file plus the generated model card), with progress and cancellation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commitIter, createRepo, HubApiError, type CommitOperation } from '@huggingface/hub';
import { InherituneError } from '../errors.js';
import { hubEnv } from './env.js';
import { asHubError } from './errors.js';
import { modelCard } from './modelCard.js';
import { parseHubRef } from './repoRef.js';

export interface PushOptions {
  private?: boolean;
  /** Branch to commit to (default main; it must exist). */
  branch?: string;
  signal?: AbortSignal;
  /** Fraction (0..1) of one file uploaded. */
  onProgress?: (file: string, fraction: number) => void;
}

export interface PushResult {
  repo: string;
  commit: string;
  url: string;
  files: string[];
}

const CARD = 'README.md';

/** Uploads `dir` (an HF-style model folder) to the model repo `repo` (ORG/NAME), creating it if needed. */
export async function pushModel(dir: string, repoId: string, opts: PushOptions = {}): Promise<PushResult> {
  const { repo } = parseHubRef(repoId, 'repo');
  const env = hubEnv();
  if (env.offline) throw new InherituneError('HF_HUB_OFFLINE', 'is set: push needs the network');
  if (!env.token) throw new InherituneError('HF_TOKEN', `push needs a token with write access to ${repo}: create one at https://huggingface.co/settings/tokens and set HF_TOKEN (or log in with \`hf auth login\`)`);
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new InherituneError(dir, 'not a model folder (no config.json)');
  const card = modelCard(dir, repo);
  const names = fs.readdirSync(dir).filter((f) => f !== CARD && !f.startsWith('.') && fs.statSync(path.join(dir, f)).isFile()).sort();
  const operations: CommitOperation[] = [
    ...(await Promise.all(names.map(async (f) => ({ operation: 'addOrUpdate' as const, path: f, content: await fs.openAsBlob(path.join(dir, f)) })))),
    { operation: 'addOrUpdate', path: CARD, content: new Blob([card]) },
  ];
  const call = { hubUrl: env.endpoint, accessToken: env.token, fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, signal: opts.signal }) };
  try {
    await createRepo({ repo: { type: 'model', name: repo }, private: opts.private === true, ...call });
  } catch (e) {
    // 409: it exists already, and the commit below updates it.
    if (!(e instanceof HubApiError && e.statusCode === 409)) throw asHubError(e, repo, 'repo', env.endpoint);
  }
  try {
    const it = commitIter({
      repo: { type: 'model', name: repo },
      operations,
      title: 'Upload model derived with Inheritune',
      branch: opts.branch ?? 'main',
      useXet: false,
      abortSignal: opts.signal,
      ...call,
    });
    let r = await it.next();
    while (!r.done) {
      const ev = r.value;
      if (ev.event === 'fileProgress' && ev.state === 'uploading') opts.onProgress?.(ev.path, ev.progress);
      r = await it.next();
    }
    if (!r.value) throw new InherituneError(repo, 'the Hub did not confirm the commit');
    return { repo, commit: r.value.commit.oid, url: `${env.endpoint}/${repo}`, files: [...names, CARD].sort() };
  } catch (e) {
    throw asHubError(e, repo, 'repo', env.endpoint);
  }
}
