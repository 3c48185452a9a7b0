// The built language server (dist/language.js) started as the extension starts it (node IPC), and
// the manifest entries that route configs to it (language id, yamlValidation JSON Schema).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { CompletionList, Hover, InitializeResult } from 'vscode-languageserver/node';
import { toJsonSchema } from '../../server/protocol/config.js';
import { CONFIG_FILE_PATTERNS, CONFIG_JSON_SCHEMA_FILE, CONFIG_LANGUAGE_ID, LANGUAGE_SERVER_MODULE } from '../../server/language/protocol.js';
import { LspClient } from './language-client.js';

const root = path.resolve(__dirname, '..', '..');
let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-lsp-bundle-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('package.json routes *.inheritune.yaml to the server and contributes the generated JSON Schema', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    contributes: { languages: { id: string; filenamePatterns?: string[] }[]; yamlValidation: { fileMatch: string[]; url: string }[] };
  };
  const lang = pkg.contributes.languages.find((l) => l.id === CONFIG_LANGUAGE_ID);
  assert.ok(lang, `language ${CONFIG_LANGUAGE_ID} contributed`);
  assert.deepEqual(lang.filenamePatterns, [...CONFIG_FILE_PATTERNS]);
  const yv = pkg.contributes.yamlValidation.find((y) => y.url === `./${CONFIG_JSON_SCHEMA_FILE}`);
  assert.ok(yv, JSON.stringify(pkg.contributes.yamlValidation));
  assert.deepEqual(yv.fileMatch, [...CONFIG_FILE_PATTERNS]);
  const schemaFile = path.join(root, CONFIG_JSON_SCHEMA_FILE);
  assert.ok(fs.existsSync(schemaFile), `${CONFIG_JSON_SCHEMA_FILE} is built (npm run build)`);
  assert.deepEqual(JSON.parse(fs.readFileSync(schemaFile, 'utf8')), toJsonSchema());
});

test('dist/language.js over node IPC: diagnostics for a missing model, then hover and completion, then a clean exit', async () => {
  const module = path.join(root, LANGUAGE_SERVER_MODULE);
  assert.ok(fs.existsSync(module), `${LANGUAGE_SERVER_MODULE} is built (npm run build)`);
  const { client, child } = LspClient.bundle(module);
  let stderr = '';
  (child as ChildProcess).stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    const init = (await client.initialize(dir, {}, process.pid)) as InitializeResult;
    assert.equal(init.serverInfo?.name, 'inheritune-config');
    assert.ok(init.capabilities.inlayHintProvider && init.capabilities.codeLensProvider && init.capabilities.hoverProvider);

    const text = 'reference: { path: models/none }\ntarget: { layers: 2, inherit: [attn, mpl] }\ndata: { train: t.bin, val: v.bin }\n';
    const uri = pathToFileURL(path.join(dir, 'a.inheritune.yaml')).href;
    await client.open(uri, text);
    const p = await client.waitDiagnostics(uri, (x) => x.diagnostics.some((d) => String(d.message).startsWith('reference.path (')));
    const ref = p.diagnostics.find((d) => String(d.message).startsWith('reference.path ('));
    assert.match(String(ref?.message), /model directory not found/);
    assert.deepEqual(ref?.range, { start: { line: 0, character: 19 }, end: { line: 0, character: 30 } });
    const item = p.diagnostics.find((d) => String(d.message).includes('"mpl"'));
    assert.deepEqual(item?.range, { start: { line: 1, character: 37 }, end: { line: 1, character: 40 } });

    const h = await client.request<Hover | null>('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 12 } });
    assert.match(JSON.stringify(h?.contents), /target\.layers/);
    const c = await client.request<CompletionList | null>('textDocument/completion', { textDocument: { uri }, position: { line: 1, character: 38 } });
    assert.ok(c?.items.some((i) => i.label === 'mlp'));

    await client.shutdown();
    const exited = once(child, 'exit');
    await client.conn.sendNotification('exit');
    const [code] = await exited;
    assert.equal(code, 0, stderr);
  } finally {
    await client.dispose();
  }
});
