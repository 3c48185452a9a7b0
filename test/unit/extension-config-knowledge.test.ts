// The extension takes what the config schema and the language server's protocol define from them:
// New Run Config's template writes the schema's defaults, and no extension or webview source types
// a schema default or a language-server constant again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commentedConfig } from '../../extension/configTemplate.js';
import { parseRunConfig, specAt } from '../../server/protocol/config.js';

test("New Run Config's template is a valid config whose values not chosen in the dialog are the schema's defaults", () => {
  const text = commentedConfig({ name: 'x', reference: 'models/ref', referenceLayers: 8, layers: 4, train: 'a.bin', val: 'b.bin', tokenizer: 'bytes', blockSize: 64 });
  const parsed = parseRunConfig(text, 'x.inheritune.yaml');
  assert.deepEqual(parsed.issues, []);
  const c = parsed.config;
  assert.ok(c);
  const def = (p: string) => specAt(p.split('.'))?.default;
  assert.deepEqual(
    [c.train.steps, c.train.micro_batch, c.train.lr, c.train.eval_every, c.grow.step, c.grow.enabled, c.target.inherit, c.analysis.every, c.analysis.sequences, c.runtime.backend, c.runtime.out_dir],
    ['train.steps', 'train.micro_batch', 'train.lr', 'train.eval_every', 'grow.step', 'grow.enabled', 'target.inherit', 'analysis.every', 'analysis.sequences', 'runtime.backend', 'runtime.out_dir'].map(def),
  );
  assert.equal(c.train.batch_tokens % (c.train.micro_batch * c.train.block_size), 0);
});

test('no extension or webview source types a schema default or a language-server constant again', () => {
  const files = ['extension', 'webview'].flatMap((d) => fs.readdirSync(d, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(d, f)));
  const retyped = [
    /\.inheritune\/runs|'\.inheritune', 'runs'/, // runtime.out_dir's default
    /steps\W+200\b/, // train.steps' default
    /floor\([^)]*\/ 2\)/, // target.layers' default: half the reference's layers
    /dist\/language\.js|'inheritune\/configInfo'|'inheritune\/referenceInfo'/, // server/language/protocol.ts
  ];
  const hits = files.flatMap((f) => {
    const text = fs.readFileSync(f, 'utf8');
    return retyped.filter((r) => r.test(text)).map((r) => `${f}: ${r}`);
  });
  assert.deepEqual(hits, []);
});
