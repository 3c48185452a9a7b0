/**
 * One file from the Hub into a cache blob, as a serious downloader does it: into `<blob>.incomplete`
 * (never mistaken for the file), continued with an HTTP Range request after an interruption or a
 * kill, retried on a dropped connection, checked against the size and hash the Hub lists (LFS
 * sha256, or the git blob sha1 of a small file), and renamed into place only when it verifies.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from '../errors.js';
import { hubHttpError } from './errors.js';

export interface ExpectedFile {
  /** Bytes; the only check when neither hash is known (a Xet-stored file listed without its LFS sha256). */
  size: number;
  /** LFS files: the sha256 of the content. */
  sha256?: string;
  /** Other files: the git blob id, sha1 of `blob <size>\0<content>`. */
  gitSha1?: string;
}

export interface BlobDownload {
  /** The file as the user knows it, `ORG/NAME/config.json`: names it in errors. */
  label: string;
  url: string;
  dest: string;
  expected: ExpectedFile;
  token?: string;
  signal?: AbortSignal;
  /** Bytes of the file on disk so far (a resumed download starts above 0). */
  onBytes?: (bytesOnDisk: number) => void;
  /** Lock file held while downloading, so two processes never write the same .incomplete. */
  lock: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `file` (our pid inside); a lock whose process is gone is taken over. Returns its release. */
function acquireLock(file: string, label: string): () => void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
      throw new InherituneError(label, `is being downloaded by another process (pid ${pid}); wait for it to finish, or stop it (its lock: ${file})`);
    }
    fs.rmSync(file, { force: true });
  }
}

const ATTEMPTS = 4;

function newHash(e: ExpectedFile): Hash {
  if (e.sha256) return createHash('sha256');
  const h = createHash('sha1');
  h.update(`blob ${e.size}\0`);
  return h;
}

async function hashExisting(file: string, hash: Hash): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (e instanceof Error && e.name === 'AbortError');
}

/** Downloads (or finishes downloading) `d.url` into `d.dest`. */
export async function downloadBlob(d: BlobDownload): Promise<void> {
  const release = acquireLock(d.lock, d.label);
  try {
    // Another process may have finished it while we were getting here.
    if (!fs.existsSync(d.dest)) await download(d);
  } finally {
    release();
  }
}

async function download(d: BlobDownload): Promise<void> {
  const partial = `${d.dest}.incomplete`;
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchInto(d, partial);
      break;
    } catch (e) {
      if (isAbort(e, d.signal)) throw new InherituneError(d.label, 'download cancelled; run the command again to continue where it stopped');
      if (e instanceof InherituneError || attempt === ATTEMPTS) {
        if (e instanceof InherituneError) throw e;
        throw new InherituneError(d.label, `download failed (${describeNetworkError(e)}); the ${sizeOf(partial)} bytes received are kept, run the command again to continue`);
      }
      // A dropped connection: continue from what is on disk, after a short pause.
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
  await verify(d, partial);
  fs.renameSync(partial, d.dest);
}

function describeNetworkError(e: unknown): string {
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
  return cause instanceof Error ? cause.message : String(cause);
}

async function fetchInto(d: BlobDownload, partial: string): Promise<void> {
  let have = sizeOf(partial);
  if (have > d.expected.size) {
    fs.rmSync(partial, { force: true });
    have = 0;
  }
  if (have === d.expected.size) {
    if (have === 0) fs.writeFileSync(partial, ''); // An empty file needs no request.
    return;
  }
  const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
  if (d.token) headers.Authorization = `Bearer ${d.token}`;
  if (have > 0) headers.Range = `bytes=${have}-`;
  const res = await fetch(d.url, { headers, signal: d.signal, redirect: 'follow' });
  if (res.status === 416) {
    // The server does not accept our offset: start the file again.
    await res.body?.cancel();
    fs.rmSync(partial, { force: true });
    throw new Error('range not satisfiable');
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw hubHttpError(res.status, d.label, 'file');
  }
  let offset = 0;
  if (res.status === 206) {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    offset = m ? Number(m[1]) : -1;
    if (offset !== have) {
      await res.body?.cancel();
      throw new InherituneError(d.label, `the Hub answered a request for bytes ${have}- with ${res.headers.get('content-range') ?? 'no Content-Range'}`);
    }
  }
  // 200: the whole file (the server ignored the range, or this is the first request).
  const fd = fs.openSync(partial, offset === 0 ? 'w' : 'a');
  try {
    let onDisk = offset;
    d.onBytes?.(onDisk);
    if (!res.body) throw new InherituneError(d.label, 'the Hub sent no content');
    for await (const chunk of res.body) {
      const buf = chunk as Uint8Array;
      fs.writeSync(fd, buf);
      d.onBytes?.((onDisk += buf.length));
    }
  } finally {
    fs.closeSync(fd);
  }
}

async function verify(d: BlobDownload, partial: string): Promise<void> {
  const size = sizeOf(partial);
  const corrupted = (what: string) => {
    fs.rmSync(partial, { force: true });
    return new InherituneError(d.label, `downloaded file is corrupted (${what}); it was deleted, run the command again to download it afresh`);
  };
  if (size !== d.expected.size) throw corrupted(`${size} bytes, the Hub lists ${d.expected.size}`);
  const want = d.expected.sha256 ?? d.expected.gitSha1;
  if (want === undefined) return;
  const hash = newHash(d.expected);
  await hashExisting(partial, hash);
  const got = hash.digest('hex');
  if (got !== want) throw corrupted(`${d.expected.sha256 ? 'sha256' : 'git sha1'} ${got}, the Hub lists ${want}`);
}
