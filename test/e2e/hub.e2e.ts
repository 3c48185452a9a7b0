/**
 * Hub references, the torch engine's settings and the device line in a real VS Code (code-server +
 * chromium), end to end, against a mock Hub on 127.0.0.1 (HF_ENDPOINT) and a temporary Hugging
 * Face cache holding one model as Python leaves it. Screenshots: dist/e2e/hub-*.png.
 *   1. a config naming a model the cache lacks shows the lens "Download (size)"; clicking it downloads
 *      the model into the cache (a progress notification) and the lens and the warning go away;
 *   2. completion of reference.hub lists the cached models with their shape, size and completeness;
 *   3. the sidebar shows the Hub model and its commit, the engine line from the probe of the
 *      inheritune.pythonPath interpreter, and a backend choice with the torch engine on the CPU;
 *      its Choose... lists the cached models beside the folder picker;
 *   4. the dashboard of the workspace's finished run shows the engine and device it trained on.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import type { RunEvent } from '../../server/protocol/events.js';
import { formatBytes } from '../../server/protocol/format.js';
import { filesOfDir, MockHub, saveHubEnv } from '../helpers/mockHub.js';
import { TEST_PYTHON, torchMissing } from '../helpers/torch.js';
import { attr, buildVsix, ensureTools, launchVsCode, log, makeDemoWorkspace, openFile, pickQuick, runCommand, suggest, waitFor, webviewFrame, type VsCode, type Workspace } from './harness.js';

const COMMIT = '5ca1ab1e'.padEnd(40, '0');
const restoreHubEnv = saveHubEnv();

let base: string;
let ws: Workspace;
let vs: VsCode;
let page: Page;
let hub: MockHub;
let hubCache: string;
let remoteCommit = '';
let remoteBytes = 0;
let torch: string | undefined;

function viewLine(re: RegExp): Locator {
  const nbsp = new RegExp(re.source.replace(/ /g, '[ \\u00a0]'), re.flags);
  return page.locator('.monaco-editor .view-lines .view-line').filter({ hasText: nbsp });
}

/** The shipped reference in the HF cache as huggingface_hub leaves it: blobs, snapshot links, refs/main. */
function cacheAsPython(repo: string, src: string): void {
  const folder = path.join(hubCache, `models--${repo.replace('/', '--')}`);
  const snap = path.join(folder, 'snapshots', COMMIT);
  fs.mkdirSync(snap, { recursive: true });
  fs.mkdirSync(path.join(folder, 'blobs'), { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) {
    const blob = path.join(folder, 'blobs', `blob-${f}`);
    fs.copyFileSync(path.join(src, f), blob);
    fs.symlinkSync(path.relative(snap, blob), path.join(snap, f));
  }
  fs.mkdirSync(path.join(folder, 'refs'));
  fs.writeFileSync(path.join(folder, 'refs', 'main'), COMMIT);
}

describe('Hub references and engines in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-e2e-hub-'));
    torch = (await torchMissing()) === undefined ? TEST_PYTHON : undefined;
    const tools = ensureTools();
    const vsix = buildVsix();
    ws = makeDemoWorkspace(base);
    const reference = path.join(ws.dir, 'models', 'reference');
    hubCache = path.join(base, 'hf', 'hub');
    cacheAsPython('acme/cached-demo', reference);
    hub = new MockHub();
    await hub.start();
    const repo = hub.addRepo('acme/remote-demo', new Map([...filesOfDir(reference)].filter(([f]) => f === 'config.json' || f === 'model.safetensors')));
    remoteCommit = repo.commit;
    remoteBytes = [...repo.files.values()].reduce((a, b) => a + b.length, 0);
    Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_HOME: path.join(base, 'hf'), HF_HUB_CACHE: hubCache });
    delete process.env.HF_HUB_OFFLINE;
    delete process.env.HF_TOKEN;
    const text = fs
      .readFileSync(ws.config, 'utf8')
      .replace(/^name: demo$/m, 'name: hub-demo')
      .replace(/\{ path: models\/reference \}.*$/m, '{ hub: acme/remote-demo }');
    fs.writeFileSync(path.join(ws.dir, 'hub.inheritune.yaml'), `${text.trimEnd()}\n`);
    vs = await launchVsCode(tools, vsix, ws.dir, base, { name: 'hub', settings: torch ? { 'inheritune.pythonPath': torch } : {} });
    page = vs.page;
    await page.locator('.activitybar [aria-label^="Inheritune"]').first().waitFor({ timeout: 90_000 });
  });

  after(async () => {
    if (vs) {
      await vs.shot('final').catch(() => undefined);
      await vs.close();
    }
    await hub?.close();
    restoreHubEnv();
    if (base && !process.env.INHERITUNE_E2E_KEEP) fs.rmSync(base, { recursive: true, force: true });
  });

  test('the Download lens of a model the cache lacks downloads it into the HF cache; the lens and the warning go away', async () => {
    await openFile(page, 'hub.inheritune.yaml');
    const title = `Download (${formatBytes(remoteBytes)})`;
    const lens = page.locator('.monaco-editor .codelens-decoration a', { hasText: title });
    await waitFor(`the lens "${title}"`, async () => ((await lens.count()) > 0 ? true : undefined), 60_000);
    await waitFor('the not-downloaded warning', async () => ((await page.locator('.monaco-editor .squiggly-warning').count()) > 0 ? true : undefined), 30_000);
    await vs.shot('download-lens');
    await lens.first().click();
    const snapshot = path.join(hubCache, 'models--acme--remote-demo', 'snapshots', remoteCommit);
    await waitFor('the snapshot in the HF cache', async () => (fs.existsSync(path.join(snapshot, 'model.safetensors')) && fs.existsSync(path.join(snapshot, 'config.json')) ? true : undefined), 60_000);
    assert.equal(fs.readFileSync(path.join(hubCache, 'models--acme--remote-demo', 'refs', 'main'), 'utf8'), remoteCommit);
    await waitFor('the notification that it is in the cache', async () => ((await page.locator('.notifications-toasts').innerText().catch(() => '')).includes('acme/remote-demo is in the Hugging Face cache') ? true : undefined), 30_000);
    await vs.shot('downloaded');
    await waitFor('the lens gone', async () => ((await lens.count()) === 0 ? true : undefined), 30_000);
    await waitFor('no warning left', async () => ((await page.locator('.monaco-editor .squiggly-warning').count()) === 0 ? true : undefined), 30_000);
  });

  test('completion of reference.hub lists the cached models with shape, size on disk and completeness', async () => {
    const line = viewLine(/^reference: \{ hub: acme\/remote-demo \}/).first();
    await line.waitFor();
    const text = fs.readFileSync(path.join(ws.dir, 'hub.inheritune.yaml'), 'utf8').split('\n');
    const row = text.findIndex((l) => l.startsWith('reference:')) + 1;
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+G');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`:${row}:${'reference: { hub: '.length + 1}`);
    await page.keyboard.press('Enter');
    await input.waitFor({ state: 'hidden' });
    for (let i = 0; i < 'acme/remote-demo'.length; i++) await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Backspace');
    const { labels, widget, rows } = await suggest(
      page,
      'both cached models suggested',
      (t) => t.some((x) => x.includes('acme/cached-demo')) && t.some((x) => x.includes('acme/remote-demo')),
      30_000,
      200,
    );
    log(`reference.hub suggestions: ${JSON.stringify(labels)}`);
    // The focused row shows its detail: the shape line, the size on disk, complete.
    assert.ok(labels.some((l) => /^acme\/\S+ GPT-2 · 8 layers · width 128 · [\d.]+M params · [\d.]+ MiB on disk · complete$/.test(l)), JSON.stringify(labels));
    await vs.shot('completion-hub');
    // Its documentation beside the list (Ctrl+Space again): commit, shape line, size, completeness.
    await page.keyboard.press('Control+Space');
    await waitFor('the documentation of the focused model', async () => ((await page.locator('.suggest-details').innerText().catch(() => '')).includes('in the Hugging Face cache, commit') ? true : undefined), 10_000, 200);
    await vs.shot('completion-hub-details');
    await rows.filter({ hasText: 'acme/remote-demo' }).first().click();
    await widget.waitFor({ state: 'hidden' });
    await viewLine(/^reference: \{ hub: acme\/remote-demo \}/).first().waitFor();
    await runCommand(page, 'File: Save');
  });

  test('the sidebar shows the Hub model and its commit, the engine line, the torch choice; Choose... lists the cached models', async () => {
    await page.locator('.activitybar [aria-label^="Inheritune"]').first().click();
    const side = await webviewFrame(page, '#strip');
    await waitFor('the Hub reference in the sidebar', async () => ((await side.locator('#ref-path').innerText()) === `acme/remote-demo@main (${remoteCommit.slice(0, 12)})` ? true : undefined), 30_000);
    assert.equal(await attr(side, '#ref-details', 'data-layers'), '8');
    const engine = await waitFor('the engine line', async () => {
      const t = await side.locator('#engine').innerText();
      return t.startsWith('tfjs ') ? t : undefined;
    }, 30_000);
    log(`engine line: ${engine}`);
    const options = await side.locator('#backend option').allInnerTexts();
    log(`backend choice: ${JSON.stringify(options)}`);
    if (torch) assert.ok(options.includes('torch · cpu'), 'the torch engine on the CPU its probe found');
    await vs.shot('sidebar-hub');
    if (torch) {
      // Choosing it writes runtime.engine torch and devices cpu; the line then shows the probe.
      const before = fs.readFileSync(path.join(ws.dir, 'hub.inheritune.yaml'), 'utf8');
      await side.locator('#backend').selectOption('torch:cpu');
      // Both keys added inside the runtime mapping; nothing else in the file changes.
      await waitFor('runtime.engine and runtime.devices written', async () => {
        const now = fs.readFileSync(path.join(ws.dir, 'hub.inheritune.yaml'), 'utf8');
        return now === before.replace(/^(runtime: \{.*?)( \})$/m, '$1, engine: torch, devices: cpu$2') ? true : undefined;
      }, 30_000);
      await waitFor('the torch engine line', async () => (/^torch · cpu: .*torch \d+\.\d+.*no CUDA device$/.test(await side.locator('#engine').innerText()) ? true : undefined), 60_000);
      await vs.shot('sidebar-torch');
    }
    await side.locator('#pick-ref').click();
    await waitFor('the cached models in Choose...', async () => {
      const t = (await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts()).join('\n');
      return t.includes('acme/cached-demo') && t.includes('acme/remote-demo') && t.includes('Browse for a model folder') ? true : undefined;
    }, 30_000);
    await vs.shot('choose-reference');
    const beforeChoice = fs.readFileSync(path.join(ws.dir, 'hub.inheritune.yaml'), 'utf8');
    await pickQuick(page, 'acme/cached-demo');
    // Only the reference's mapping changes.
    const chosen = beforeChoice.replace('reference: { hub: acme/remote-demo }', 'reference: { hub: acme/cached-demo }');
    assert.notEqual(chosen, beforeChoice);
    await waitFor('reference.hub written', async () => (fs.readFileSync(path.join(ws.dir, 'hub.inheritune.yaml'), 'utf8') === chosen ? true : undefined), 30_000);
    await waitFor('the cached model in the sidebar', async () => ((await side.locator('#ref-path').innerText()) === `acme/cached-demo@main (${COMMIT.slice(0, 12)})` ? true : undefined), 30_000);
  });

  test('the dashboard header names the engine and the device the finished run trained on', async () => {
    const events = fs
      .readFileSync(path.join(ws.finishedRunDir, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as RunEvent);
    const device = events.find((e): e is Extract<RunEvent, { type: 'device' }> => e.type === 'device');
    assert.ok(device, 'the run stored a device event');
    await runCommand(page, 'Inheritune: Open Dashboard');
    // With one run there is no pick: its dashboard opens at once.
    const runRow = page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: path.basename(ws.finishedRunDir) }).first();
    if (await runRow.waitFor({ timeout: 5_000 }).then(() => true, () => false)) await runRow.click();
    const dash = await webviewFrame(page, '#run-name', 60_000, /^finished-demo$/);
    const expected = `tfjs ${device.backend} · ${device.devices[0].name} (${formatBytes(device.devices[0].memoryBytes ?? 0)})`;
    await waitFor('the device line', async () => ((await dash.locator('#backend').innerText()) === expected ? true : undefined), 30_000);
    await vs.shot('dashboard-device');
  });
});
