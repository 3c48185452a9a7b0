// Where completion is in a half-typed config: block and flow style, keys, values, list items.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completionContext } from '../../server/language/completion.js';

/** The context at the `|` in `src`. */
function at(src: string) {
  const offset = src.indexOf('|');
  return completionContext(src.replace('|', ''), offset);
}

test('keys: top level, nested blocks, flow mappings; those written are listed', () => {
  assert.deepEqual(at('name: a\n|'), { kind: 'key', path: [], present: ['name'], start: 8, flow: false });
  assert.deepEqual(at('train:\n  steps: 2\n  l|\n  lr: 1\ndata:\n'), { kind: 'key', path: ['train'], present: ['steps', 'lr'], start: 20, flow: false });
  assert.deepEqual(at('a: 1\ntarget:\n  # comment\n\n  |'), { kind: 'key', path: ['target'], present: [], start: 28, flow: false });
  assert.deepEqual(at('grow: { step: 2, mo|'), { kind: 'key', path: ['grow'], present: ['step'], start: 17, flow: true });
  // Under a key that has a scalar value there is no mapping.
  assert.equal(at('name: x\n  |'), undefined);
});

test('values: after a colon, in flow mappings and lists, and `- ` items', () => {
  assert.deepEqual(at('data:\n  tokenizer: by|'), { kind: 'value', path: ['data', 'tokenizer'], prefix: 'by', start: 19, needsSpace: false, siblings: [], block: true });
  assert.equal((at('data:\n  tokenizer:|') as { needsSpace: boolean }).needsSpace, true);
  assert.deepEqual(at('reference: { path: mod|'), { kind: 'value', path: ['reference', 'path'], prefix: 'mod', start: 19, needsSpace: false, siblings: [], block: false });
  assert.deepEqual(at('target:\n  inherit: [attn, m|]'), { kind: 'value', path: ['target', 'inherit', '0'], prefix: 'm', start: 26, needsSpace: false, siblings: ['attn'], block: false });
  assert.deepEqual(at('target:\n  inherit:\n    - attn\n    - |\n'), { kind: 'value', path: ['target', 'inherit', '0'], prefix: '', start: 36, needsSpace: false, siblings: ['attn'], block: false });
  assert.deepEqual(at('baselines:\n- scratch\n- sc|'), { kind: 'value', path: ['baselines', '0'], prefix: 'sc', start: 23, needsSpace: false, siblings: ['scratch'], block: false });
  assert.deepEqual((at('data: { train: "data/tr|') as { prefix: string }).prefix, 'data/tr');
});

test('nothing in comments or after a closed flow collection', () => {
  assert.equal(at('name: a # the na|'), undefined);
  assert.equal(at('# tar|'), undefined);
  assert.equal(at('target: { layers: 2 } x|'), undefined);
});

test('CRLF line endings', () => {
  assert.deepEqual(at('train:\r\n  steps: 2\r\n  |'), { kind: 'key', path: ['train'], present: ['steps'], start: 22, flow: false });
});
