/**
 * The extension on a training server it did not start (what a remote GPU machine looks like through
 * `ssh -L`): `inheritune serve` runs on its own with a token file, and the settings
 * inheritune.server.port and inheritune.server.token name it. "Inheritune: Start Run" on the demo
 * config trains on that server (its log says so, and the extension starts no server of its own), the
 * dashboard streams from it, and "Inheritune: Stop Run" stops the run there.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { attr, buildVsix, ensureTools, launchVsCode, log, makeDemoWorkspace, openFile, pickQuick, ROOT, runCommand, trainingServers, waitFor, webviewFrame, type VsCode, type Workspace } from './harness.js';

let base: string;
let ws: Workspace;
let vs: VsCode;
let page: Page;
let server: ChildProcess;
let serverLog = '';
const t0 = Date.now();

/** `inheritune serve` on a free loopback port with a generated token file; resolves with its port and token. */
async function startServer(): Promise<{ port: number; token: string }> {
  const tokenFile = path.join(base, 'server-token');
  server = spawn(process.execPath, [path.join(ROOT, 'bin', 'inheritune.js'), 'serve', '--port', '0', '--runs-dir', ws.runsDir, '--token-file', tokenFile], {
    cwd: base,
    env: { ...process.env, INHERITUNE_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stderr!.setEncoding('utf8').on('data', (d: string) => (serverLog += d));
  const ready = await new Promise<{ port: number }>((resolve, reject) => {
    let out = '';
    server.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as { port: number });
    });
    server.once('exit', (code) => reject(new Error(`inheritune serve exited (${code}):\n${serverLog}`)));
  });
  return { port: ready.port, token: fs.readFileSync(tokenFile, 'utf8').split('\n')[0].trim() };
}

describe('Inheritune on a training server it did not start (code-server)', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-e2e-remote-'));
    ws = makeDemoWorkspace(base);
    const { port, token } = await startServer();
    log(`inheritune serve listening on port ${port}`);
    vs = await launchVsCode(ensureTools(), buildVsix(), ws.dir, base, { name: 'remote', settings: { 'inheritune.server.port': port, 'inheritune.server.token': token } });
    page = vs.page;
    await page.locator('.activitybar [aria-label^="Inheritune"]').first().waitFor({ timeout: 90_000 });
  });

  after(async () => {
    // The server first: closing VS Code waits for every process of this session to end.
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    if (vs) {
      await vs.shot('final').catch(() => undefined);
      await vs.close();
    }
    if (base && !process.env.INHERITUNE_E2E_KEEP) fs.rmSync(base, { recursive: true, force: true });
    log(`remote e2e total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  test('Start Run trains on the configured server, the dashboard streams from it, Stop Run stops it there', async () => {
    await openFile(page, 'demo.inheritune.yaml');
    await runCommand(page, 'Inheritune: Start Run');
    const dash: Frame = await webviewFrame(page, '#run-name', 60_000, /^demo$/);
    await waitFor('loss points from the server', async () => ((Number(await attr(dash, '#loss-chart', 'data-points')) || 0) > 3 ? true : undefined), 120_000);
    const started = /run (\S+): training process \d+ started/.exec(serverLog);
    assert.ok(started, `the configured server started the run; its log:\n${serverLog}`);
    const runId = started[1];
    assert.ok(fs.existsSync(path.join(ws.runsDir, runId, 'events.jsonl')));
    assert.match(await dash.locator('#source').innerText(), /live from the training server/);
    assert.deepEqual(trainingServers(base, server.pid), [], 'the extension started no server of its own');
    await vs.shot('remote-run');

    await runCommand(page, 'Inheritune: Stop Run');
    await pickQuick(page, 'Pause (checkpoint, resume later)');
    await waitFor('the run to stop', async () => ((await attr(dash, 'body', 'data-state')) === 'stopped' ? true : undefined), 90_000);
    assert.match(serverLog, new RegExp(`run ${runId}`));
    const last = fs.readFileSync(path.join(ws.runsDir, runId, 'events.jsonl'), 'utf8').trim().split('\n').pop()!;
    assert.deepEqual(JSON.parse(last) as unknown, { ...(JSON.parse(last) as object), type: 'runFailed', interrupted: true, byUser: true }, "a user's stop (resumable) on the server");
    await vs.shot('remote-stopped');
  });
});
