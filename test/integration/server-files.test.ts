/**
 * What a client can make the server touch on its disk (issue 11): it reads only run configs
 * (`*.inheritune.yaml` regular files) and analyze's model and data inside its roots (the current
 * folder here: the fixture), never quotes a file that is not a config back, is not stalled by FIFOs;
 * it deletes only run folders of its own (deleteRun); and every token source obeys one rule.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN, Client, Fixture, ServerProcess, fixtureForFile, type Of } from './server-harness.js';

let f: Fixture;
let server: ServerProcess;
fixtureForFile({ serve: true }, (fx, s) => {
  f = fx;
  server = s!;
});

/** A folder outside the server's roots with secrets in it. */
let outside: string;
const SECRET = 'SECRET-0f3c9e';
before(() => {
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-outside-'));
  fs.writeFileSync(path.join(outside, 'secret.inheritune.yaml'), `root:$6$${SECRET}$hash:19000:0:99999:7:::\n`);
  fs.writeFileSync(path.join(outside, 'shadow'), `root:$6$${SECRET}:19000::\n`);
  fs.mkdirSync(path.join(outside, 'model'));
  fs.writeFileSync(path.join(outside, 'model', 'config.json'), `{"${SECRET}": 1}\n`);
});
after(() => fs.rmSync(outside, { recursive: true, force: true }));

const leaks = (m: unknown) => JSON.stringify(m).includes(SECRET);

test('startRun reads only *.inheritune.yaml regular files inside the roots; nothing outside is quoted back, or even said to exist', { timeout: 60_000 }, async () => {
  const c = await Client.connect(server.url);
  fs.symlinkSync(path.join(outside, 'secret.inheritune.yaml'), path.join(f.dir, 'link.inheritune.yaml'));
  fs.symlinkSync(outside, path.join(f.dir, 'outlink'));
  const cases: [string, RegExp][] = [
    [path.join(outside, 'secret.inheritune.yaml'), /is outside the folders this server reads/],
    [path.join(outside, 'shadow'), /is not a run config: the server reads only \*\.inheritune\.yaml and \*\.inheritune\.yml files/],
    ['/etc/shadow', /is not a run config/],
    ['/proc/self/environ', /is not a run config/],
    [path.join(outside, 'no-such.inheritune.yaml'), /is outside the folders this server reads/],
    ['/proc/self/../self/no.inheritune.yaml', /is outside the folders this server reads/],
    [path.join(f.dir, 'link.inheritune.yaml'), /link\.inheritune\.yaml \(a link to .*secret\.inheritune\.yaml\) is outside the folders this server reads/],
    [path.join(f.dir, 'outlink', 'secret.inheritune.yaml'), /is outside the folders this server reads/],
    ['../../../../../../../etc/x.inheritune.yaml', /is outside the folders this server reads/],
  ];
  for (const [configPath, re] of cases) {
    const r = (await c.request({ type: 'startRun', configPath })) as Of<'error'>;
    assert.equal(r.type, 'error', configPath);
    assert.equal(r.code, 'forbidden', `${configPath}: ${r.message}`);
    assert.match(r.message, re, configPath);
    assert.match(r.message, /^startRun\.configPath: /);
    assert.ok(!leaks(r), `${configPath}: ${r.message}`);
  }
  // Inside a root, a missing config is notFound, as before.
  const missing = (await c.request({ type: 'startRun', configPath: 'gone.inheritune.yaml' })) as Of<'error'>;
  assert.equal(missing.code, 'notFound');
  assert.match(missing.message, /gone\.inheritune\.yaml: run config not found/);

  // The model and data a config names are read for the client too: the same rule (config text or file).
  fs.writeFileSync(path.join(outside, 'secret.jsonl'), `{${SECRET}\n`);
  fs.symlinkSync(path.join(outside, 'secret.jsonl'), path.join(f.dir, 'secret-link.jsonl'));
  const named: [string, string, RegExp][] = [
    ['reference: { path: reference }', `reference: { path: ${path.join(outside, 'model')} }`, /: reference\.path: .*model is outside the folders this server reads/],
    ['reference: { path: reference }', 'reference: { path: outlink/model }', /: reference\.path: .*outlink\/model \(a link to .*\) is outside/],
    ['train: train.jsonl', `train: ${path.join(outside, 'secret.jsonl')}`, /: data\.train: .*secret\.jsonl is outside the folders this server reads/],
    ['val: val.jsonl', 'val: secret-link.jsonl', /: data\.val: .*secret-link\.jsonl \(a link to .*\) is outside/],
    ['val: val.jsonl', 'val: /proc/self/environ', /: data\.val: \/proc\/self\/environ .*is outside/],
  ];
  const runsBefore = fs.readdirSync(f.runsDir).length;
  for (const [from, to, re] of named) {
    const config = f.configText({ name: 'named' }).replace(from, to);
    assert.notEqual(config, f.configText({ name: 'named' }), to);
    const r = (await c.request({ type: 'startRun', config, configPath: path.join(f.dir, 'named.inheritune.yaml') })) as Of<'error'>;
    assert.equal(r.code, 'forbidden', `${to}: ${r.message}`);
    assert.match(r.message, re);
    assert.ok(!leaks(r), r.message);
  }
  assert.equal(fs.readdirSync(f.runsDir).length, runsBefore, 'no run folder was made');

  // A file inside a root that is not a run config, e.g. a copied secret or an environment dump: its
  // issues name the place and the keys' names at most, never its text.
  fs.writeFileSync(path.join(f.dir, 'shadow.inheritune.yaml'), `root:$6$${SECRET}$hash:19000:0:99999:7:::\ndaemon:*:${SECRET}::\n`);
  fs.writeFileSync(path.join(f.dir, 'environ.inheritune.yaml'), `PATH=/usr/bin\0KEY=${SECRET}\0`);
  fs.writeFileSync(path.join(f.dir, 'keys.inheritune.yaml'), `api_key: ${SECRET}\nname: [${SECRET}\n`);
  for (const name of ['shadow', 'environ', 'keys']) {
    const r = (await c.request({ type: 'startRun', configPath: `${name}.inheritune.yaml` })) as Of<'error'>;
    assert.equal(r.code, 'invalidConfig', r.message);
    assert.ok(r.issues!.every((i) => i.startsWith(path.join(f.dir, `${name}.inheritune.yaml`))), r.issues!.join('\n'));
    assert.ok(!leaks(r), `${name}: ${JSON.stringify(r)}`);
  }
  const keys = (await c.request({ type: 'startRun', configPath: 'keys.inheritune.yaml' })) as Of<'error'>;
  assert.ok(keys.issues!.some((i) => /unknown key "api_key"/.test(i)), 'the offending key is still named');
  // Text the client sent is its own: quoted back as before.
  const sent = (await c.request({ type: 'startRun', config: `${SECRET}: 1\n` })) as Of<'error'>;
  assert.ok(leaks(sent));
  c.close();
});

test('a FIFO named like a config, or as data or a model file, is refused at once and stalls nothing: a valid run starts after several', { timeout: 120_000 }, async () => {
  const fifo = path.join(f.dir, 'pipe.inheritune.yaml');
  const dataFifo = path.join(f.dir, 'pipe.jsonl');
  for (const p of [fifo, dataFifo]) assert.equal(spawnSync('mkfifo', [p]).status, 0, `mkfifo ${p}`);
  const c = await Client.connect(server.url);
  const replies = await Promise.all(Array.from({ length: 6 }, () => c.request({ type: 'startRun', configPath: fifo }, 20_000)));
  for (const r of replies) {
    assert.equal((r as Of<'error'>).code, 'forbidden');
    assert.match((r as Of<'error'>).message, /pipe\.inheritune\.yaml is not a regular file/);
  }
  const inConfig = (await c.request({ type: 'startRun', config: f.configText().replace('train: train.jsonl', 'train: pipe.jsonl') }, 20_000)) as Of<'error'>;
  assert.equal(inConfig.code, 'forbidden');
  assert.match(inConfig.message, /: data\.train: .*pipe\.jsonl is not a regular file/);
  // A model folder whose config.json is a FIFO, or whose weights link out of the roots.
  const fifoModel = path.join(f.dir, 'fifo-model');
  fs.mkdirSync(fifoModel);
  assert.equal(spawnSync('mkfifo', [path.join(fifoModel, 'config.json')]).status, 0);
  const linkModel = path.join(f.dir, 'link-model');
  fs.mkdirSync(linkModel);
  fs.copyFileSync(path.join(f.referenceDir, 'config.json'), path.join(linkModel, 'config.json'));
  fs.symlinkSync(path.join(outside, 'shadow'), path.join(linkModel, 'model.safetensors'));
  for (const type of ['startRun', 'analyze'] as const) {
    for (const [model, re] of [
      ['fifo-model', /fifo-model\/config\.json is not a regular file/],
      ['link-model', /link-model\/model\.safetensors \(a link to .*shadow\) is outside the folders this server reads/],
    ] as const) {
      const msg = type === 'startRun' ? { type, config: f.configText().replace('path: reference', `path: ${model}`) } : { type, modelDir: model, data: 'val.jsonl' };
      const r = (await c.request(msg, 20_000)) as Of<'error'>;
      assert.equal(r.code, 'forbidden', `${type} ${model}: ${r.message}`);
      assert.match(r.message, re);
    }
  }
  const data = (await c.request({ type: 'analyze', modelDir: f.referenceDir, data: dataFifo }, 20_000)) as Of<'error'>;
  assert.equal(data.code, 'forbidden');
  assert.match(data.message, /^analyze\.data: .*pipe\.jsonl is not a regular file/);
  const ok = (await c.request({ type: 'startRun', configPath: f.writeConfig({ name: 'after-fifo', steps: 4 }) }, 20_000)) as Of<'runQueued'>;
  assert.equal(ok.type, 'runQueued', JSON.stringify(ok));
  c.send({ type: 'subscribe', runId: ok.run.runId });
  await c.waitForEnd(ok.run.runId);
  c.close();
});

test('analyze reads a model folder and a data file only inside the roots', { timeout: 60_000 }, async () => {
  const c = await Client.connect(server.url);
  fs.symlinkSync(path.join(outside, 'shadow'), path.join(f.dir, 'shadow-link.jsonl'));
  fs.symlinkSync(path.join(outside, 'model'), path.join(f.dir, 'model-link'));
  const cases: [Record<string, string>, RegExp][] = [
    [{ modelDir: path.join(outside, 'model'), data: 'val.jsonl' }, /^analyze\.modelDir: .* is outside the folders this server reads/],
    [{ modelDir: 'model-link', data: 'val.jsonl' }, /^analyze\.modelDir: .*model-link \(a link to .*\) is outside/],
    [{ modelDir: 'reference', data: path.join(outside, 'shadow') }, /^analyze\.data: .* is outside the folders this server reads/],
    [{ modelDir: 'reference', data: 'shadow-link.jsonl' }, /^analyze\.data: .*shadow-link\.jsonl \(a link to .*\) is outside/],
    [{ modelDir: 'reference', data: '/proc/self/environ' }, /^analyze\.data: \/proc\/self\/environ (\(a link to .*\) )?is outside/],
    [{ modelDir: '/etc', data: 'val.jsonl' }, /^analyze\.modelDir: \/etc is outside/],
  ];
  for (const [paths, re] of cases) {
    const r = (await c.request({ type: 'analyze', ...paths })) as Of<'error'>;
    assert.equal(r.code, 'forbidden', r.message);
    assert.match(r.message, re);
    assert.ok(!leaks(r), r.message);
  }
  const noModel = (await c.request({ type: 'analyze', modelDir: '.', data: 'val.jsonl' })) as Of<'error'>;
  assert.equal(noModel.code, 'notFound');
  assert.match(noModel.message, /is not a model directory \(no config\.json\)/);
  const r = (await c.request({ type: 'analyze', modelDir: 'reference', data: 'val.jsonl', options: { sequences: 2, seqLen: 8, tokenizer: 'bytes' } }, 60_000)) as Of<'analysisResult'>;
  assert.equal(r.type, 'analysisResult', JSON.stringify(r));
  c.close();
});

test('deleteRun: the server deletes a stopped run of its own (every client is told); a running run is a conflict, an unknown one notFound', { timeout: 120_000 }, async () => {
  const c = await Client.connect(server.url);
  const other = await Client.connect(server.url);
  const unknown = (await c.request({ type: 'deleteRun', runId: 'no-such-run' })) as Of<'error'>;
  assert.equal(unknown.code, 'notFound');
  const q = (await c.request({ type: 'startRun', configPath: f.writeConfig({ name: 'doomed', steps: 400, batchTokens: 128, evalEvery: 200, analysisEvery: 200 }) })) as Of<'runQueued'>;
  const { runId, dir } = q.run;
  c.send({ type: 'subscribe', runId });
  await c.waitForEvent(runId, (e) => e.type === 'metrics');
  const running = (await c.request({ type: 'deleteRun', runId })) as Of<'error'>;
  assert.equal(running.code, 'conflict');
  assert.match(running.message, /is running: stop it before deleting it/);
  assert.ok(fs.existsSync(path.join(dir, 'events.jsonl')));
  await c.request({ type: 'stopRun', runId, mode: 'cancel' });
  await c.waitForEnd(runId);
  await c.waitFor((m) => m.type === 'runUpdate' && m.run.runId === runId && m.run.status === 'stopped');

  const deleted = (await c.request({ type: 'deleteRun', runId })) as Of<'runDeleted'>;
  assert.deepEqual(deleted, { type: 'runDeleted', runId, inReplyTo: deleted.inReplyTo });
  assert.ok(!fs.existsSync(dir), 'the run folder is gone');
  assert.deepEqual(fs.readdirSync(path.dirname(dir)).filter((n) => n.includes(runId)), [], 'no trace of it (no half-deleted folder)');
  await other.waitFor((m) => m.type === 'runDeleted' && m.runId === runId);
  const list = (await c.request({ type: 'listRuns' })) as Of<'runs'>;
  assert.ok(!list.runs.some((r) => r.runId === runId));
  assert.equal(((await c.request({ type: 'deleteRun', runId })) as Of<'error'>).code, 'notFound', 'deleted once');
  c.close();
  other.close();
});

test('deleteRun removes only a real run folder: not a link out of the run store, not a folder holding other files', { timeout: 60_000 }, async () => {
  // Listed by a server that starts after they are made.
  const target = path.join(outside, 'fake-run');
  fs.mkdirSync(target);
  for (const n of ['config.yaml', 'events.jsonl', 'precious.txt']) fs.writeFileSync(path.join(target, n), '');
  fs.symlinkSync(target, path.join(f.runsDir, 'escaping'));
  const mixed = path.join(f.runsDir, 'mixed');
  fs.mkdirSync(mixed);
  for (const n of ['config.yaml', 'events.jsonl', 'notes.txt']) fs.writeFileSync(path.join(mixed, n), '');
  const s = await ServerProcess.start(f);
  try {
    const c = await Client.connect(s.url);
    const list = (await c.request({ type: 'listRuns' })) as Of<'runs'>;
    assert.ok(['escaping', 'mixed'].every((id) => list.runs.some((r) => r.runId === id)), 'both are listed');
    const escaping = (await c.request({ type: 'deleteRun', runId: 'escaping' })) as Of<'error'>;
    assert.equal(escaping.code, 'forbidden');
    assert.match(escaping.message, /escaping is a link, not a run folder; nothing was deleted/);
    const foreign = (await c.request({ type: 'deleteRun', runId: 'mixed' })) as Of<'error'>;
    assert.equal(foreign.code, 'forbidden');
    assert.match(foreign.message, /holds files a run does not write \(notes\.txt\); nothing was deleted/);
    assert.deepEqual(fs.readdirSync(target).sort(), ['config.yaml', 'events.jsonl', 'precious.txt']);
    assert.ok(fs.lstatSync(path.join(f.runsDir, 'escaping')).isSymbolicLink());
    assert.deepEqual(fs.readdirSync(mixed).sort(), ['config.yaml', 'events.jsonl', 'notes.txt']);
    c.close();
  } finally {
    await s.stop();
    fs.rmSync(path.join(f.runsDir, 'escaping'));
    fs.rmSync(mixed, { recursive: true });
  }
});

test('one token rule for every source: INHERITUNE_TOKEN and --token-file both need 16 characters, and the error names the source', { timeout: 60_000 }, async () => {
  const serve = (env: NodeJS.ProcessEnv, args: string[] = []) =>
    new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--runs-dir', f.runsDir, ...args], { cwd: f.dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        // A server that started after all: stop it (the assertion below reports it).
        if (stdout.includes('\n')) child.kill('SIGTERM');
      });
      child.on('exit', (code) => resolve({ code, stderr, stdout }));
    });
  const env = await serve({ INHERITUNE_TOKEN: 'a' });
  assert.notEqual(env.code, 0);
  assert.equal(env.stdout, '', 'no ready line');
  assert.match(env.stderr, /INHERITUNE_TOKEN: the token must be at least 16 characters, got 1/);
  const tokenFile = path.join(f.dir, 'short.token');
  fs.writeFileSync(tokenFile, 'short\n', { mode: 0o600 });
  const file = await serve({ INHERITUNE_TOKEN: '' }, ['--token-file', tokenFile]);
  assert.notEqual(file.code, 0);
  assert.match(file.stderr, /--token-file: .*short\.token, first line: the token must be at least 16 characters, got 5/);
});

test('serve refuses a --root that is not an existing folder, naming the option', { timeout: 60_000 }, async () => {
  for (const [root, re] of [
    [path.join(f.dir, 'no-such-folder'), /--root: .*no-such-folder does not exist/],
    [path.join(f.dir, 'train.jsonl'), /--root: .*train\.jsonl is not a folder/],
  ] as const) {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--runs-dir', f.runsDir, '--root', root], { cwd: f.dir, env: { ...process.env, INHERITUNE_TOKEN: 'a-token-long-enough-0123' }, encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(r.status, 0);
    assert.equal(r.stdout, '', 'no ready line');
    assert.match(r.stderr, re);
  }
});
