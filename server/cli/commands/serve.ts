/**
 * `inheritune serve`: the training server (server/training) on a local WebSocket. It prints one JSON
 * line on stdout when it listens, {"type":"ready", host, port, pid, ...}, and logs to stderr.
 * SIGTERM or Ctrl-C stops it gracefully: the training run checkpoints and is left resumable.
 *
 * Also registers the hidden command its training processes run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { webgpuAdapterDescription, type BackendName } from '../../engine/backend.js';
import { PROTOCOL_VERSION, type ReadyLine } from '../../protocol/messages.js';
import { DEFAULT_MAX_CLIENT_BUFFER, TrainingServer } from '../../training/server.js';
import { ServerRoots } from '../../training/serverFiles.js';
import { resolveToken } from '../../training/token.js';
import { workerMain } from '../../training/worker.js';
import { WORKER_COMMAND } from '../../training/workerProtocol.js';
import { backendOption, float, int } from '../options.js';
import { useBackend } from './common.js';

interface ServeOptions {
  host: string;
  port: number;
  tokenFile?: string;
  runsDir: string;
  root: string[];
  allowOrigin: string[];
  backend: BackendName;
  maxClientBuffer: number;
  python?: string;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'inheritune-vscode' && pkg.version) return pkg.version;
    } catch {
      // Not here: look further up.
    }
    if (path.dirname(dir) === dir) return '0.0.0';
  }
}

function deviceName(backend: string): string {
  if (backend === 'webgpu') return `gpu: ${webgpuAdapterDescription() ?? 'webgpu'}`;
  if (backend === 'tensorflow') {
    try {
      require.resolve('@tensorflow/tfjs-node-gpu');
      return 'gpu (tfjs-node-gpu)';
    } catch {
      // The CPU binding.
    }
  }
  const cpus = os.cpus();
  return `cpu: ${cpus[0]?.model.trim() ?? 'unknown'} x ${cpus.length}`;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the training server: a local WebSocket API for the VS Code extension (token from INHERITUNE_TOKEN or --token-file)')
    .option('--host <host>', 'interface to listen on (anything but loopback exposes the server to the network)', '127.0.0.1')
    .option('--port <n>', 'port; 0 picks a free one (see the ready line)', int(0, 65535), 0)
    .option('--token-file <file>', 'read the token from this file; if missing, write a random one there (mode 0600)')
    .option('--runs-dir <dir>', 'run store whose runs listRuns shows (runs go to their config\'s runtime.out_dir)', path.join('.inheritune', 'runs'))
    .option('--root <dir>', 'a folder whose run configs (*.inheritune.yaml) and, for analyze, models and data clients may have the server read (repeatable; default: the current folder)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--allow-origin <origin>', 'accept WebSocket upgrades carrying this Origin header (repeatable; default none: browsers are refused)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--max-client-buffer <MiB>', 'unread data a client may hold before it is closed (code 4008; it can reconnect with fromSeq)', float(0.001), DEFAULT_MAX_CLIENT_BUFFER / 2 ** 20)
    .option('--python <interpreter>', 'Python of runtime.engine torch for configs that set no runtime.python (default python3)')
    .addOption(backendOption())
    .action(async (o: ServeOptions) => {
      const runsDir = path.resolve(o.runsDir);
      fs.mkdirSync(runsDir, { recursive: true });
      const roots = ServerRoots.resolve(o.root, process.cwd(), runsDir);
      const token = resolveToken(o.tokenFile, path.join(runsDir, '.server-token'));
      for (const w of token.warnings) process.stderr.write(`warning: ${w}\n`);
      if (token.source === 'generated') process.stderr.write(`token: generated; written to ${token.file} (mode 0600)\n`);
      if (!LOOPBACK.has(o.host) && !o.host.startsWith('127.')) {
        process.stderr.write(
          `warning: listening on ${o.host}, not loopback: anyone who can reach this port and has the token can train and read files here; prefer an SSH tunnel to 127.0.0.1\n`,
        );
      }
      const backend = await useBackend(o.backend, false);
      const server = new TrainingServer({
        host: o.host,
        port: o.port,
        token: token.token,
        runsDir,
        cwd: process.cwd(),
        roots,
        backend: o.backend,
        ...(o.python ? { python: o.python } : {}),
        backendName: backend,
        device: deviceName(backend),
        serverVersion: packageVersion(),
        worker: { modulePath: process.argv[1], args: [WORKER_COMMAND], execArgv: process.execArgv },
        allowedOrigins: o.allowOrigin,
        maxClientBuffer: Math.round(o.maxClientBuffer * 2 ** 20),
      });
      let signals = 0;
      const stop = (sig: string) => {
        if (++signals > 1) {
          process.stderr.write(`${sig} again: exiting now (the training process checkpoints on its own)\n`);
          process.exit(1);
        }
        server.stop().then(
          () => process.exit(0),
          (e: unknown) => {
            process.stderr.write(`error while stopping: ${String(e)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', () => stop('SIGHUP'));
      // stdout and stderr may be pipes to a parent that went away: logging must not take the server down.
      for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
      // A bug in one request must not take the server (and the watchers of a run) down.
      process.on('uncaughtException', (e) => process.stderr.write(`serve: uncaught: ${e.stack ?? e.message}\n`));
      process.on('unhandledRejection', (e) => process.stderr.write(`serve: unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`));
      const addr = await server.start();
      const ready: ReadyLine = {
        type: 'ready',
        host: addr.host,
        port: addr.port,
        pid: process.pid,
        protocolVersion: PROTOCOL_VERSION,
        serverVersion: packageVersion(),
        backend,
        runsDir,
        roots: roots.dirs,
        tokenSource: token.source,
        ...(token.file !== undefined ? { tokenFile: token.file } : {}),
      };
      process.stdout.write(`${JSON.stringify(ready)}\n`);
    });

  program.command(WORKER_COMMAND, { hidden: true }).description('a training process of `inheritune serve` (internal)').action(() => workerMain());
}
