/**
 * The training server's lifecycle: start `inheritune serve` as a child process (token in its
 * environment, never on the command line), wait for its ready line under a cancellable progress
 * notification with a timeout, connect over WebSocket, restart on request, show its log, and stop
 * it (its whole process group: the training processes too) on deactivate. Or, when the settings
 * name a port, connect to an already running server (a remote GPU machine through a tunnel).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import { parseReadyLine } from '../server/protocol/messages.js';
import { ServerClient } from './serverClient.js';
import { settings } from './settings.js';

export type ServerState = 'stopped' | 'starting' | 'connected' | 'failed';

export class ServerManager implements vscode.Disposable {
  private child: ChildProcess | undefined;
  private clientValue: ServerClient | undefined;
  private starting: Promise<ServerClient> | undefined;
  private stateValue: ServerState = 'stopped';
  private readonly changed = new vscode.EventEmitter<ServerState>();
  /** Fires on every state change (connected: a new client to subscribe with). */
  readonly onDidChange = this.changed.event;
  /** Whether the server is one we started (and so may stop). */
  remote = false;

  constructor(
    private readonly extensionPath: string,
    readonly log: vscode.LogOutputChannel,
  ) {}

  get state(): ServerState {
    return this.stateValue;
  }

  get client(): ServerClient | undefined {
    return this.clientValue?.isOpen ? this.clientValue : undefined;
  }

  private setState(s: ServerState): void {
    this.stateValue = s;
    this.changed.fire(s);
  }

  /** The connected client, starting (or connecting to) the server first when needed. */
  ensure(): Promise<ServerClient> {
    const c = this.client;
    if (c) return Promise.resolve(c);
    this.starting ??= this.startWithProgress().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private startWithProgress(): Promise<ServerClient> {
    const s = settings();
    const remote = s.serverPort > 0;
    return Promise.resolve(
      vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: remote ? `Inheritune: connecting to the training server at ${s.serverHost}:${s.serverPort}` : 'Inheritune: starting the training server',
          cancellable: true,
        },
        (_progress, token) => this.start(token),
      ),
    );
  }

  private async start(cancel: vscode.CancellationToken): Promise<ServerClient> {
    const s = settings();
    this.setState('starting');
    try {
      let client: ServerClient;
      if (s.serverPort > 0) {
        this.remote = true;
        const url = `ws://${s.serverHost.includes(':') ? `[${s.serverHost}]` : s.serverHost}:${s.serverPort}`;
        this.log.info(`connecting to the training server at ${url}`);
        if (!s.serverToken) throw new Error('the setting inheritune.server.token is empty: a server started elsewhere needs its token (see its --token-file)');
        client = await raceCancel(ServerClient.connect(url, s.serverToken, s.startTimeoutMs), cancel);
      } else {
        this.remote = false;
        client = await this.spawnLocal(cancel);
      }
      this.clientValue = client;
      const w = client.welcome;
      this.log.info(`connected: server ${w.serverVersion}, protocol ${w.protocolVersion}, backend ${w.backend}, ${w.device}, run store ${w.runsDir} (each run goes to its config's runtime.out_dir)`);
      client.listen({
        close: (code, reason) => {
          if (this.clientValue !== client) return;
          this.clientValue = undefined;
          this.log.warn(`connection to the training server closed (${code}${reason ? `: ${reason}` : ''})`);
          this.setState(this.child ? 'failed' : 'stopped');
        },
      });
      this.setState('connected');
      return client;
    } catch (e) {
      this.setState('failed');
      this.killChild();
      const msg = (e as Error).message;
      this.log.error(`training server: ${msg}`);
      throw e;
    }
  }

  private spawnLocal(cancel: vscode.CancellationToken): Promise<ServerClient> {
    const s = settings();
    const cli = path.join(this.extensionPath, 'dist', 'cli.js');
    const host = path.join(this.extensionPath, 'dist', 'serverHost.js');
    for (const f of [cli, host]) if (!fs.existsSync(f)) throw new Error(`${f} is missing: the extension is not built (npm run build)`);
    const token = randomBytes(32).toString('base64url');
    const node = s.nodePath || process.execPath;
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? this.extensionPath;
    const runsDir = s.outDir(cwd);
    // The server reads configs, and the models and data they name, only inside its roots: the
    // workspace folders (the home folder when none is open: configs are then picked anywhere) and
    // the setting inheritune.server.roots.
    const folders = vscode.workspace.workspaceFolders?.map((f) => f.uri.fsPath) ?? [];
    const roots = [...(folders.length > 0 ? folders : [os.homedir()]), ...s.serverRoots].flatMap((r) => ['--root', r]);
    // serverHost.js runs cli.js's `serve` and stops it should this extension host die without deactivating.
    const args = [host, 'serve', '--host', '127.0.0.1', '--port', '0', '--runs-dir', runsDir, ...roots, '--backend', s.backend, ...(s.pythonPath ? ['--python', s.pythonPath] : [])];
    const env: NodeJS.ProcessEnv = { ...process.env, INHERITUNE_TOKEN: token };
    if (!s.nodePath) env.ELECTRON_RUN_AS_NODE = '1';
    this.log.info(`starting: ${node} ${args.join(' ')} (in ${cwd})`);
    // detached: its own process group, so stopping it also stops its training processes.
    const child = spawn(node, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const stderr = readline.createInterface({ input: child.stderr! });
    stderr.on('line', (line) => this.log.info(`[server] ${line}`));

    return new Promise<ServerClient>((resolve, reject) => {
      let settled = false;
      const done = (err: Error | undefined, client?: ServerClient) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sub.dispose();
        if (err) reject(err);
        else resolve(client!);
      };
      const timer = setTimeout(() => done(new Error(`the training server did not print its ready line within ${Math.round(s.startTimeoutMs / 1000)} s (see "Inheritune: Show Server Log")`)), s.startTimeoutMs);
      const sub = cancel.onCancellationRequested(() => done(new Error('starting the training server was cancelled')));
      const stdout = readline.createInterface({ input: child.stdout! });
      stdout.on('line', (line) => {
        const ready = parseReadyLine(line);
        if (!ready) {
          this.log.info(`[server] ${line}`);
          return;
        }
        this.log.info(`server ready: pid ${ready.pid}, ws://${ready.host}:${ready.port}, backend ${ready.backend}`);
        ServerClient.connect(`ws://${ready.host === '::1' ? '[::1]' : ready.host}:${ready.port}`, token).then(
          (c) => done(undefined, c),
          (e: Error) => done(e),
        );
      });
      child.once('error', (e) => done(new Error(`cannot start ${node}: ${e.message}`)));
      child.once('exit', (code, signal) => {
        this.log.info(`training server exited (${signal ?? `code ${code}`})`);
        if (this.child === child) {
          this.child = undefined;
          if (this.clientValue) {
            this.clientValue = undefined;
            this.setState('failed');
          }
        }
        done(new Error(`the training server exited before it was ready (${signal ?? `code ${code}`}); see "Inheritune: Show Server Log"`));
      });
    });
  }

  private killChild(signal: NodeJS.Signals = 'SIGTERM'): ChildProcess | undefined {
    const child = this.child;
    if (!child || child.exitCode !== null || child.pid === undefined) return undefined;
    try {
      process.kill(-child.pid, signal);
    } catch {
      try {
        child.kill(signal);
      } catch {
        // Gone.
      }
    }
    return child;
  }

  /** Stops our server (SIGTERM to its group: runs checkpoint; SIGKILL after `graceMs`). */
  async stop(graceMs = 8000): Promise<void> {
    this.clientValue?.close();
    this.clientValue = undefined;
    const child = this.killChild('SIGTERM');
    if (child) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs))]);
      if (timedOut) {
        this.log.warn('the training server did not stop in time: killing its process group');
        this.killChild('SIGKILL');
      }
      // Its training processes (same group) may outlive it by a moment while they checkpoint.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 0);
          await new Promise((r) => setTimeout(r, 500));
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is gone.
        }
      }
    }
    this.child = undefined;
    this.setState('stopped');
  }

  async restart(): Promise<ServerClient> {
    this.log.info('restarting the training server');
    await this.stop();
    return this.ensure();
  }

  dispose(): void {
    this.clientValue?.close();
    this.killChild('SIGTERM');
    const child = this.child;
    if (child?.pid !== undefined) {
      const pid = child.pid;
      setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }, 3000).unref();
    }
    this.changed.dispose();
  }
}

function raceCancel<T>(p: Promise<T>, cancel: vscode.CancellationToken): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const sub = cancel.onCancellationRequested(() => reject(new Error('cancelled')));
    p.then(
      (v) => {
        sub.dispose();
        resolve(v);
      },
      (e: unknown) => {
        sub.dispose();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
