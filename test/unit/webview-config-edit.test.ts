/**
 * The sidebar's edits of a run config (extension/yamlEdit.ts): a value written in the file is
 * replaced in place, every other byte (comments, flow maps, quoting) stays; a missing key is added
 * with the yaml Document API, which keeps comments.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseRunConfig } from '../../server/protocol/config.js';
import { applyEdit, replaceYamlMapping, setYamlValue } from '../../extension/yamlEdit.js';

const demo = fs.readFileSync(path.join(__dirname, '..', '..', 'examples', 'demo.inheritune.yaml'), 'utf8');

test('target.layers in a block map: only the number changes, its comment stays', () => {
  const edit = setYamlValue(demo, ['target', 'layers'], 3);
  assert.ok(edit);
  assert.equal(edit.end - edit.start, 1, 'a one-character range');
  const out = applyEdit(demo, edit);
  assert.equal(out, demo.replace(/^( {2}layers: )4( +# n = k\/2)/m, '$13$2'));
  assert.equal(parseRunConfig(out, 'demo.inheritune.yaml').config?.target.layers, 3);
});

test('a value inside a flow map and a path string are replaced in place', () => {
  let out = applyEdit(demo, setYamlValue(demo, ['grow', 'max_layers'], 8));
  assert.match(out, /^grow: \{ enabled: true, step: 2, max_layers: 8, mode: restart, tolerance: 0\.02 \} +# matched when/m);
  out = applyEdit(out, setYamlValue(out, ['reference', 'path'], 'models/big ref'));
  assert.match(out, /^reference: \{ path: models\/big ref \} +# 8 layers/m);
  out = applyEdit(out, setYamlValue(out, ['reference', 'path'], 'a: b'));
  assert.match(out, /^reference: \{ path: "a: b" \}/m);
  assert.equal(parseRunConfig(out, 'x.inheritune.yaml').config?.reference.path, 'a: b');
  // Everything but those values is byte-identical.
  const strip = (t: string) => t.replace(/max_layers: \d+/, '').replace(/path: [^}]*\}/, '');
  assert.equal(strip(out), strip(demo));
});

test('the same value gives no edit; quoting style is kept', () => {
  assert.equal(setYamlValue(demo, ['train', 'steps'], 40), null);
  const text = "data:\n  train: 'a.jsonl'  # single-quoted\n";
  assert.equal(applyEdit(text, setYamlValue(text, ['data', 'train'], "b's.jsonl")), "data:\n  train: 'b''s.jsonl'  # single-quoted\n");
});

test('a missing key is added and comments stay', () => {
  const text = '# my run\nname: x   # the name\nreference:\n  path: ref  # where\n';
  const out = applyEdit(text, setYamlValue(text, ['target', 'layers'], 2));
  assert.match(out, /^# my run$/m);
  assert.match(out, /^name: x +# the name$/m);
  assert.match(out, /path: ref +# where/);
  assert.match(out, /^target:\n {2}layers: 2$/m);
});

test('a key missing from a mapping the file writes is inserted as text (flow: before the brace; block: after the last entry); the rest stays byte for byte', () => {
  const text = '# c\nruntime: { backend: auto, out_dir: ../r }   # note\ntrain:\n  steps: 40 # s\n  lr: 1.0e-3\n  sub:\n    a: 1\n# end\n';
  let out = applyEdit(text, setYamlValue(text, ['runtime', 'engine'], 'torch'));
  assert.equal(out, text.replace('out_dir: ../r }', 'out_dir: ../r, engine: torch }'));
  out = applyEdit(out, setYamlValue(out, ['train', 'warmup'], 4));
  assert.equal(out, text.replace('out_dir: ../r }', 'out_dir: ../r, engine: torch }').replace('    a: 1\n', '    a: 1\n  warmup: 4\n'));
  assert.equal(applyEdit('runtime: {}\n', setYamlValue('runtime: {}\n', ['runtime', 'engine'], 'torch')), 'runtime: { engine: torch }\n');
});

test('the reference mapping is replaced in its own characters: a flow map stays one, a block map keeps its indentation, an empty value gets a flow map', () => {
  const flow = '# c\nreference: { path: models/ref }  # the big one\nlr: 1.0e-3\n';
  assert.equal(applyEdit(flow, replaceYamlMapping(flow, ['reference'], { hub: 'acme/tiny' })), '# c\nreference: { hub: acme/tiny }  # the big one\nlr: 1.0e-3\n');
  assert.equal(replaceYamlMapping(flow, ['reference'], { path: 'models/ref' }), null);
  const block = 'reference:\n  path: a\n  revision: x\ntarget: {layers: 2}\n';
  assert.equal(applyEdit(block, replaceYamlMapping(block, ['reference'], { hub: 'acme/tiny', revision: 'main' })), 'reference:\n  hub: acme/tiny\n  revision: main\ntarget: {layers: 2}\n');
  assert.equal(applyEdit('reference:\nx: 1\n', replaceYamlMapping('reference:\nx: 1\n', ['reference'], { path: '../m' })), 'reference: { path: ../m }\nx: 1\n');
});

test('invalid YAML and non-scalars are refused', () => {
  assert.throws(() => setYamlValue('a: [1,\n', ['a'], 1), /not valid YAML/);
  assert.throws(() => setYamlValue(demo, ['target'], 1), /not a single value/);
  assert.throws(() => setYamlValue('target: 3\n', ['target', 'layers'], 1), /target is not a mapping/);
});
