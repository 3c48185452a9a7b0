// The extension host never loads the engine: its bundle (events.jsonl reader, status rule and
// protocol schemas included) holds no tfjs module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';

test('the extension bundle imports no tfjs', async () => {
  const out = await build({
    entryPoints: ['extension/extension.ts'],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    metafile: true,
    external: ['vscode', 'bufferutil', 'utf-8-validate'],
    logLevel: 'silent',
  });
  const inputs = Object.keys(out.metafile.inputs);
  assert.ok(inputs.some((i) => i.endsWith('server/engine/run/eventLog.ts')), 'the one events.jsonl reader is in the bundle');
  assert.deepEqual(inputs.filter((i) => /@tensorflow|server\/engine\/(tf|backend)\.ts/.test(i)), []);
});
