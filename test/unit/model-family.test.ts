/**
 * The table of model families (modelFamily.ts): every family it lists reads back its own config.json,
 * names every tensor's inherit part, initialises exactly its tensors, and is built by a decoder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configToHF } from '../../server/engine/hfCheckpoint.js';
import { DEFAULT_INHERIT } from '../../server/engine/inherit.js';
import { initWeightsOf, isInheritedIn, modelShapeOf, parseModelConfig, shapesOf, type ModelConfig } from '../../server/engine/modelFamily.js';
import { MODEL_FAMILIES } from '../../server/protocol/config.js';
import { tinyLlama } from '../helpers/llama.js';
import { tinyGPT2 } from '../helpers/models.js';

const SAMPLES: Record<(typeof MODEL_FAMILIES)[number], ModelConfig> = {
  gpt2: tinyGPT2(),
  llama: tinyLlama(),
  qwen2: { ...tinyLlama({ tieWordEmbeddings: true }), family: 'qwen2', qkvBias: true },
};

for (const family of MODEL_FAMILIES) {
  const cfg = SAMPLES[family];
  test(`${family}: config.json round trip, every tensor has an inherit part, init makes exactly the model's tensors`, () => {
    assert.deepEqual(parseModelConfig(JSON.parse(JSON.stringify(configToHF(cfg))), 'config.json'), cfg);
    const shapes = shapesOf(cfg);
    const all = [...shapes.keys()];
    // Inheriting everything copies every tensor; inheriting nothing copies none.
    assert.ok(all.every((n) => isInheritedIn(cfg, n, DEFAULT_INHERIT)));
    assert.ok(all.every((n) => !isInheritedIn(cfg, n, { parts: [], embeddings: false, positions: false, finalNorm: false })));
    const w = initWeightsOf(cfg, 3);
    assert.deepEqual([...w.keys()], all);
    for (const [n, t] of w) assert.deepEqual(t.shape, shapes.get(n), n);
    assert.equal(modelShapeOf(cfg).family, family);
  });
}

test('Qwen2 holds biases on q, k and v only (3 a block, none on o_proj or the MLP); LLaMA holds none', () => {
  const names = [...shapesOf(SAMPLES.qwen2).keys()].filter((n) => n.endsWith('.bias'));
  assert.deepEqual(names.filter((n) => n.startsWith('model.layers.0.')), ['q_proj', 'k_proj', 'v_proj'].map((p) => `model.layers.0.self_attn.${p}.bias`));
  assert.ok(![...shapesOf(SAMPLES.llama).keys()].some((n) => n.endsWith('.bias')));
  assert.equal([...shapesOf(SAMPLES.qwen2).keys()].length, [...shapesOf(SAMPLES.llama).keys()].length - 1 + 3 * SAMPLES.qwen2.nLayer, 'tied head: no lm_head; 3 biases a block');
});
