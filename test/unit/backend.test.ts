// `--backend auto` without a native binding: wasm, unless the work's estimated memory exceeds what
// wasm's 32-bit heap can hold; then cpu, and the reason is told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoFallback, initBackend } from '../../server/engine/backend.js';
import type { GPT2Config } from '../../server/engine/gpt2Config.js';
import { trainingMemory, trainingTensorBytes } from '../../server/engine/resources.js';
import { parameterCount } from '../../server/engine/gpt2Config.js';
import { loadAddon } from '../../server/engine/native/addon.js';
import * as tf from '../../server/engine/tf.js';

const GiB = 2 ** 30;

function gpt2Config(shape: Pick<GPT2Config, 'nLayer' | 'nEmbd' | 'nHead' | 'vocabSize' | 'nPositions'>): GPT2Config {
  return { family: 'gpt2', ...shape, nInner: 4 * shape.nEmbd, layerNormEpsilon: 1e-5, bias: true, scaleAttnByInverseLayerIdx: false, tieWordEmbeddings: true };
}

test('auto falls back to wasm for work within 90% of its 4 GiB heap, to cpu beyond', () => {
  assert.deepEqual(autoFallback(undefined), { name: 'wasm' });
  assert.deepEqual(autoFallback(3.6 * GiB), { name: 'wasm' });
  const big = autoFallback(3.7 * GiB);
  assert.equal(big.name, 'cpu');
  assert.equal(big.why, "wasm's 4 GiB heap cannot hold this work (about 3.7 GiB), so cpu");
});

test("the host-memory estimate (the refusal check's) of training GPT-2 small exceeds 3.6 GiB; a 4-layer d 128 model's is under 0.1 GiB", () => {
  const small = gpt2Config({ nLayer: 12, nEmbd: 768, nHead: 12, vocabSize: 50304, nPositions: 1024 });
  // Weights (tfjs + host), moments and gradients alone: 6 x 4 bytes x 124M parameters is 2.8 GiB.
  assert.ok(trainingMemory(small, 4, 128).total > 3.6 * GiB);
  const tiny = gpt2Config({ nLayer: 4, nEmbd: 128, nHead: 4, vocabSize: 512, nPositions: 64 });
  assert.ok(trainingMemory(tiny, 8, 64).total < 0.1 * GiB);
});

test("GPT-2 small's tensors (124M parameters, 4 x 128 tokens) fit wasm's heap: auto trains it there, not on cpu", () => {
  const small = gpt2Config({ nLayer: 12, nEmbd: 768, nHead: 12, vocabSize: 50304, nPositions: 1024 });
  const P = parameterCount(small);
  const B = 4;
  const T = 128;
  // Weights, two moments, gradients: 16 bytes a parameter; one copy of the activations (per layer
  // 12 BTC + 3 BHT^2 + 4 BTF floats, and 4 BTV for the logits).
  const activations = 4 * (12 * (12 * B * T * 768 + 3 * B * 12 * T * T + 4 * B * T * 3072) + 4 * B * T * 50304);
  const temporaries = loadAddon().addon === undefined ? 10 * 4 * 50304 * 768 : 0;
  assert.equal(trainingTensorBytes(small, B, T), 16 * P + activations + temporaries);
  assert.equal(trainingTensorBytes(small, B, T, true), 20 * P + activations + temporaries, 'accumulating: a second copy of the gradients');
  if (temporaries === 0) assert.equal(autoFallback(trainingTensorBytes(small, B, T)).name, 'wasm');
  assert.equal(autoFallback(trainingTensorBytes(small, 16, 1024)).name, 'cpu', '16 x 1024 tokens do not fit');
});

test('initBackend(auto) activates the backend the estimate calls for and tells why when it is cpu', { skip: tf.findBackend('tensorflow') != null && 'a native binding is installed' }, async () => {
  const notices: string[] = [];
  assert.equal(await initBackend('auto', { needBytes: 5 * GiB, onNotice: (l) => notices.push(l) }), 'cpu');
  // Then one line on webgpu: not used here (no adapter, or only a software one: never picked by auto).
  assert.equal(notices[0], "wasm's 4 GiB heap cannot hold this work (about 5.0 GiB), so cpu");
  assert.equal(notices.length, 2);
  assert.match(notices[1], /^webgpu not used/);
  assert.equal(await initBackend('auto', { needBytes: GiB, onNotice: (l) => notices.push(l) }), 'wasm');
  assert.equal(notices.length, 3);
  assert.match(notices[2], /^webgpu not used \(wasm instead\)/);
});
