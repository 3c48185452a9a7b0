// The training server with a Hub reference (a mock Hub on 127.0.0.1 through HF_ENDPOINT, a temporary
// HF cache): startRun downloads a model its cache lacks, telling every client how far with `download`
// messages, and pins the commit in the run's plan; a model the Hub does not have is refused naming
// reference.hub; a run resumed after its cache lost the model fetches the pinned commit again (a log
// event says so) and finishes, its `device` event naming the engine and the CPU it trains on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatBytes } from '../../server/protocol/format.js';
import { filesOfDir, MockHub } from '../helpers/mockHub.js';
import { Client, Fixture, fixtureForFile, ServerProcess, type Of } from './server-harness.js';

let f!: Fixture;
fixtureForFile({ serve: false }, (fixture) => (f = fixture));

function hubConfig(name: string, hub: string, steps: number): string {
  const file = f.writeConfig({ name, steps, batchTokens: 128, evalEvery: 100, analysisEvery: 0, checkpointEvery: 10 });
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('reference: { path: reference }', `reference: { hub: ${hub} }`));
  return file;
}

test('startRun downloads a Hub reference into the server cache with download messages, pins its commit, and a resume after the cache lost it fetches that commit again', { timeout: 300_000 }, async () => {
  const hub = new MockHub();
  await hub.start();
  try {
    const files = filesOfDir(f.referenceDir);
    files.set('README.md', Buffer.from('# not fetched'));
    const repo = hub.addRepo('acme/ref', files);
    const hubCache = path.join(f.dir, 'hf', 'hub');
    const env = { HF_ENDPOINT: hub.url, HF_HOME: path.join(f.dir, 'hf'), HF_HUB_CACHE: hubCache, HF_HUB_OFFLINE: '', HF_TOKEN: '' };
    const total = fs.statSync(path.join(f.referenceDir, 'config.json')).size + fs.statSync(path.join(f.referenceDir, 'model.safetensors')).size;

    const a = await ServerProcess.start(f, { env });
    const watcher = await Client.connect(a.url);
    const ca = await Client.connect(a.url);
    // A model the Hub does not have: refused, naming the field and the Hub's answer.
    const missing = (await ca.request({ type: 'startRun', configPath: hubConfig('nowhere', 'acme/nowhere', 4) })) as Of<'error'>;
    assert.equal(missing.type, 'error');
    assert.equal(missing.code, 'invalidConfig');
    assert.match(missing.message, /reference\.hub: acme\/nowhere@main: no such model or revision on the Hub/);

    const config = hubConfig('from-hub', 'acme/ref', 200);
    const { run } = (await ca.request({ type: 'startRun', configPath: config }, 60_000)) as Of<'runQueued'>;
    // Every client heard the download; the last message says all of it arrived.
    const downloads = watcher.messages.filter((m): m is Of<'download'> => m.type === 'download');
    assert.ok(downloads.length >= 1);
    const last = downloads.at(-1)!;
    assert.deepEqual([last.repo, last.revision, last.done, last.bytes, last.totalBytes], ['acme/ref', 'main', true, total, total]);
    assert.equal(downloads.filter((m) => m.done).length, 1);
    const snapshot = path.join(hubCache, 'models--acme--ref', 'snapshots', repo.commit);
    const plan = JSON.parse(fs.readFileSync(path.join(run.dir, 'plan.json'), 'utf8')) as { hub?: { repo: string; commit: string }; referenceDir: string };
    assert.deepEqual(plan.hub, { repo: 'acme/ref', revision: 'main', commit: repo.commit });
    assert.equal(plan.referenceDir, snapshot);
    assert.deepEqual(fs.readdirSync(snapshot).sort(), ['config.json', 'model.safetensors']);

    // Stopped mid-run; the cache loses the model; a new server resumes the run at the pinned commit.
    ca.send({ type: 'subscribe', runId: run.runId });
    await ca.waitForEvent(run.runId, (e) => e.type === 'checkpoint');
    a.kill('SIGTERM');
    await a.exited();
    fs.rmSync(hubCache, { recursive: true, force: true });
    hub.requests.length = 0;
    const b = await ServerProcess.start(f, { env });
    const cb = await Client.connect(b.url);
    cb.send({ type: 'subscribe', runId: run.runId });
    const resumed = (await cb.request({ type: 'resumeRun', runId: run.runId })) as Of<'runQueued'>;
    assert.equal(resumed.type, 'runQueued');
    const before = resumed.run.lastSeq;
    const end = (await cb.waitForEvent(run.runId, (e) => e.seq > before && (e.type === 'runFinished' || e.type === 'runFailed'), 240_000)) as Of<'event'>;
    assert.equal(end.event.type, 'runFinished', JSON.stringify(end.event));
    const logs = cb.events(run.runId).flatMap((e) => (e.event.type === 'log' ? [e.event.message] : []));
    assert.ok(logs.some((l) => l.startsWith(`downloading acme/ref@${repo.commit} (commit ${repo.commit.slice(0, 12)})`)), logs.join('\n'));
    assert.ok(logs.some((l) => l.startsWith(`download ${formatBytes(total)} / ${formatBytes(total)},`)), logs.join('\n'));
    // The resumed start says what trains it: the tfjs engine on wasm, on this machine's CPU.
    const device = cb.events(run.runId).map((e) => e.event).find((e) => e.type === 'device' && e.seq > before);
    assert.ok(device?.type === 'device');
    assert.deepEqual([device.engine, device.backend, device.devices.length, device.devices[0].memoryBytes], ['tfjs', 'wasm', 1, os.totalmem()]);
    assert.match(device.devices[0].name, new RegExp(`\\(${os.cpus().length} cores\\)$`));
    // By commit: the files and no branch lookup.
    assert.equal(hub.requestsTo('/api/models/acme/ref/revision/').length, 0);
    assert.ok(fs.existsSync(path.join(snapshot, 'model.safetensors')));
    await b.stop();
  } finally {
    await hub.close();
  }
});

test('serve --python (the extension passes inheritune.pythonPath) is the torch engine\'s interpreter for configs without runtime.python; a written runtime.python wins', { timeout: 120_000 }, async () => {
  const s = await ServerProcess.start(f, { args: ['--python', '/nonexistent/from-setting/python3'] });
  try {
    const c = await Client.connect(s.url);
    const failure = async (name: string, runtime: string): Promise<string> => {
      const file = f.writeConfig({ name, steps: 4, analysisEvery: 0 });
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^runtime: \{ /m, `runtime: { ${runtime}`));
      const { run } = (await c.request({ type: 'startRun', configPath: file })) as Of<'runQueued'>;
      c.send({ type: 'subscribe', runId: run.runId });
      const end = (await c.waitForEnd(run.runId, 60_000)) as Of<'event'>;
      assert.equal(end.event.type, 'runFailed');
      return end.event.type === 'runFailed' ? end.event.error : '';
    };
    assert.match(await failure('py-setting', 'engine: torch, '), /^runtime\.python: "\/nonexistent\/from-setting\/python3" was not found/);
    assert.match(await failure('py-written', 'engine: torch, python: /nonexistent/written/python3, '), /^runtime\.python: "\/nonexistent\/written\/python3" was not found/);
  } finally {
    await s.stop();
  }
});
