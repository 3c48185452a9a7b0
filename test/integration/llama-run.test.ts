/**
 * The whole Inheritune loop on a tiny LLaMA reference (issue 8, must-hold 4): `inheritune run` with
 * English text tokenized by the reference's own tokenizer.json (`data.tokenizer: model`), growth,
 * a scratch baseline, attention analysis, and the final model saved in BF16 (runtime.save_dtype).
 * Also the config checks a LLaMA reference gets: its shape in ReferenceInfo, a tokenizer too large
 * for its vocabulary (with the fix "model"), and the refusal of a run that would not fit in memory.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateRunConfig } from '../../server/engine/configCheck.js';
import { loadModelDir, ModelDir } from '../../server/engine/hfCheckpoint.js';
import { estimateRun } from '../../server/engine/resources.js';
import type { RunEvent, RunSummary } from '../../server/protocol/events.js';
import { REPO, runCli, runCliEvents } from '../helpers/cli.js';
import { tinyLlama, writeLlama } from '../helpers/llama.js';

const VAL_TEXT = path.join(REPO, 'examples', 'data', 'val.jsonl');
const refConfig = tinyLlama({ nLayer: 3, nPositions: 64 });

const CONFIG = `name: tiny-llama
reference: { path: ref }
target: { layers: 1 }
grow: { step: 1, max_layers: 2, tolerance: -100.0 }
data: { train: ${VAL_TEXT}, val: ${VAL_TEXT}, tokenizer: model }
train: { steps: 4, batch_tokens: 128, micro_batch: 4, block_size: 32, warmup: 1, eval_every: 2, eval_windows: 8 }
baselines: [scratch]
analysis: { every: 2, sequences: 2, seq_len: 32 }
runtime: { out_dir: runs, checkpoint_every: 2, backend: wasm, save_dtype: bfloat16 }
`;

let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-llama-run-'));
  writeLlama(path.join(dir, 'ref'), refConfig, 3, { tokenizer: true, dtype: 'BF16' });
  fs.writeFileSync(path.join(dir, 'tiny.inheritune.yaml'), CONFIG);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

const env = () => ({ INHERITUNE_CACHE_DIR: path.join(dir, 'cache') });

test('the config checks read a LLaMA reference: family, heads, key/value heads, MLP width, storage, tokenizer', async () => {
  const file = path.join(dir, 'tiny.inheritune.yaml');
  const r = await validateRunConfig(CONFIG, file, { readTokens: false });
  assert.deepEqual(r.issues.filter((i) => i.severity === 'error'), []);
  const ref = r.reference;
  assert.ok(ref);
  assert.deepEqual(
    { family: ref.family, layers: ref.layers, nEmbd: ref.nEmbd, nHead: ref.nHead, nKvHead: ref.nKvHead, nInner: ref.nInner, vocabSize: ref.vocabSize, nPositions: ref.nPositions, weightDtype: ref.weightDtype, hasTokenizer: ref.hasTokenizer },
    { family: 'llama', layers: 3, nEmbd: 16, nHead: 4, nKvHead: 2, nInner: 24, vocabSize: 320, nPositions: 64, weightDtype: 'BF16', hasTokenizer: true },
  );
  assert.equal(ref.weightBytes, 2 * ref.params);
  assert.ok(r.estimate && r.estimate.memory.total > 0 && r.estimate.disk.total > 0);

  // GPT-2's tokenizer has more ids than this vocabulary: the issue offers the model's own tokenizer.
  const gpt2 = await validateRunConfig(CONFIG.replace('tokenizer: model', 'tokenizer: gpt2'), file, { readTokens: false });
  const issue = gpt2.issues.find((i) => i.path.join('.') === 'data.tokenizer');
  assert.ok(issue, JSON.stringify(gpt2.issues));
  assert.match(issue.message, /gpt2\) has 50257 ids, more than the reference's vocabulary of 320 \(model fits\)/);
  assert.equal(issue.fix?.text, 'model');
});

test('estimates count the largest model trained, and a run that needs more memory than is free is refused before any work', async () => {
  const file = path.join(dir, 'tiny.inheritune.yaml');
  const r = await validateRunConfig(CONFIG, file, { readTokens: false });
  assert.ok(r.config && r.estimate);
  const e = estimateRun(r.config, refConfig);
  assert.equal(e.largestLayers, 2);
  const P2 = loadModelDir(path.join(dir, 'ref'), { layers: 2 }).tensors;
  let params = 0;
  let largest = 0;
  for (const t of P2.values()) {
    params += t.data.length;
    largest = Math.max(largest, t.data.length);
  }
  assert.equal(e.disk.finalModel, 2 * params, 'final model in bfloat16');
  assert.equal(e.memory.phase, 'training');
  // Two float32 moments per parameter, and AdamW's ten temporaries of the largest tensor (the 320 x 16 embedding or head).
  assert.equal(largest, 320 * 16);
  assert.equal(e.memory.optimizer, 8 * params + 10 * 4 * largest);

  // A micro-batch of a million windows cannot fit: refused on train.micro_batch, naming both sizes.
  const huge = CONFIG.replace('batch_tokens: 128, micro_batch: 4', 'batch_tokens: 33554432, micro_batch: 1048576');
  fs.writeFileSync(path.join(dir, 'huge.inheritune.yaml'), huge);
  const res = await runCli(['run', 'huge.inheritune.yaml', '--out', 'huge-runs'], { cwd: dir, env: env() });
  assert.equal(res.status, 1, res.stderr);
  assert.match(res.stderr, /huge\.inheritune\.yaml:6:\d+: the run needs about [\d.]+ [TG]iB of memory but [\d.]+ [GM]iB is free: estimated peak memory/);
  assert.ok(!fs.existsSync(path.join(dir, 'huge-runs')), 'nothing is written for a refused run');
});

test('inheritune run completes the whole loop on a tiny LLaMA reference and saves a BF16 LLaMA model', async () => {
  const r = await runCliEvents<RunEvent>(['run', 'tiny.inheritune.yaml', '--json'], { cwd: dir, env: env() });
  assert.equal(r.status, 0, r.stderr);
  const finished = r.events.at(-1);
  assert.equal(finished?.type, 'runFinished');
  const summary = (finished as Extract<RunEvent, { type: 'runFinished' }>).summary as RunSummary;
  assert.deepEqual(summary.rounds.map((x) => x.layers), [1, 2]);
  assert.equal(summary.reference.layers, 3);
  assert.ok(Number.isFinite(summary.reference.valLoss) && summary.rounds.every((x) => Number.isFinite(x.valLoss)));
  assert.deepEqual(summary.baselines.map((b) => [b.name, b.layers]), [['scratch', 2]]);
  const labels = new Set(r.events.filter((e) => e.type === 'attention').map((e) => (e as Extract<RunEvent, { type: 'attention' }>).model.label));
  assert.deepEqual([...labels].sort(), ['reference', 'round-1', 'round-2']);
  const refAttention = r.events.find((e) => e.type === 'attention' && e.model.label === 'reference') as Extract<RunEvent, { type: 'attention' }>;
  assert.equal(refAttention.layers.length, 3);

  const m = ModelDir.open(summary.final.modelDir);
  try {
    assert.ok(m.config.family === 'llama');
    assert.equal(m.config.nLayer, 2);
    assert.deepEqual(Object.keys(m.storage()), ['BF16']);
    assert.equal(JSON.parse(fs.readFileSync(path.join(summary.final.modelDir, 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
  } finally {
    m.close();
  }
  // The derived model is a model directory like any other: eval reads it (text through the reference's tokenizer).
  fs.copyFileSync(path.join(dir, 'ref', 'tokenizer.json'), path.join(summary.final.modelDir, 'tokenizer.json'));
  const ev = await runCli(['eval', summary.final.modelDir, '--data', VAL_TEXT, '--tokenizer', 'model', '--block-size', '32', '--max-windows', '4', '--json', '--backend', 'wasm'], { cwd: dir, env: env() });
  assert.equal(ev.status, 0, ev.stderr);
  assert.ok(Number.isFinite((JSON.parse(ev.stdout) as { valLoss: number }).valLoss));
});
