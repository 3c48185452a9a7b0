// One list of config issues everywhere: `inheritune run`, the built language server spoken to over
// --stdio (its diagnostics and the configInfo list the sidebar shows) agree, issue for issue, on the
// shipped demo with `target.layers: 99` on its 8-layer reference; the primary error's quick fix
// leaves a config all three find clean.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, Diagnostic } from 'vscode-languageserver/node';
import { LANGUAGE_SERVER_MODULE, type ConfigInfo } from '../../server/language/protocol.js';
import { REPO, runCli } from '../helpers/cli.js';
import { LspClient } from '../unit/language-client.js';

let dir: string;
let file: string;
let text: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-issues-'));
  for (const p of ['demo.inheritune.yaml', 'data', 'models']) fs.cpSync(path.join(REPO, 'examples', p), path.join(dir, p), { recursive: true });
  const demo = fs.readFileSync(path.join(dir, 'demo.inheritune.yaml'), 'utf8');
  assert.match(demo, /^ {2}layers: 4 /m);
  text = demo.replace(/^( {2}layers: )4 /m, '$199');
  file = path.join(dir, 'layers99.inheritune.yaml');
  fs.writeFileSync(file, text);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

type Line = [line: number, col: number, severity: 'error' | 'warning', message: string];

/** `file:line:col: [warning: ]message` lines of the CLI's refusal. */
function cliIssues(stderr: string, configFile: string): Line[] {
  const out: Line[] = [];
  for (const l of stderr.split('\n')) {
    const m = /^(.*):(\d+):(\d+): (warning: )?(.*)$/.exec(l.replace(/^error: /, ''));
    if (m && m[1] === configFile) out.push([Number(m[2]), Number(m[3]), m[4] ? 'warning' : 'error', m[5]]);
  }
  return out;
}

const fromDiagnostic = (d: Diagnostic): Line => [d.range.start.line + 1, d.range.start.character + 1, d.severity === 1 ? 'error' : 'warning', typeof d.message === 'string' ? d.message : d.message.value];

async function languageServerIssues(client: LspClient, uri: string, body: string, version: number): Promise<{ diagnostics: Diagnostic[]; info: ConfigInfo }> {
  if (version === 1) await client.open(uri, body);
  else await client.change(uri, body, version);
  const info = await client.request<ConfigInfo>('inheritune/configInfo', { uri });
  const last = client.published.get(uri)?.at(-1);
  assert.ok(last && last.version === version, 'diagnostics of this version published');
  return { diagnostics: last.diagnostics, info };
}

test('target.layers 99 on the 8-layer demo reference: `inheritune run` and the language server over --stdio list the same issues, the primary one on target.layers with a fix to 6 that leaves the config clean', async () => {
  const cli = await runCli(['run', file], { cwd: dir });
  assert.equal(cli.status, 1, cli.stderr);
  const fromCli = cliIssues(cli.stderr, file);
  const lineOf = (s: string) => text.split('\n').findIndex((l) => l.includes(s)) + 1;
  assert.deepEqual(fromCli, [
    [lineOf('layers: 99'), 11, 'error', "target.layers (99) exceeds the reference's 8 layers"],
    [lineOf('max_layers: 6'), text.split('\n')[lineOf('max_layers: 6') - 1].indexOf('6,') + 1, 'error', 'grow.max_layers (6) must be at least target.layers (99)'],
  ]);
  assert.match(cli.stderr, /: 2 errors in the run config:\n/);

  const { client, child } = LspClient.stdio(path.join(REPO, LANGUAGE_SERVER_MODULE));
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    await client.initialize(dir, { tokenCacheDir: path.join(dir, 'cache') }, process.pid);
    const uri = pathToFileURL(file).href;
    const { diagnostics, info } = await languageServerIssues(client, uri, text, 1);
    assert.deepEqual(diagnostics.map(fromDiagnostic), fromCli, 'the editor lists what the CLI lists');
    assert.deepEqual(info.issues.map((i) => [i.line, i.col, i.severity, i.message]), fromCli, 'the sidebar lists what the CLI lists');
    assert.equal(info.errors, 2);

    const actions = await client.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri }, range: diagnostics[0].range, context: { diagnostics: [diagnostics[0]] } });
    assert.deepEqual(actions.map((a) => a.title), ['Change to 6']);
    const edit = actions[0].edit?.changes?.[uri]?.[0];
    assert.ok(edit);
    const lines = text.split('\n');
    const l = lines[edit.range.start.line];
    lines[edit.range.start.line] = l.slice(0, edit.range.start.character) + edit.newText + l.slice(edit.range.end.character);
    const fixed = lines.join('\n');
    const after = await languageServerIssues(client, uri, fixed, 2);
    assert.deepEqual(after.diagnostics, []);
    assert.deepEqual(after.info.issues, []);
    await client.stop();
    assert.equal(stderr, '');
  } finally {
    await client.dispose();
  }
});
