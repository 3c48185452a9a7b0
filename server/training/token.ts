/**
 * The server's token: from INHERITUNE_TOKEN, or a file, never from the command line (argv is
 * visible to every user of the machine). Without either, a random per-launch token is generated and
 * written to a file only its owner can read.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from '../engine/errors.js';

export interface TokenSource {
  token: string;
  source: 'env' | 'file' | 'generated';
  /** The file read or written (not for env). */
  file?: string;
  warnings: string[];
}

export const TOKEN_ENV = 'INHERITUNE_TOKEN';
/** Shortest token accepted from any source: a short one can be guessed over the socket. */
export const MIN_TOKEN_LENGTH = 16;

/** The token rule, the same for every source; `source` (and `where`, e.g. the file) name it in the error. */
function checkToken(token: string, source: string, where = ''): string {
  if (token.length < MIN_TOKEN_LENGTH) throw new InherituneError(source, `${where}the token must be at least ${MIN_TOKEN_LENGTH} characters, got ${token.length}`);
  return token;
}

function writeSecret(file: string, token: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    fs.fchmodSync(fd, 0o600);
    fs.writeSync(fd, `${token}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * `INHERITUNE_TOKEN` when set (an empty value counts as unset); else `tokenFile` when it exists (its first line); else a random token,
 * written to `tokenFile` (or `defaultFile`) with mode 0600.
 */
export function resolveToken(tokenFile: string | undefined, defaultFile: string, env: NodeJS.ProcessEnv = process.env): TokenSource {
  const warnings: string[] = [];
  const fromEnv = env[TOKEN_ENV]?.trim();
  if (fromEnv) {
    if (tokenFile !== undefined) warnings.push(`${TOKEN_ENV} is set: --token-file ${tokenFile} is ignored`);
    return { token: checkToken(fromEnv, TOKEN_ENV), source: 'env', warnings };
  }
  if (tokenFile !== undefined && fs.existsSync(tokenFile)) {
    const st = fs.statSync(tokenFile);
    if (!st.isFile()) throw new InherituneError('--token-file', `${tokenFile} is not a file`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) warnings.push(`${tokenFile} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    const token = checkToken(fs.readFileSync(tokenFile, 'utf8').split(/\r?\n/)[0].trim(), '--token-file', `${tokenFile}, first line: `);
    return { token, source: 'file', file: path.resolve(tokenFile), warnings };
  }
  const token = randomBytes(32).toString('base64url');
  const file = path.resolve(tokenFile ?? defaultFile);
  writeSecret(file, token);
  return { token, source: 'generated', file, warnings };
}
