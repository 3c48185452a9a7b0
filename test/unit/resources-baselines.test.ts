/**
 * The run's disk and memory estimate (resources.ts) with the paper's baselines and seeds: every model
 * once per seed, stacking's first stage, full_scratch at the reference's size, kd's teacher in memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRunConfig } from '../../server/engine/configCheck.js';
import { parameterCountOf } from '../../server/engine/modelFamily.js';
import { estimateRun } from '../../server/engine/resources.js';
import { parseRunConfig } from '../../server/protocol/config.js';
import { tinyGPT2 } from '../helpers/models.js';

const ref = tinyGPT2({ nLayer: 4 });
function estimate(extra: string) {
  const text = `reference: { path: r }\ndata: { train: t.bin, val: v.bin }\ntarget: { layers: 2 }\ngrow: { enabled: false }\n${extra}`;
  const parsed = parseRunConfig(text, 'x.inheritune.yaml');
  assert.deepEqual(parsed.issues, []);
  return estimateRun(resolveRunConfig(parsed.config!, 4, '/r', '/x.inheritune.yaml'), ref);
}

test('checkpoints: one per model and seed, plus stacking\'s first stage; full_scratch sizes them at the reference', () => {
  const one = estimate('baselines: [scratch]\n');
  const seeds = estimate('baselines: [scratch]\ntrain: { seeds: [1, 2, 3] }\n');
  // (models + 1 being swapped in) checkpoints of 3 float32 copies (weights, two moments) of the largest model.
  const P2 = parameterCountOf({ ...ref, nLayer: 2 });
  assert.equal(one.disk.checkpoints, (2 + 1) * 3 * 4 * P2);
  assert.equal(seeds.disk.checkpoints, (6 + 1) * 3 * 4 * P2);
  assert.equal(estimate('baselines: [stacking]\n').disk.checkpoints, (3 + 1) * 3 * 4 * P2);
  assert.equal(estimate('baselines: [full_scratch]\n').disk.checkpoints, (2 + 1) * 3 * 4 * parameterCountOf(ref));
});

test('memory: kd holds the reference beside the student', () => {
  const scratch = estimate('baselines: [scratch]\n');
  const kd = estimate('baselines: [kd]\n');
  assert.equal(kd.memory.total - scratch.memory.total, 2 * 4 * parameterCountOf(ref));
});
