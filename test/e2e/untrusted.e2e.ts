/**
 * Workspace trust in a real VS Code (code-server + chromium): the examples folder opened in Restricted
 * Mode. Training runs code named by the config (model files, tokenizers), so there "Inheritune: Start
 * Run" says why it is disabled and starts nothing (no training server process), and the sidebar shows
 * the same notice with Start Run disabled, while the config's IntelliSense keeps working.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { buildVsix, ensureTools, launchVsCode, log, makeDemoWorkspace, openFile, runCommand, trainingServers, waitFor, webviewFrame, type VsCode } from './harness.js';

let base: string;
let vs: VsCode;
let page: Page;
const t0 = Date.now();

describe('Inheritune in an untrusted workspace (code-server)', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-e2e-untrusted-'));
    const ws = makeDemoWorkspace(base);
    vs = await launchVsCode(ensureTools(), buildVsix(), ws.dir, base, { name: 'untrusted', untrusted: true });
    page = vs.page;
    await page.locator('.activitybar [aria-label^="Inheritune"]').first().waitFor({ timeout: 90_000 });
    log(`VS Code (Restricted Mode) ready ${((Date.now() - t0) / 1000).toFixed(0)} s after start`);
  });

  after(async () => {
    if (vs) {
      await vs.shot('final').catch(() => undefined);
      await vs.close();
    }
    if (base && !process.env.INHERITUNE_E2E_KEEP) fs.rmSync(base, { recursive: true, force: true });
    log(`untrusted e2e total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  test('Start Run says training is disabled and starts no server; the sidebar disables Start; diagnostics still work', async () => {
    await openFile(page, 'demo.inheritune.yaml');
    // The language server answers in Restricted Mode (its inlay hint after target.layers).
    await waitFor('the derived model inlay hint', async () => {
      const line = page.locator('.monaco-editor .view-lines .view-line').filter({ hasText: /layers:[ \u00a0]4/ }).first();
      return /params/.test((await line.innerText().catch(() => '')).replace(/\u00a0/g, ' ')) ? true : undefined;
    }, 30_000);

    await runCommand(page, 'Inheritune: Start Run');
    const note = page.locator('.notifications-toasts .notification-toast').filter({ hasText: /training is disabled in an untrusted workspace/ });
    await note.first().waitFor({ timeout: 20_000 });
    assert.match(await note.first().innerText(), /Manage Workspace Trust/);
    await vs.shot('start-run-refused');
    // Nothing was started, and nothing starts a moment later.
    await page.waitForTimeout(2000);
    assert.deepEqual(trainingServers(base), [], 'no training server process');

    await page.locator('.activitybar [aria-label^="Inheritune"]').first().click();
    const side = await webviewFrame(page, '#strip');
    await waitFor('the untrusted notice in the sidebar', async () => ((await side.locator('#untrusted').isVisible()) ? true : undefined), 20_000);
    assert.equal(await side.locator('#start').getAttribute('disabled') !== null || (await side.locator('#start').evaluate((b) => (b as HTMLElement & { disabled?: boolean }).disabled === true)), true, 'Start Run is disabled');
    await vs.shot('sidebar');
  });
});
