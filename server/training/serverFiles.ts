/**
 * The files a client may make the server read: run configs (`*.inheritune.yaml` / `.yml` regular
 * files), the reference folder and data files a config names, and analyze's model folder and data
 * file, all inside the roots the server was given at start (`serve --root DIR`, repeatable; the
 * current folder without one) or its run store (`--runs-dir`). Anything else is refused before it is
 * opened, so a client cannot have the server quote /etc/shadow or /proc/self/environ back in an
 * error, and cannot stall it on a FIFO.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from '../engine/errors.js';
import { CONFIG_FILE_SUFFIXES } from '../protocol/config.js';
import { MAX_CONFIG_BYTES } from '../protocol/messages.js';
import { RequestError } from './peer.js';

/** Whether `p` is `root` or inside it (both absolute, normalized). */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

// O_NONBLOCK: opening a FIFO must not wait for a writer (a blocked open holds one of libuv's four
// threads for good); O_NOFOLLOW: the path checked is the path opened. Neither exists on Windows.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);

export class ServerRoots {
  private constructor(
    /** Real paths (symlinks resolved) of the roots and the run store. */
    readonly dirs: string[],
    /** The same as given (absolute), and the real ones: a missing path is judged by these. */
    private readonly given: string[],
  ) {}

  /** `roots` (relative to `cwd`; none: `cwd` itself) and `runsDir`; each must be an existing folder. */
  static resolve(roots: readonly string[], cwd: string, runsDir: string): ServerRoots {
    const dirs: string[] = [];
    const given: string[] = [path.resolve(runsDir)];
    for (const r of roots.length > 0 ? roots : [cwd]) {
      const abs = path.resolve(cwd, r);
      given.push(abs);
      let real: string;
      try {
        real = fs.realpathSync(abs);
      } catch {
        throw new InherituneError('--root', `${abs} does not exist`);
      }
      if (!fs.statSync(real).isDirectory()) throw new InherituneError('--root', `${abs} is not a folder`);
      dirs.push(real);
    }
    dirs.push(fs.realpathSync(runsDir));
    return new ServerRoots([...new Set(dirs)], [...new Set([...given, ...dirs])]);
  }

  private outside(field: string, p: string): RequestError {
    return new RequestError('forbidden', `${field}: ${p} is outside the folders this server reads (${this.dirs.join(', ')}); start it with --root for another`);
  }

  /**
   * The real path of `p` (resolved against `cwd`) when it is inside a root after resolving symlinks,
   * undefined when it is missing there; otherwise `forbidden`, whether `p` exists or not (an outside
   * path is never probed for clients).
   */
  private async inside(p: string, cwd: string, field: string): Promise<string | undefined> {
    const abs = path.resolve(cwd, p);
    let real: string;
    try {
      real = await fs.promises.realpath(abs);
    } catch (e) {
      if (!this.given.some((d) => isInside(d, abs))) throw this.outside(field, abs);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new RequestError('notFound', `${field}: ${abs} cannot be read (${code ?? 'error'})`);
    }
    if (!this.dirs.some((d) => isInside(d, real))) throw this.outside(field, real === abs ? abs : `${abs} (a link to ${real})`);
    return real;
  }

  private async existing(p: string, cwd: string, field: string): Promise<string> {
    const real = await this.inside(p, cwd, field);
    if (real === undefined) throw new RequestError('notFound', `${field}: ${path.resolve(cwd, p)} not found`);
    return real;
  }

  /** A run config's text: only a `*.inheritune.yaml` / `.yml` regular file inside a root, at most MAX_CONFIG_BYTES. */
  async readConfig(p: string, cwd: string, field: string): Promise<{ file: string; text: string }> {
    const file = path.resolve(cwd, p);
    if (!CONFIG_FILE_SUFFIXES.some((s) => path.basename(file).endsWith(s))) {
      throw new RequestError('forbidden', `${field}: ${file} is not a run config: the server reads only ${CONFIG_FILE_SUFFIXES.map((s) => `*${s}`).join(' and ')} files`);
    }
    const real = await this.inside(file, cwd, field);
    if (real === undefined) throw new RequestError('notFound', `${field}: ${file}: run config not found`);
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(real, OPEN_FLAGS);
    } catch (e) {
      throw new RequestError('notFound', `${field}: ${file} cannot be opened (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new RequestError('forbidden', `${field}: ${file} is not a regular file`);
      if (st.size > MAX_CONFIG_BYTES) throw new RequestError('invalidConfig', `${field}: ${file} is ${st.size} bytes; a run config is at most ${MAX_CONFIG_BYTES}`);
      return { file, text: await handle.readFile('utf8') };
    } finally {
      await handle.close();
    }
  }

  /** A model folder for analyze: a folder inside a root holding config.json. */
  async modelDir(p: string, cwd: string, field: string): Promise<string> {
    const real = await this.existing(p, cwd, field);
    const st = await fs.promises.lstat(path.join(real, 'config.json')).catch(() => undefined);
    if (!st) throw new RequestError('notFound', `${field}: ${path.resolve(cwd, p)} is not a model directory (no config.json)`);
    await this.modelFiles(real, field);
    return real;
  }

  /**
   * The files of a model folder (the engine reads config.json, the weights, tokenizer.json there)
   * are read too: each must lead inside a root (links included) and be a regular file or a folder.
   * A folder without config.json is no model: the checks say so.
   */
  private async modelFiles(real: string, field: string): Promise<void> {
    const names = await fs.promises.readdir(real).catch(() => [] as string[]);
    if (!names.includes('config.json')) return;
    for (const name of names) {
      const file = path.join(real, name);
      const target = await this.inside(file, real, `${field} (${name})`);
      const st = target === undefined ? undefined : await fs.promises.stat(target).catch(() => undefined);
      if (st && !st.isFile() && !st.isDirectory()) throw new RequestError('forbidden', `${field}: ${file} is not a regular file`);
    }
  }

  /** A data file for analyze: a regular file inside a root (a FIFO or device would stall the reader). */
  async dataFile(p: string, cwd: string, field: string): Promise<string> {
    const real = await this.existing(p, cwd, field);
    await this.regularIfThere(real, p, cwd, field);
    return real;
  }

  /**
   * A path a run config names (its reference folder, its data): inside a root, and a data file that
   * exists must be a regular file; a missing one is left to the config checks, which say where.
   */
  async configInput(p: string, cwd: string, field: string, kind: 'folder' | 'file'): Promise<void> {
    const real = await this.inside(p, cwd, field);
    if (real !== undefined && kind === 'file') await this.regularIfThere(real, p, cwd, field);
    if (real !== undefined && kind === 'folder') await this.modelFiles(real, field);
  }

  private async regularIfThere(real: string, p: string, cwd: string, field: string): Promise<void> {
    const st = await fs.promises.stat(real).catch(() => undefined);
    if (st && !st.isFile()) throw new RequestError('forbidden', `${field}: ${path.resolve(cwd, p)} is not a regular file`);
  }
}
