// Issue 8, must-hold 3: the config language server shows a LLaMA reference the way it shows GPT-2's:
// its shape in hovers, completions, inlay hints and configInfo (the extension's sidebar reads the same
// ReferenceInfo), and the same checks against the model and data, here on a tiny LLaMA folder with
// grouped-query attention, an untied head and its own tokenizer.json. Parameter counts are derived by
// hand below, not by the engine's counter.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, CompletionItem, CompletionList, Diagnostic, Hover, InlayHint } from 'vscode-languageserver/node';
import { readReferenceInfo } from '../../server/engine/referenceInfo.js';
import type { ConfigInfo } from '../../server/language/protocol.js';
import { describeModelShape } from '../../server/protocol/format.js';
import { tinyLlama, writeLlama } from '../helpers/llama.js';
import { LspClient, positionAt, replaceOnce, storeReferenceAnalysis } from './language-client.js';

// 3 layers, width 16, 4 heads of 4 over 2 key/value heads, SwiGLU MLP 24, vocabulary 320, context 64.
const REF = tinyLlama();
// Per block: q and o 16x16, k and v 16x8 (2 key/value heads of 4), gate/up/down 16x24, two RMSNorm gains.
const BLOCK = 2 * 16 * 16 + 2 * 16 * 8 + 3 * 16 * 24 + 2 * 16; // 1952
// Untied: the embedding and the LM head 320x16 each, plus the final norm.
const OUTSIDE = 2 * 320 * 16 + 16; // 10256
const paramsWith = (n: number) => OUTSIDE + n * BLOCK; // 12208, 14160, 16112

const CONFIG = `name: tiny-llama
reference: { path: models/llama }
target:
  layers: 2
data: { train: data/train.txt, val: data/val.txt, tokenizer: model }
train: { steps: 20, batch_tokens: 64, micro_batch: 2, block_size: 16, warmup: 2, eval_every: 10 }
analysis: { every: 10, sequences: 2, seq_len: 16 }
`;

let dir: string;
let client: LspClient;
let configFile: string;
let docCount = 0;

const edit = replaceOnce;

async function openSettled(text: string): Promise<{ uri: string; diagnostics: Diagnostic[] }> {
  const uri = pathToFileURL(path.join(dir, `doc${++docCount}.inheritune.yaml`)).href;
  await client.open(uri, text);
  return { uri, diagnostics: (await client.settled(uri)).diagnostics };
}

async function hoverText(uri: string, text: string, needle: string): Promise<string> {
  const h = await client.request<Hover | null>('textDocument/hover', { textDocument: { uri }, position: positionAt(text, text.indexOf(needle) + 1) });
  assert.ok(h, needle);
  return (h.contents as { value: string }).value;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-lsp-llama-'));
  writeLlama(path.join(dir, 'models', 'llama'), REF, 1, { tokenizer: true });
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'data', 'train.txt'), 'the cat sat on the mat. '.repeat(40));
  fs.writeFileSync(path.join(dir, 'data', 'val.txt'), 'the mat sat on the cat. '.repeat(20));
  const ids = [1, 5, 9, 12, 3, 400, ...Array.from({ length: 100 }, () => 7)];
  fs.writeFileSync(path.join(dir, 'data', 'oov.bin'), Buffer.from(new Uint16Array(ids).buffer));

  // A run with an attention analysis of the LLaMA reference: layer 3 lazy.
  configFile = path.join(dir, 'tiny-llama.inheritune.yaml');
  fs.writeFileSync(configFile, CONFIG);
  storeReferenceAnalysis(path.join(dir, '.inheritune', 'runs'), configFile, path.join(dir, 'models', 'llama'), [
    { maxRank: 3.5, avgMass: 2, lazy: false },
    { maxRank: 3.5, avgMass: 2, lazy: false },
    { maxRank: 1, avgMass: 1, lazy: true },
  ]);

  client = await LspClient.forWorkspace(dir);
});

after(async () => {
  await client.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the LLaMA shape line names the family, key/value heads, MLP width and the hand-counted parameters', () => {
  const { info } = readReferenceInfo(path.join(dir, 'models', 'llama'));
  assert.equal(info.params, paramsWith(3));
  assert.equal(describeModelShape(info), 'LLaMA · 3 layers · width 16 · 4 heads (2 key/value) · MLP 24 · vocabulary 320 · context 64 · 16.1K parameters');
  assert.deepEqual([info.weightDtype, info.weightBytes, info.hasTokenizer], ['F32', 4 * 16112, true]);
});

test('a valid LLaMA config with text tokenized by the model\'s tokenizer.json has no diagnostics', async () => {
  const { diagnostics } = await openSettled(CONFIG);
  assert.deepEqual(diagnostics.map((d) => d.message), []);
});

test('hover on reference.path and target.layers: the LLaMA shape, the derived model and the lazy layers', async () => {
  const uri = pathToFileURL(configFile).href;
  await client.open(uri, CONFIG);
  const onPath = await hoverText(uri, CONFIG, 'models/llama');
  assert.ok(onPath.includes(`\`${path.join(dir, 'models', 'llama')}\`: LLaMA · 3 layers · width 16 · 4 heads (2 key/value) · MLP 24 · vocabulary 320 · context 64 · 16.1K parameters (16,112)`), onPath);
  assert.ok(onPath.includes('weights F32, 63 KiB, with tokenizer.json'), onPath);
  const onLayers = await hoverText(uri, CONFIG, 'layers: 2');
  assert.ok(onLayers.includes('**Derived model** with 2 of 3 layers: 14.2K parameters (88% of the reference).'), onLayers);
  assert.ok(onLayers.includes('Lazy layers (rank-1 attention): **3** of 3.'), onLayers);
  assert.ok(onLayers.includes('The inherited blocks 1–2 include no lazy layer.'), onLayers);
});

test("completion: LLaMA folders with their shape, layer counts 1..3 with each derived model's parameters", async () => {
  const complete = async (text: string, after: string) => {
    const { uri } = await openSettled(text);
    const r = await client.request<CompletionList | null>('textDocument/completion', { textDocument: { uri }, position: positionAt(text, text.indexOf(after) + after.length) });
    return r?.items ?? [];
  };
  const folders = await complete(edit(CONFIG, '{ path: models/llama }', '{ path: models/ }'), '{ path: models/');
  const llama = folders.find((i: CompletionItem) => i.label === 'models/llama');
  assert.equal(llama?.detail, 'LLaMA · 3 layers · 16.1K params');
  const layers = await complete(edit(CONFIG, 'layers: 2', 'layers: '), 'layers: ');
  assert.deepEqual(layers.map((i) => [i.label, i.detail]), [['1', '12.2K params'], ['2', '14.2K params'], ['3', '16.1K params']]);
});

test('inlay hint after target.layers: the derived LLaMA\'s parameters', async () => {
  const uri = pathToFileURL(configFile).href;
  const hints = await client.request<InlayHint[]>('textDocument/inlayHint', { textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: positionAt(CONFIG, CONFIG.length) } });
  assert.equal(hints[0]?.label, '14.2K params');
  assert.deepEqual(hints[0]?.position, positionAt(CONFIG, CONFIG.indexOf('layers: 2') + 'layers: 2'.length));
});

test('checks against the LLaMA reference: layers, context, vocabulary of token files, a tokenizer too large (fix: model)', async () => {
  const oov = path.join(dir, 'data', 'oov.bin');
  let withOov = edit(edit(CONFIG, 'layers: 2', 'layers: 5'), 'tokenizer: model', 'tokenizer: gpt2');
  withOov = edit(edit(edit(withOov, 'block_size: 16', 'block_size: 128'), 'batch_tokens: 64', 'batch_tokens: 256'), 'val: data/val.txt', 'val: data/oov.bin');
  const { uri, diagnostics } = await openSettled(withOov);
  assert.deepEqual(diagnostics.map((d) => d.message).sort(), [
    "data.tokenizer (gpt2) has 50257 ids, more than the reference's vocabulary of 320 (model fits)",
    `data.val (${oov}): token id 400 at token offset 5 is outside the model's vocabulary of 320 ids (was the file made with another tokenizer?)`,
    "target.layers (5) exceeds the reference's 3 layers",
    "train.block_size (128) exceeds the reference's context length of 64 positions",
  ]);
  const actions = await client.request<CodeAction[]>('textDocument/codeAction', {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end: positionAt(withOov, withOov.length) },
    context: { diagnostics },
  });
  assert.deepEqual(actions.map((a) => a.title).sort(), ['Change to 3', 'Change to 64', 'Change to model']);
});

test('a LLaMA reference without tokenizer.json: data.tokenizer model is reported at its value, with the fix bytes', async () => {
  writeLlama(path.join(dir, 'models', 'llama-bare'), REF, 2);
  const text = edit(CONFIG, 'models/llama', 'models/llama-bare');
  const { uri, diagnostics } = await openSettled(text);
  assert.deepEqual(diagnostics.map((d) => [d.message, d.range.start]), [
    [`data.tokenizer (model): missing tokenizer.json: data.tokenizer "model" needs the model folder's tokenizer (or use gpt2/bytes, or token files)`, positionAt(text, text.indexOf('tokenizer: model') + 'tokenizer: '.length)],
  ]);
  const actions = await client.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri }, range: diagnostics[0].range, context: { diagnostics } });
  assert.deepEqual(actions.map((a) => a.title), ['Change to bytes']);
});

test('configInfo gives the extension the LLaMA ReferenceInfo (family, key/value heads, MLP, storage, tokenizer)', async () => {
  const info = await client.request<ConfigInfo>('inheritune/configInfo', { uri: pathToFileURL(configFile).href });
  const r = info.reference;
  assert.ok(r);
  assert.deepEqual(
    [r.family, r.layers, r.nEmbd, r.nHead, r.nKvHead, r.nInner, r.vocabSize, r.nPositions, r.params, r.weightDtype, r.hasTokenizer],
    ['llama', 3, 16, 4, 2, 24, 320, 64, 16112, 'F32', true],
  );
  assert.deepEqual(info.referenceAnalysis?.lazyLayers, [3]);
  assert.equal(info.errors, 0);
});
