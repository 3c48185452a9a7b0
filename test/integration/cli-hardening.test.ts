/**
 * Hostile input the CLI must turn into one `error: <file>: <what is wrong>` line, checked before
 * the work that would otherwise crash with a stack trace: a model whose weights hold NaN, a .txt
 * file too large for one JS string, a run config nested thousands of levels deep.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { tinyGPT2 } from '../helpers/models.js';

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-hard-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));
const ENV = { INHERITUNE_CACHE_DIR: path.join(ROOT, 'cache') };

const CONFIG = tinyGPT2();
const REF = path.join(ROOT, 'ref');
saveGPT2(REF, CONFIG, initWeightsOf(CONFIG, 1));

const DATA = path.join(ROOT, 'data.bin');
fs.writeFileSync(DATA, Buffer.from(new Uint16Array(Array.from({ length: 400 }, (_, i) => (i * 7) % 64)).buffer));

/** Failed with exactly one `error: <source>: ...` line matching `pattern`, and no stack trace. */
function assertError(r: CliResult, source: string, pattern: RegExp): void {
  assert.equal(r.signal, null, `killed by ${r.signal}`);
  assert.ok(r.status !== null && r.status !== 0, `exit status ${r.status}\nstderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `a stack trace was printed:\n${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(lines.length, 1, `expected one error line, got:\n${r.stderr}`);
  assert.ok(lines[0].startsWith(`error: ${source}: `), `error line does not name ${source}:\n${lines[0]}`);
  assert.match(lines[0], pattern);
}

test('analyze on a model with a NaN weight names the weights file and the first layer and head whose attention is not finite', async () => {
  const dir = path.join(ROOT, 'nan');
  const tensors = initWeightsOf(CONFIG, 1);
  const qkv = tensors.get('h.0.attn.c_attn.weight');
  assert.ok(qkv);
  qkv.data[0] = NaN;
  saveGPT2(dir, CONFIG, tensors);
  const r = await runCli(['analyze', dir, '--data', DATA, '--sequences', '2', '--seq-len', '16', '--backend', 'cpu'], { env: ENV });
  assertError(r, path.join(dir, 'model.safetensors'), /layer 1, head 1: the attention is not finite \(NaN or infinity\)/);
});

test('a .txt data file over the largest JS string is refused from its size, naming the file and the limit (sparse 1.5 GB file)', async () => {
  const big = path.join(ROOT, 'big.txt');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, 1.5 * 1024 ** 3);
  try {
    const r = await runCli(['eval', REF, '--data', big, '--tokenizer', 'bytes', '--backend', 'cpu'], { env: ENV });
    assertError(r, big, /is 1\.5 GiB, over the 512 MiB a \.txt file \(one document\) can hold; split it into a \.jsonl file/);
  } finally {
    fs.rmSync(big, { force: true });
  }
});

test('a run config with mappings nested 2000 deep is refused naming the file and the line where it passes the depth limit', async () => {
  const file = path.join(ROOT, 'deep.inheritune.yaml');
  let text = 'name: deep\n';
  for (let i = 0; i < 2000; i++) text += `${' '.repeat(i)}k:\n`;
  fs.writeFileSync(file, text);
  const r = await runCli(['run', file], { env: ENV });
  assertError(r, file, /1 error in the run config:/);
  assert.match(r.stderr, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:66:\\d+: YAML: collections nested more than 64 levels deep`, 'm'));
  assert.doesNotMatch(r.stderr, /call stack/);
});

test('eval on text with invalid UTF-8 succeeds with one note on stderr naming the file and the bytes replaced', async () => {
  const bytesModel = path.join(ROOT, 'bytes-ref');
  const config = tinyGPT2({ vocabSize: 257 });
  saveGPT2(bytesModel, config, initWeightsOf(config, 1));
  const file = path.join(ROOT, 'latin1.txt');
  // "café" written in Latin-1, three times: each 0xE9 is one invalid byte.
  fs.writeFileSync(file, Buffer.from('un café, '.repeat(3) + 'and more text to fill a window or two of tokens\n', 'latin1'));
  const r = await runCli(['eval', bytesModel, '--data', file, '--tokenizer', 'bytes', '--backend', 'cpu', '--json'], { env: ENV });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stderr.split('\n').filter((l) => l.startsWith('note: ')), [`note: ${file}: 3 bytes are not valid UTF-8; read as U+FFFD`]);
});

test('eval of 4 windows of a 2 GiB .bin file reads only those windows: peak RSS far below the file size, same loss as the same windows in a small file', async () => {
  const big = path.join(ROOT, 'big.bin');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, 2 * 1024 ** 3); // sparse: all token id 0, no disk used
  const small = path.join(ROOT, 'zeros.bin');
  fs.writeFileSync(small, Buffer.alloc(2 * (4 * 16 + 1)));
  const probe = path.join(ROOT, 'maxrss.cjs');
  fs.writeFileSync(probe, `process.on('exit', () => process.stderr.write('maxrss ' + process.resourceUsage().maxRSS + '\\n'));\n`);
  try {
    const evalOf = (data: string) =>
      runCli(['eval', REF, '--data', data, '--max-windows', '4', '--backend', 'cpu', '--json'], { env: { ...ENV, NODE_OPTIONS: `--require ${probe}` } });
    const r = await evalOf(big);
    assert.equal(r.status, 0, r.stderr);
    const kib = Number(/maxrss (\d+)/.exec(r.stderr)?.[1]);
    assert.ok(kib > 0 && kib < 512 * 1024, `peak RSS ${Math.round(kib / 1024)} MiB for a 2048 MiB file`);
    const expected = await evalOf(small);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(expected.stdout));
  } finally {
    fs.rmSync(big, { force: true });
  }
});
