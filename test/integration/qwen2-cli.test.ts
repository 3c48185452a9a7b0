/**
 * A Qwen2 reference goes everywhere a LLaMA goes, through the real `inheritune` command: eval and
 * analyze (block by block), inherit (the q/k/v biases copied as attention parts, written in HF's
 * Qwen2 layout), pretrain continuing the derived model (the biases trained too), and the whole
 * Inheritune loop (`inheritune run`: reference measured block by block, growth, a baseline).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModelDir, saveModelDir } from '../../server/engine/hfCheckpoint.js';
import type { HostTensor, Qwen2Config } from '../../server/engine/modelFamily.js';
import type { RunEvent, RunSummary } from '../../server/protocol/events.js';
import { runCli, runCliEvents } from '../helpers/cli.js';
import { distinctWeights, tinyLlama } from '../helpers/llama.js';

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-qwen2-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));
const ENV = { INHERITUNE_CACHE_DIR: path.join(ROOT, 'cache') };

const CONFIG: Qwen2Config = { ...tinyLlama({ tieWordEmbeddings: true }), family: 'qwen2', qkvBias: true };
const REF = path.join(ROOT, 'ref');
const WEIGHTS = distinctWeights(CONFIG, 4);
saveModelDir(REF, CONFIG, WEIGHTS, { dtype: 'BF16' });

const TOKENS = path.join(ROOT, 'tokens.bin');
{
  const b = Buffer.alloc(2 * 600);
  for (let i = 0; i < 600; i++) b.writeUInt16LE((i * 37 + (i >> 3)) % CONFIG.vocabSize, 2 * i);
  fs.writeFileSync(TOKENS, b);
}

const BIAS = 'model.layers.1.self_attn.v_proj.bias';
const data = (name: string): Float32Array => (loadModelDir(REF).tensors.get(name) as HostTensor).data;

test('eval and analyze a Qwen2 reference block by block', async () => {
  const ev = await runCli(['eval', REF, '--data', TOKENS, '--block-size', '16', '--json', '--backend', 'cpu'], { env: ENV });
  assert.equal(ev.status, 0, ev.stderr);
  const r = JSON.parse(ev.stdout) as { valLoss: number; windows: number };
  assert.ok(Number.isFinite(r.valLoss) && r.valLoss > 0 && r.windows > 0, ev.stdout);
  assert.match(ev.stderr, /eval \(blocks\)/);
  const an = await runCli(['analyze', REF, '--data', TOKENS, '--sequences', '2', '--seq-len', '16', '--json', '--backend', 'cpu'], { env: ENV });
  assert.equal(an.status, 0, an.stderr);
  assert.equal((JSON.parse(an.stdout) as { layers: unknown[] }).layers.length, CONFIG.nLayer);
});

test('inherit from a Qwen2 reference writes a Qwen2 model in HF layout with the q/k/v biases copied; pretrain continues it', async () => {
  const derived = path.join(ROOT, 'derived');
  const inh = await runCli(['inherit', REF, '--layers', '2', '--out', derived], { env: ENV });
  assert.equal(inh.status, 0, inh.stderr);
  const cfg = JSON.parse(fs.readFileSync(path.join(derived, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg.model_type, 'qwen2');
  assert.deepEqual(cfg.architectures, ['Qwen2ForCausalLM']);
  const m = loadModelDir(derived);
  assert.equal(m.config.family, 'qwen2');
  assert.equal(m.config.nLayer, 2);
  assert.deepEqual((m.tensors.get(BIAS) as HostTensor).data, data(BIAS));

  const trained = path.join(ROOT, 'trained');
  const pre = await runCli(
    ['pretrain', '--from', derived, '--data', TOKENS, '--val', TOKENS, '--out', trained, '--steps', '3', '--batch-tokens', '64', '--micro-batch', '4', '--block-size', '16', '--warmup', '1', '--eval-every', '0', '--eval-windows', '4', '--backend', 'cpu'],
    { env: ENV, timeoutMs: 120_000 },
  );
  assert.equal(pre.status, 0, pre.stderr);
  const t = loadModelDir(trained);
  assert.equal(t.config.family, 'qwen2');
  const before = (m.tensors.get(BIAS) as HostTensor).data;
  const after = (t.tensors.get(BIAS) as HostTensor).data;
  assert.ok(after.some((v, i) => v !== before[i]), 'training moved the v_proj bias');
});

test('inheritune run completes the whole loop on a Qwen2 reference and saves a Qwen2 model', async () => {
  fs.writeFileSync(
    path.join(ROOT, 'tiny.inheritune.yaml'),
    `name: tiny-qwen2
reference: { path: ref }
target: { layers: 1 }
grow: { step: 1, max_layers: 2, tolerance: -100.0 }
data: { train: tokens.bin, val: tokens.bin }
train: { steps: 2, batch_tokens: 64, micro_batch: 4, block_size: 16, warmup: 1, eval_every: 2, eval_windows: 4 }
baselines: [scratch]
analysis: { every: 2, sequences: 2, seq_len: 16 }
runtime: { out_dir: runs, checkpoint_every: 2, backend: cpu }
`,
  );
  const r = await runCliEvents<RunEvent>(['run', 'tiny.inheritune.yaml', '--json'], { cwd: ROOT, env: ENV });
  assert.equal(r.status, 0, r.stderr);
  const finished = r.events.at(-1) as Extract<RunEvent, { type: 'runFinished' }>;
  assert.equal(finished.type, 'runFinished');
  const summary = finished.summary as RunSummary;
  assert.deepEqual(summary.rounds.map((x) => x.layers), [1, 2]);
  assert.ok(Number.isFinite(summary.reference.valLoss) && summary.rounds.every((x) => Number.isFinite(x.valLoss)));
  const m = loadModelDir(summary.final.modelDir);
  assert.equal(m.config.family, 'qwen2');
  assert.equal(m.config.nLayer, 2);
  assert.equal(JSON.parse(fs.readFileSync(path.join(summary.final.modelDir, 'config.json'), 'utf8')).model_type, 'qwen2');
});
