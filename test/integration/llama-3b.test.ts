/**
 * A synthetic 3B-parameter LLaMA (OpenLLaMA-3B's shape: hidden 3200, MLP 8640, 26 layers, 32 heads,
 * vocabulary 32000, rms_norm_eps 1e-6; untied head; 3.43B parameters) stored as HF stores it: BF16,
 * sharded safetensors with an index, random weights. It is generated here (about 6.9 GB, streamed to
 * disk a few MB at a time), exists only while the test runs, and is deleted afterwards.
 *
 * Must hold (issue 8): `inheritune inherit --layers 13` writes the derived model with peak RSS under
 * 8 GB, and `inheritune analyze` over 4 windows of 64 tokens completes with peak RSS under 4 GB
 * (the reference is analysed block by block). Peak RSS is the CLI process's own maxRSS
 * (getrusage), reported at exit by a preloaded hook.
 *
 * It takes about two minutes on the 2-core reference machine (checkpoint 25 s, inherit 20 s,
 * analyze 65 s) and needs about 11 GB of free disk at its peak (the reference and the derived
 * model). It runs by default and skips itself, saying why, where the scratch folder has under
 * 16 GB free or the machine under 12 GB of memory; INHERITUNE_3B=0 skips it, INHERITUNE_3B_DIR
 * picks the scratch folder (default: the OS temporary folder).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configToHF, ModelDir } from '../../server/engine/hfCheckpoint.js';
import type { LlamaConfig } from '../../server/engine/llamaConfig.js';
import { parseConfigOf } from '../../server/engine/modelFamily.js';
import { parameterCountOf, shapesOf } from '../../server/engine/modelFamily.js';
import { freeDiskBytes } from '../../server/engine/resources.js';
import { f32ToBF16Bits, SafetensorsWriter } from '../../server/engine/safetensors.js';
import { BIN } from '../helpers/cli.js';

const GB = 1e9;
const SCRATCH = process.env.INHERITUNE_3B_DIR ?? os.tmpdir();

function skipReason(): string | false {
  if (process.env.INHERITUNE_3B === '0') return 'INHERITUNE_3B=0';
  const free = freeDiskBytes(SCRATCH);
  if (free !== undefined && free < 16 * GB) return `${SCRATCH} has ${(free / GB).toFixed(1)} GB free; the test needs 16 GB (set INHERITUNE_3B_DIR)`;
  if (os.totalmem() < 12 * GB) return `the machine has ${(os.totalmem() / GB).toFixed(1)} GB of memory; the test needs 12 GB`;
  return false;
}

const SKIP = skipReason();
const ENABLED = SKIP === false;
const SHARD_BYTES = 2e9;

let root: string;
let refDir: string;

/** OpenLLaMA-3B's config.json (as published), parsed. */
const CONFIG: LlamaConfig = parseConfigOf(
  {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 3200,
    intermediate_size: 8640,
    num_hidden_layers: 26,
    num_attention_heads: 32,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-6,
    vocab_size: 32000,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'bfloat16',
  },
  'open_llama_3b/config.json',
  'llama',
);

/**
 * Writes the checkpoint: shards of about 2 GB (a layer's tensors may straddle two, as HF's are),
 * weights ~ N(0, 0.02) drawn from a fixed pool of BF16 values at random offsets (fast, and every
 * tensor different), RMSNorm gains 1.
 */
function writeSyntheticCheckpoint(dir: string, cfg: LlamaConfig): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configToHF(cfg, 'BF16'), null, 2));
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const POOL = 1 << 22;
  const pool = new Uint8Array(2 * POOL);
  for (let i = 0; i < POOL; i++) {
    const normal = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
    const b = f32ToBF16Bits(0.02 * normal);
    pool[2 * i] = b & 0xff;
    pool[2 * i + 1] = b >>> 8;
  }
  const one = f32ToBF16Bits(1);
  const entries = [...shapesOf(cfg)].map(([name, shape]) => ({ name, shape, dtype: 'BF16' as const, bytes: 2 * shape.reduce((a, b) => a * b, 1) }));
  const shards: (typeof entries)[] = [];
  let size = Infinity;
  for (const e of entries) {
    if (size + e.bytes > SHARD_BYTES) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(e);
    size += e.bytes;
  }
  const names = shards.map((_, k) => `model-${String(k + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  const CHUNK = 1 << 21; // values per write
  shards.forEach((shard, k) => {
    const w = SafetensorsWriter.open(path.join(dir, names[k]), shard, { format: 'pt' });
    for (const e of shard) {
      weightMap[e.name] = names[k];
      const n = e.bytes / 2;
      const isNorm = e.name.endsWith('norm.weight');
      for (let done = 0; done < n; done += CHUNK) {
        const m = Math.min(CHUNK, n - done);
        let chunk: Uint8Array;
        if (isNorm) {
          chunk = new Uint8Array(2 * m);
          for (let i = 0; i < m; i++) {
            chunk[2 * i] = one & 0xff;
            chunk[2 * i + 1] = one >>> 8;
          }
        } else {
          const at = Math.floor(rand() * (POOL - m));
          chunk = pool.subarray(2 * at, 2 * (at + m));
        }
        w.writeBytes(chunk);
      }
    }
    w.finish();
  });
  const total = entries.reduce((a, e) => a + e.bytes, 0);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
}

interface Measured {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Peak resident set of the CLI process, bytes. */
  maxRss: number;
}

/** Runs the CLI with a preloaded hook that records process.resourceUsage().maxRSS at exit. */
function measuredCli(args: string[]): Promise<Measured> {
  const rssFile = path.join(root, `rss-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const hook = path.join(root, 'report-rss.cjs');
  if (!fs.existsSync(hook)) {
    fs.writeFileSync(hook, "process.on('exit', () => require('node:fs').writeFileSync(process.env.INHERITUNE_RSS_FILE, String(process.resourceUsage().maxRSS * 1024)));\n");
  }
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', hook, BIN, ...args], {
      env: { ...process.env, INHERITUNE_RSS_FILE: rssFile, INHERITUNE_CACHE_DIR: path.join(root, 'cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => {
      const maxRss = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) : NaN;
      resolve({ status, stdout, stderr, seconds: (performance.now() - t0) / 1000, maxRss });
    });
  });
}

const fmt = (m: Measured) => `${m.seconds.toFixed(1)} s, peak RSS ${(m.maxRss / GB).toFixed(2)} GB`;

before(() => {
  if (!ENABLED) return;
  root = fs.mkdtempSync(path.join(SCRATCH, 'inheritune-3b-'));
  refDir = path.join(root, 'open_llama_3b_synthetic');
  const t0 = performance.now();
  writeSyntheticCheckpoint(refDir, CONFIG);
  const bytes = fs.readdirSync(refDir).reduce((a, f) => a + fs.statSync(path.join(refDir, f)).size, 0);
  process.stdout.write(`# synthetic 3B checkpoint: ${(bytes / GB).toFixed(2)} GB written in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
});

after(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('the synthetic checkpoint has OpenLLaMA-3B\'s shape: 3.43B parameters in BF16 shards', { skip: SKIP }, () => {
  const m = ModelDir.open(refDir);
  try {
    assert.equal(parameterCountOf(m.config), 3_426_473_600);
    assert.deepEqual(Object.keys(m.storage()), ['BF16']);
    assert.ok(fs.readdirSync(refDir).filter((f) => f.endsWith('.safetensors')).length >= 3);
  } finally {
    m.close();
  }
});

test('inherit --layers 13 from the 3B checkpoint: peak RSS under 8 GB; the copies are the reference\'s bytes', { skip: SKIP, timeout: 3_600_000 }, async (t) => {
  const out = path.join(root, 'derived-13');
  const r = await measuredCli(['inherit', refDir, '--layers', '13', '--dtype', 'bfloat16', '--out', out]);
  t.diagnostic(`inherit --layers 13: ${fmt(r)}`);
  process.stdout.write(`# inherit --layers 13: ${fmt(r)}\n`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /13 layers, 1,815,638,400 parameters; 120 tensors inherited, 0 initialised/);
  assert.ok(r.maxRss < 8 * GB, `peak RSS ${fmt(r)} exceeds 8 GB`);
  const src = ModelDir.open(refDir);
  const dst = ModelDir.open(out);
  try {
    assert.equal(dst.config.nLayer, 13);
    for (const name of ['model.embed_tokens.weight', 'model.layers.12.mlp.down_proj.weight', 'lm_head.weight']) {
      const n = dst.info(name).byteLength;
      assert.ok(Buffer.from(dst.readBytes(name, 0, n)).equals(Buffer.from(src.readBytes(name, 0, n))), `${name} copied bit for bit`);
    }
  } finally {
    src.close();
    dst.close();
  }
  fs.rmSync(out, { recursive: true, force: true });
});

test('analyze the 3B checkpoint over 4 windows of 64 tokens: peak RSS under 4 GB (block by block)', { skip: SKIP, timeout: 3_600_000 }, async (t) => {
  const data = path.join(root, 'tokens.bin');
  let s = 7;
  fs.writeFileSync(data, Buffer.from(Uint16Array.from({ length: 4096 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 32000).buffer));
  const r = await measuredCli(['analyze', refDir, '--data', data, '--sequences', '4', '--seq-len', '64', '--json', '--backend', 'wasm']);
  t.diagnostic(`analyze 4 x 64: ${fmt(r)}`);
  process.stdout.write(`# analyze 4 windows x 64 tokens: ${fmt(r)}\n`);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { layers: { maxRank: number }[]; sequences: number; seqLen: number };
  assert.equal(result.layers.length, 26);
  assert.deepEqual([result.sequences, result.seqLen], [4, 64]);
  assert.ok(result.layers.every((l) => Number.isFinite(l.maxRank) && l.maxRank >= 1));
  assert.ok(r.maxRss < 4 * GB, `peak RSS ${fmt(r)} exceeds 4 GB`);
});
