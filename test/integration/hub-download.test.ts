/**
 * Hub references without the internet: a mock Hub on 127.0.0.1 (test/helpers/mockHub.ts) reached
 * through HF_ENDPOINT, and the Hugging Face cache in a temporary HF_HOME / HF_HUB_CACHE. Fresh
 * downloads land in the cache layout Python uses; a second resolve reads the cache; a cache Python
 * made is reused; a corrupted file, a gated repo, a missing repo and offline mode each give one clear
 * error.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { readReferenceInfo } from '../../server/engine/referenceInfo.js';
import { InherituneError } from '../../server/engine/errors.js';
import { cachedReference, describeHubModel, listCachedModels, parseHubUri, resolveReference, type DownloadProgress } from '../../server/engine/hub/index.js';
import { tinyGPT2 } from '../helpers/models.js';
import { REPO } from '../helpers/cli.js';
import { filesOfDir, MOCK_TOKEN, MockHub } from '../helpers/mockHub.js';

const HF_VARS = ['HF_ENDPOINT', 'HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_OFFLINE', 'XDG_CACHE_HOME'];
const saved = new Map(HF_VARS.map((k) => [k, process.env[k]]));
let tmp: string;
let hub: MockHub;
let gpt2Files: Map<string, Buffer>;
const SHARDED = path.join(REPO, 'test', 'fixtures', 'gpt2', 'hf-layout');

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const cacheDir = () => path.join(tmp, 'hub-cache');
const repoFolder = (id: string) => path.join(cacheDir(), `models--${id.replace('/', '--')}`);

async function rejects(p: Promise<unknown>, source: string | RegExp, detail: RegExp): Promise<InherituneError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof InherituneError, `expected an InherituneError, got ${String(e)}`);
    if (typeof source === 'string') assert.equal(e.source, source);
    else assert.match(e.source, source);
    assert.match(e.detail, detail);
    return e;
  }
  assert.fail('expected a rejection');
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-hub-'));
  const cfg = tinyGPT2({ vocabSize: 257, nPositions: 32, nLayer: 2 });
  saveGPT2(path.join(tmp, 'gpt2'), cfg, initWeightsOf(cfg, 3));
  gpt2Files = filesOfDir(path.join(tmp, 'gpt2'));
  hub = new MockHub();
  await hub.start();
});

beforeEach(() => {
  for (const k of HF_VARS) delete process.env[k];
  fs.rmSync(cacheDir(), { recursive: true, force: true });
  process.env.HF_ENDPOINT = hub.url;
  process.env.HF_HOME = path.join(tmp, 'hf-home');
  process.env.HF_HUB_CACHE = cacheDir();
  hub.requests.length = 0;
  hub.corrupt = undefined;
  hub.stall = undefined;
});

after(async () => {
  await hub.close();
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a fresh download lands in the HF cache layout: blobs by sha256 / git oid, snapshot symlinks, refs/main', async () => {
  const repo = hub.addRepo('acme/tiny-gpt2', new Map([...gpt2Files, ['README.md', Buffer.from('# card')], ['pytorch_model.bin', Buffer.from('pickle')]]));
  const progress: DownloadProgress[] = [];
  const r = await resolveReference(parseHubUri('hf://acme/tiny-gpt2', 'arg'), { onProgress: (p) => progress.push(p) });
  const folder = repoFolder('acme/tiny-gpt2');
  assert.equal(r.commit, repo.commit);
  assert.equal(r.dir, path.join(folder, 'snapshots', repo.commit));
  assert.equal(fs.readFileSync(path.join(folder, 'refs', 'main'), 'utf8'), repo.commit);
  // Only what a model needs: no README, no pickle.
  assert.deepEqual(fs.readdirSync(r.dir).sort(), ['config.json', 'model.safetensors']);
  const weights = gpt2Files.get('model.safetensors')!;
  const config = gpt2Files.get('config.json')!;
  assert.equal(fs.readlinkSync(path.join(r.dir, 'model.safetensors')), path.join('..', '..', 'blobs', sha256(weights)));
  assert.equal(fs.readlinkSync(path.join(r.dir, 'config.json')), path.join('..', '..', 'blobs', gitOid(config)));
  assert.deepEqual(fs.readdirSync(path.join(folder, 'blobs')).sort(), [gitOid(config), sha256(weights)].sort());
  assert.equal(r.downloadedBytes, weights.length + config.length);
  assert.equal(readReferenceInfo(r.dir).info.layers, 2);
  // Progress: bytes rise to the total; the last report says all of it.
  const last = progress[progress.length - 1];
  assert.equal(last.totalBytes, weights.length + config.length);
  assert.equal(last.bytes, last.totalBytes);
  assert.ok(progress.every((p, i) => i === 0 || p.bytes >= progress[i - 1].bytes));

  // Again: one request for the branch's commit, none for data.
  hub.requests.length = 0;
  const again = await resolveReference({ repo: 'acme/tiny-gpt2', revision: 'main' });
  assert.equal(again.dir, r.dir);
  assert.equal(again.downloadedBytes, 0);
  assert.equal(hub.requestsTo('/acme/tiny-gpt2/resolve/').length, 0);
  assert.equal(hub.requestsTo('/cdn/').length, 0);
  assert.equal(hub.requests.length, 1);
  // By commit: no request at all.
  hub.requests.length = 0;
  assert.equal((await resolveReference({ repo: 'acme/tiny-gpt2', revision: repo.commit })).dir, r.dir);
  assert.equal(hub.requests.length, 0);
  assert.deepEqual((await listCachedModels(cacheDir())).map((m) => ({ repo: m.repo, commit: m.commit, refs: m.refs })), [{ repo: 'acme/tiny-gpt2', commit: repo.commit, refs: ['main'] }]);
});

test('a sharded repo: the index first, then exactly the shards it lists (one listed as Xet-stored: checked by size), tokenizer files, an empty file without a request', async () => {
  const files = filesOfDir(SHARDED);
  files.delete('expected.json');
  files.delete('expected.safetensors');
  files.set('tokenizer.json', Buffer.from('{"model":{}}'));
  files.set('generation_config.json', Buffer.from('{}'));
  files.set('special_tokens_map.json', Buffer.alloc(0));
  const repo = hub.addRepo('acme/sharded', files);
  // One shard listed as Xet-stored (no LFS sha256): checked by size, its blob named by the xet hash.
  repo.xet.add('model-00002-of-00002.safetensors');
  const r = await resolveReference({ repo: 'acme/sharded', revision: 'main' });
  assert.deepEqual(fs.readdirSync(r.dir).sort(), ['config.json', 'generation_config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'special_tokens_map.json', 'tokenizer.json']);
  assert.equal(fs.statSync(path.join(r.dir, 'special_tokens_map.json')).size, 0);
  assert.ok(!hub.requests.some((q) => q.url.endsWith('/special_tokens_map.json')), 'an empty file needs no request');
  const xetHash = createHash('sha256').update('xet').update(files.get('model-00002-of-00002.safetensors')!).digest('hex');
  assert.equal(fs.readlinkSync(path.join(r.dir, 'model-00002-of-00002.safetensors')), path.join('..', '..', 'blobs', xetHash));
  assert.equal(readReferenceInfo(r.dir).info.layers, 3);
  const d = await describeHubModel({ repo: 'acme/sharded', revision: 'main' });
  assert.equal(d.cached?.dir, r.dir);
  assert.equal(d.weightBytes, files.get('model-00001-of-00002.safetensors')!.length + files.get('model-00002-of-00002.safetensors')!.length);
});

test('a cache made by Python (relative symlinks into blobs/, refs/main) is used as it is, with no data request', async () => {
  const repo = hub.addRepo('acme/from-python', gpt2Files);
  const folder = repoFolder('acme/from-python');
  const snap = path.join(folder, 'snapshots', repo.commit);
  fs.mkdirSync(path.join(folder, 'blobs'), { recursive: true });
  fs.mkdirSync(snap, { recursive: true });
  fs.mkdirSync(path.join(folder, 'refs'));
  fs.writeFileSync(path.join(folder, 'refs', 'main'), repo.commit);
  for (const [name, bytes] of gpt2Files) {
    const etag = name.endsWith('.safetensors') ? sha256(bytes) : gitOid(bytes);
    fs.writeFileSync(path.join(folder, 'blobs', etag), bytes);
    fs.symlinkSync(path.join('..', '..', 'blobs', etag), path.join(snap, name));
  }
  const before = fs.readdirSync(path.join(folder, 'blobs')).sort();
  const r = await resolveReference({ repo: 'acme/from-python', revision: 'main' });
  assert.equal(r.dir, snap);
  assert.equal(r.downloadedBytes, 0);
  assert.equal(hub.requestsTo('/acme/from-python/resolve/').length, 0);
  assert.deepEqual(fs.readdirSync(path.join(folder, 'blobs')).sort(), before);
  // Offline, from the cache alone (no request at all), and the config check's cache-only lookup.
  process.env.HF_HUB_OFFLINE = '1';
  hub.requests.length = 0;
  assert.equal((await resolveReference({ repo: 'acme/from-python', revision: 'main' })).dir, snap);
  assert.equal(cachedReference({ repo: 'acme/from-python', revision: 'main' }).commit, repo.commit);
  assert.equal(hub.requests.length, 0);
});

test('offline with an empty cache: one line naming the model and HF_HUB_OFFLINE, no request', async () => {
  hub.addRepo('acme/offline', gpt2Files);
  process.env.HF_HUB_OFFLINE = '1';
  await rejects(resolveReference({ repo: 'acme/offline', revision: 'main' }), 'acme/offline@main', /not in the Hugging Face cache .*HF_HUB_OFFLINE is set/);
  assert.equal(hub.requests.length, 0);
});

test('a corrupted file is detected by its sha256, deleted and reported by name; nothing half-made stays', async () => {
  hub.addRepo('acme/corrupt', gpt2Files);
  hub.corrupt = 'model.safetensors';
  await rejects(resolveReference({ repo: 'acme/corrupt', revision: 'main' }), 'acme/corrupt/model.safetensors', /corrupted \(sha256 [0-9a-f]{64}, the Hub lists [0-9a-f]{64}\); it was deleted/);
  const blobs = fs.readdirSync(path.join(repoFolder('acme/corrupt'), 'blobs'));
  assert.ok(!blobs.some((b) => b === sha256(gpt2Files.get('model.safetensors')!) || b.endsWith('.incomplete')), blobs.join(','));
  assert.throws(() => cachedReference({ repo: 'acme/corrupt', revision: 'main' }), /not in the Hugging Face cache/);
  // The next try, with the Hub serving good bytes, succeeds.
  hub.corrupt = undefined;
  assert.equal(readReferenceInfo((await resolveReference({ repo: 'acme/corrupt', revision: 'main' })).dir).info.layers, 2);
});

test('a gated repo: 401 without a token says how to get access; HF_TOKEN, or the token file, gets it', async () => {
  hub.addRepo('acme/gated', gpt2Files, { gated: true });
  const e = await rejects(resolveReference({ repo: 'acme/gated', revision: 'main' }), /^acme\/gated\//, /access denied \(HTTP 401\): .*accept the licence on the model page .*set HF_TOKEN/);
  assert.ok(!e.message.includes('\n'));
  process.env.HF_TOKEN = 'hf_wrong';
  await rejects(resolveReference({ repo: 'acme/gated', revision: 'main' }), /^acme\/gated\//, /the token from HF_TOKEN has no access/);
  process.env.HF_TOKEN = MOCK_TOKEN;
  assert.equal(readReferenceInfo((await resolveReference({ repo: 'acme/gated', revision: 'main' })).dir).info.layers, 2);
  assert.ok(hub.requestsTo('/acme/gated/resolve/').every((r) => r.authorization === `Bearer ${MOCK_TOKEN}` || r.authorization === 'Bearer hf_wrong' || r.authorization === undefined));
  // The HF CLI's token file ($HF_HOME/token).
  delete process.env.HF_TOKEN;
  fs.rmSync(cacheDir(), { recursive: true, force: true });
  fs.mkdirSync(process.env.HF_HOME!, { recursive: true });
  fs.writeFileSync(path.join(process.env.HF_HOME!, 'token'), `${MOCK_TOKEN}\n`);
  assert.equal(readReferenceInfo((await resolveReference({ repo: 'acme/gated', revision: 'main' })).dir).info.layers, 2);
  fs.rmSync(path.join(process.env.HF_HOME!, 'token'));
  // A token that is not one is named by its source.
  process.env.HF_TOKEN = 'not-a-token';
  await rejects(resolveReference({ repo: 'acme/gated', revision: 'main' }), 'HF_TOKEN', /is not a Hugging Face access token/);
});

test('404: a missing repo and a missing revision are one line each', async () => {
  await rejects(resolveReference({ repo: 'acme/nope', revision: 'main' }), 'acme/nope@main', /no such model or revision on the Hub/);
  hub.addRepo('acme/revs', gpt2Files);
  await rejects(resolveReference({ repo: 'acme/revs', revision: 'v9' }), 'acme/revs@v9', /no such model or revision/);
});

test('a repo with only PyTorch pickles is refused, naming safetensors', async () => {
  hub.addRepo('acme/pickle', new Map([['config.json', gpt2Files.get('config.json')!], ['pytorch_model.bin', Buffer.from('pickle')]]));
  await rejects(resolveReference({ repo: 'acme/pickle', revision: 'main' }), 'acme/pickle@main', /only PyTorch pickle weights \(pytorch_model\.bin\).*safetensors/);
  assert.equal(hub.requestsTo('/acme/pickle/resolve/').length, 0);
});

test('two downloads of one file never meet: a live lock holder is named; a dead one\'s lock is taken over', async () => {
  hub.addRepo('acme/locked', gpt2Files);
  const etag = sha256(gpt2Files.get('model.safetensors')!);
  const lock = path.join(cacheDir(), '.locks', 'models--acme--locked', `${etag}.inheritune.lock`);
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  fs.writeFileSync(lock, String(process.pid));
  await rejects(resolveReference({ repo: 'acme/locked', revision: 'main' }), 'acme/locked/model.safetensors', new RegExp(`is being downloaded by another process \\(pid ${process.pid}\\)`));
  const gone = spawnSync(process.execPath, ['-e', '']).pid;
  fs.writeFileSync(lock, String(gone));
  assert.equal(readReferenceInfo((await resolveReference({ repo: 'acme/locked', revision: 'main' })).dir).info.layers, 2);
  assert.ok(!fs.existsSync(lock));
});

test('the Hub unreachable: a cached branch is used with a notice; an uncached one is one line suggesting HF_HUB_OFFLINE', async () => {
  hub.addRepo('acme/away', gpt2Files);
  const r = await resolveReference({ repo: 'acme/away', revision: 'main' });
  process.env.HF_ENDPOINT = 'http://127.0.0.1:1';
  const notices: string[] = [];
  assert.equal((await resolveReference({ repo: 'acme/away', revision: 'main' }, { onNotice: (l) => notices.push(l) })).dir, r.dir);
  assert.match(notices.join('\n'), /cannot reach the Hub at http:\/\/127\.0\.0\.1:1 .*using the cached commit [0-9a-f]{40} of acme\/away@main/);
  await rejects(resolveReference({ repo: 'acme/elsewhere', revision: 'main' }), 'acme/elsewhere@main', /cannot reach the Hub at http:\/\/127\.0\.0\.1:1 \(.*\); set HF_HUB_OFFLINE=1 to use the cache only/);
});

test('cancelled with an AbortSignal: the partial file stays as .incomplete and a later call continues it with a Range request', async () => {
  hub.addRepo('acme/cancel', gpt2Files);
  const weights = gpt2Files.get('model.safetensors')!;
  hub.stall = { file: 'model.safetensors', bytes: 1000 };
  const abort = new AbortController();
  const partial = path.join(repoFolder('acme/cancel'), 'blobs', `${sha256(weights)}.incomplete`);
  const pending = resolveReference({ repo: 'acme/cancel', revision: 'main' }, { signal: abort.signal, onProgress: (p) => p.bytes >= 1000 + gpt2Files.get('config.json')!.length && abort.abort() });
  await rejects(pending, 'acme/cancel/model.safetensors', /download cancelled; run the command again to continue/);
  assert.equal(fs.statSync(partial).size, 1000);
  hub.stall = undefined;
  const r = await resolveReference({ repo: 'acme/cancel', revision: 'main' });
  const ranged = hub.requests.filter((q) => q.url.includes('/cdn/') && q.range);
  assert.deepEqual(ranged.map((q) => q.range), ['bytes=1000-']);
  assert.ok(!fs.existsSync(partial));
  assert.deepEqual(fs.readFileSync(path.join(r.dir, 'model.safetensors')), weights);
});
