import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkConfigFiles, loadRunConfig, validateRunConfig } from '../../server/engine/configCheck.js';
import { FactCache, type ConfigFacts } from '../../server/engine/configFacts.js';
import { InherituneError } from '../../server/engine/errors.js';
import { parameterCount, type GPT2Config } from '../../server/engine/gpt2Config.js';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { parseRunConfig, type ConfigIssue } from '../../server/protocol/config.js';
import { tinyGPT2 } from '../helpers/models.js';

// A tiny reference: 4 layers, 32 positions, byte vocabulary (257).
const REF: GPT2Config = tinyGPT2({ vocabSize: 257, nPositions: 32, nLayer: 4 });

let dir: string;
let cacheDir: string;

function writeBin(name: string, ids: number[]): void {
  const buf = Buffer.alloc(ids.length * 2);
  ids.forEach((id, i) => buf.writeUInt16LE(id, i * 2));
  fs.writeFileSync(path.join(dir, name), buf);
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-config-'));
  cacheDir = path.join(dir, 'cache');
  saveGPT2(path.join(dir, 'models', 'ref'), REF, initWeightsOf(REF, 0));
  fs.mkdirSync(path.join(dir, 'data'));
  writeBin('data/train.bin', Array.from({ length: 400 }, (_, i) => i % 257));
  writeBin('data/val.bin', Array.from({ length: 100 }, (_, i) => (i * 7) % 257));
  writeBin('data/short.bin', Array.from({ length: 10 }, (_, i) => i));
  writeBin('data/oov.bin', [1, 2, 3, 4, 5, 6, 7, 300, ...Array.from({ length: 100 }, () => 9)]);
  fs.writeFileSync(path.join(dir, 'data/empty.bin'), Buffer.alloc(0));
  fs.writeFileSync(path.join(dir, 'data/train.txt'), 'The quick brown fox jumps over the lazy dog. '.repeat(10));
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

const VALID = `name: tiny
reference: { path: models/ref }
target:
  inherit: [attn, mlp, norms]
data:
  train: data/train.bin
  val: data/val.bin
  tokenizer: bytes
train:
  steps: 20
  batch_tokens: 64
  micro_batch: 2
  block_size: 16
  warmup: 2
  eval_every: 10
analysis: { every: 10, sequences: 2, seq_len: 16 }
`;

/** VALID with `from` replaced by `to` (which must occur exactly once). */
function edit(from: string, to: string): string {
  assert.equal(VALID.split(from).length, 2, `"${from}" occurs once in VALID`);
  return VALID.replace(from, to);
}

function configFile(name = 'tiny.inheritune.yaml'): string {
  return path.join(dir, name);
}

async function issuesOf(text: string, readTokens = true): Promise<ConfigIssue[]> {
  return (await validateRunConfig(text, configFile(), { cacheDir, readTokens })).issues;
}

/** The single issue of `text`, checked for position, covered text and message. */
async function single(text: string, want: { line: number; col: number; covers: string; message: string | RegExp }, readTokens = true): Promise<ConfigIssue> {
  const issues = await issuesOf(text, readTokens);
  assert.equal(issues.length, 1, JSON.stringify(issues.map((i) => `${i.line}:${i.col}: ${i.message}`)));
  const [i] = issues;
  if (typeof want.message === 'string') assert.equal(i.message, want.message);
  else assert.match(i.message, want.message);
  assert.equal(text.slice(i.range.start, i.range.end), want.covers);
  assert.deepEqual([i.line, i.col], [want.line, want.col]);
  return i;
}

test('a valid config passes with zero issues, resolves defaults and absolute paths, and describes the reference', async () => {
  const file = configFile();
  fs.writeFileSync(file, VALID);
  const { config, reference, warnings } = await loadRunConfig(file, { cacheDir });
  assert.deepEqual(warnings, []);
  assert.equal(config.target.layers, 2); // floor(4 / 2)
  assert.equal(config.grow.max_layers, 4);
  assert.equal(config.reference.path, path.join(dir, 'models', 'ref'));
  assert.equal(config.data.train, path.join(dir, 'data', 'train.bin'));
  assert.equal(config.data.val, path.join(dir, 'data', 'val.bin'));
  assert.equal(config.runtime.out_dir, path.join(dir, '.inheritune', 'runs'));
  assert.equal(config.train.lr, 1e-3);
  assert.deepEqual(reference, {
    path: path.join(dir, 'models', 'ref'),
    family: 'gpt2',
    layers: 4,
    nEmbd: 16,
    nHead: 2,
    nKvHead: 2,
    nInner: 64,
    vocabSize: 257,
    nPositions: 32,
    params: parameterCount(REF),
    weightBytes: 4 * parameterCount(REF),
    weightDtype: 'F32',
    hasTokenizer: false,
  });
  // The editor's quick mode agrees.
  assert.deepEqual(await issuesOf(VALID, false), []);
});

test('target.layers beyond the reference\'s layers is reported at the value with a clamp fix', async () => {
  const i = await single(edit('target:\n', 'target:\n  layers: 6\n'), { line: 4, col: 11, covers: '6', message: "target.layers (6) exceeds the reference's 4 layers" });
  assert.deepEqual(i.fix, { kind: 'replace', text: '4', title: 'Change to 4' });
  assert.deepEqual(i.path, ['target', 'layers']);
  await single(edit('name: tiny\n', 'name: tiny\ngrow: { max_layers: 9 }\n'), { line: 2, col: 21, covers: '9', message: "grow.max_layers (9) exceeds the reference's 4 layers" });
  await single(edit('name: tiny\n', 'name: tiny\ngrow: { max_layers: 1 }\n'), {
    line: 2,
    col: 21,
    covers: '1',
    message: "grow.max_layers (1) is below target.layers (2, the default: half the reference's 4 layers)",
  });
});

test('grow.max_layers below target.layers: raised to target.layers by its fix while that fits the reference', async () => {
  const i = await single(edit('target:\n', 'target:\n  layers: 3\n') + 'grow: { max_layers: 2 }\n', {
    line: 18,
    col: 21,
    covers: '2',
    message: 'grow.max_layers (2) must be at least target.layers (3)',
  });
  assert.deepEqual(i.fix, { kind: 'replace', text: '3', title: 'Change to 3' });
});

test('target.layers beyond the reference with a lower grow.max_layers: every layer check reports, and the one fix (to the largest valid value) leaves a clean config', async () => {
  const text = edit('target:\n', 'target:\n  layers: 99\n') + 'grow: { max_layers: 3 }\n';
  const issues = await issuesOf(text);
  assert.deepEqual(
    issues.map((i) => [i.line, i.col, i.message, i.fix?.text]),
    [
      [4, 11, "target.layers (99) exceeds the reference's 4 layers", '3'],
      // No fix here: raising grow.max_layers to 99 would exceed the reference too.
      [18, 21, 'grow.max_layers (3) must be at least target.layers (99)', undefined],
    ],
  );
  const [primary] = issues;
  const fixed = text.slice(0, primary.range.start) + primary.fix?.text + text.slice(primary.range.end);
  assert.deepEqual(await issuesOf(fixed), []);
  // Without grow.max_layers the largest valid value is the reference's layer count.
  const alone = await single(edit('target:\n', 'target:\n  layers: 99\n'), { line: 4, col: 11, covers: '99', message: "target.layers (99) exceeds the reference's 4 layers" });
  assert.equal(alone.fix?.text, '4');
});

test('training and validating on the same file (however the path is spelt) is one warning at data.val; the run is not refused', async () => {
  const text = edit('val: data/val.bin', 'val: ./data/../data/train.bin');
  const i = await single(text, { line: 7, col: 8, covers: './data/../data/train.bin', message: 'data.val is the same file as data.train: the validation loss will not measure generalisation' });
  assert.equal(i.severity, 'warning');
  const file = configFile('same.inheritune.yaml');
  fs.writeFileSync(file, text);
  const { warnings } = await loadRunConfig(file, { cacheDir });
  assert.deepEqual(warnings.map((w) => w.message), [i.message]);
});

test('`inheritune run` refuses a config listing every issue, warnings too, in file order', async () => {
  const file = configFile('refused.inheritune.yaml');
  fs.writeFileSync(file, edit('target:\n', 'target:\n  layers: 99\n').replace('val: data/val.bin', 'val: data/train.bin') + 'grow: { max_layers: 3 }\n');
  await assert.rejects(loadRunConfig(file, { cacheDir }), (e: InherituneError) => {
    assert.equal(
      e.detail,
      [
        '2 errors and 1 warning in the run config:',
        `${file}:4:11: target.layers (99) exceeds the reference's 4 layers`,
        `${file}:8:8: warning: data.val is the same file as data.train: the validation loss will not measure generalisation`,
        `${file}:18:21: grow.max_layers (3) must be at least target.layers (99)`,
      ].join('\n'),
    );
    return true;
  });
});

test('a missing or broken reference is reported at reference.path with the loader\'s message', async () => {
  const missing = path.join(dir, 'models', 'nope');
  await single(edit('models/ref', 'models/nope'), { line: 2, col: 20, covers: 'models/nope', message: `reference.path (${missing}): model directory not found` });
  fs.mkdirSync(path.join(dir, 'models', 'empty'), { recursive: true });
  await single(edit('models/ref', 'models/empty'), { line: 2, col: 20, covers: 'models/empty', message: /^reference\.path \(.*config\.json\): missing config\.json$/ });
});

test('missing, empty and too-short data files are reported at their values', async () => {
  const abs = path.join(dir, 'data', 'nope.bin');
  await single(edit('data/train.bin', 'data/nope.bin'), { line: 6, col: 10, covers: 'data/nope.bin', message: `data.train (${abs}): file not found` });
  await single(edit('data/val.bin', 'data/empty.bin'), { line: 7, col: 8, covers: 'data/empty.bin', message: /^data\.val \(.*empty\.bin\): file is empty$/ });
  await single(edit('data/val.bin', 'data/short.bin'), {
    line: 7,
    col: 8,
    covers: 'data/short.bin',
    message: /^data\.val \(.*short\.bin\): has 10 tokens; at least 17 are needed \(one window of train\.block_size \+ 1 = 17 tokens\)$/,
  });
  // The quick (editor) mode finds the same from the file size alone.
  await single(edit('data/val.bin', 'data/short.bin'), { line: 7, col: 8, covers: 'data/short.bin', message: /has 10 tokens; at least 17 are needed/ }, false);
  await single(edit('data/train.bin', 'data/train.csv'), { line: 6, col: 10, covers: 'data/train.csv', message: /unsupported data file type "\.csv"/ });
});

test('block_size and analysis.seq_len beyond the reference\'s positions are reported with a fix', async () => {
  const text = edit('  batch_tokens: 64\n  micro_batch: 2\n  block_size: 16\n', '  batch_tokens: 128\n  micro_batch: 2\n  block_size: 64\n');
  const i = await single(text, { line: 13, col: 15, covers: '64', message: "train.block_size (64) exceeds the reference's context length of 32 positions" });
  assert.equal(i.fix?.text, '32');
  await single(edit('seq_len: 16', 'seq_len: 40'), { line: 16, col: 47, covers: '40', message: "analysis.seq_len (40) exceeds the reference's context length of 32 positions" });
});

test('batch_tokens not a multiple of micro_batch * block_size stops loadRunConfig with file:line:col', async () => {
  const file = configFile('bad-batch.inheritune.yaml');
  fs.writeFileSync(file, edit('batch_tokens: 64', 'batch_tokens: 100'));
  await assert.rejects(loadRunConfig(file, { cacheDir }), (e: unknown) => {
    assert.ok(e instanceof InherituneError);
    assert.equal(e.source, file);
    assert.equal(
      e.message,
      `${file}: 1 error in the run config:\n${file}:11:17: train.batch_tokens (100) must be a multiple of train.micro_batch * train.block_size = 2 * 16 = 32; nearest valid values: 96 or 128`,
    );
    return true;
  });
});

test('a token id outside the reference\'s vocabulary names the id and its offset', async () => {
  await single(edit('data/train.bin', 'data/oov.bin'), {
    line: 6,
    col: 10,
    covers: 'data/oov.bin',
    message: /^data\.train \(.*oov\.bin\): token id 300 at token offset 7 is outside the model's vocabulary of 257 ids/,
  });
});

test('a tokenizer larger than the reference\'s vocabulary is reported for text data, with a fix; text data loads', async () => {
  const text = edit('data/train.bin', 'data/train.txt');
  assert.deepEqual(await issuesOf(text), []);
  const bad = text.replace('tokenizer: bytes', 'tokenizer: gpt2');
  const i = await single(bad, { line: 8, col: 14, covers: 'gpt2', message: "data.tokenizer (gpt2) has 50257 ids, more than the reference's vocabulary of 257 (bytes fits)" });
  assert.equal(i.fix?.text, 'bytes');
  // Token files ignore the tokenizer.
  assert.deepEqual(await issuesOf(VALID.replace('tokenizer: bytes', 'tokenizer: gpt2')), []);
});

test('data.subset that leaves less than one window is reported', async () => {
  await single(edit('tokenizer: bytes', 'tokenizer: bytes\n  subset: 0.01'), {
    line: 9,
    col: 11,
    covers: '0.01',
    message: 'data.subset (0.01) of 400 training tokens leaves 4; at least 17 are needed (one window of train.block_size + 1 = 17 tokens)',
  });
});

test('loadRunConfig lists every error (schema and files) as file:line:col lines, and names a missing config', async () => {
  const file = configFile('many.inheritune.yaml');
  fs.writeFileSync(file, edit('models/ref', 'models/nope').replace('  steps: 20\n', '  stpes: 20\n'));
  // The file checks run on the valid values whatever the schema errors (here: the missing reference, line 2, before the unknown key).
  await assert.rejects(loadRunConfig(file, { cacheDir }), /many\.inheritune\.yaml:10:3: unknown key "stpes" in train; did you mean "steps"\?$/);
  fs.writeFileSync(file, edit('models/ref', 'models/nope').replace('data/val.bin', 'data/short.bin'));
  await assert.rejects(loadRunConfig(file, { cacheDir }), (e: unknown) => {
    assert.ok(e instanceof InherituneError);
    const lines = e.message.split('\n');
    assert.equal(lines[0], `${file}: 2 errors in the run config:`);
    assert.match(lines[1], /many\.inheritune\.yaml:2:20: reference\.path \(.*\): model directory not found$/);
    assert.match(lines[2], /many\.inheritune\.yaml:7:8: data\.val \(.*\): has 10 tokens; at least 17 are needed/);
    return true;
  });
  await assert.rejects(loadRunConfig(path.join(dir, 'absent.inheritune.yaml')), /absent\.inheritune\.yaml: run config not found$/);
});

test('the file checks report defaults at the nearest written key', async () => {
  // Default block_size 64 > 32 positions: no train section, so the issue sits at the start of the file.
  const text = 'reference: { path: models/ref }\ndata: { train: data/train.bin, val: data/val.bin, tokenizer: bytes }\nanalysis: { seq_len: 16 }\n';
  const r = await validateRunConfig(text, configFile(), { cacheDir });
  assert.ok(r.parsed.config);
  const msgs = r.issues.map((i) => `${i.line}:${i.col}: ${i.message}`);
  assert.equal(msgs[0], "1:1: train.block_size (64, the default) exceeds the reference's context length of 32 positions");
  assert.equal(r.issues[0].fix, undefined);
  assert.equal(r.config?.target.layers, 2);
  assert.equal(r.reference?.layers, 4);
});

test('the one file check reads the disk only through its facts: pending until they are read, then issues from the facts alone', async () => {
  const file = configFile();
  const parsed = parseRunConfig(VALID, file);
  const none: ConfigFacts = { reference: () => undefined, dataFile: () => undefined };
  const waiting = checkConfigFiles(parsed, file, none);
  assert.equal(waiting.pending, true);
  assert.deepEqual(waiting.issues, []);
  assert.deepEqual(waiting.needs.references, [path.join(dir, 'models', 'ref')]);
  assert.deepEqual(waiting.needs.data.map((d) => d.file), [path.join(dir, 'data', 'train.bin'), path.join(dir, 'data', 'val.bin')]);

  // The reference as read from disk, and a train file that says id 300 sits at offset 3 (the file on disk has none).
  const disk = new FactCache();
  disk.ensureReference(path.join(dir, 'models', 'ref'));
  const facts: ConfigFacts = { reference: (d) => disk.reference(d), dataFile: (d) => (d.file.endsWith('train.bin') ? { tokens: 400, maxima: [[0, 1], [3, 300]] } : { tokens: 100, maxima: [] }) };
  const r = checkConfigFiles(parsed, file, facts);
  assert.equal(r.pending, false);
  assert.deepEqual(r.issues.map((i) => `${i.line}:${i.col}: ${i.message}`), [
    `6:10: data.train (${path.join(dir, 'data', 'train.bin')}): token id 300 at token offset 3 is outside the model's vocabulary of 257 ids (was the file made with another tokenizer?)`,
  ]);
  assert.equal(r.config?.target.layers, 2);
});
