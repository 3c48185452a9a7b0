/** Numbers in a run config are refused at validation when no run could use them exactly. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunConfig } from '../../server/protocol/config.js';

const BASE = `reference: { path: ref }
data: { train: t.bin, val: v.bin }
`;

const messages = (text: string) => parseRunConfig(BASE + text, 'b.inheritune.yaml').issues.filter((i) => i.severity === 'error').map((i) => `${i.line}: ${i.message}`);

test('train.steps: 1e23 (an integer to YAML) is refused at its line, with the largest step count allowed', () => {
  assert.deepEqual(messages('train: { steps: 1e23 }\n'), ['3: train.steps must be in [1, 1000000000], got 1e23']);
  assert.deepEqual(messages('train: { steps: 1000000000, warmup: 1 }\n'), []);
});

test('every integer field is refused past 2^53 (no longer exact), and seeds past 32 bits', () => {
  assert.deepEqual(messages('train: { eval_every: 9007199254740993 }\n'), ['3: train.eval_every must be in [0, 9007199254740991], got 9007199254740993']);
  assert.deepEqual(messages('analysis: { sequences: 1e300 }\n'), ['3: analysis.sequences must be in [1, 9007199254740991], got 1e300']);
  assert.deepEqual(messages('train: { seed: 4294967296 }\n'), ['3: train.seed must be in [0, 4294967295], got 4294967296']);
  assert.deepEqual(messages('train: { seed: 4294967295, eval_every: 9007199254740991 }\n'), []);
});
