/**
 * The `inheritune` command with Hub models, end to end through a mock Hub on 127.0.0.1
 * (HF_ENDPOINT): `eval hf://...` of a tiny GPT-2 and a tiny LLaMA (with its tokenizer), a download
 * killed with SIGKILL mid-file and continued with a Range request, `run` of a config with
 * `reference.hub` (the commit pinned in plan.json and summary.json, and a resume fetching that
 * commit, not the branch), and `push` of the run's model with its generated card.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import type { RunEvent, RunSummary } from '../../server/protocol/events.js';
import { tinyGPT2 } from '../helpers/models.js';
import { tinyLlama, writeLlama } from '../helpers/llama.js';
import { BIN, REPO, runCli, runCliEvents } from '../helpers/cli.js';
import { filesOfDir, MOCK_TOKEN, MockHub, type MockRepo } from '../helpers/mockHub.js';

const VAL_TEXT = path.join(REPO, 'examples', 'data', 'val.jsonl');
let tmp: string;
let hub: MockHub;
let gpt2: MockRepo;
let llama: MockRepo;
let big: MockRepo;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The child's environment: the mock Hub, a private cache, no login, no outside HF settings. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf-home'), HF_HUB_CACHE: path.join(tmp, 'hub-cache'), INHERITUNE_CACHE_DIR: path.join(tmp, 'tokens'), ...extra };
  for (const k of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_TOKEN_PATH', 'HF_HUB_OFFLINE', 'HUGGINGFACE_HUB_CACHE']) if (!(k in extra)) out[k] = '';
  return out;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-hubcli-'));
  const g = tinyGPT2({ vocabSize: 257, nPositions: 32, nLayer: 4 });
  saveGPT2(path.join(tmp, 'gpt2'), g, initWeightsOf(g, 2));
  writeLlama(path.join(tmp, 'llama'), tinyLlama(), 1, { tokenizer: true });
  const b = tinyGPT2({ vocabSize: 257, nPositions: 32, nLayer: 2, nEmbd: 64, nHead: 4 });
  saveGPT2(path.join(tmp, 'big'), b, initWeightsOf(b, 5));
  hub = new MockHub();
  await hub.start();
  gpt2 = hub.addRepo('acme/tiny-gpt2', filesOfDir(path.join(tmp, 'gpt2')));
  llama = hub.addRepo('acme/tiny-llama', filesOfDir(path.join(tmp, 'llama')));
  big = hub.addRepo('acme/big', filesOfDir(path.join(tmp, 'big')));
});

after(async () => {
  await hub.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const evalArgs = (model: string, tokenizer = 'bytes') => ['eval', model, '--data', VAL_TEXT, '--tokenizer', tokenizer, '--max-windows', '4', '--block-size', '16', '--backend', 'cpu', '--json'];

test('eval hf://ORG/NAME gives the figures of the same model read from a folder (GPT-2; LLaMA with its own tokenizer, at a commit)', async () => {
  const local = await runCli(evalArgs(path.join(tmp, 'gpt2')), { env: env() });
  assert.equal(local.status, 0, local.stderr);
  const remote = await runCli(evalArgs('hf://acme/tiny-gpt2'), { env: env() });
  assert.equal(remote.status, 0, remote.stderr);
  assert.equal(JSON.parse(remote.stdout).valLoss, JSON.parse(local.stdout).valLoss);
  assert.ok(fs.existsSync(path.join(tmp, 'hub-cache', 'models--acme--tiny-gpt2', 'snapshots', gpt2.commit, 'model.safetensors')));

  const l = await runCli(evalArgs(`hf://acme/tiny-llama@${llama.commit}`, 'model'), { env: env() });
  assert.equal(l.status, 0, l.stderr);
  const ll = await runCli(evalArgs(path.join(tmp, 'llama'), 'model'), { env: env() });
  assert.equal(JSON.parse(l.stdout).valLoss, JSON.parse(ll.stdout).valLoss);
  assert.ok(fs.existsSync(path.join(tmp, 'hub-cache', 'models--acme--tiny-llama', 'snapshots', llama.commit, 'tokenizer.json')));

  // Bad input: one line each.
  const bad = await runCli(evalArgs('hf://acme/no such'), { env: env() });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error: <modelDir>: "acme\/no such" is not a Hugging Face model id ORG\/NAME/m);
  const missing = await runCli(evalArgs('hf://acme/missing'), { env: env() });
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  assert.match(missing.stderr, /^error: acme\/missing@main: no such model or revision on the Hub/);
  const offline = await runCli(evalArgs('hf://acme/other'), { env: env({ HF_HUB_OFFLINE: '1' }) });
  assert.match(offline.stderr, /^error: acme\/other@main: not in the Hugging Face cache .* HF_HUB_OFFLINE/m);
});

test('a download killed with SIGKILL mid-file continues from its .incomplete with a Range request, and the result verifies', async () => {
  const weights = filesOfDir(path.join(tmp, 'big')).get('model.safetensors')!;
  const partial = path.join(tmp, 'hub-cache', 'models--acme--big', 'blobs', `${sha256(weights)}.incomplete`);
  const N = 100_000;
  assert.ok(weights.length > 2 * N);
  hub.stall = { file: 'model.safetensors', bytes: N };
  const child = spawn(process.execPath, [BIN, ...evalArgs('hf://acme/big')], { env: { ...process.env, ...env() }, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  // The mock has sent N bytes and holds the connection: wait until they are on disk, then kill.
  for (let i = 0; i < 1200 && !(fs.existsSync(partial) && fs.statSync(partial).size === N); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(fs.statSync(partial).size, N);
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const snapshot = path.join(tmp, 'hub-cache', 'models--acme--big', 'snapshots', big.commit);
  assert.ok(!fs.existsSync(path.join(snapshot, 'model.safetensors')), 'a partial download never looks like the file');

  hub.stall = undefined;
  hub.requests.length = 0;
  const r = await runCli(evalArgs('hf://acme/big'), { env: env() });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(hub.requests.filter((q) => q.url.startsWith('/cdn/')).map((q) => q.range), [`bytes=${N}-`]);
  assert.ok(!fs.existsSync(partial));
  assert.deepEqual(fs.readFileSync(path.join(snapshot, 'model.safetensors')), weights);
});

const CONFIG = `name: hubrun
reference: { hub: acme/tiny-gpt2 }
target: { layers: 2 }
grow: { step: 1, max_layers: 3, tolerance: -100.0 }
data: { train: ${VAL_TEXT}, val: ${VAL_TEXT}, tokenizer: bytes }
train: { steps: 4, batch_tokens: 64, micro_batch: 4, block_size: 16, warmup: 1, eval_every: 2, eval_windows: 4 }
baselines: [scratch]
analysis: { sequences: 2, seq_len: 16 }
runtime: { out_dir: runs, checkpoint_every: 1, backend: cpu }
`;

test('run with reference.hub: the commit is pinned in plan.json and summary.json; a resume fetches that commit, not the branch; push publishes the model with its card', async () => {
  fs.writeFileSync(path.join(tmp, 'hub.inheritune.yaml'), CONFIG);
  fs.rmSync(path.join(tmp, 'hub-cache'), { recursive: true, force: true });
  const killed = await runCliEvents<RunEvent>(['run', 'hub.inheritune.yaml', '--json'], { cwd: tmp, env: env(), kill: (e) => e.type === 'checkpoint' && e.model.label === 'round-2' && e.step === 2 });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const runDir = path.join(tmp, 'runs', killed.events[0].runId);
  const plan = JSON.parse(fs.readFileSync(path.join(runDir, 'plan.json'), 'utf8')) as { referenceDir: string; hub: unknown };
  assert.deepEqual(plan.hub, { repo: 'acme/tiny-gpt2', revision: 'main', commit: gpt2.commit });
  assert.equal(plan.referenceDir, path.join(tmp, 'hub-cache', 'models--acme--tiny-gpt2', 'snapshots', gpt2.commit));

  // The cache is gone: the resume downloads the pinned commit (no question about the branch).
  fs.rmSync(path.join(tmp, 'hub-cache'), { recursive: true, force: true });
  hub.requests.length = 0;
  const resumed = await runCliEvents<RunEvent>(['run', '--resume', runDir, '--json'], { cwd: tmp, env: env() });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.ok(hub.requests.some((q) => q.url.startsWith(`/acme/tiny-gpt2/resolve/${gpt2.commit}/`)));
  assert.ok(!hub.requests.some((q) => q.url.includes('/revision/') || q.url.includes('/resolve/main/')), hub.requests.map((q) => q.url).join('\n'));
  const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary;
  assert.deepEqual(summary.reference.hub, { repo: 'acme/tiny-gpt2', revision: 'main', commit: gpt2.commit });

  // push: refused without a token, then published with the card.
  const model = path.join(runDir, 'model');
  const refused = await runCli(['push', model, 'me/derived'], { env: env() });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^error: HF_TOKEN: push needs a token with write access to me\/derived/);
  const pushed = await runCli(['push', model, 'me/derived', '--private'], { env: env({ HF_TOKEN: MOCK_TOKEN }) });
  assert.equal(pushed.status, 0, pushed.stderr);
  const repo = hub.repos.get('me/derived');
  assert.ok(repo?.private);
  assert.deepEqual([...repo.files.keys()].sort(), ['README.md', 'config.json', 'model.safetensors']);
  assert.deepEqual(repo.files.get('model.safetensors'), fs.readFileSync(path.join(model, 'model.safetensors')));
  const card = repo.files.get('README.md')!.toString();
  assert.match(card, /^---\nlibrary_name: transformers\n[\s\S]*base_model: acme\/tiny-gpt2\n---/);
  assert.ok(card.includes(`[acme/tiny-gpt2](https://huggingface.co/acme/tiny-gpt2) at commit \`${gpt2.commit}\``), card);
  assert.match(card, /its first 2 of 4 layers/);
  assert.match(card, new RegExp(`\\| reference \\| 4 \\| - \\| ${summary.reference.valLoss.toFixed(4)} \\|`));
  assert.match(card, new RegExp(`\\| baseline scratch \\| \\d \\| 4 \\| ${summary.baselines[0].valLoss.toFixed(4)} \\|`));
  assert.match(card, /\| layer \| reference MaxRank \| this model MaxRank \|\n\|---:\|---:\|---:\|\n\| 0 \| \d+( \(lazy\))? \| \d+( \(lazy\))? \|/);
  assert.match(card, /4 steps per round of 64 tokens/);
  assert.match(pushed.stdout, /^pushed 3 files to .*\/me\/derived \(commit [0-9a-f]{40}\)$/m);
  assert.deepEqual(repo.commits.map((c) => c.files), [['README.md', 'config.json', 'model.safetensors']]);
});
