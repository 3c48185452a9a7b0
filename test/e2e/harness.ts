/**
 * End-to-end harness: a real VS Code (code-server, under the Node 24 that scripts/e2e-setup.sh
 * installs) with the packaged extension (.vsix), driven through Debian's chromium by
 * playwright-core. Offline: nothing but 127.0.0.1 is contacted. See ../shared/docs/e2e-in-code-server.md.
 *
 * The workspace is a small copy of examples/: the demo config shrunk to a tiny model (a 4-layer,
 * width-32 reference pretrained here in seconds), the demo data, and one finished run in its run
 * store (trained by the CLI) for the replay and the sidebar's lazy-layer strip.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Frame, type Locator, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..');
export const ARTIFACTS = process.env.INHERITUNE_E2E_ARTIFACTS ?? path.join(ROOT, 'dist', 'e2e');
const CLI = path.join(ROOT, 'bin', 'inheritune.js');

export function log(msg: string): void {
  process.stdout.write(`# [e2e ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Installs (once) Node 24 + code-server + chromium; returns the cache folder. */
export function ensureTools(): { node24: string; codeServer: string } {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'e2e-setup.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const cache = out.trim().split('\n').pop()!;
  const node24 = fs.readdirSync(cache).find((n) => n.startsWith('node-'));
  const cs = fs.readdirSync(cache).find((n) => n.startsWith('code-server-'));
  if (!node24 || !cs) throw new Error(`e2e-setup did not install node or code-server into ${cache}`);
  return { node24: path.join(cache, node24, 'bin', 'node'), codeServer: path.join(cache, cs, 'node_modules', 'code-server', 'out', 'node', 'entry.js') };
}

/**
 * Builds the .vsix a user of this machine installs (the real package): on linux-x64 the platform
 * package with the prebuilt native addon (`npm run package:linux-x64`), elsewhere the universal one.
 */
export function buildVsix(): string {
  const t0 = Date.now();
  const platform = process.platform === 'linux' && process.arch === 'x64';
  execFileSync('npm', ['run', '--silent', platform ? 'package:linux-x64' : 'package'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const vsix = path.join(ROOT, 'dist', platform ? 'inheritune-linux-x64.vsix' : 'inheritune.vsix');
  log(`packaged ${path.relative(ROOT, vsix)} (${(fs.statSync(vsix).size / 1024).toFixed(0)} KiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return vsix;
}

function cli(args: string[], cwd: string): void {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`inheritune ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

export interface Workspace {
  dir: string;
  config: string;
  runsDir: string;
  /** The finished run the CLI trained (grown once, with a baseline). */
  finishedRunDir: string;
}

/**
 * The examples folder as shipped (the demo config, the 8-layer reference, the data), and in the
 * demo's run store (runtime.out_dir, inside the folder) a short finished run of the demo config by
 * the CLI: 2 steps a model, grown once (a negative tolerance makes the first round miss), a scratch
 * baseline, and the attention analysis of the shipped reference.
 */
export function makeDemoWorkspace(base: string): Workspace {
  const dir = path.join(base, 'examples');
  for (const p of ['demo.inheritune.yaml', 'data', 'models']) fs.cpSync(path.join(ROOT, 'examples', p), path.join(dir, p), { recursive: true });
  const config = path.join(dir, 'demo.inheritune.yaml');
  const text = fs.readFileSync(config, 'utf8');
  const runsDir = path.join(dir, '.inheritune', 'runs');
  assert.match(text, /out_dir: \.inheritune\/runs/, "the demo's run store is inside the examples folder (the folder the user opened)");
  const quick = text
    .replace(/^name: demo$/m, 'name: finished-demo')
    .replace(/path: models\/reference/, `path: ${path.join(dir, 'models', 'reference')}`)
    .replace(/train: data\/train\.jsonl/, `train: ${path.join(dir, 'data', 'train.jsonl')}`)
    .replace(/val: data\/val\.jsonl/, `val: ${path.join(dir, 'data', 'val.jsonl')}`)
    .replace(/tolerance: [0-9.]+/, 'tolerance: -5.0')
    .replace(/steps: 40/, 'steps: 2')
    .replace(/warmup: 4/, 'warmup: 1')
    .replace(/^baselines: .*$/m, 'baselines: [scratch]')
    .replace(/out_dir: \.inheritune\/runs/, `out_dir: ${runsDir}`);
  const quickFile = path.join(base, 'finished-demo.inheritune.yaml');
  fs.writeFileSync(quickFile, quick);
  const t0 = Date.now();
  cli(['run', quickFile], base);
  const finishedRunDir = fs.readdirSync(runsDir).map((n) => path.join(runsDir, n)).find((d) => fs.existsSync(path.join(d, 'summary.json')));
  if (!finishedRunDir) throw new Error(`the CLI run left no summary.json in ${runsDir}`);
  log(`short demo run ${path.basename(finishedRunDir)} (grown once, a baseline, the shipped reference analysed) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { dir, config, runsDir, finishedRunDir };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface VsCode {
  page: Page;
  context: BrowserContext;
  port: number;
  /** The folder VS Code installed the package into (its dist/ holds the bundles it runs). */
  extensionDir: string;
  shot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts code-server with the extension installed and opens the workspace in chromium. */
export async function launchVsCode(
  tools: { node24: string; codeServer: string },
  vsix: string,
  workspace: string,
  base: string,
  /** `name`: prefix of this session's screenshots and code-server log (two suites share dist/e2e/). */
  opts: {
    name?: string;
    /** Workspace trust on and this folder not trusted (Restricted Mode, no startup prompt). */
    untrusted?: boolean;
    /** More user settings (e.g. the extension's inheritune.server.*). */
    settings?: Record<string, unknown>;
  } = {},
): Promise<VsCode> {
  const prefix = opts.name ? `${opts.name}-` : '';
  const home = path.join(base, 'home');
  const userData = path.join(base, 'user-data');
  const extDir = path.join(base, 'extensions');
  for (const d of [home, path.join(userData, 'User'), extDir, ARTIFACTS]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    JSON.stringify(
      {
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        ...(opts.untrusted
          ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.untrustedFiles': 'open' }
          : { 'security.workspace.trust.enabled': false }),
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'extensions.ignoreRecommendations': true,
        'chat.disableAIFeatures': true,
        'window.commandCenter': false,
        'editor.minimap.enabled': false,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        ...opts.settings,
      },
      null,
      1,
    ),
  );
  const configFile = path.join(base, 'code-server.yaml');
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    PATH: `${path.dirname(tools.node24)}:${process.env.PATH ?? ''}`,
    EXTENSIONS_GALLERY: '{"serviceUrl":"","itemUrl":"","resourceUrlTemplate":""}',
    // The training server's token cache (text tokens) is shared with the host's: the data is tokenized once.
    INHERITUNE_CACHE_DIR: process.env.INHERITUNE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'inheritune', 'tokens'),
  };
  const common = ['--config', configFile, '--user-data-dir', userData, '--extensions-dir', extDir];
  const t0 = Date.now();
  execFileSync(tools.node24, [tools.codeServer, ...common, '--install-extension', vsix, '--force'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  log(`extension installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const port = await freePort();
  const serverLog = fs.openSync(path.join(ARTIFACTS, `${prefix}code-server.log`), 'w');
  // detached: a new session and process group (pgid = its pid), stopped as a whole below.
  const child: ChildProcess = spawn(
    tools.node24,
    [tools.codeServer, ...common, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', ...(opts.untrusted ? [] : ['--disable-workspace-trust']), '--ignore-last-opened', '--disable-getting-started-override', workspace],
    { env, stdio: ['ignore', serverLog, serverLog], detached: true },
  );
  const pgid = child.pid!;
  const killAll = () => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Gone.
    }
  };
  process.once('exit', killAll);
  // Wait for the HTTP port.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      killAll();
      throw new Error(`code-server did not listen on ${port} within 60 s (see ${path.join(ARTIFACTS, `${prefix}code-server.log`)})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const profile = path.join(base, 'chromium');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
  let shots = 0;
  const installed = fs.readdirSync(extDir).find((n) => n.startsWith('inheritune.'));
  if (installed === undefined) throw new Error(`code-server installed no inheritune.* extension into ${extDir}`);
  return {
    page,
    context,
    port,
    extensionDir: path.join(extDir, installed),
    async shot(name: string) {
      const file = path.join(ARTIFACTS, `${prefix}${String(++shots).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path: file });
      log(`screenshot ${path.relative(ROOT, file)}`);
      return file;
    },
    async close() {
      await context.close().catch(() => undefined);
      // The whole group: code-server, its extension host, the training server and its runs.
      try {
        process.kill(-pgid, 'SIGTERM');
      } catch {
        // Gone.
      }
      await new Promise((r) => setTimeout(r, 1500));
      killAll();
      fs.closeSync(serverLog);
      // The training server lives in its own process group; its guard stops it once the extension
      // host is gone. Wait for that, then clean up whatever is left of this session.
      const left = await waitFor('the training server to exit', async () => (ownProcesses(base).length === 0 ? true : undefined), 20_000).then(
        () => 0,
        () => ownProcesses(base).length,
      );
      if (left > 0) {
        log(`${left} process(es) of this session still running after 20 s: killing them`);
        for (const pid of ownProcesses(base)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Gone.
          }
        }
      } else log('code-server, the training server and its runs have exited');
    },
  };
}

/** Pids of processes whose command line names `base` (this session's temporary folder). */
export function ownProcesses(base: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(base)) out.push(Number(name));
    } catch {
      // Gone.
    }
  }
  return out;
}

/** Processes of this session (other than `except`) whose command line runs `inheritune serve`. */
export function trainingServers(base: string, except?: number): number[] {
  return ownProcesses(base).filter((pid) => {
    if (pid === except) return false;
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('serve');
    } catch {
      return false;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Workbench helpers

/** Moves the keyboard focus out of a webview (an iframe keeps it otherwise and closes quick picks). */
export async function unfocusWebviews(page: Page): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
}

/**
 * Opens the quick input with `key` and types `text` into it. A webview that finishes loading
 * takes the focus, which closes an open quick input; then it is opened again.
 */
async function typeInQuickInput(page: Page, key: string, text: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 1; ; attempt++) {
    await unfocusWebviews(page);
    await page.keyboard.press('Escape');
    await page.keyboard.press(key);
    try {
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await input.fill(text, { timeout: 5_000 });
      return;
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

export async function runCommand(page: Page, title: string): Promise<void> {
  await typeInQuickInput(page, 'F1', `>${title}`);
  // The row of the command itself, not a fuzzy neighbour; a click, not Enter (a webview that
  // takes the focus back would swallow the key).
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: title }).first();
  await row.waitFor();
  await row.click();
}

/** Picks the quick pick row containing `text`. */
export async function pickQuick(page: Page, text: string): Promise<void> {
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: text }).first();
  await row.waitFor();
  await row.click();
}

export async function openFile(page: Page, name: string): Promise<void> {
  await typeInQuickInput(page, 'Control+P', name);
  await page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: name }).first().waitFor();
  // Enter on the row, not a click: Quick Open re-renders its list as search results come in, and a
  // click waits for the row to hold still (once for over 30 s).
  for (let i = 0; i < 10; i++) {
    const focused = await page.locator('.quick-input-widget .monaco-list-row.focused').first().innerText().catch(() => '');
    if (focused.includes(name)) break;
    await page.keyboard.press('ArrowDown');
  }
  await page.keyboard.press('Enter');
  await page.locator(`.tab[aria-label*="${name}"]`).first().waitFor();
}

/**
 * Ctrl+Space in the editor: the suggest widget's rows (whitespace collapsed) once `accept` takes
 * them, with the widget and its rows.
 */
export async function suggest(
  page: Page,
  what: string,
  accept: (labels: string[]) => boolean,
  timeoutMs: number,
  everyMs: number,
): Promise<{ labels: string[]; widget: Locator; rows: Locator }> {
  await page.keyboard.press('Control+Space');
  const widget = page.locator('.editor-widget.suggest-widget');
  const rows = widget.locator('.monaco-list-row');
  const labels = await waitFor(what, async () => {
    if (!(await widget.isVisible())) return undefined;
    const t = (await rows.allInnerTexts()).map((x) => x.replace(/\s+/g, ' '));
    return accept(t) ? t : undefined;
  }, timeoutMs, everyMs);
  return { labels, widget, rows };
}

/** The webview frame (the inner `active-frame`) whose document has an element matching `selector` (and text). */
export async function webviewFrame(page: Page, selector: string, timeoutMs = 60_000, hasText?: string | RegExp): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const f of page.frames()) {
      if (f.name() !== 'active-frame' && !f.url().includes('fake.html')) continue;
      try {
        const loc = hasText === undefined ? f.locator(selector) : f.locator(selector, { hasText });
        if ((await loc.count()) > 0) return f;
      } catch {
        // Detached while looking.
      }
    }
    if (Date.now() > deadline) throw new Error(`no webview frame with ${selector} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Polls `fn` until it returns a truthy value. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 300): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function attr(frame: Frame, selector: string, name: string): Promise<string | null> {
  return frame.locator(selector).first().getAttribute(name);
}

export async function statusBarText(page: Page): Promise<string> {
  return (await page.locator('#workbench\\.parts\\.statusbar').innerText()).replace(/\s+/g, ' ');
}
