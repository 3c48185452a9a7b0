// The layout rule (scripts/layout.ts) holds for the production code, and the check finds each kind of
// violation: a part importing a part it may not, a package outside its parts, a file in no part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importsOf, layoutViolations, productionSources } from '../../scripts/layout.js';

test('the production code imports only across the seams the layout allows', () => {
  const sources = productionSources('.');
  assert.ok(sources.length > 100, `read ${sources.length} production files`);
  assert.deepEqual(layoutViolations(sources).map((v) => v.message), []);
});

test('an extension file importing the engine (or training) is a violation naming file, line and the parts', () => {
  const found = layoutViolations([
    { path: 'extension/bad.ts', text: "import * as fs from 'node:fs';\nimport { tf } from '../server/engine/tf.js';\n" },
    { path: 'extension/alsoBad.ts', text: "export { RunManager } from '../server/training/runManager.js';\n" },
  ]);
  assert.deepEqual(
    found.map((v) => [v.file, v.line, v.specifier]),
    [
      ['extension/bad.ts', 2, '../server/engine/tf.js'],
      ['extension/alsoBad.ts', 1, '../server/training/runManager.js'],
    ],
  );
  assert.match(found[0].message, /^extension\/bad\.ts:2: extension may not import server\/engine \(server\/engine\/tf\.ts\)/);
});

test('a seam file is allowed to the extension, but the folder around it is not', () => {
  const found = layoutViolations([
    { path: 'extension/ok.ts', text: "import { readEvents } from '../server/engine/run/eventLog.js';\nimport type { X } from '../server/language/protocol.js';\n" },
    { path: 'extension/notOk.ts', text: "import { RunStore } from '../server/engine/run/runStore.js';\nimport { x } from '../server/language/facts.js';\n" },
  ]);
  assert.deepEqual(found.map((v) => `${v.file}:${v.line}`), ['extension/notOk.ts:1', 'extension/notOk.ts:2']);
});

test('the engine importing vscode, and the protocol or a webview importing the engine or node built-ins, are violations', () => {
  const found = layoutViolations([
    { path: 'server/engine/x.ts', text: "import * as vscode from 'vscode';\n" },
    { path: 'server/protocol/x.ts', text: "import { InherituneError } from '../engine/errors.js';\nimport * as fs from 'fs';\n" },
    { path: 'webview/dashboard/x.ts', text: "const m = await import('../../server/engine/tf.js');\nconst p = require('node:path');\ntype T = import('../../server/training/server.js').T;\n" },
    { path: 'server/language/x.ts', text: "import * as tf from '@tensorflow/tfjs-core';\n" },
  ]);
  assert.deepEqual(
    found.map((v) => `${v.file}:${v.line} ${v.specifier}`),
    [
      'server/engine/x.ts:1 vscode',
      'server/protocol/x.ts:1 ../engine/errors.js',
      'server/protocol/x.ts:2 fs',
      'webview/dashboard/x.ts:1 ../../server/engine/tf.js',
      'webview/dashboard/x.ts:2 node:path',
      'webview/dashboard/x.ts:3 ../../server/training/server.js',
      'server/language/x.ts:1 @tensorflow/tfjs-core',
    ],
  );
  assert.match(found[0].message, /vscode belongs to extension/);
});

test('allowed imports pass: the engine importing the protocol, the cli importing training, any part importing a free package', () => {
  assert.deepEqual(
    layoutViolations([
      { path: 'server/engine/x.ts', text: "import { parseRunConfig } from '../protocol/config.js';\nimport * as fs from 'node:fs';\n" },
      { path: 'server/cli/x.ts', text: "import { serve } from '../training/server.js';\nimport { Command } from 'commander';\n" },
      { path: 'webview/x.ts', text: "import type { RunEvent } from '../server/protocol/events.js';\nimport { Chart } from 'chart.js';\n" },
    ]),
    [],
  );
});

test('a file in a folder the layout does not name is a violation (a new part needs a rule)', () => {
  const found = layoutViolations([{ path: 'server/newpart/x.ts', text: '' }]);
  assert.equal(found.length, 1);
  assert.match(found[0].message, /server\/newpart\/x\.ts lies in no part of the layout/);
});

test('importsOf reads every kind of module reference with its line', () => {
  const text = [
    "import a from 'a';",
    "import type { B } from 'b';",
    "export * from 'c';",
    "const d = await import('d');",
    "const e = require('e');",
    "type F = import('f').F;",
    "import g = require('g');",
  ].join('\n');
  assert.deepEqual(
    importsOf('x.ts', text).map((s) => `${s.line}:${s.specifier}`),
    ['1:a', '2:b', '3:c', '4:d', '5:e', '6:f', '7:g'],
  );
});
