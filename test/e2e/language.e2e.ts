/**
 * The config language server (server/language, dist/language.js over node IPC) in a real VS Code
 * (code-server + chromium), end to end. Run by `npm run test:e2e`; screenshots go to
 * dist/e2e/lang-*.png. Its own VS Code session on its own workspace: the examples folder as shipped
 * (makeDemoWorkspace: the demo config and the 8-layer reference), with a short CLI run of the demo in
 * its run store whose analysis of the shipped reference the hover shows:
 *   1. typing a wrong value (`steps: abc`) and an unknown key (`baseline:`) draws both squiggles on
 *      those lines, and the Problems panel lists both messages;
 *   2. hovering `target.layers` shows the shipped reference's shape, its MaxRank per layer and its
 *      lazy layers (or "no lazy layers"), exactly as the run store's newest reference analysis has them;
 *   3. a completion on the `grow.mode` value offers restart and continue; accepting one inserts it;
 *   4. a config on a tiny LLaMA reference (grouped-query attention, its own tokenizer.json): the
 *      sidebar and the hover show its shape as they show GPT-2's, and Problems lists its layer check;
 *   5. `target.layers: 99` on the 8-layer reference: the editor's Problems, the sidebar and
 *      `inheritune run` list the same errors, the primary one on target.layers; the sidebar's Start
 *      Run is disabled with the reason, the palette's opens Problems (no toast, no run); the quick
 *      fix is "Change to 6" (never "Change to 99") and leaves the config clean; validating on the
 *      training file is a warning that does not block Start Run.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import type { RunEvent } from '../../server/protocol/events.js';
import { readReferenceInfo } from '../../server/engine/referenceInfo.js';
import { describeModelShape } from '../../server/protocol/format.js';
import { runCli } from '../helpers/cli.js';
import { tinyLlama, writeLlama } from '../helpers/llama.js';
import { attr, buildVsix, ensureTools, launchVsCode, log, makeDemoWorkspace, openFile, runCommand, statusBarText, suggest, waitFor, webviewFrame, type VsCode, type Workspace } from './harness.js';

let base: string;
let ws: Workspace;
let vs: VsCode;
let page: Page;
const t0 = Date.now();
const elapsed = (from: number) => `${((Date.now() - from) / 1000).toFixed(1)} s`;

/** The config's lines as VS Code shows them (1-based line numbers match the file). */
let lines: string[] = [];
const lineOf = (re: RegExp): number => {
  const i = lines.findIndex((l) => re.test(l));
  assert.ok(i >= 0, `the config has a line matching ${re}`);
  return i + 1;
};

/** The rendered editor line whose text matches `re` (Monaco renders spaces as U+00A0). */
function viewLine(re: RegExp): Locator {
  const nbsp = new RegExp(re.source.replace(/ /g, '[ \\u00a0]'), re.flags);
  return page.locator('.monaco-editor .view-lines .view-line').filter({ hasText: nbsp });
}

async function viewLineText(re: RegExp): Promise<string> {
  return (await viewLine(re).first().innerText()).replace(/\u00a0/g, ' ');
}

/** Puts the editor's cursor at line:col (1-based) through "Go to Line/Column". */
async function gotoLine(line: number, col: number): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+G');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`:${line}:${col}`);
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden' });
}

/**
 * Rests the mouse on `word` in line `lineNo` of the active editor (rendered as a line matching
 * `lineRe`) until a hover containing `hasText` shows (locator.hover() times out in Monaco).
 */
async function hoverOn(lineNo: number, lineRe: RegExp, word: string, hasText: string): Promise<Locator> {
  await gotoLine(lineNo, 1);
  const line = viewLine(lineRe).first();
  const token = line.locator('span', { hasText: new RegExp(`^${word}$`) }).last();
  let box = (await token.count()) > 0 ? await token.boundingBox() : null;
  if (!box) {
    // Tokens split differently: the line's box and a monospace character width.
    const lb = await line.locator(':scope > span').boundingBox();
    assert.ok(lb);
    const text = await viewLineText(lineRe);
    const charW = lb.width / text.length;
    box = { x: lb.x + text.indexOf(word) * charW, y: lb.y, width: word.length * charW, height: lb.height };
  }
  const hover = page.locator('.monaco-hover').filter({ hasText }).first();
  await waitFor(`the hover of ${word}`, async () => {
    // Wiggle inside the word: a hover shows after the mouse rests on it.
    await page.mouse.move(box.x + box.width / 2 - 2, box.y + box.height / 2);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    return (await hover
      .waitFor({ state: 'visible', timeout: 2500 })
      .then(() => true)
      .catch(() => false))
      ? true
      : undefined;
  }, 30_000, 100);
  return hover;
}

/** The newest attention analysis of the model labelled 'reference' in a run's events.jsonl. */
function referenceAnalysis(runDir: string): Extract<RunEvent, { type: 'attention' }> {
  const events = fs
    .readFileSync(path.join(runDir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as RunEvent);
  const a = events.filter((e): e is Extract<RunEvent, { type: 'attention' }> => e.type === 'attention' && e.model.label === 'reference').pop();
  assert.ok(a, `an attention event of the reference in ${runDir}`);
  return a;
}

/** models/llama (a tiny LLaMA with tokenizer.json) and llama.inheritune.yaml: the demo config on it with 2 layers, grow.max_layers 6 of its 3 layers. */
const LLAMA = { dir: '', config: '' };
function writeLlamaConfig(): void {
  LLAMA.dir = path.join(ws.dir, 'models', 'llama');
  writeLlama(LLAMA.dir, tinyLlama(), 1, { tokenizer: true });
  const text = fs.readFileSync(path.join(ws.dir, 'data', 'val.jsonl'), 'utf8').split('\n');
  fs.writeFileSync(path.join(ws.dir, 'data', 'llama-train.jsonl'), text.slice(0, 200).join('\n'));
  fs.writeFileSync(path.join(ws.dir, 'data', 'llama-val.jsonl'), text.slice(200, 300).join('\n'));
  LLAMA.config = path.join(ws.dir, 'llama.inheritune.yaml');
  const config = fs
    .readFileSync(ws.config, 'utf8')
    .replace(/^name: demo$/m, 'name: llama')
    .replace(/\{ path: models\/reference \}.*$/m, '{ path: models/llama }')
    .replace(/train: data\/train\.jsonl/, 'train: data/llama-train.jsonl')
    .replace(/val: data\/val\.jsonl/, 'val: data/llama-val.jsonl')
    .replace(/tokenizer: bytes/, 'tokenizer: model')
    .replace(/^ {2}layers: 4 /m, '  layers: 2 ');
  assert.match(config, /max_layers: 6/);
  assert.match(config, /^ {2}layers: 2 /m);
  fs.writeFileSync(LLAMA.config, config);
}

/** The demo config with `target.layers: 99` (written before VS Code starts). */
const LAYERS99 = 'layers99.inheritune.yaml';

/** `message [Ln l, Col c]` of each `file:line:col: [warning: ]message` line `inheritune run` printed for `file`. */
function cliProblems(stderr: string, file: string): string[] {
  const out: string[] = [];
  for (const l of stderr.split('\n')) {
    const m = /^(?:error: )?(.*):(\d+):(\d+): (?:warning: )?(.*)$/.exec(l);
    if (m && m[1] === file) out.push(`${m[4]} [Ln ${m[2]}, Col ${m[3]}]`);
  }
  return out;
}

describe('the config language server in VS Code (code-server)', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-e2e-lang-'));
    const tools = ensureTools();
    const vsix = buildVsix();
    ws = makeDemoWorkspace(base);
    writeLlamaConfig();
    vs = await launchVsCode(tools, vsix, ws.dir, base, { name: 'lang' });
    page = vs.page;
    await page.locator('.activitybar [aria-label^="Inheritune"]').first().waitFor({ timeout: 90_000 });
    log(`VS Code ready ${elapsed(t0)} after start`);
    lines = fs.readFileSync(ws.config, 'utf8').split('\n');
    const demo = fs.readFileSync(ws.config, 'utf8');
    assert.match(demo, /^ {2}layers: 4 /m);
    fs.writeFileSync(path.join(ws.dir, LAYERS99), demo.replace(/^name: demo$/m, 'name: layers99').replace(/^( {2}layers: )4 /m, '$199 '));
  });

  after(async () => {
    if (vs) {
      await vs.shot('final').catch(() => undefined);
      await vs.close();
    }
    if (base && !process.env.INHERITUNE_E2E_KEEP) fs.rmSync(base, { recursive: true, force: true });
    log(`language e2e total ${elapsed(t0)}`);
  });

  test('a wrong value and an unknown key: squiggles on both lines and both messages in Problems', async () => {
    const tStart = Date.now();
    await openFile(page, 'demo.inheritune.yaml');
    await viewLine(/^\s*steps: 40\b/).first().waitFor();
    // The language server is up and the config as written is clean (its checks ran: the inlay hint
    // after target.layers comes from the reference it read).
    await waitFor('the derived model inlay hint', async () => /layers: 4.*params/.test(await viewLineText(/^\s*layers: 4/)), 30_000);
    assert.equal(await page.locator('.monaco-editor .squiggly-error').count(), 0, 'no error squiggles before the edits');
    log(`language server answering ${elapsed(tStart)} after opening the config`);

    // `steps: 40` -> `steps: abc`
    const stepsLine = lineOf(/^ {2}steps: 40$/);
    await gotoLine(stepsLine, '  steps: '.length + 1);
    await page.keyboard.press('Shift+End');
    await page.keyboard.type('abc');
    await page.keyboard.press('Escape');
    // `baselines: [...]` -> `baseline: [...]`
    const baselinesLine = lineOf(/^baselines: \[scratch, scratch_2x\]$/);
    await gotoLine(baselinesLine, 'baselines'.length + 1);
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Escape');
    assert.equal(await viewLineText(/^\s*steps: abc/), '  steps: abc');
    assert.equal(await viewLineText(/^baseline: /), 'baseline: [scratch, scratch_2x]');

    const tEdit = Date.now();
    const squiggles = page.locator('.monaco-editor .squiggly-error');
    await waitFor('two error squiggles', async () => ((await squiggles.count()) === 2 ? true : undefined), 20_000);
    log(`both squiggles ${Date.now() - tEdit} ms after the last keystroke`);
    // Each one lies on its line, under the characters at fault.
    for (const [re, word] of [
      [/^\s*steps: abc/, 'abc'],
      [/^baseline: /, 'baseline'],
    ] as const) {
      // The line's text span (the .view-line itself is as wide as the editor).
      const lb = await viewLine(re).first().locator(':scope > span').boundingBox();
      assert.ok(lb);
      const boxes = await Promise.all((await squiggles.all()).map((s) => s.boundingBox()));
      const on = boxes.filter((b) => b && b.y + b.height / 2 >= lb.y && b.y + b.height / 2 <= lb.y + lb.height);
      assert.equal(on.length, 1, `one squiggle on the line of ${word}`);
      // Its width is that of the word (monospace: the line's width per character).
      const text = await viewLineText(re);
      const charW = lb.width / text.length;
      assert.ok(Math.abs(on[0]!.width - word.length * charW) < charW, `the squiggle under "${word}" is ${word.length} characters wide (${on[0]!.width.toFixed(0)} px, a character ${charW.toFixed(1)} px)`);
    }
    await vs.shot('squiggles');

    // The Problems panel lists both, with the language server's messages.
    await runCommand(page, 'View: Toggle Problems');
    const panel = page.locator('.markers-panel');
    await panel.first().waitFor({ state: 'visible' });
    const expected = ['train.steps must be an integer, got "abc"', 'unknown key "baseline"; did you mean "baselines"?'];
    const text = await waitFor('both problems listed', async () => {
      const t = (await panel.first().innerText()).replace(/\s+/g, ' ');
      return expected.every((m) => t.includes(m)) ? t : undefined;
    }, 20_000);
    // With their positions (line and column), and nothing else reported as an error.
    assert.match(text, new RegExp(`\\[Ln ${stepsLine}, Col ${'  steps: '.length + 1}\\]`));
    assert.match(text, new RegExp(`\\[Ln ${baselinesLine}, Col 1\\]`));
    const rows = panel.locator('.monaco-list-row');
    const rowTexts = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
    log(`Problems: ${JSON.stringify(rowTexts)}`);
    assert.equal(rowTexts.filter((t) => expected.some((m) => t.includes(m))).length, 2);
    await vs.shot('problems');
    // (Toggle Problems again would only focus it.)
    await runCommand(page, 'View: Hide Panel');
    await panel.first().waitFor({ state: 'hidden' });
  });

  test('hovering target.layers shows the reference, its MaxRank per layer and its lazy layers', async () => {
    const analysis = referenceAnalysis(ws.finishedRunDir);
    const lazy = analysis.layers.filter((l) => l.lazy).map((l) => l.layer + 1);
    log(`stored reference analysis: MaxRank ${analysis.layers.map((l) => l.maxRank.toFixed(2)).join(', ')}; lazy: ${lazy.join(', ') || 'none'}`);
    const tHover = Date.now();
    const hover = await hoverOn(lineOf(/^ {2}layers: 4\b/), /^\s*layers: 4/, 'layers', 'MaxRank');
    log(`hover shown ${Date.now() - tHover} ms after the mouse reached target.layers`);
    const text = (await hover.innerText()).replace(/\u00a0/g, ' ');
    log(`hover: ${JSON.stringify(text.slice(0, 600))}`);
    // The key's documentation and the reference's shape.
    assert.match(text, /target\.layers/);
    // The shipped reference: 8 layers, d 128, 4 heads, byte vocabulary, 128 positions.
    assert.match(text, /GPT-2 · 8 layers · width 128 · 4 heads · MLP 512 · vocabulary 257 · context 128/);
    assert.match(text, /Derived model with 4 of 8 layers/);
    // The analysis: its run, one row per layer with MaxRank and AvgMass as stored, the lazy layers.
    assert.ok(text.includes(path.basename(ws.finishedRunDir)), 'the hover names the run of the analysis');
    assert.match(text, /\bMaxRank\b/);
    for (const l of analysis.layers) {
      const row = new RegExp(`(^|\\n)\\s*${l.layer + 1}\\s+${l.maxRank.toFixed(2).replace('.', '\\.')}\\s+${l.avgMass.toFixed(2).replace('.', '\\.')}\\s*(lazy)?`, 'm');
      const m = row.exec(text);
      assert.ok(m, `a row for layer ${l.layer + 1}: MaxRank ${l.maxRank.toFixed(2)}, AvgMass ${l.avgMass.toFixed(2)}`);
      assert.equal(Boolean(m[2]), l.lazy, `layer ${l.layer + 1} is ${l.lazy ? '' : 'not '}marked lazy`);
    }
    if (lazy.length > 0) assert.ok(text.includes(`Lazy layers (rank-1 attention): ${lazy.join(', ')} of ${analysis.layers.length}.`), 'the lazy layers named');
    else assert.match(text, /No lazy layers/);
    assert.match(text, /Open the heatmap in the dashboard/);
    await vs.shot('hover-target-layers');
    // The hover scrolls: bring its table and the lazy-layer line into view for a second picture.
    const hb = await hover.boundingBox();
    if (hb) {
      await page.mouse.move(hb.x + hb.width / 2, hb.y + hb.height / 2, { steps: 4 });
      for (let i = 0; i < 5; i++) {
        await page.mouse.wheel(0, 400);
        await page.waitForTimeout(150);
      }
      await vs.shot('hover-target-layers-scrolled');
    }
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');
  });

  test('completion of the grow.mode value: restart and continue offered, continue inserted', async () => {
    const growLine = lineOf(/^grow: \{.*mode: restart/);
    const col = lines[growLine - 1]!.indexOf('mode: restart') + 'mode: '.length + 1;
    await gotoLine(growLine, col);
    // Select `restart` and delete it: the cursor sits right after `mode: ` in the flow map.
    for (let i = 0; i < 'restart'.length; i++) await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Backspace');
    const tSuggest = Date.now();
    const { labels, widget, rows } = await suggest(
      page,
      'the suggestions restart and continue',
      (t) => t.some((x) => /\brestart\b/.test(x)) && t.some((x) => /\bcontinue\b/.test(x)),
      20_000,
      150,
    );
    log(`suggestions ${Date.now() - tSuggest} ms after Ctrl+Space: ${JSON.stringify(labels)}`);
    assert.equal(labels.length, 2, 'only the two modes');
    await vs.shot('completion-grow-mode');
    await rows.filter({ hasText: 'continue' }).first().click();
    await widget.waitFor({ state: 'hidden' });
    const after = await viewLineText(/^grow: \{/);
    assert.equal(after, lines[growLine - 1]!.replace('mode: restart', 'mode: continue'));
    // A valid value: no new squiggle (the two from the first test remain).
    await page.waitForTimeout(1000);
    assert.equal(await page.locator('.monaco-editor .squiggly-error').count(), 2);
    await vs.shot('completion-accepted');
  });

  test('a LLaMA reference: the sidebar and the hover show its shape as for GPT-2, and Problems lists its layer check', async () => {
    const shape = describeModelShape(readReferenceInfo(LLAMA.dir).info);
    assert.equal(shape, 'LLaMA · 3 layers · width 16 · 4 heads (2 key/value) · MLP 24 · vocabulary 320 · context 64 · 16.1K parameters');
    await openFile(page, 'llama.inheritune.yaml');
    const llamaLines = fs.readFileSync(LLAMA.config, 'utf8').split('\n');
    // The layer check, at grow.max_layers, in the Problems panel.
    await waitFor('one error squiggle', async () => ((await page.locator('.monaco-editor .squiggly-error').count()) === 1 ? true : undefined), 30_000);
    await runCommand(page, 'View: Toggle Problems');
    const panel = page.locator('.markers-panel');
    await waitFor('the LLaMA layer check in Problems', async () => (/grow\.max_layers \(6\) exceeds the reference's 3 layers/.test(await panel.first().innerText()) ? true : undefined), 20_000);
    await vs.shot('llama-problems');
    await runCommand(page, 'View: Hide Panel');
    // The hover of reference.path.
    const hover = await hoverOn(llamaLines.findIndex((l) => l.startsWith('reference:')) + 1, /^reference: /, 'path', 'LLaMA');
    const text = (await hover.innerText()).replace(/\u00a0/g, ' ');
    log(`LLaMA hover: ${JSON.stringify(text.slice(0, 400))}`);
    assert.ok(text.includes(shape), text);
    assert.match(text, /with tokenizer\.json/);
    await vs.shot('llama-hover');
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');
    // The sidebar, bound to this config: the same line, and a slider over the 3 layers.
    await page.locator('.activitybar [aria-label^="Inheritune"]').first().click();
    const side = await webviewFrame(page, '#strip');
    await waitFor('the LLaMA reference in the sidebar', async () => ((await attr(side, '#ref-details', 'data-layers')) === '3' ? true : undefined), 30_000);
    assert.equal(await side.locator('#ref-details').innerText(), shape);
    assert.equal(await side.locator('#layers').getAttribute('max'), '3');
    assert.equal(await side.locator('#layers').inputValue(), '2');
    await vs.shot('llama-sidebar');
  });
  test('target.layers 99 on the 8-layer reference: Problems, the sidebar and `inheritune run` list the same errors; Start Run is disabled with the reason and from the palette opens Problems; the quick fix is "Change to 6"; val = train is a warning that does not block', async () => {
    const file = path.join(ws.dir, LAYERS99);
    const text = fs.readFileSync(file, 'utf8');
    const at = (needle: string, offset: number) => {
      const i = text.split('\n').findIndex((l) => l.includes(needle));
      return `[Ln ${i + 1}, Col ${text.split('\n')[i].indexOf(needle) + offset + 1}]`;
    };
    const expected = [
      `target.layers (99) exceeds the reference's 8 layers ${at('layers: 99', 'layers: '.length)}`,
      `grow.max_layers (6) must be at least target.layers (99) ${at('max_layers: 6', 'max_layers: '.length)}`,
    ];
    const cli = await runCli(['run', file], { cwd: ws.dir });
    assert.equal(cli.status, 1);
    assert.deepEqual(cliProblems(cli.stderr, file), expected, 'inheritune run lists both errors, the primary one first');

    await openFile(page, LAYERS99);
    await waitFor('two error squiggles', async () => ((await page.locator('.monaco-editor .squiggly-error').count()) === 2 ? true : undefined), 30_000);
    // The sidebar, bound to this config: the same list, and Start Run disabled with the reason.
    const side = await webviewFrame(page, '#strip');
    await waitFor('the sidebar bound to the config', async () => ((await side.locator('#config-file').innerText()) === LAYERS99 ? true : undefined), 20_000);
    const sidebarList = await waitFor('both errors in the sidebar', async () => {
      const t = await side.locator('#problems li').allInnerTexts();
      return t.length === 2 ? t : undefined;
    }, 20_000);
    assert.deepEqual(sidebarList, expected);
    assert.equal(await side.locator('#problems li.error').count(), 2);
    assert.equal(await side.locator('#start').getAttribute('disabled'), '');
    assert.equal(await side.locator('#start-blocked').innerText(), 'Start Run is disabled: the config has 2 errors (listed above).');
    assert.equal(await side.locator('#layers-label').innerText(), 'target.layers n = 99 of 8 (more than the reference has)');
    await vs.shot('layers99-sidebar');

    // Start Run from the palette: the Problems view with the full list; no toast, no run.
    const runsBefore = fs.existsSync(ws.runsDir) ? fs.readdirSync(ws.runsDir).length : 0;
    await runCommand(page, 'Inheritune: Start Run');
    const panel = page.locator('.markers-panel').first();
    await panel.waitFor({ state: 'visible', timeout: 20_000 });
    const rows = await waitFor('both errors in Problems', async () => {
      const t = (await panel.locator('.monaco-list-row').allInnerTexts()).map((x) => x.replace(/\s+/g, ' '));
      const mine = expected.map((e) => t.filter((r) => r.includes(e.replace(/ \[Ln.*$/, '')) && r.includes(e.replace(/^.* \[/, '['))).length);
      return mine.every((n) => n === 1) ? t : undefined;
    }, 20_000);
    log(`Problems after Start Run: ${JSON.stringify(rows)}`);
    await waitFor('the status bar naming the errors', async () => ((await statusBarText(page)).includes(`${LAYERS99} has 2 errors: fix them to start the run`) ? true : undefined), 10_000);
    assert.equal(await page.locator('.notifications-toasts .notification-toast').count(), 0, 'no toast');
    assert.equal(fs.existsSync(ws.runsDir) ? fs.readdirSync(ws.runsDir).length : 0, runsBefore, 'no run started');
    await vs.shot('layers99-start-opens-problems');

    // The quick fix on target.layers: the largest valid value, and no fix raising grow.max_layers to 99.
    const layersLine = text.split('\n').findIndex((l) => l.includes('layers: 99')) + 1;
    await page.locator('.monaco-editor .view-lines').first().click();
    await gotoLine(layersLine, '  layers: '.length + 1);
    await page.keyboard.press('Control+.');
    const menu = page.locator('.action-widget').first();
    await menu.waitFor({ state: 'visible', timeout: 20_000 });
    const fixes = await waitFor('the quick fixes', async () => {
      const t = (await menu.innerText()).replace(/\s+/g, ' ');
      return /Change to/.test(t) ? t : undefined;
    }, 10_000);
    log(`quick fixes on target.layers: ${fixes}`);
    assert.match(fixes, /Change to 6/);
    assert.doesNotMatch(fixes, /Change to 99/);
    await vs.shot('layers99-quick-fix');
    await menu.locator('.action-item, .monaco-list-row').filter({ hasText: 'Change to 6' }).first().click();
    await waitFor('no error squiggles', async () => ((await page.locator('.monaco-editor .squiggly-error').count()) === 0 ? true : undefined), 20_000);
    assert.match(await viewLineText(/^\s*layers: 6/), /^ {2}layers: 6\b/);
    await waitFor('the sidebar clean and Start Run enabled', async () =>
      (await side.locator('#problems li').count()) === 0 && (await side.locator('#start').getAttribute('disabled')) === null && (await side.locator('#start-blocked').innerText()) === '' ? true : undefined,
    20_000);
    assert.equal(await side.locator('#layers-label').innerText(), 'target.layers n = 6 of 8');
    await waitFor('the status bar no longer naming the errors', async () => (!(await statusBarText(page)).includes('has 2 errors') ? true : undefined), 5_000);
    await vs.shot('layers99-fixed');

    // Validating on the training file: one warning, listed, and Start Run stays enabled.
    const valLine = text.split('\n').findIndex((l) => /^ {2}val: data\/val\.jsonl$/.test(l)) + 1;
    await gotoLine(valLine, '  val: data/'.length + 1);
    await page.keyboard.press('Shift+End');
    await page.keyboard.type('train.jsonl');
    await page.keyboard.press('Escape');
    await waitFor('a warning squiggle', async () => ((await page.locator('.monaco-editor .squiggly-warning').count()) === 1 ? true : undefined), 20_000);
    const warning = 'data.val is the same file as data.train: the validation loss will not measure generalisation';
    await waitFor('the warning in the sidebar', async () => ((await side.locator('#problems li.warning').allInnerTexts()).join() === `${warning} [Ln ${valLine}, Col 8]` ? true : undefined), 20_000);
    assert.equal(await side.locator('#start').getAttribute('disabled'), null);
    await waitFor('the warning in Problems', async () => ((await panel.innerText()).includes(warning) ? true : undefined), 20_000);
    await vs.shot('same-file-warning');
    await runCommand(page, 'View: Hide Panel');
  });
});
