// The config language server on Hub references and the torch engine, through the protocol: reference.hub
// completed from a temporary Hugging Face cache (shape, size on disk, complete or not), hover with the
// commit, diagnostics with the CLI's messages (not in cache, incomplete, unknown revision, unknown to
// the Hub), the "Download (size)" lens from a mock Hub on 127.0.0.1 (HF_ENDPOINT), the hubModels
// request; runtime.* completed and checked with the probe of the interpreter (inheritune.pythonPath).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource, LSPErrorCodes, type CodeLens, type CompletionItem, type CompletionList, type Diagnostic, type Hover, type ResponseError } from 'vscode-languageserver/node';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf, parameterCountOf } from '../../server/engine/modelFamily.js';
import { torchSettings, validateRunConfig } from '../../server/engine/configCheck.js';
import { checkTorchSettings, probePython } from '../../server/engine/train/torchProbe.js';
import { parseRunConfig } from '../../server/protocol/config.js';
import { formatBytes, formatParams } from '../../server/protocol/format.js';
import { DOWNLOAD_REFERENCE_RESULT, HUB_MODELS_RESULT, type ConfigInfo, type DownloadProgressParams } from '../../server/language/protocol.js';
import type { DownloadReferenceArgs } from '../../server/protocol/commands.js';
import { filesOfDir, MockHub, saveHubEnv } from '../helpers/mockHub.js';
import { tinyGPT2 } from '../helpers/models.js';
import { TEST_PYTHON, torchMissing } from '../helpers/torch.js';
import { LspClient, positionAt } from './language-client.js';

const TINY = tinyGPT2({ vocabSize: 257, nPositions: 64, nLayer: 4 });
const COMMIT = 'c0ffee'.padEnd(40, '0');
const PARTIAL_COMMIT = 'beef'.padEnd(40, '1');

const config = (reference: string, runtime = '') => `reference: ${reference}
data: { train: data/t.bin, val: data/v.bin, tokenizer: bytes }
train: { steps: 4, warmup: 1, batch_tokens: 32, micro_batch: 2, block_size: 16 }
analysis: { every: 0, seq_len: 16 }
${runtime}`;

const restoreHubEnv = saveHubEnv();
let dir: string;
let cacheDir: string;
let hub: MockHub;
let client: LspClient;
let n = 0;

const msg = (d: Diagnostic): string => (typeof d.message === 'string' ? d.message : d.message.value);
const uriOf = () => pathToFileURL(path.join(dir, `c${++n}.inheritune.yaml`)).href;

async function openSettled(text: string, c = client): Promise<{ uri: string; diagnostics: Diagnostic[] }> {
  const uri = uriOf();
  await c.open(uri, text);
  const p = await c.settled(uri);
  return { uri, diagnostics: p.diagnostics };
}

async function complete(uri: string, text: string, offset: number, c = client): Promise<CompletionItem[]> {
  const r = await c.request<CompletionList | null>('textDocument/completion', { textDocument: { uri }, position: positionAt(text, offset) });
  return r?.items ?? [];
}

/** The CLI's check of `text` (validateRunConfig, as `inheritune run` makes it): its messages. */
async function cliMessages(text: string): Promise<string[]> {
  return (await validateRunConfig(text, path.join(dir, 'cli.inheritune.yaml'))).issues.map((i) => i.message);
}

/** A model snapshot in the cache as Python's huggingface_hub leaves it: blobs, snapshot links, refs/<revision>. */
function cacheModel(repo: string, commit: string, opts: { weights: boolean; revision?: string }): string {
  const folder = path.join(cacheDir, `models--${repo.replace('/', '--')}`);
  const src = fs.mkdtempSync(path.join(dir, 'src-'));
  saveGPT2(src, TINY, initWeightsOf(TINY, 1));
  const snap = path.join(folder, 'snapshots', commit);
  fs.mkdirSync(snap, { recursive: true });
  fs.mkdirSync(path.join(folder, 'blobs'), { recursive: true });
  for (const f of ['config.json', ...(opts.weights ? ['model.safetensors'] : [])]) {
    const blob = path.join(folder, 'blobs', `${f}-blob`);
    fs.copyFileSync(path.join(src, f), blob);
    fs.symlinkSync(path.relative(snap, blob), path.join(snap, f));
  }
  fs.mkdirSync(path.join(folder, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(folder, 'refs', opts.revision ?? 'main'), commit);
  return snap;
}

function dirBytes(snap: string): number {
  return fs.readdirSync(snap).reduce((a, f) => a + fs.statSync(path.join(snap, f)).size, 0);
}

let remoteBytes = 0;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-lsp-hub-'));
  cacheDir = path.join(dir, 'hf', 'hub');
  fs.mkdirSync(path.join(dir, 'data'));
  const buf = Buffer.alloc(400);
  for (let i = 0; i < 200; i++) buf.writeUInt16LE(i % 250, i * 2);
  fs.writeFileSync(path.join(dir, 'data', 't.bin'), buf);
  fs.writeFileSync(path.join(dir, 'data', 'v.bin'), buf);
  cacheModel('acme/tiny', COMMIT, { weights: true });
  cacheModel('acme/partial', PARTIAL_COMMIT, { weights: false });
  hub = new MockHub();
  await hub.start();
  const remote = fs.mkdtempSync(path.join(dir, 'remote-'));
  saveGPT2(remote, TINY, initWeightsOf(TINY, 2));
  fs.writeFileSync(path.join(remote, 'README.md'), '# not downloaded');
  hub.addRepo('acme/remote', filesOfDir(remote));
  remoteBytes = fs.statSync(path.join(remote, 'config.json')).size + fs.statSync(path.join(remote, 'model.safetensors')).size;
  process.env.HF_ENDPOINT = hub.url;
  process.env.HF_HOME = path.join(dir, 'hf');
  process.env.HF_HUB_CACHE = cacheDir;
  delete process.env.HF_HUB_OFFLINE;
  delete process.env.HF_TOKEN;
  client = await LspClient.forWorkspace(dir);
});

after(async () => {
  await client.stop();
  await hub.close();
  restoreHubEnv();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('reference.hub', () => {
  test('completion offers the cached models with their shape line, size on disk, and whether each is complete', async () => {
    const text = config('{ hub:  }');
    const { uri } = await openSettled(text);
    const items = await complete(uri, text, text.indexOf('hub: ') + 5);
    const byLabel = new Map(items.map((i) => [i.label, i]));
    assert.deepEqual([...byLabel.keys()].filter((l) => l.startsWith('acme/')).sort(), ['acme/partial', 'acme/tiny']);
    const tinyBytes = dirBytes(path.join(cacheDir, 'models--acme--tiny', 'snapshots', COMMIT));
    assert.equal(byLabel.get('acme/tiny')?.detail, `GPT-2 · 4 layers · width 16 · ${formatParams(parameterCountOf(TINY))} params · ${formatBytes(tinyBytes)} on disk · complete`);
    assert.match(byLabel.get('acme/partial')?.detail ?? '', / on disk · incomplete$/);
    const doc = byLabel.get('acme/partial')?.documentation;
    assert.match(typeof doc === 'string' ? doc : (doc?.value ?? ''), /incomplete \(lacks model\.safetensors/);
    // The complete model sorts first.
    assert.ok((byLabel.get('acme/tiny')?.sortText ?? '') < (byLabel.get('acme/partial')?.sortText ?? ''));
  });

  test('reference.revision completes the branches and commits the cache holds of the model written', async () => {
    const text = config('{ hub: acme/tiny, revision:  }');
    const { uri } = await openSettled(text);
    const items = await complete(uri, text, text.indexOf('revision: ') + 10);
    assert.deepEqual(items.map((i) => i.label).filter((l) => l === 'main' || l === COMMIT).sort(), [COMMIT, 'main'].sort());
  });

  test('a cached model checks clean, and hover on reference.hub shows its commit and shape', async () => {
    const text = config('{ hub: acme/tiny }');
    const { uri, diagnostics } = await openSettled(text);
    assert.deepEqual(diagnostics.map(msg), []);
    const h = await client.request<Hover | null>('textDocument/hover', { textDocument: { uri }, position: positionAt(text, text.indexOf('acme/tiny') + 2) });
    const value = h && typeof h.contents === 'object' && 'value' in h.contents ? h.contents.value : '';
    assert.match(value, new RegExp(`commit \`${COMMIT}\`, in the Hugging Face cache`));
    assert.match(value, /\*\*Reference\*\* .*GPT-2 · 4 layers · width 16/);
    const info = await client.request<ConfigInfo>('inheritune/configInfo', { uri });
    assert.deepEqual(info.hub, { repo: 'acme/tiny', revision: 'main', cached: true, commit: COMMIT });
    assert.equal(info.reference?.layers, 4);
  });

  test('a model the Hub has but the cache lacks is a warning with a "Download (size)" lens naming the commit', async () => {
    const text = config('{ hub: acme/remote }');
    const { uri, diagnostics } = await openSettled(text);
    const commit = hub.repos.get('acme/remote')?.commit ?? '';
    assert.deepEqual(diagnostics.map((d) => [d.severity, msg(d)]), [
      [2, `reference.hub (acme/remote@main): not downloaded yet: ${formatBytes(remoteBytes)} at commit ${commit.slice(0, 12)}, fetched by the code lens "Download" or when the run starts`],
    ]);
    const lenses = await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } });
    const download = lenses.find((l) => l.command?.command === 'inheritune.downloadReference');
    assert.equal(download?.command?.title, `Download (${formatBytes(remoteBytes)})`);
    assert.deepEqual(download?.command?.arguments, [{ repo: 'acme/remote', revision: 'main', uri } satisfies DownloadReferenceArgs]);
    // The sidebar's configInfo: the Hub model, its commit and size, and the warning as the reason there is no shape yet.
    const info = await client.request<ConfigInfo>('inheritune/configInfo', { uri });
    assert.deepEqual(info.hub, { repo: 'acme/remote', revision: 'main', cached: false, commit, downloadBytes: remoteBytes });
    assert.equal(info.referenceError, msg(diagnostics[0]));
    assert.equal(info.reference, undefined);
    // The CLI, which downloads when the run starts, reports the cache miss of its check.
    assert.deepEqual(await cliMessages(text), [`reference.hub (acme/remote@main): not in the Hugging Face cache (${path.join(cacheDir, 'models--acme--remote')}) yet: \`inheritune run\` downloads it`]);
  });

  test('inheritune/downloadReference downloads the model with progress notifications; the warning and the Download lens then go (lenses refreshed)', async () => {
    const remote = fs.mkdtempSync(path.join(dir, 'remote2-'));
    saveGPT2(remote, TINY, initWeightsOf(TINY, 3));
    const repo = hub.addRepo('acme/later', filesOfDir(remote));
    const total = fs.statSync(path.join(remote, 'config.json')).size + fs.statSync(path.join(remote, 'model.safetensors')).size;
    const text = config('{ hub: acme/later }');
    const { uri, diagnostics } = await openSettled(text);
    assert.equal(diagnostics.length, 1);
    const lensesOf = async () => (await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } })).filter((l) => l.command?.command === 'inheritune.downloadReference');
    assert.equal((await lensesOf()).length, 1);
    const progress: DownloadProgressParams[] = [];
    const sub = client.conn.onNotification('inheritune/downloadProgress', (p: DownloadProgressParams) => void progress.push(p));
    const refreshes = client.lensRefreshes;
    const result = DOWNLOAD_REFERENCE_RESULT.check(await client.request('inheritune/downloadReference', { repo: 'acme/later', revision: 'main' }), 'result');
    sub.dispose();
    assert.ok(result.ok);
    assert.deepEqual(result.ok && result.value, { commit: repo.commit, dir: path.join(cacheDir, 'models--acme--later', 'snapshots', repo.commit), downloadedBytes: total });
    assert.ok(progress.length >= 1);
    assert.deepEqual([progress.at(-1)?.bytes, progress.at(-1)?.totalBytes], [total, total]);
    await client.waitDiagnostics(uri, (p) => p.diagnostics.length === 0);
    while (client.lensRefreshes === refreshes) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await lensesOf()).length, 0);
  });

  test('a download cancelled through $/cancelRequest stops with RequestCancelled and leaves no whole model in the cache', async () => {
    const remote = fs.mkdtempSync(path.join(dir, 'remote3-'));
    saveGPT2(remote, TINY, initWeightsOf(TINY, 4));
    hub.addRepo('acme/stalled', filesOfDir(remote));
    hub.stall = { file: 'model.safetensors', bytes: 100 };
    try {
      const cts = new CancellationTokenSource();
      const request = client.conn.sendRequest('inheritune/downloadReference', { repo: 'acme/stalled', revision: 'main' }, cts.token);
      // The weights' first 100 bytes are on disk as a partial blob, and the Hub holds the rest back.
      const blobs = path.join(cacheDir, 'models--acme--stalled', 'blobs');
      const partial = () => (fs.existsSync(blobs) ? fs.readdirSync(blobs).filter((f) => f.endsWith('.incomplete')).map((f) => fs.statSync(path.join(blobs, f)).size) : []);
      while (!partial().some((n) => n >= 100)) await new Promise((r) => setTimeout(r, 20));
      cts.cancel();
      await assert.rejects(request, (e: ResponseError<unknown>) => e.code === LSPErrorCodes.RequestCancelled && /cancelled/.test(e.message));
      const snap = path.join(cacheDir, 'models--acme--stalled', 'snapshots', hub.repos.get('acme/stalled')?.commit ?? '');
      assert.equal(fs.existsSync(path.join(snap, 'model.safetensors')), false);
    } finally {
      hub.stall = undefined;
    }
  });

  test('a model or revision the Hub does not know is an error with the Hub\'s message; a cached model has no Download lens', async () => {
    const { diagnostics } = await openSettled(config('{ hub: acme/nowhere }'));
    assert.deepEqual(diagnostics.map(msg), ['reference.hub (acme/nowhere@main): no such model or revision on the Hub (check the id and the branch, tag or commit; a private repo also needs HF_TOKEN)']);
    const v9 = await openSettled(config('{ hub: acme/remote, revision: v9 }'));
    assert.deepEqual(v9.diagnostics.map(msg), ['reference.hub (acme/remote@v9): no such model or revision on the Hub (check the id and the branch, tag or commit; a private repo also needs HF_TOKEN)']);
    const cached = await openSettled(config('{ hub: acme/tiny }'));
    const lenses = await client.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri: cached.uri } });
    assert.equal(lenses.filter((l) => l.command?.command === 'inheritune.downloadReference').length, 0);
  });

  test('offline (HF_HUB_OFFLINE=1), a revision the cache lacks is named with the revisions it has, and a partial snapshot with the files it lacks, as the CLI names them', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    const offline = await LspClient.forWorkspace(dir);
    try {
      const text = config('{ hub: acme/tiny, revision: v9 }');
      const { uri, diagnostics } = await openSettled(text, offline);
      const folder = path.join(cacheDir, 'models--acme--tiny');
      const expected = `reference.hub (acme/tiny@v9): revision "v9" is not in the Hugging Face cache (${folder} has ${COMMIT.slice(0, 12)}, main): download it once online (HF_HUB_OFFLINE is set), or name a revision the cache has`;
      assert.deepEqual(diagnostics.map(msg), [expected]);
      assert.deepEqual(await cliMessages(text), [expected]);
      // No Hub request was made for it.
      assert.equal(hub.requestsTo('/api/models/acme/tiny').length, 0);
      const lenses = await offline.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } });
      assert.equal(lenses.filter((l) => l.command?.command === 'inheritune.downloadReference').length, 0);
      // A snapshot lacking its weights: an error naming what it lacks.
      const partial = config('{ hub: acme/partial }');
      const snap = path.join(cacheDir, 'models--acme--partial', 'snapshots', PARTIAL_COMMIT);
      const lacks = `reference.hub (acme/partial@main): incomplete in the Hugging Face cache: commit ${PARTIAL_COMMIT} lacks model.safetensors (or model.safetensors.index.json) (${snap}): download the rest once online (HF_HUB_OFFLINE is set)`;
      const p = await openSettled(partial, offline);
      assert.deepEqual(p.diagnostics.map((d) => [d.severity, msg(d)]), [[1, lacks]]);
      assert.deepEqual(await cliMessages(partial), [lacks]);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
      await offline.stop();
    }
  });

  test('inheritune/hubModels lists the cached models, whole and partial, for the sidebar', async () => {
    const r = HUB_MODELS_RESULT.check(await client.request('inheritune/hubModels', {}), 'hubModels');
    assert.ok(r.ok);
    const list = r.ok ? r.value : [];
    // acme/later was downloaded by an earlier test.
    assert.deepEqual(list.map((m) => [m.repo, m.commit, m.missing.length === 0]).sort(), [
      ['acme/later', hub.repos.get('acme/later')?.commit, true],
      ['acme/partial', PARTIAL_COMMIT, false],
      ['acme/tiny', COMMIT, true],
    ]);
    assert.match(list.find((m) => m.repo === 'acme/tiny')?.shape ?? '', /^GPT-2 · 4 layers · width 16 · /);
  });
});

describe('runtime.* of the torch engine', () => {
  const ref = '{ hub: acme/tiny }';

  test('an interpreter that does not exist is an error at runtime.python, with the message of `inheritune run`', async () => {
    const text = config(ref, 'runtime: { engine: torch, python: /nonexistent/python3 }\n');
    const { diagnostics } = await openSettled(text);
    const settings = torchSettings(parseRunConfig(text, 'x.inheritune.yaml'));
    assert.ok(settings);
    const cli = await probePython(settings.python).then(
      () => '',
      (e: Error) => e.message,
    );
    assert.match(cli, /^runtime\.python: "\/nonexistent\/python3" was not found/);
    assert.deepEqual(diagnostics.map(msg), [cli]);
    assert.deepEqual(diagnostics[0].range.start, positionAt(text, text.indexOf('/nonexistent')));
  });

  test('CUDA asked of a torch without it is an error at runtime.devices; devices complete with what torch sees', async (t) => {
    const missing = await torchMissing();
    if (missing) return t.skip(missing);
    const text = config(ref, `runtime: { engine: torch, python: ${TEST_PYTHON}, devices: cuda }\n`);
    const { uri, diagnostics } = await openSettled(text);
    const probe = await probePython(TEST_PYTHON);
    const settings = torchSettings(parseRunConfig(text, 'x.inheritune.yaml'));
    assert.ok(settings);
    let cli = '';
    try {
      checkTorchSettings(settings, probe);
    } catch (e) {
      cli = (e as Error).message;
    }
    if (probe.cudaDevices > 0) return t.skip('this machine has CUDA: the CUDA-missing message cannot be shown');
    assert.match(cli, /^runtime\.devices: cuda was asked for, but torch .* sees no CUDA device$/);
    assert.deepEqual(diagnostics.map(msg), [cli]);
    assert.deepEqual(diagnostics[0].range.start, positionAt(text, text.indexOf('cuda }')));
    const items = await complete(uri, text, text.indexOf('cuda }'));
    assert.deepEqual(items.map((i) => i.label).filter((l) => /^(cpu|cuda)/.test(l)), ['cpu']);
    const info = await client.request<ConfigInfo>('inheritune/configInfo', { uri });
    assert.deepEqual(info.engine, { name: 'torch', devices: 'cuda', detail: `${TEST_PYTHON}: Python ${probe.pythonVersion}, torch ${probe.torch}, no CUDA device`, torchDevices: ['cpu'] });
  });

  test('without runtime.python the inheritune.pythonPath setting (initializationOptions.pythonPath) is probed, not python3; runtime.python completes with the interpreters and their probes', async (t) => {
    const missing = await torchMissing();
    if (missing) return t.skip(missing);
    const withSetting = LspClient.inProcess();
    await withSetting.initialize(dir, { tokenCacheDir: path.join(dir, 'cache'), fileCheckDelayMs: 20, pythonPath: TEST_PYTHON });
    const noTorch = path.join(dir, 'python-without-torch');
    fs.writeFileSync(noTorch, '#!/bin/sh\nexec /nonexistent/python "$@"\n', { mode: 0o755 });
    const withBroken = LspClient.inProcess();
    await withBroken.initialize(dir, { tokenCacheDir: path.join(dir, 'cache'), fileCheckDelayMs: 20, pythonPath: noTorch });
    try {
      const text = config(ref, 'runtime: { engine: torch }\n');
      assert.deepEqual((await openSettled(text, withSetting)).diagnostics.map(msg), []);
      const broken = await openSettled(text, withBroken);
      assert.equal(broken.diagnostics.length, 1);
      assert.match(msg(broken.diagnostics[0]), new RegExp(`^runtime\\.python: "${noTorch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" did not run the probe`));
      // Not written: the error sits at runtime.engine, the setting that asks for Python.
      assert.deepEqual(broken.diagnostics[0].range.start, positionAt(text, text.indexOf('torch }')));
      // runtime.python completes with the setting's interpreter first (it has torch) and python3, each with its probe.
      const typing = config(ref, 'runtime: { engine: torch, python:  }\n');
      const { uri } = await openSettled(typing, withSetting);
      const items = await complete(uri, typing, typing.indexOf('python: ') + 'python: '.length, withSetting);
      const probe = await probePython(TEST_PYTHON);
      const python3 = await probePython('python3').catch(() => undefined);
      const byLabel = new Map(items.map((i) => [i.label, i]));
      assert.equal(byLabel.get(TEST_PYTHON)?.detail, `${TEST_PYTHON}: Python ${probe.pythonVersion}, torch ${probe.torch}, no CUDA device`);
      if (python3) assert.equal(byLabel.get('python3')?.detail, python3.torch === null ? `python3: Python ${python3.pythonVersion}, no torch` : `python3: Python ${python3.pythonVersion}, torch ${python3.torch}, ${python3.cudaDevices > 0 ? `${python3.cudaDevices} CUDA device${python3.cudaDevices === 1 ? '' : 's'}${python3.cudaBf16 ? ' (bf16)' : ''}` : 'no CUDA device'}`);
      assert.ok((byLabel.get(TEST_PYTHON)?.sortText ?? '') < (byLabel.get('python3')?.sortText ?? '~'));
    } finally {
      await withSetting.stop();
      await withBroken.stop();
    }
  });
});
