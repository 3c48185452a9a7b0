// Command ids are defined once (server/protocol/commands.ts): package.json contributes exactly
// those, and its menus name no other; the arguments of commands invoked with JSON (code lenses,
// hover links, ids) are checked by their schemas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ANALYZE_REFERENCE_ARGS, COMMANDS, OPEN_DASHBOARD_ARGS, START_RUN_ARGS } from '../../server/protocol/commands.js';

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[]; menus: Record<string, { command?: string }[]> };
};

test("package.json's commands are exactly COMMANDS, and its menus and welcome views name only those", () => {
  assert.deepEqual(pkg.contributes.commands.map((c) => c.command).sort(), Object.values(COMMANDS).sort());
  const ids = new Set<string>(Object.values(COMMANDS));
  for (const [menu, items] of Object.entries(pkg.contributes.menus)) for (const i of items) if (i.command) assert.ok(ids.has(i.command), `${menu}: ${i.command}`);
  const text = JSON.stringify(pkg.contributes);
  for (const m of text.matchAll(/command:(inheritune\.[A-Za-z]+)/g)) assert.ok(ids.has(m[1]), m[1]);
});

test('lens and link arguments are checked by their schemas, naming the field at fault', () => {
  assert.ok(START_RUN_ARGS.check({ uri: 'file:///w/a.inheritune.yaml' }, 'args').ok);
  const analyze = ANALYZE_REFERENCE_ARGS.check({ uri: 'file:///w/a.inheritune.yaml', modelDir: '/m', data: '/d', options: { tokenizer: 'sentencepiece' } }, 'args');
  assert.deepEqual(analyze, { ok: false, error: 'args.options.tokenizer must be one of "gpt2", "bytes", "model", got "sentencepiece"' });
  assert.deepEqual(OPEN_DASHBOARD_ARGS.check({ runId: 'r' }, 'args'), { ok: false, error: 'args.runDir is missing: it must be a non-empty string of at most 4096 characters' });
});
