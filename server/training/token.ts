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
 * `INHERITUNE_TOKEN` when set; else `tokenFile` when it exists (its first line); else a random token,
 * written to `tokenFile` (or `defaultFile`) with mode 0600.
 */
export function resolveToken(tokenFile: string | undefined, defaultFile: string, env: NodeJS.ProcessEnv = process.env): TokenSource {
  const warnings: string[] = [];
  const fromEnv = env[TOKEN_ENV]?.trim();
  if (fromEnv) {
    if (tokenFile !== undefined) warnings.push(`${TOKEN_ENV} is set: --token-file ${tokenFile} is ignored`);
    return { token: fromEnv, source: 'env', warnings };
  }
  if (tokenFile !== undefined && fs.existsSync(tokenFile)) {
    const st = fs.statSync(tokenFile);
    if (!st.isFile()) throw new InherituneError('--token-file', `${tokenFile} is not a file`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) warnings.push(`${tokenFile} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    const token = fs.readFileSync(tokenFile, 'utf8').split(/\r?\n/)[0].trim();
    if (token.length < 16) throw new InherituneError('--token-file', `${tokenFile}: the token must be at least 16 characters on the first line`);
    return { token, source: 'file', file: path.resolve(tokenFile), warnings };
  }
  const token = randomBytes(32).toString('base64url');
  const file = path.resolve(tokenFile ?? defaultFile);
  writeSecret(file, token);
  return { token, source: 'generated', file, warnings };
}
