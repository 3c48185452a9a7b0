/**
 * A local Hugging Face Hub on 127.0.0.1 (node:http) with exactly the endpoints inheritune uses,
 * reached through HF_ENDPOINT: model info at a revision (sha, gated), the tree of a commit (sizes,
 * git oids, LFS sha256), `resolve` (LFS files redirect to a CDN path; ETag, X-Linked-Etag,
 * X-Repo-Commit; Range requests), 401 for a gated repo without its token, 404, and the upload
 * path of @huggingface/hub (create repo, preupload, LFS batch + PUT, commit). Every request is
 * logged; a file can be served corrupted, or stalled after N bytes (for kill-and-resume tests).
 * Dataset repos (addDataset) answer the same endpoints under /api/datasets/ and /datasets/.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface MockRepo {
  files: Map<string, Buffer>;
  commit: string;
  gated: boolean;
  private: boolean;
  /** Every commit received by push: its title and the files it added. */
  commits: { title: string; files: string[] }[];
  /** Files the tree lists as Xet-stored: a xetHash and no LFS entry. */
  xet: Set<string>;
}

export interface RequestLog {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export const MOCK_TOKEN = 'hf_mock_token_for_tests';

/** The Hugging Face variables that tests point at a mock Hub. */
const HUB_ENV = ['HF_ENDPOINT', 'HF_HOME', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE', 'HF_TOKEN'] as const;

/** Notes the Hugging Face variables as they are now; the function returned puts them back. */
export function saveHubEnv(): () => void {
  const saved = new Map(HUB_ENV.map((k) => [k, process.env[k]]));
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

const isLfs = (file: string) => file.endsWith('.safetensors') || file.endsWith('.parquet');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

/** The files of a model folder (top level), to serve as a repo. */
export function filesOfDir(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) out.set(f, fs.readFileSync(p));
  }
  return out;
}

export class MockHub {
  readonly repos = new Map<string, MockRepo>();
  readonly requests: RequestLog[] = [];
  /** Uploaded LFS objects by sha256. */
  readonly lfsObjects = new Map<string, Buffer>();
  /** Serve this file with one byte flipped (its listed hash stays that of the good bytes). */
  corrupt?: string;
  /** Send only the first `bytes` of `file` and then hold the connection open (until close()). */
  stall?: { file: string; bytes: number };
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private readonly stalled = new Set<http.ServerResponse>();
  url = '';

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const r of this.stalled) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addRepo(id: string, files: Map<string, Buffer>, opts: { gated?: boolean; private?: boolean } = {}): MockRepo {
    const repo: MockRepo = { files: new Map(files), commit: randomBytes(20).toString('hex'), gated: opts.gated ?? false, private: opts.private ?? false, commits: [], xet: new Set() };
    this.repos.set(id, repo);
    return repo;
  }

  /** A dataset repo (files may sit in folders: `ARC-Easy/test-00000-of-00001.parquet`); kept as `datasets/ORG/NAME`. */
  addDataset(id: string, files: Map<string, Buffer>): MockRepo {
    return this.addRepo(`datasets/${id}`, files);
  }

  /** Requests whose path starts with `prefix` (e.g. `/org/name/resolve/` for data). */
  requestsTo(prefix: string): RequestLog[] {
    return this.requests.filter((r) => new URL(r.url, 'http://x').pathname.startsWith(prefix));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      try {
        this.route(req, res, Buffer.concat(chunks));
      } catch (e) {
        json(res, 500, { error: String(e) });
      }
    });
  }

  private authorized(req: http.IncomingMessage, repo: MockRepo): boolean {
    return !(repo.gated || repo.private) || req.headers.authorization === `Bearer ${MOCK_TOKEN}`;
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', this.url);
    let p = decodeURIComponent(url.pathname);
    let m: RegExpExecArray | null;
    // A dataset's API paths name it datasets/ORG/NAME: the key it is kept under.
    const api = /^\/api\/datasets\/(.+)$/.exec(p);
    if (api) p = `/api/models/datasets/${api[1]}`;
    if (req.method === 'GET' && (m = /^\/api\/models\/((?:datasets\/)?[^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(p))) {
      const repo = this.repos.get(m[1]);
      if (!repo || (repo.private && !this.authorized(req, repo))) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
      if (m[2] !== 'main' && m[2] !== repo.commit) return json(res, 404, { error: `Invalid rev id: ${m[2]}` }, { 'X-Error-Code': 'RevisionNotFound' });
      return json(res, 200, { _id: 'x', id: m[1], sha: repo.commit, private: repo.private, gated: repo.gated ? 'manual' : false, downloads: 0, likes: 0, lastModified: '2026-01-01T00:00:00.000Z', siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })) });
    }
    if (req.method === 'GET' && (m = /^\/api\/models\/((?:datasets\/)?[^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(p))) {
      const repo = this.repos.get(m[1]);
      if (!repo || (repo.private && !this.authorized(req, repo))) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
      if (m[2] !== 'main' && m[2] !== repo.commit) return json(res, 404, { error: 'Invalid rev id' }, { 'X-Error-Code': 'RevisionNotFound' });
      return json(
        res,
        200,
        [...repo.files].map(([f, b]) => ({
          type: 'file',
          path: f,
          size: b.length,
          oid: gitOid(isLfs(f) ? Buffer.from(`lfs pointer ${sha256(b)}`) : b),
          ...(repo.xet.has(f) ? { xetHash: createHash('sha256').update('xet').update(b).digest('hex') } : isLfs(f) ? { lfs: { oid: sha256(b), size: b.length, pointerSize: 134 } } : {}),
        })),
      );
    }
    if (req.method === 'GET' && (m = /^\/((?:datasets\/)?[^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p))) {
      const repo = this.repos.get(m[1]);
      if (!repo) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
      if (!this.authorized(req, repo)) return json(res, 401, { error: 'Access to this model is restricted. You must have access to it and be authenticated.' }, { 'X-Error-Code': 'GatedRepo' });
      if (m[2] !== 'main' && m[2] !== repo.commit) return json(res, 404, { error: 'Invalid rev id' }, { 'X-Error-Code': 'RevisionNotFound' });
      const file = repo.files.get(m[3]);
      if (!file) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
      const headers = { 'X-Repo-Commit': repo.commit, ETag: `"${isLfs(m[3]) ? sha256(file) : gitOid(file)}"` };
      if (isLfs(m[3])) {
        res.writeHead(302, { ...headers, 'X-Linked-Etag': `"${sha256(file)}"`, 'X-Linked-Size': String(file.length), Location: `/cdn/${m[1]}/${sha256(file)}/${m[3]}` });
        return void res.end();
      }
      return this.serve(req, res, m[3], file, headers);
    }
    if (req.method === 'GET' && (m = /^\/cdn\/((?:datasets\/)?[^/]+\/[^/]+)\/([0-9a-f]{64})\/(.+)$/.exec(p))) {
      const repo = this.repos.get(m[1]);
      const file = repo?.files.get(m[3]);
      if (!file || sha256(file) !== m[2]) return json(res, 404, { error: 'no such object' });
      return this.serve(req, res, m[3], file, { ETag: `"${m[2]}"` });
    }
    // Upload (push): @huggingface/hub's createRepo, commit (preupload, LFS batch, PUT, commit).
    if (req.method === 'POST' && p === '/api/repos/create') {
      if (req.headers.authorization !== `Bearer ${MOCK_TOKEN}`) return json(res, 401, { error: 'Invalid credentials in Authorization header' });
      const b = JSON.parse(body.toString()) as { name: string; organization?: string; visibility?: string };
      const id = `${b.organization}/${b.name}`;
      if (this.repos.has(id)) return json(res, 409, { error: 'You already created this model repo', url: `${this.url}/${id}` });
      const repo = this.addRepo(id, new Map(), { private: b.visibility === 'private' });
      repo.commit = randomBytes(20).toString('hex');
      return json(res, 200, { url: `${this.url}/${id}`, id });
    }
    if (req.method === 'POST' && (m = /^\/api\/models\/([^/]+\/[^/]+)\/preupload\/([^/]+)$/.exec(p))) {
      if (!this.repos.has(m[1])) return json(res, 404, { error: 'Repository not found' });
      const b = JSON.parse(body.toString()) as { files: { path: string }[] };
      return json(res, 200, { files: b.files.map((f) => ({ path: f.path, uploadMode: isLfs(f.path) ? 'lfs' : 'regular', shouldIgnore: false })) });
    }
    if (req.method === 'POST' && (m = /^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(p))) {
      const b = JSON.parse(body.toString()) as { objects: { oid: string; size: number }[] };
      return json(res, 200, { transfer: 'basic', objects: b.objects.map((o) => ({ oid: o.oid, size: o.size, actions: { upload: { href: `${this.url}/lfs-upload/${o.oid}` } } })) }, {}, 'application/vnd.git-lfs+json');
    }
    if (req.method === 'PUT' && (m = /^\/lfs-upload\/([0-9a-f]{64})$/.exec(p))) {
      if (sha256(body) !== m[1]) return json(res, 400, { error: 'sha256 mismatch' });
      this.lfsObjects.set(m[1], body);
      return void res.writeHead(200, { ETag: '"ok"' }).end();
    }
    if (req.method === 'POST' && (m = /^\/api\/models\/([^/]+\/[^/]+)\/commit\/([^/]+)$/.exec(p))) {
      const repo = this.repos.get(m[1]);
      if (!repo) return json(res, 404, { error: 'Repository not found' });
      if (req.headers.authorization !== `Bearer ${MOCK_TOKEN}`) return json(res, 401, { error: 'Invalid credentials' });
      let title = '';
      const added: string[] = [];
      for (const line of body.toString().split('\n').filter(Boolean)) {
        const op = JSON.parse(line) as { key: string; value: { summary?: string; path: string; content?: string; oid?: string } };
        if (op.key === 'header') title = op.value.summary ?? '';
        else if (op.key === 'file') repo.files.set(op.value.path, Buffer.from(op.value.content ?? '', 'base64'));
        else if (op.key === 'lfsFile') {
          const obj = this.lfsObjects.get(op.value.oid ?? '');
          if (!obj) return json(res, 400, { error: `LFS object ${op.value.oid} was not uploaded` });
          repo.files.set(op.value.path, obj);
        }
        if (op.key !== 'header') added.push(op.value.path);
      }
      repo.commits.push({ title, files: added.sort() });
      repo.commit = randomBytes(20).toString('hex');
      return json(res, 200, { commitOid: repo.commit, commitUrl: `${this.url}/${m[1]}/commit/${repo.commit}` });
    }
    json(res, 404, { error: `mock Hub: no route for ${req.method} ${p}` });
  }

  /** A file's bytes, honouring `Range: bytes=N-`; corrupted or stalled when asked. */
  private serve(req: http.IncomingMessage, res: http.ServerResponse, name: string, file: Buffer, headers: Record<string, string>): void {
    let data = file;
    if (this.corrupt === name) {
      data = Buffer.from(file);
      data[data.length >> 1] ^= 0xff;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start >= data.length && data.length > 0) return void res.writeHead(416, { 'Content-Range': `bytes */${data.length}` }).end();
    const part = data.subarray(start);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Length': String(part.length),
      'Content-Type': 'application/octet-stream',
      ...(range ? { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
    });
    if (this.stall?.file === name && start < this.stall.bytes) {
      res.write(part.subarray(0, this.stall.bytes - start));
      this.stalled.add(res);
      return;
    }
    res.end(part);
  }
}

function json(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': type, ...headers });
  res.end(JSON.stringify(value));
}
