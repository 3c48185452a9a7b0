/**
 * The real `inheritune` command on bad input: every case must exit non-zero, print one
 * `error: <file or option>: <what is wrong>` line on stderr (commander's own message for option
 * syntax), print no stack trace and nothing on stdout, and leave no output folder that looks complete.
 * Fixtures are a 2-layer, d 16, vocabulary 64 model written with saveGPT2 and small token files.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GPT2Config } from '../../server/engine/gpt2Config.js';
import { loadGPT2, saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { tinyLlama, writeLlama } from '../helpers/llama.js';
import { tinyGPT2 } from '../helpers/models.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-cli-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));
const ENV = { INHERITUNE_CACHE_DIR: path.join(ROOT, 'cache') };

const CONFIG: GPT2Config = tinyGPT2();
const REF = path.join(ROOT, 'ref');
saveGPT2(REF, CONFIG, initWeightsOf(CONFIG, 1));

function tokenFile(name: string, ids: number[]): string {
  const b = Buffer.alloc(2 * ids.length);
  ids.forEach((id, i) => b.writeUInt16LE(id, 2 * i));
  const file = path.join(ROOT, name);
  fs.writeFileSync(file, b);
  return file;
}

const GOOD = tokenFile('good.bin', Array.from({ length: 200 }, (_, i) => (i * 7) % 64));
const OOV = tokenFile('oov.bin', [...Array.from({ length: 40 }, (_, i) => i % 64), 64, 3, 65535, ...Array.from({ length: 40 }, () => 1)]);
const EMPTY = tokenFile('empty.bin', []);
const SHORT = tokenFile('short.bin', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

let copies = 0;
/** A copy of the reference model, changed by `mutate(dir)`. */
function brokenModel(mutate: (dir: string) => void): string {
  const dir = path.join(ROOT, `broken-${copies++}`);
  fs.cpSync(REF, dir, { recursive: true });
  mutate(dir);
  return dir;
}

/** Rewrites model.safetensors' JSON header (the data bytes stay where they are). */
function editHeader(dir: string, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void): void {
  const file = path.join(dir, 'model.safetensors');
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  const hb = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  fs.writeFileSync(file, Buffer.concat([len, hb, raw.subarray(8 + n)]));
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(c);
  fs.writeFileSync(file, JSON.stringify(c));
}

const weightsOf = (dir: string): string => path.join(dir, 'model.safetensors');
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A fresh, empty folder for a command's output. */
function outParent(): string {
  return fs.mkdtempSync(path.join(ROOT, 'out-'));
}

// ---------------------------------------------------------------------------------------------
// Assertions

function assertNoCrash(r: CliResult): void {
  assert.equal(r.signal, null, `killed by ${r.signal}`);
  assert.ok(r.status !== null && r.status !== 0, `exit status ${r.status}, expected non-zero\nstderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `a stack trace was printed:\n${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout');
}

/** Failed with exactly one `error: <source>: ...` line matching every pattern. */
function assertError(r: CliResult, source: string, ...patterns: RegExp[]): void {
  assertNoCrash(r);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(lines.length, 1, `expected one error line, got:\n${r.stderr}`);
  assert.ok(lines[0].startsWith(`error: ${source}: `), `error line does not name ${source}:\n${lines[0]}`);
  for (const re of patterns) assert.match(lines[0], re);
}

/** Failed on option syntax with commander's message. */
function assertUsageError(r: CliResult, pattern: RegExp): void {
  assertNoCrash(r);
  assert.match(r.stderr, pattern);
  assert.match(r.stderr, /^error: /m);
}

const evalJson = (model: string, data: string, ...more: string[]) => runCli(['eval', model, '--data', data, '--json', '--backend', 'cpu', ...more], { env: ENV });

// ---------------------------------------------------------------------------------------------
// Controls: the fixtures are good, so each failure below comes from the one thing broken.

test('control: eval on the fixture model and data succeeds and prints the JSON result', async () => {
  const r = await evalJson(REF, GOOD, '--block-size', '8');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { valLoss: number; tokens: number; windows: number; backend: string };
  assert.equal(out.backend, 'cpu');
  assert.equal(out.windows, 24);
  assert.ok(Number.isFinite(out.valLoss) && Math.abs(out.valLoss - Math.log(64)) < 0.5, `loss ${out.valLoss} of a fresh model is near ln 64`);
});

test('control: inherit --layers 1 writes a complete 1-layer model that loads', async () => {
  const out = path.join(outParent(), 'small');
  const r = await runCli(['inherit', REF, '--layers', '1', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wrote .*1 layers/);
  assert.equal(loadGPT2(out).config.nLayer, 1);
});

// ---------------------------------------------------------------------------------------------
// Broken model folders (eval, analyze, inherit and pretrain --from all load models the same way)

test('eval: truncated model.safetensors is an error naming the file and the size it should have', async () => {
  const dir = brokenModel((d) => fs.truncateSync(weightsOf(d), fs.statSync(weightsOf(d)).size - 100));
  assertError(await evalJson(dir, GOOD), weightsOf(dir), /file is truncated/, /should be at least \d+ bytes, but it has \d+/);
});

test('eval: a lying safetensors header (data_offsets disagree with dtype and shape) is an error naming the file and tensor', async () => {
  const dir = brokenModel((d) => editHeader(d, (h) => (h['wte.weight'].shape = [64, 15])));
  assertError(await evalJson(dir, GOOD), weightsOf(dir), /tensor "wte\.weight": header is inconsistent/, /F32 \[64, 15\] needs 3840/);
});

test('eval: an unknown dtype is an error naming the file, the tensor and the dtype', async () => {
  const dir = brokenModel((d) => editHeader(d, (h) => (h['h.0.ln_1.weight'].dtype = 'F8_E4M3X')));
  assertError(await evalJson(dir, GOOD), weightsOf(dir), /tensor "h\.0\.ln_1\.weight": unknown dtype "F8_E4M3X"/);
});

test('eval: a safetensors file whose header is not JSON is an error naming the file', async () => {
  const dir = brokenModel((d) => {
    const raw = fs.readFileSync(weightsOf(d));
    raw.write('#', 8);
    fs.writeFileSync(weightsOf(d), raw);
  });
  assertError(await evalJson(dir, GOOD), weightsOf(dir), /header is not valid JSON/);
});

test('eval: a tensor shape that disagrees with config.json is an error naming the tensor, both shapes and the file', async () => {
  const dir = brokenModel((d) => editConfig(d, (c) => (c.vocab_size = 65)));
  assertError(await evalJson(dir, GOOD), weightsOf(dir), /tensor "wte\.weight" has shape \[64, 16\] but config\.json implies \[65, 16\]/);
});

test('eval: missing tensors are an error naming the weights file and the tensors', async () => {
  const dir = brokenModel((d) => editHeader(d, (h) => delete h['h.1.mlp.c_proj.weight']));
  assertError(await evalJson(dir, GOOD), weightsOf(dir), /missing 1 tensor\(s\)/, /h\.1\.mlp\.c_proj\.weight/);
});

test('eval: unexpected tensors are an error naming the weights file and the tensors', async () => {
  const dir = brokenModel((d) => editConfig(d, (c) => (c.n_layer = 1)));
  assertError(await evalJson(dir, GOOD), weightsOf(dir), /12 tensor\(s\) do not belong/, /h\.1\.ln_1\.weight/);
});

test('eval: a missing or invalid config.json is an error naming config.json', async () => {
  const gone = brokenModel((d) => fs.rmSync(path.join(d, 'config.json')));
  assertError(await evalJson(gone, GOOD), path.join(gone, 'config.json'), /missing config\.json/);
  const bad = brokenModel((d) => editConfig(d, (c) => (c.activation_function = 'relu')));
  assertError(await evalJson(bad, GOOD), path.join(bad, 'config.json'), /"activation_function" is "relu"/);
});

test('eval: a missing model folder and a folder with only pytorch_model.bin are errors naming the folder', async () => {
  const missing = path.join(ROOT, 'no-such-model');
  assertError(await evalJson(missing, GOOD), missing, /model directory not found/);
  const pt = brokenModel((d) => {
    fs.rmSync(weightsOf(d));
    fs.writeFileSync(path.join(d, 'pytorch_model.bin'), 'PK');
  });
  assertError(await evalJson(pt, GOOD), pt, /pytorch_model\.bin is not supported/);
});

// ---------------------------------------------------------------------------------------------
// Bad data files

test('eval: a token id outside the vocabulary is an error naming the file, the id and its offset', async () => {
  assertError(await evalJson(REF, OOV, '--block-size', '8'), OOV, /token id 64 at token offset 40 is outside the model's vocabulary of 64 ids/);
});

test('eval: an empty data file, a missing one and an unsupported type are errors naming the file', async () => {
  assertError(await evalJson(REF, EMPTY), EMPTY, /file is empty/);
  const missing = path.join(ROOT, 'missing.bin');
  assertError(await evalJson(REF, missing), missing, /file not found/);
  const csv = path.join(ROOT, 'data.csv');
  fs.writeFileSync(csv, '1,2,3');
  assertError(await evalJson(REF, csv), csv, /unsupported data file type "\.csv"/);
});

test('eval: a data file shorter than one window (plus its target) is an error naming the file and the counts', async () => {
  assertError(await evalJson(REF, SHORT, '--block-size', '16'), SHORT, /has 10 tokens; at least 17 are needed/);
});

test('eval: --block-size beyond the model context is an error naming --block-size', async () => {
  assertError(await evalJson(REF, GOOD, '--block-size', '32'), '--block-size', /32 exceeds the 16 positions of the model/);
});

test('analyze: out-of-vocabulary tokens, a too-long --seq-len and a truncated model are errors naming the file or option', async () => {
  const analyze = (model: string, data: string, ...more: string[]) =>
    runCli(['analyze', model, '--data', data, '--json', '--backend', 'cpu', '--sequences', '2', '--seq-len', '8', ...more], { env: ENV });
  assertError(await analyze(REF, OOV), OOV, /token id 64 at token offset 40/);
  assertError(await analyze(REF, GOOD, '--seq-len', '17'), '--seq-len', /17 exceeds the 16 positions/);
  const dir = brokenModel((d) => fs.truncateSync(weightsOf(d), 7));
  assertError(await analyze(dir, GOOD), weightsOf(dir), /not a safetensors file: 7 bytes/);
});

// ---------------------------------------------------------------------------------------------
// Option syntax (commander)

test('an unknown option, a missing required option and bad option values get commander\'s message naming the option', async () => {
  assertUsageError(await runCli(['eval', REF, '--data', GOOD, '--bogus']), /^error: unknown option '--bogus'/m);
  assertUsageError(await runCli(['eval', REF]), /^error: required option '--data <file>' not specified/m);
  assertUsageError(await runCli(['eval', REF, '--data', GOOD, '--block-size', '0']), /option '--block-size <T>' argument '0' is invalid\. 0 is less than 1\./);
  assertUsageError(await runCli(['eval', REF, '--data', GOOD, '--max-windows', 'many']), /option '--max-windows <N>' argument 'many' is invalid\. "many" is not an integer\./);
  assertUsageError(await runCli(['eval', REF, '--data', GOOD, '--backend', 'gpu']), /option '--backend <name>' argument 'gpu' is invalid\. Allowed choices are auto, tensorflow, wasm, cpu, webgpu\./);
  assertUsageError(await runCli(['analyze', REF, '--data', GOOD, '--tau', '2']), /option '--tau <x>' argument '2' is invalid\. 2 is not within 0\.\.1\./);
  assertUsageError(await runCli(['frobnicate']), /^error: unknown command 'frobnicate'/m);
});

test('--backend tensorflow without a native binding installed is an error naming --backend', async (t) => {
  const r = await evalJson(REF, GOOD, '--backend', 'tensorflow');
  if (r.status === 0) {
    t.skip('a tfjs-node binding is installed here');
    return;
  }
  assertError(r, '--backend', /tensorflow was requested/);
});

// ---------------------------------------------------------------------------------------------
// inherit

/** The folder holds nothing (no output, no temp folder) besides `keep`. */
function assertOnly(parent: string, keep: string[] = []): void {
  assert.deepEqual(fs.readdirSync(parent).sort(), keep.sort(), `left behind in ${parent}`);
}

test('inherit --layers 0 is refused by the option parser and writes nothing', async () => {
  const parent = outParent();
  assertUsageError(await runCli(['inherit', REF, '--layers', '0', '--out', path.join(parent, 'o')]), /option '--layers <n>' argument '0' is invalid\. 0 is less than 1\./);
  assertOnly(parent);
});

test('inherit --layers beyond the reference depth is an error naming --layers and the reference depth, and writes nothing', async () => {
  const parent = outParent();
  assertError(await runCli(['inherit', REF, '--layers', '3', '--out', path.join(parent, 'o')]), '--layers', /3 is not within 1\.\.2/, new RegExp(`reference ${esc(REF)} has 2 layers`));
  assertOnly(parent);
});

test('inherit from a broken reference is an error naming its file, and writes nothing', async () => {
  const parent = outParent();
  const lying = brokenModel((d) => editHeader(d, (h) => (h['wpe.weight'].data_offsets = [h['wpe.weight'].data_offsets[0], h['wpe.weight'].data_offsets[1] + 4])));
  assertError(await runCli(['inherit', lying, '--layers', '1', '--out', path.join(parent, 'o')]), weightsOf(lying), /tensor "wpe\.weight": header is inconsistent/);
  const unknown = brokenModel((d) => editHeader(d, (h) => (h['ln_f.bias'].dtype = 'F8_E4M3X')));
  assertError(await runCli(['inherit', unknown, '--layers', '1', '--out', path.join(parent, 'o')]), weightsOf(unknown), /unknown dtype "F8_E4M3X"/);
  assertOnly(parent);
});

test('inherit --out under a regular file, or naming one, is an error naming --out, and leaves nothing behind', async () => {
  const parent = outParent();
  const file = path.join(parent, 'file');
  fs.writeFileSync(file, 'x');
  const out = path.join(file, 'deeper', 'model');
  assertError(await runCli(['inherit', REF, '--layers', '1', '--out', out]), '--out', new RegExp(`cannot write ${esc(out)}: ${esc(file)} is a file, not a folder`));
  assertError(await runCli(['inherit', REF, '--layers', '1', '--out', file]), '--out', new RegExp(`${esc(file)} exists and is not a folder`));
  assertOnly(parent, ['file']);
  assert.equal(fs.readFileSync(file, 'utf8'), 'x', 'the file is untouched');
});

test('inherit --out failing midway (file size limit hit while writing the weights) leaves the previous model intact and no temp folder', async () => {
  const parent = outParent();
  const out = path.join(parent, 'model');
  fs.cpSync(REF, out, { recursive: true });
  const before = fs.readFileSync(weightsOf(out));
  // config.json fits in 4 KiB; the ~30 KiB of weights do not.
  const r = await runCli(['inherit', REF, '--layers', '1', '--out', out, '--force'], { fileSizeLimitKiB: 4 });
  assertError(r, out, /cannot write the model: model\.safetensors: cannot write: EFBIG/);
  assertOnly(parent, ['model']);
  assert.deepEqual(fs.readdirSync(out).sort(), ['config.json', 'model.safetensors']);
  assert.ok(fs.readFileSync(weightsOf(out)).equals(before), 'the previous model is untouched');
  assert.equal(loadGPT2(out).config.nLayer, 2);
});

test('inherit: an unknown --parts entry and a missing --out get commander\'s message', async () => {
  const parent = outParent();
  assertUsageError(await runCli(['inherit', REF, '--layers', '1', '--parts', 'attn,ffn', '--out', path.join(parent, 'o')]), /option '--parts <list>' argument 'attn,ffn' is invalid\. unknown part "ffn"/);
  assertUsageError(await runCli(['inherit', REF, '--layers', '1']), /required option '--out <dir>' not specified/);
  assertOnly(parent);
});

// ---------------------------------------------------------------------------------------------
// pretrain (every case fails before training starts)

const pretrainArgs = (out: string, ...more: string[]) => [
  'pretrain', '--backend', 'cpu', '--vocab', '64', '--layers', '1', '--d-model', '16', '--heads', '2', '--block-size', '8',
  '--steps', '1', '--batch-tokens', '16', '--micro-batch', '2', '--out', out, ...more,
];

/** Neither the model folder nor its training checkpoint folder was created. */
function assertNoPretrainOutput(parent: string): void {
  assertOnly(parent);
}

test('pretrain --from a broken model is an error naming its file, and writes no model or checkpoint', async () => {
  const parent = outParent();
  const out = path.join(parent, 'model');
  const dir = brokenModel((d) => fs.truncateSync(weightsOf(d), fs.statSync(weightsOf(d)).size - 1));
  assertError(await runCli(pretrainArgs(out, '--data', GOOD, '--val', GOOD, '--from', dir), { env: ENV }), weightsOf(dir), /file is truncated/);
  const shape = brokenModel((d) => editConfig(d, (c) => (c.n_positions = 32)));
  assertError(await runCli(pretrainArgs(out, '--data', GOOD, '--val', GOOD, '--from', shape), { env: ENV }), weightsOf(shape), /tensor "wpe\.weight" has shape \[16, 16\] but config\.json implies \[32, 16\]/);
  assertNoPretrainOutput(parent);
});

test('pretrain: out-of-vocabulary training tokens, an empty or short validation file are errors naming the file', async () => {
  const parent = outParent();
  const out = path.join(parent, 'model');
  assertError(await runCli(pretrainArgs(out, '--data', OOV, '--val', GOOD), { env: ENV }), OOV, /token id 64 at token offset 40 is outside the model's vocabulary of 64/);
  assertError(await runCli(pretrainArgs(out, '--data', GOOD, '--val', EMPTY), { env: ENV }), EMPTY, /file is empty/);
  assertError(await runCli(pretrainArgs(out, '--data', GOOD, '--val', SHORT, '--block-size', '12'), { env: ENV }), SHORT, /has 10 tokens; at least 13 are needed/);
  assertNoPretrainOutput(parent);
});

test('pretrain: inconsistent model options are errors naming the option', async () => {
  const parent = outParent();
  const out = path.join(parent, 'model');
  assertError(await runCli(pretrainArgs(out, '--data', GOOD, '--val', GOOD, '--d-model', '30', '--heads', '4'), { env: ENV }), '--d-model', /30 is not divisible by --heads 4/);
  assertError(await runCli(pretrainArgs(out, '--data', GOOD, '--val', GOOD, '--positions', '4'), { env: ENV }), '--block-size', /8 exceeds the 4 positions of the model/);
  assertUsageError(await runCli(pretrainArgs(out, '--data', GOOD, '--val', GOOD, '--lr', '-1')), /option '--lr <x>' argument '-1' is invalid/);
  assertUsageError(await runCli(['pretrain', '--data', GOOD, '--out', out]), /required option '--val <file>' not specified/);
  assertNoPretrainOutput(parent);
});

test('pretrain whose loss diverges (learning rate 1e30, no clipping) stops at that step with an error, and writes no model', async () => {
  const parent = outParent();
  const out = path.join(parent, 'model');
  const r = await runCli(pretrainArgs(out, '--data', GOOD, '--val', GOOD, '--steps', '20', '--warmup', '1', '--lr', '1e30', '--grad-clip', '0', '--eval-every', '0'), { env: ENV });
  assertError(r, 'training', /the (training loss|gradient norm) became (NaN|Infinity) at step \d+: training diverged; lower the learning rate \(now 1e\+30\)/);
  assertNoPretrainOutput(parent);
});

test('pretrain --out or --checkpoint-dir that cannot be written is an error naming the option before any training', async () => {
  const parent = outParent();
  const file = path.join(parent, 'file');
  fs.writeFileSync(file, 'x');
  const cases: [string[], string, RegExp][] = [
    [pretrainArgs(path.join(file, 'model')), '--out', new RegExp(`${esc(file)} is a file, not a folder`)],
    [pretrainArgs(file), '--out', /exists and is not a folder/],
    [[...pretrainArgs(path.join(parent, 'model')), '--checkpoint-dir', path.join(file, 'ckpt')], '--checkpoint-dir', new RegExp(`${esc(file)} is a file, not a folder`)],
  ];
  for (const [args, source, re] of cases) {
    const r = await runCli([...args, '--data', GOOD, '--val', GOOD], { env: ENV });
    assertError(r, source, re);
    assert.doesNotMatch(r.stderr, /^training:/m, 'it failed before training');
  }
  assertOnly(parent, ['file']);
});

// ---------------------------------------------------------------------------------------------
// Absurd sizes in config.json and non-finite reference weights

/** A command on an absurd config must fail at once, long before anything the size implies is built. */
const QUICK = { env: ENV, timeoutMs: 15_000 };

test('eval and inherit on a config.json with an absurd size (layers, width, heads, vocabulary, positions, MLP) fail at once naming config.json and the field', async () => {
  const cases: [string, number][] = [
    ['n_layer', 1e9],
    ['n_embd', 2 ** 40],
    ['n_head', 1e9],
    ['vocab_size', 1e12],
    ['n_positions', 2 ** 50],
    ['n_inner', 1e10],
  ];
  for (const [field, value] of cases) {
    const dir = brokenModel((d) => editConfig(d, (c) => (c[field] = value)));
    const config = path.join(dir, 'config.json');
    const started = Date.now();
    assertError(await runCli(['eval', dir, '--data', GOOD, '--json', '--backend', 'cpu'], QUICK), config, new RegExp(`field "${field}" is ${value}, beyond any model this tool can hold`));
    const parent = outParent();
    assertError(await runCli(['inherit', dir, '--layers', '1', '--out', path.join(parent, 'o')], QUICK), config, new RegExp(`field "${field}" is ${value}`));
    assertOnly(parent);
    assert.ok(Date.now() - started < 10_000, `${field}: took ${Date.now() - started} ms`);
  }
});

test('a LLaMA config.json with an absurd num_hidden_layers or intermediate_size fails at once naming config.json and the field', async () => {
  const llama = path.join(ROOT, 'llama-ref');
  writeLlama(llama, tinyLlama());
  for (const [field, value] of [['num_hidden_layers', 1e9], ['intermediate_size', 2 ** 31], ['max_position_embeddings', 1e15]] as const) {
    const dir = brokenModel((d) => {
      fs.rmSync(d, { recursive: true });
      fs.cpSync(llama, d, { recursive: true });
      editConfig(d, (c) => (c[field] = value));
    });
    assertError(await runCli(['eval', dir, '--data', GOOD, '--json', '--backend', 'cpu'], QUICK), path.join(dir, 'config.json'), new RegExp(`field "${field}" is ${value}, beyond`));
  }
});

test('a config.json claiming more layers than the weights hold is refused naming the weights file and config.json, before anything is loaded', async () => {
  const dir = brokenModel((d) => editConfig(d, (c) => (c.n_layer = 1000)));
  const r = await runCli(['eval', dir, '--data', GOOD, '--json', '--backend', 'cpu'], QUICK);
  assertError(r, weightsOf(dir), new RegExp(`missing ${12 * 998} tensor\\(s\\) that ${esc(path.join(dir, 'config.json'))} calls for: h\\.2\\.ln_1\\.weight`), /config\.json says 1000 layers; the checkpoint holds 2/);
});

/** A copy of the reference whose tensor `name` holds `value` at element `at` (float32 storage). */
function poisoned(name: string, at: number, value: number): string {
  return brokenModel((d) => {
    const file = weightsOf(d);
    const raw = fs.readFileSync(file);
    const n = Number(raw.readBigUInt64LE(0));
    const header = JSON.parse(raw.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: number[] }>;
    raw.writeFloatLE(value, 8 + n + header[name].data_offsets[0] + 4 * at);
    fs.writeFileSync(file, raw);
  });
}

test('inherit refuses a reference with NaN or infinite weights, naming the file, the tensor and the element, and writes nothing', async () => {
  const nan = poisoned('h.0.attn.c_attn.weight', 37, NaN);
  const inf = poisoned('wte.weight', 5, -Infinity);
  for (const [ref, tensor, at, shown, dtype] of [
    [nan, 'h.0.attn.c_attn.weight', 37, 'NaN', 'float32'],
    [inf, 'wte.weight', 5, '-Infinity', 'float16'],
  ] as const) {
    const parent = outParent();
    const r = await runCli(['inherit', ref, '--layers', '1', '--dtype', dtype, '--out', path.join(parent, 'o')], QUICK);
    assertError(r, weightsOf(ref), new RegExp(`tensor "${esc(tensor)}" holds ${shown} at element ${at}`), /--allow-nonfinite/);
    assertOnly(parent);
  }
});

test('inherit --allow-nonfinite copies NaN weights as they are', async () => {
  const ref = poisoned('h.0.mlp.c_fc.weight', 3, NaN);
  const out = path.join(outParent(), 'o');
  const r = await runCli(['inherit', ref, '--layers', '1', '--allow-nonfinite', '--out', out], QUICK);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Number.isNaN((loadGPT2(out).tensors.get('h.0.mlp.c_fc.weight') as { data: Float32Array }).data[3]));
});
