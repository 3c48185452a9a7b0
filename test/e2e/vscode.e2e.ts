/**
 * The extension in a real VS Code (code-server + chromium), end to end. Run by `npm run test:e2e`
 * (and .ci/run); screenshots go to dist/e2e/. One VS Code session on the examples folder as shipped
 * (the demo config and its 8-layer reference; makeDemoWorkspace) runs the checks in order:
 *   1. the sidebar shows the reference and its lazy-layer strip; the slider edits target.layers in
 *      the YAML and keeps the comment on that line;
 *   2. with no server running, the dashboard of a finished run replays its curves from the run store;
 *   3. "Inheritune: Start Run" from the palette: the loss chart gets points and grows, the MaxRank
 *      charts and a heatmap are drawn, the status bar and the dashboard show each phase's own counts
 *      (every text they showed is recorded: never 0/0, never "reference reference"), "Inheritune:
 *      Stop Run" stops it;
 *   4. after "Inheritune: Restart Server", the reopened dashboards show the same curves;
 *   5. Analyze Reference Attention; New Run Config with Enter at every step (the paper's half of the
 *      layers, train.jsonl and a different val.jsonl); the dashboard in other themes;
 *   6. the Runs view's context menu: Resume Run continues the stopped run from its checkpoint, Delete
 *      Run removes it (after the confirmation) from the disk and the view.
 * Along the way: the charts at 1600x1000 and in a half-width panel (loss axis fitted to the derived
 * models, heatmap colour bar and scales), a user's stop reads "stopped" with a Resume button that
 * works, Analyze from the sidebar gives the run's MaxRank, and a run that ends out of sight says so
 * with actions (Open Dashboard, Open Model Folder, Resume).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Frame, Locator, Page } from 'playwright-core';
import { parseRunConfig } from '../../server/protocol/config.js';
import type { RunEvent } from '../../server/protocol/events.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';
import { attr, buildVsix, ensureTools, launchVsCode, log, makeDemoWorkspace, openFile, pickQuick, runCommand, statusBarText, waitFor, webviewFrame, type VsCode, type Workspace } from './harness.js';

let base: string;
let ws: Workspace;
let vs: VsCode;
let page: Page;
const t0 = Date.now();
const cspViolations: string[] = [];

function storedEvents(runDir: string): RunEvent[] {
  return fs
    .readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RunEvent);
}

async function closeAllEditors(): Promise<void> {
  await runCommand(page, 'View: Close All Editors');
  await page.waitForTimeout(500);
}

/** The dashboard of the run named `name`. */
async function dashboard(name: string): Promise<Frame> {
  return webviewFrame(page, '#run-name', 60_000, new RegExp(`^${name}$`));
}

/** In the page: records every text the element at `selector` shows from now on (window.__texts). */
function recordTexts(selector: string): void {
  const w = window as unknown as { __texts: string[] };
  const el = document.querySelector(selector);
  if (!el) throw new Error(`no ${selector}`);
  w.__texts = [(el as HTMLElement).innerText];
  new MutationObserver(() => {
    const t = (el as HTMLElement).innerText;
    if (t !== w.__texts[w.__texts.length - 1]) w.__texts.push(t);
  }).observe(el, { childList: true, subtree: true, characterData: true });
}

function recordedTexts(): string[] {
  return (window as unknown as { __texts: string[] }).__texts;
}

async function numAttr(frame: Frame, selector: string, name: string): Promise<number> {
  return Number((await attr(frame, selector, name)) ?? '0');
}

/** The notification toast whose text matches `text`. */
function toast(text: RegExp) {
  return page.locator('.notifications-toasts .notification-toast').filter({ hasText: text });
}

/**
 * The notification whose text matches `text`, in the notification center (which keeps it: a toast
 * hides itself after a while), once it is there.
 */
async function notification(text: RegExp, timeoutMs: number): Promise<Locator> {
  await runCommand(page, 'Notifications: Show Notifications');
  const item = page.locator('.notifications-center .notification-list-item').filter({ hasText: text }).first();
  await item.waitFor({ timeout: timeoutMs });
  return item;
}

/** How many notifications in the center match `text` (the center opened and closed again). */
async function notificationCount(text: RegExp): Promise<number> {
  await runCommand(page, 'Notifications: Show Notifications');
  await page.locator('.notifications-center').first().waitFor();
  const n = await page.locator('.notifications-center .notification-list-item').filter({ hasText: text }).count();
  await hideNotifications();
  return n;
}

/** Closes the notification center (Escape, or its status bar bell). */
async function hideNotifications(): Promise<void> {
  const center = page.locator('.notifications-center.visible');
  await page.keyboard.press('Escape');
  if (await center.isVisible().catch(() => false)) await page.locator('#status\\.notifications').click();
  await center.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** The texts of a notification's action buttons. */
async function actionsOf(item: Locator): Promise<string[]> {
  return (await item.locator('.monaco-button').allInnerTexts()).map((x) => x.trim()).filter((x) => x !== '');
}

/** The losses of the stored events of one kind of model (train and val). */
function losses(events: RunEvent[], kind: 'reference' | 'round' | 'baseline'): number[] {
  const out: number[] = [];
  for (const e of events) {
    if (e.type === 'metrics' && e.model.kind === kind) out.push(e.trainLoss);
    if (e.type === 'eval' && e.model.kind === kind) out.push(e.valLoss);
  }
  return out;
}

describe('Inheritune in VS Code (code-server)', { timeout: 20 * 60_000 }, () => {
  before(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-e2e-'));
    const tools = ensureTools();
    const vsix = buildVsix();
    ws = makeDemoWorkspace(base);
    // Written before VS Code opens the folder, so Quick Open finds them at once.
    // fresh: a copy of the reference that no run has analysed yet, in a config that is the demo's otherwise.
    fs.cpSync(path.join(ws.dir, 'models', 'reference'), path.join(ws.dir, 'models', 'fresh'), { recursive: true });
    const demo = fs.readFileSync(ws.config, 'utf8');
    fs.writeFileSync(path.join(ws.dir, 'fresh.inheritune.yaml'), demo.replace(/^name: demo$/m, 'name: fresh').replace('path: models/reference', 'path: models/fresh'));
    // quick: a run that finishes in seconds (2 steps, no growth, one baseline).
    fs.writeFileSync(
      path.join(ws.dir, 'quick.inheritune.yaml'),
      demo.replace(/^name: demo$/m, 'name: quick').replace(/enabled: true/, 'enabled: false').replace(/steps: 40/, 'steps: 2').replace(/warmup: 4/, 'warmup: 1').replace(/^baselines: .*$/m, 'baselines: [scratch]'),
    );
    vs = await launchVsCode(tools, vsix, ws.dir, base);
    page = vs.page;
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    // Ready: the activity bar shows the extension's container.
    await page.locator('.activitybar [aria-label^="Inheritune"]').first().waitFor({ timeout: 90_000 });
    log(`VS Code ready ${((Date.now() - t0) / 1000).toFixed(0)} s after start`);
  });

  after(async () => {
    if (vs) {
      await vs.shot('final').catch(() => undefined);
      await vs.close();
    }
    if (base && !process.env.INHERITUNE_E2E_KEEP) fs.rmSync(base, { recursive: true, force: true });
    log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  test('the installed package trains on WebGPU from its own files: Dawn bindings ship in the platform package', async (t) => {
    const why = await webgpuUnavailable();
    if (why !== undefined) return t.skip(why);
    // Outside the repository, so no node_modules of ours is on Node's search path.
    const r = spawnSync(
      process.execPath,
      [path.join(vs.extensionDir, 'dist', 'cli.js'), 'eval', path.join(ws.dir, 'models', 'reference'), '--data', path.join(ws.dir, 'data', 'val.jsonl'), '--tokenizer', 'bytes', '--block-size', '64', '--max-windows', '4', '--backend', 'webgpu'],
      { cwd: base, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /webgpu adapter: /);
    assert.match(r.stdout, /val loss \d+\.\d+ nats .* over 4 windows/);
  });

  test('sidebar: reference details, lazy-layer strip, slider edits target.layers keeping the comment', async () => {
    await openFile(page, 'demo.inheritune.yaml');
    await page.locator('.activitybar [aria-label^="Inheritune"]').first().click();
    const side = await webviewFrame(page, '#strip');
    await waitFor('reference details', async () => ((await attr(side, '#ref-details', 'data-layers')) === '8' ? true : undefined));
    const details = await side.locator('#ref-details').innerText();
    assert.equal(details, 'GPT-2 · 8 layers · width 128 · 4 heads · MLP 512 · vocabulary 257 · context 128 · 1.64M parameters');
    // The strip: one bar per reference layer, from the finished run's reference analysis.
    await waitFor('lazy-layer strip', async () => ((await attr(side, '#strip', 'data-layers')) === '8' ? true : undefined));
    assert.equal(await side.locator('#strip .bar').count(), 8);
    assert.match(await side.locator('#strip-note').innerText(), /MaxRank per layer/);
    // The whole form fits the view as first laid out (the Runs view below it takes the smaller part).
    const unseen = await side.evaluate(() => document.getElementById('steps')!.getBoundingClientRect().bottom - window.innerHeight);
    assert.ok(unseen <= 0, `the steps field is ${unseen.toFixed(0)} px below the view`);
    await vs.shot('sidebar');

    const before = fs.readFileSync(ws.config, 'utf8');
    assert.match(before, /layers: 4 +# n = k\/2/);
    const slider = side.locator('#layers');
    assert.equal(await slider.inputValue(), '4');
    await slider.focus();
    await page.keyboard.press('ArrowRight');
    await waitFor('target.layers: 5 in the file', async () => /^ {2}layers: 5 +# n = k\/2: the reference's first 4 blocks$/m.test(fs.readFileSync(ws.config, 'utf8')), 20_000);
    const afterText = fs.readFileSync(ws.config, 'utf8');
    // Only that value changed: every other byte (comments, flow maps) is as it was.
    assert.equal(afterText, before.replace(/^( {2}layers: )4( +# n = k\/2)/m, '$15$2'));
    assert.equal(await side.locator('#strip .bar.kept').count(), 5);
    await vs.shot('sidebar-slider-5');
    // Back to 4 for the run below.
    await slider.focus();
    await page.keyboard.press('ArrowLeft');
    await waitFor('target.layers: 4 again', async () => fs.readFileSync(ws.config, 'utf8') === before, 20_000);
  });

  let finishedPoints = 0;
  test('a finished run replays from the run store with no server', async () => {
    const events = storedEvents(ws.finishedRunDir);
    const metrics = events.filter((e) => e.type === 'metrics' && e.model.label !== 'reference').length;
    assert.ok(metrics > 0);
    // The runs view lists it; a click opens its dashboard.
    const item = page.locator('.pane-body .monaco-list-row').filter({ hasText: 'finished-demo' }).first();
    await item.waitFor({ timeout: 30_000 });
    await item.click();
    let dash = await dashboard('finished-demo');
    finishedPoints = await waitFor('replayed points', async () => {
      const n = await numAttr(dash, '#loss-chart', 'data-points');
      return n === metrics ? n : undefined;
    });
    assert.ok((await numAttr(dash, '#loss-chart', 'data-grow-markers')) >= 1, 'a grow marker');
    assert.equal(await attr(dash, 'body', 'data-state'), 'finished');
    assert.match(await dash.locator('#source').innerText(), /run store/);
    assert.ok((await dash.locator('#results tr').count()) >= 4, 'results: header, reference, rounds, baseline');
    assert.ok((await numAttr(dash, '#ref-layer-chart', 'data-layers')) === 8);
    await vs.shot('replay-finished-run');

    // The loss axis fits the derived models and the reference's val loss; the scratch baseline
    // (which starts near ln 257) is clipped above it. "fit baselines" takes it in.
    const rounds = losses(events, 'round');
    const ref = losses(events, 'reference');
    const baseline = losses(events, 'baseline');
    const lo = Math.min(...rounds, ...ref);
    const hi = Math.max(...rounds, ...ref);
    const yMin = await numAttr(dash, '#loss-chart', 'data-y-min');
    const yMax = await numAttr(dash, '#loss-chart', 'data-y-max');
    log(`loss axis ${yMin}..${yMax}; rounds and reference ${lo.toFixed(3)}..${hi.toFixed(3)}; baseline up to ${Math.max(...baseline).toFixed(3)}`);
    assert.ok(yMin <= lo && yMin > lo - 0.2 * (hi - lo) - 0.05, `y min ${yMin} just below ${lo}`);
    assert.ok(yMax >= hi && yMax < Math.max(...baseline), `y max ${yMax}: above the rounds (${hi}), below the baseline's top`);
    await dash.locator('#loss-baselines').check();
    await waitFor('the axis fitted to the baselines', async () => ((await numAttr(dash, '#loss-chart', 'data-y-max')) >= Math.max(...baseline) ? true : undefined), 10_000);
    await dash.locator('#loss-baselines').uncheck();
    await dash.locator('#loss-log').check();
    await waitFor('log loss axis', async () => ((await attr(dash, '#loss-chart', 'data-y-scale')) === 'log' ? true : undefined), 10_000);
    await dash.locator('#loss-log').uncheck();

    // The charts at 1600x1000: the dashboard alone, then in a half-width panel.
    // A layout change moves the panel: its webview loads again (restoring from its state).
    await runCommand(page, 'View: Single Column Editor Layout');
    await page.waitForTimeout(1000);
    dash = await dashboard('finished-demo');
    await waitFor('rank grid cells', async () => ((await numAttr(dash, '#ref-grid', 'data-cells')) === 32 ? true : undefined));
    const grid = dash.locator('#ref-grid');
    const box = await grid.boundingBox();
    assert.ok(box);
    // Layer 2, head 1: a cell away from the sink-dominated first layer.
    await grid.click({ position: { x: 30 + 26 * 1.5, y: 16 + 26 * 0.5 } });
    await waitFor('heatmap drawn', async () => ((await attr(dash, '#heatmap', 'data-drawn')) === '1' ? true : undefined), 20_000);
    assert.equal(await attr(dash, '#heatmap', 'data-scale'), 'log', 'log colour scale by default');
    assert.ok((await numAttr(dash, '#heatmap', 'data-ticks')) >= 3, 'a colour bar with ticks');
    await dash.locator('header').scrollIntoViewIfNeeded();
    await vs.shot('charts-1600-full');
    await dash.locator('#heatmap').scrollIntoViewIfNeeded();
    await vs.shot('heatmap-1600-full-log');
    for (const scale of ['row', 'linear'] as const) {
      await dash.locator('#heatmap-scale').selectOption(scale);
      await waitFor(`heatmap in ${scale} scale`, async () => ((await attr(dash, '#heatmap', 'data-scale')) === scale ? true : undefined), 10_000);
    }
    await vs.shot('heatmap-1600-full-linear');
    await dash.locator('#heatmap-scale').selectOption('log');
    await runCommand(page, 'View: Two Columns Editor Layout');
    await page.waitForTimeout(1000);
    dash = await dashboard('finished-demo');
    await waitFor('heatmap drawn again', async () => ((await attr(dash, '#heatmap', 'data-drawn')) === '1' ? true : undefined), 20_000);
    // Every label of the heatmap, and its colour bar, lie inside the half-width panel.
    const fits = await dash.evaluate(() => {
      const c = document.getElementById('heatmap')!.getBoundingClientRect();
      return { right: c.right, width: document.documentElement.clientWidth };
    });
    assert.ok(fits.right <= fits.width + 1, `heatmap right edge ${fits.right} within the ${fits.width} px panel`);
    await dash.locator('header').scrollIntoViewIfNeeded();
    await vs.shot('charts-1600-half');
    await dash.locator('#heatmap').scrollIntoViewIfNeeded();
    await vs.shot('heatmap-1600-half');
    await runCommand(page, 'View: Single Column Editor Layout');
    await closeAllEditors();
  });

  let stoppedRunId = '';
  let pointsAtStop = 0;
  test('Start Run from the palette: live curves, MaxRank chart, heatmap, status bar; Stop Run stops it', async () => {
    await openFile(page, 'demo.inheritune.yaml');
    await runCommand(page, 'Inheritune: Start Run');
    const tStart = Date.now();
    const dash = await dashboard('demo');
    log(`dashboard open ${((Date.now() - tStart) / 1000).toFixed(1)} s after Start Run`);
    // Every progress text the dashboard and the status bar show from now on, recorded as it changes.
    await dash.evaluate(recordTexts, '#progress-text');
    await page.evaluate(recordTexts, '#workbench\\.parts\\.statusbar');
    const side = await webviewFrame(page, '#strip');
    await side.evaluate(recordTexts, '#running');
    const first = await waitFor('loss points', async () => {
      const n = await numAttr(dash, '#loss-chart', 'data-points');
      return n > 0 ? n : undefined;
    }, 120_000);
    log(`first loss points (${first}) ${((Date.now() - tStart) / 1000).toFixed(1)} s after Start Run`);
    const grown = await waitFor('the loss curve to grow', async () => {
      const n = await numAttr(dash, '#loss-chart', 'data-points');
      return n > first + 5 ? n : undefined;
    }, 120_000);
    assert.ok(grown > first);
    await vs.shot('live-run-loss');
    // The reference's MaxRank/AvgMass chart (analysed before training) and the derived model's.
    await waitFor('reference MaxRank chart', async () => ((await numAttr(dash, '#ref-layer-chart', 'data-layers')) === 8 ? true : undefined));
    // The demo analyses a model when its round ends (analysis.every: 0): round 1 has 4 layers.
    await waitFor('derived MaxRank chart', async () => ((await numAttr(dash, '#derived-layer-chart', 'data-layers')) === 4 ? true : undefined), 120_000);
    // Click a cell of the reference's rank grid: its heatmap is drawn.
    const grid = dash.locator('#ref-grid');
    await waitFor('rank grid cells', async () => ((await numAttr(dash, '#ref-grid', 'data-cells')) === 32 ? true : undefined));
    const box = await grid.boundingBox();
    assert.ok(box);
    await grid.click({ position: { x: box.width * 0.9, y: box.height * 0.75 } });
    await waitFor('heatmap drawn', async () => ((await attr(dash, '#heatmap', 'data-drawn')) === '1' ? true : undefined), 20_000);
    assert.equal(await attr(dash, '#heatmap', 'data-size'), '64x64');
    assert.match(await dash.locator('#heatmap-title').innerText(), /layer 8, head \d/);
    await dash.locator('#heatmap').hover({ position: { x: 200, y: 100 } });
    assert.match(await dash.locator('#heatmap-tip').innerText(), /query t\d+ -> key t\d+: \d\.\d{4}/);
    // The status bar: phase, step/total and loss.
    const sb = await waitFor('status bar progress', async () => {
      const t = await statusBarText(page);
      return /Inheritune: train round-\d \d+\/40 · loss \d/.test(t) ? t : undefined;
    });
    log(`status bar: ${sb.match(/Inheritune:[^$]*?loss [\d.]+/)?.[0]}`);
    await dash.locator('#derived-grid').scrollIntoViewIfNeeded();
    await vs.shot('live-run-grids-heatmap');

    stoppedRunId = (await waitFor('run id', async () => {
      const runs = fs.readdirSync(ws.runsDir).filter((n) => n !== path.basename(ws.finishedRunDir) && !n.startsWith('.'));
      return runs[0];
    }))!;
    const sidebarShown = await side.evaluate(recordedTexts);
    const shown = [...(await dash.evaluate(recordedTexts)), ...sidebarShown, ...(await page.evaluate(recordedTexts)).flatMap((t) => t.match(/Inheritune: [^\n]*/g) ?? [])];
    log(`progress texts shown: ${JSON.stringify([...new Set(shown)].slice(0, 12))}...; sidebar: ${JSON.stringify(sidebarShown.slice(0, 6))}...`);
    assert.ok(shown.some((t) => /^train round-1: step \d+\/40, loss \d/.test(t)), 'the dashboard showed round 1 training');
    assert.ok(sidebarShown.some((t) => /^demo: train round-1: step \d+\/40, loss \d/.test(t)), 'the sidebar showed round 1 training');
    for (const t of shown) {
      assert.doesNotMatch(t, /\b0\/0\b|reference reference/, t);
      const m = /(round-\d+):? (?:step )?(\d+)\/(\d+)/.exec(t);
      if (m) assert.ok(Number(m[3]) === 40 && Number(m[2]) <= 40, `${m[1]} counts its own 40 steps: ${t}`);
    }
    // The run folder is inside the folder the user opened.
    assert.ok(path.join(ws.runsDir, stoppedRunId).startsWith(ws.dir + path.sep));
    const stopAndPause = async () => {
      // The stop's own quick pick (not the palette's rows it replaces).
      await page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: 'Pause (checkpoint, resume later)' }).first().waitFor();
      const labels = page.locator('.quick-input-widget .monaco-list-row .label-name');
      assert.deepEqual((await labels.allInnerTexts()).map((t) => t.trim()), ['Pause (checkpoint, resume later)', 'Stop and save the model now']);
      await pickQuick(page, 'Pause (checkpoint, resume later)');
      await waitFor('the run to stop', async () => ((await attr(dash, 'body', 'data-state')) === 'stopped' ? true : undefined), 90_000);
      await waitFor('status bar cleared', async () => (!/Inheritune: (train|stopping|reference|baseline)/.test(await statusBarText(page)) ? true : undefined), 20_000);
    };
    await runCommand(page, 'Inheritune: Stop Run');
    await stopAndPause();
    const stored = storedEvents(path.join(ws.runsDir, stoppedRunId));
    const last = stored[stored.length - 1];
    assert.ok(last.type === 'runFailed' && last.byUser === true && last.interrupted, `a user's stop: ${JSON.stringify(last)}`);
    // Not an error: the dashboard says where it stopped and offers Resume; the table row reads stopped.
    await waitFor('where it stopped', async () => /^stopped at step \d+ of round-\d \(checkpoint saved\); Resume continues from there\.$/.test(await dash.locator('#progress-text').innerText()), 10_000);
    assert.equal(await dash.locator('#resume').isVisible(), true);
    assert.equal(await dash.locator('#stop').isVisible(), false);
    assert.match(await dash.locator('#results tr[data-model^="derived"]').last().innerText(), /stopped$/);
    // The sidebar has no Stop left; its dashboard is in front of the user: no notification.
    await waitFor('the sidebar without Stop', async () => ((await side.locator('#stop').isHidden()) ? true : undefined), 20_000);
    assert.equal(await notificationCount(/demo (stopped|was interrupted|finished|failed)/), 0);
    await dash.locator('header').scrollIntoViewIfNeeded();
    assert.equal(await dash.locator('#status').innerText(), 'stopped');
    await vs.shot('stopped');

    // Resume from the dashboard continues from the checkpoint; its Stop button stops it again.
    const before = stored.filter((e) => e.type === 'metrics').length;
    await dash.locator('#resume').click();
    await waitFor('the run training again', async () => ((await attr(dash, 'body', 'data-state')) === 'running' ? true : undefined), 60_000);
    await waitFor('new steps after Resume', async () => (storedEvents(path.join(ws.runsDir, stoppedRunId)).filter((e) => e.type === 'metrics').length > before + 2 ? true : undefined), 90_000);
    const resumedEvent = storedEvents(path.join(ws.runsDir, stoppedRunId)).find((e) => e.type === 'resumed');
    assert.ok(resumedEvent?.type === 'resumed' && resumedEvent.fromStep > 0, 'resumed from a checkpoint, not from step 0');
    await dash.locator('#stop').click();
    await stopAndPause();
    assert.equal(await notificationCount(/demo (stopped|was interrupted|finished|failed)/), 0, 'no notification while its dashboard is on screen');
    pointsAtStop = storedEvents(path.join(ws.runsDir, stoppedRunId)).filter((e) => e.type === 'metrics').length;
    // The dashboard holds every stored metrics point (the coalesced ones filled from the store).
    await waitFor('all stored points in the dashboard', async () => ((await numAttr(dash, '#loss-chart', 'data-points')) === pointsAtStop ? true : undefined), 20_000);
    log(`stopped after ${pointsAtStop} steps, ${((Date.now() - tStart) / 1000).toFixed(1)} s after Start Run`);
    await closeAllEditors();
  });

  test('after Restart Server, reopened dashboards show the same curves from the run store', async () => {
    await runCommand(page, 'Inheritune: Restart Server');
    await waitFor('restarted', async () => ((await statusBarText(page)).includes('training server restarted') ? true : undefined), 90_000);
    for (const [runId, name, points] of [
      [path.basename(ws.finishedRunDir), 'finished-demo', finishedPoints],
      [stoppedRunId, 'demo', pointsAtStop],
    ] as const) {
      await runCommand(page, 'Inheritune: Open Dashboard');
      await pickQuick(page, runId);
      const dash = await dashboard(name);
      await waitFor(`${runId}: ${points} points`, async () => ((await numAttr(dash, '#loss-chart', 'data-points')) === points ? true : undefined), 30_000);
      await vs.shot(`reopened-${name}`);
      if (name === 'finished-demo') {
        // Hidden (another editor in its group) and shown again: it restores from its saved state.
        const tab = page.locator('.tabs-container .tab').filter({ hasText: 'Inheritune: finished-demo' });
        await tab.click();
        await dashboard(name);
        await openFile(page, 'demo.inheritune.yaml');
        // Its webview is torn down while hidden (retainContextWhenHidden is off).
        await waitFor('the dashboard hidden', async () => {
          for (const f of page.frames()) {
            if (f.name() !== 'active-frame') continue;
            const shown = await f.locator('#run-name', { hasText: /^finished-demo$/ }).isVisible().catch(() => false);
            if (shown) return undefined;
          }
          return true;
        }, 10_000);
        await tab.click();
        const tShow = Date.now();
        const again = await dashboard(name);
        await waitFor('restored points', async () => ((await numAttr(again, '#loss-chart', 'data-points')) === points ? true : undefined), 10_000);
        log(`dashboard shown again with its ${points} points in ${Date.now() - tShow} ms`);
      }
      await closeAllEditors();
    }
  });

  test("before any analysis the sidebar strip says what it will show; its Analyze gives the run's MaxRank (same windows); no CSP violations", async () => {
    await openFile(page, 'fresh.inheritune.yaml');
    const side = await webviewFrame(page, '#strip');
    await waitFor('sidebar bound to fresh', async () => ((await side.locator('#config-file').innerText()) === 'fresh.inheritune.yaml' ? true : undefined), 20_000);
    await waitFor('the strip placeholder', async () => ((await side.locator('#strip.empty').count()) === 1 ? true : undefined), 20_000);
    assert.match(await side.locator('#strip').innerText(), /^Analyze the reference on the run's 8 windows of 64 tokens of data\/val\.jsonl to see .* its 8 layers/);
    assert.equal(await side.locator('#analyze').isVisible(), true);
    await vs.shot('sidebar-before-analysis');
    await side.locator('#analyze').click();
    await toast(/fresh: (no lazy layers|\d+ of 8 layers are lazy)/).first().waitFor({ timeout: 90_000 });
    await waitFor('strip from the new analysis', async () => /analysis just now/.test(await side.locator('#strip-note').innerText()), 20_000);
    assert.equal(await attr(side, '#strip', 'data-layers'), '8');
    // The same windows as the run's (data.val, analysis.sequences, seq_len, train.seed): the finished
    // run's analysis of the same weights gives the same MaxRank per layer.
    const runRef = storedEvents(ws.finishedRunDir).find((e) => e.type === 'attention' && e.model.kind === 'reference');
    assert.ok(runRef?.type === 'attention');
    const fromRun = [...runRef.layers].sort((x, y) => x.layer - y.layer).map((l) => l.maxRank);
    const fromAnalyze = (await side.locator('#strip .bar').evaluateAll((bars) => bars.map((b) => Number((b as HTMLElement).dataset.maxRank))));
    log(`MaxRank per layer: run ${fromRun.map((v) => v.toFixed(2)).join(' ')}; sidebar Analyze ${fromAnalyze.map((v) => v.toFixed(2)).join(' ')}`);
    assert.equal(fromAnalyze.length, 8);
    fromRun.forEach((v, i) => assert.ok(Math.abs(fromAnalyze[i] - v) < 1e-9, `layer ${i + 1}: Analyze ${fromAnalyze[i]} vs the run's ${v}`));
    await vs.shot('analyzed');
    assert.deepEqual(cspViolations, [], 'no Content-Security-Policy violations in any webview');
    await closeAllEditors();
  });

  test('a run that finishes out of sight says so with Open Dashboard and Open Model Folder, which reveals the model in the Explorer', async () => {
    const file = path.join(ws.dir, 'quick.inheritune.yaml');
    assert.deepEqual(parseRunConfig(fs.readFileSync(file, 'utf8'), file).issues.filter((i) => i.severity === 'error'), []);
    await openFile(page, 'quick.inheritune.yaml');
    await runCommand(page, 'Inheritune: Start Run');
    await dashboard('quick');
    // Out of sight: its dashboard closed.
    await closeAllEditors();
    const done = await notification(/Inheritune: quick finished: 4 layers, val loss \d\.\d{4}/, 180_000);
    assert.deepEqual(await actionsOf(done), ['Open Dashboard', 'Open Model Folder']);
    assert.equal(await page.locator('.notifications-center .notification-list-item').filter({ hasText: /Inheritune: quick / }).count(), 1, 'one notification for the run');
    await vs.shot('finished-notification');
    await done.locator('.monaco-button', { hasText: 'Open Model Folder' }).click();
    await hideNotifications();
    const selected = page.locator('.explorer-folders-view .monaco-list-row.selected, .explorer-folders-view .monaco-list-row.focused');
    await waitFor('the model folder revealed in the Explorer', async () => ((await selected.first().innerText().catch(() => '')).trim() === 'model' ? true : undefined), 20_000);
    const runDir = fs.readdirSync(ws.runsDir).filter((n) => n.includes('-quick-')).map((n) => path.join(ws.runsDir, n))[0];
    assert.ok(runDir && fs.existsSync(path.join(runDir, 'model', 'config.json')), 'its model folder is inside the opened folder');
    await vs.shot('model-folder-revealed');
    // Back to the Inheritune views (the Explorer took the side bar).
    await page.locator('.activitybar [aria-label^="Inheritune"]').first().click();
    await webviewFrame(page, '#strip');
  });

  test('New Run Config: Enter at every step writes the paper\'s default (half the layers) with train.jsonl and a different val.jsonl, never the licence or README', async () => {
    await runCommand(page, 'Inheritune: New Run Config');
    /**
     * Enter on the step titled `title` once its highlighted row reads `highlighted` (with `seek`, moving
     * down the list to it); the rows it offered.
     */
    const enterAt = async (title: RegExp, highlighted: RegExp, shot?: string, seek = false): Promise<string[]> => {
      const widget = page.locator('.quick-input-widget');
      let seen = '';
      const rows = await waitFor(`step ${title}`, async () => {
        const shownTitle = await widget.locator('.quick-input-title').innerText().catch(() => '');
        const focused = (await widget.locator('.monaco-list-row.focused').first().innerText().catch(() => '')).replace(/\s+/g, ' ');
        seen = `title ${JSON.stringify(shownTitle)}, highlighted ${JSON.stringify(focused)}`;
        if (!title.test(shownTitle)) return undefined;
        if (highlighted.test(focused)) return (await widget.locator('.monaco-list-row').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
        if (seek && focused !== '') await page.keyboard.press('ArrowDown');
        return undefined;
      }, 30_000).catch(async (e: Error) => {
        await vs.shot('new-config-stuck');
        throw new Error(`${e.message}; last seen: ${seen}`);
      });
      if (shot) await vs.shot(shot);
      await page.keyboard.press('Enter');
      return rows;
    };
    // The shipped references: models/deep-reference (24 layers) and models/reference (8).
    const references = await enterAt(/\(1\/4\): reference model/, /^models\/reference /, undefined, true);
    assert.ok(references.some((r) => r.startsWith('models/deep-reference')), `both shipped references offered: ${JSON.stringify(references)}`);
    await enterAt(/\(2\/4\): layers n of 8/, /^4 ?half \(the paper\)/, 'new-config-layers');
    const trainRows = await enterAt(/\(3\/4\): training data/, /^data\/train\.jsonl ?\d.*suggested/, 'new-config-train');
    const valRows = await enterAt(/\(4\/4\): validation data/, /^data\/val\.jsonl ?\d.*suggested/, 'new-config-val');
    for (const rows of [trainRows, valRows]) assert.ok(!rows.some((r) => /LICENSE|README/.test(r)), `no licence or README offered: ${JSON.stringify(rows)}`);
    assert.ok(!valRows.some((r) => r.startsWith('data/train.jsonl')), 'the training file is not offered for validation');
    const input = page.locator('.quick-input-widget input');
    await waitFor('the run name input', async () => ((await input.inputValue()) === 'my-run' ? true : undefined), 10_000);
    await input.fill('e2e-new');
    await page.keyboard.press('Enter');
    await page.locator('.tab[aria-label*="e2e-new.inheritune.yaml"]').first().waitFor();
    const file = path.join(ws.dir, 'e2e-new.inheritune.yaml');
    const text = fs.readFileSync(file, 'utf8');
    const parsed = parseRunConfig(text, file);
    assert.deepEqual(parsed.issues.filter((i) => i.severity === 'error'), []);
    assert.equal(parsed.config?.target.layers, 4);
    assert.equal(parsed.config?.reference.path, 'models/reference');
    assert.deepEqual([parsed.config?.data.train, parsed.config?.data.val], ['data/train.jsonl', 'data/val.jsonl']);
    assert.equal(parsed.config?.data.tokenizer, 'bytes');
    assert.ok(text.split('\n').filter((l) => l.includes('#')).length >= 5, 'commented');
    // The language server finds nothing wrong with it either (block_size fits the reference's context).
    // The sidebar follows the new config and lists the language server's issues: none, so Start Run is enabled.
    const side = await webviewFrame(page, '#strip');
    await waitFor('sidebar bound to the new config', async () => ((await side.locator('#config-file').innerText()) === 'e2e-new.inheritune.yaml' ? true : undefined), 20_000);
    await waitFor('the reference read for the new config', async () => ((await attr(side, '#ref-details', 'data-layers')) === '8' ? true : undefined), 20_000);
    assert.equal(await side.locator('#problems li').count(), 0);
    assert.equal(await side.locator('#start').getAttribute('disabled'), null);
    assert.equal(await page.locator('.monaco-editor .squiggly-error, .monaco-editor .squiggly-warning').count(), 0, 'no error or warning squiggles');
    await vs.shot('new-config');
  });

  test('the dashboard in the light and high-contrast themes', async () => {
    await closeAllEditors();
    await runCommand(page, 'Inheritune: Open Dashboard');
    await pickQuick(page, path.basename(ws.finishedRunDir));
    const dash = await dashboard('finished-demo');
    for (const theme of ['Light Modern', 'Dark High Contrast']) {
      await runCommand(page, 'Preferences: Color Theme');
      const input = page.locator('.quick-input-widget input');
      await input.fill(theme);
      await pickQuick(page, theme);
      await page.waitForTimeout(1500);
      assert.ok((await numAttr(dash, '#loss-chart', 'data-points')) > 0);
      await vs.shot(`theme-${theme.toLowerCase().replace(/ /g, '-')}`);
    }
  });

  test('the Runs view: Resume Run continues the stopped run from its checkpoint; Delete Run removes it after confirming', async () => {
    await closeAllEditors();
    // (A click on the activity bar icon would hide the container when it is already shown.)
    await runCommand(page, 'Inheritune: Focus on Runs View');
    const runDir = path.join(ws.runsDir, stoppedRunId);
    const row = page.locator('.pane-body .monaco-list-row').filter({ hasText: /stopped/ }).first();
    const menuItem = async (title: string) => {
      await row.click({ button: 'right' });
      const item = page.locator('.context-view .action-label', { hasText: title }).first();
      await item.waitFor({ timeout: 10_000 });
      // The menu acts on a selected item's Enter (a synthetic click can land while it still opens).
      await item.hover();
      await page.waitForTimeout(200);
      await page.keyboard.press('Enter');
      await item.waitFor({ state: 'hidden', timeout: 10_000 });
    };

    await row.waitFor({ timeout: 30_000 });
    await menuItem('Resume Run');
    const dash = await dashboard('demo');
    await waitFor('the resumed run training again', async () => ((await attr(dash, 'body', 'data-state')) === 'running' && storedEvents(runDir).some((e) => e.type === 'resumed') ? true : undefined), 60_000);
    await waitFor('new points after the resume', async () => ((await numAttr(dash, '#loss-chart', 'data-points')) > pointsAtStop + 2 ? true : undefined), 60_000);
    const resumed = storedEvents(runDir).find((e) => e.type === 'resumed');
    assert.ok(resumed?.type === 'resumed' && resumed.fromStep > 0, 'resumed from a checkpoint, not from step 0');
    await vs.shot('resumed');
    // Stopped out of sight (its dashboard closed): a notification says where, with its actions.
    await closeAllEditors();
    await runCommand(page, 'Inheritune: Stop Run');
    await pickQuick(page, 'Pause (checkpoint, resume later)');
    // Of whichever model it was training then: a round, or on a quick machine already a baseline.
    const stopped = await notification(/Inheritune: demo stopped at step \d+ of [a-z0-9_-]+ \(checkpoint saved\)\./, 90_000);
    assert.deepEqual(await actionsOf(stopped), ['Open Dashboard', 'Resume']);
    // The only one about this run: its earlier stops (dashboard on screen) and resumes said nothing.
    assert.equal(await page.locator('.notifications-center .notification-list-item').filter({ hasText: /Inheritune: demo (stopped|was interrupted|finished|failed)/ }).count(), 1);
    await vs.shot('stopped-notification');
    await stopped.locator('.monaco-button', { hasText: 'Open Dashboard' }).click();
    await hideNotifications();
    const again = await dashboard('demo');
    await waitFor('its dashboard, stopped', async () => ((await attr(again, 'body', 'data-state')) === 'stopped' ? true : undefined), 20_000);
    await closeAllEditors();

    await menuItem('Delete Run');
    const confirm = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Delete' }).first();
    await confirm.waitFor({ timeout: 10_000 });
    await vs.shot('delete-confirm');
    await confirm.click();
    await waitFor('the run folder deleted', async () => (!fs.existsSync(runDir) ? true : undefined), 20_000);
    await waitFor('the run gone from the view', async () => ((await page.locator('.pane-body .monaco-list-row').filter({ hasText: /stopped/ }).count()) === 0 ? true : undefined), 20_000);
    assert.ok(fs.existsSync(ws.finishedRunDir), 'the other run is untouched');
  });
});
