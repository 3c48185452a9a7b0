import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InherituneError } from '../../server/engine/errors.js';

test('InherituneError message names its source first', () => {
  const e = new InherituneError('data/train.bin', 'file is empty');
  assert.equal(e.message, 'data/train.bin: file is empty');
  assert.equal(e.source, 'data/train.bin');
});
