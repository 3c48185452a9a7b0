/**
 * Runs the real `inheritune` command (bin/inheritune.js -> dist/cli.js, built by scripts/test.mjs
 * before the tests) in a child process.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..');
export const BIN = path.join(REPO, 'bin', 'inheritune.js');

export interface CliResult {
  /** Exit code, or null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run through `bash -c 'ulimit -f <KiB>; exec node ...'`, so writes past that size fail (EFBIG). */
  fileSizeLimitKiB?: number;
  timeoutMs?: number;
}

/** `inheritune <args...>`; resolves when the process ends. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  if (!fs.existsSync(path.join(REPO, 'dist', 'cli.js'))) {
    throw new Error('dist/cli.js is missing: run `npm run build` (npm test does it) before the CLI tests');
  }
  const [cmd, argv] =
    opts.fileSizeLimitKiB === undefined
      ? [process.execPath, [BIN, ...args]]
      : ['bash', ['-c', `ulimit -f ${opts.fileSizeLimitKiB}; exec "$0" "$@"`, process.execPath, BIN, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

export interface CliEventsResult<E> {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** Every stdout line, parsed as JSON. */
  events: E[];
}

/**
 * `inheritune <args...>` for commands that print one JSON object per line (--json); `kill` is asked
 * after each line and sends `signal` (SIGKILL unless told) to the process, once, when it says so.
 */
export function runCliEvents<E>(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; kill?: (event: E) => boolean; signal?: NodeJS.Signals } = {},
): Promise<CliEventsResult<E>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? REPO, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const events: E[] = [];
    let stderr = '';
    let buffered = '';
    let sent = false;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const event = JSON.parse(buffered.slice(0, nl)) as E;
        buffered = buffered.slice(nl + 1);
        events.push(event);
        if (!sent && opts.kill?.(event)) {
          sent = true;
          child.kill(opts.signal ?? 'SIGKILL');
        }
      }
    });
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stderr, events }));
  });
}
