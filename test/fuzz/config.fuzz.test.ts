/**
 * Fuzz: the run config parser (the CLI's, the server's and the language server's one parser) on the
 * demo config with random edits, on generated documents over the schema's keys with values of every
 * type, and on arbitrary text: it never throws, every issue names a key path and a position inside
 * the text, and a config it accepts carries no error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { CONFIG_SCHEMA, parseRunConfig, type FieldSpec } from '../../server/protocol/config.js';
import { REPO } from '../helpers/cli.js';
import { fuzz, mutatedBytes } from './harness.js';

const FILE = 'fuzz.inheritune.yaml';
const DEMO = fs.readFileSync(path.join(REPO, 'examples', 'demo.inheritune.yaml'));

function checkParse(text: string): void {
  const parsed = parseRunConfig(text, FILE);
  for (const issue of parsed.issues) {
    assert.ok(issue.message.length > 0, 'an issue without a message');
    assert.ok(issue.message.length < 2000, `an issue of ${issue.message.length} characters`);
    assert.ok(issue.range.start >= 0 && issue.range.start <= issue.range.end && issue.range.end <= text.length, `range ${JSON.stringify(issue.range)} outside ${text.length} characters`);
    assert.ok(Number.isInteger(issue.line) && issue.line >= 1 && Number.isInteger(issue.col) && issue.col >= 1, `position ${issue.line}:${issue.col}`);
    assert.ok(issue.path.every((p) => typeof p === 'string'));
  }
  if (parsed.config !== undefined) assert.ok(parsed.issues.every((i) => i.severity !== 'error'), 'a config was accepted with errors');
}

test('fuzz: the demo config with random byte edits parses to a config or to located issues', async (t) => {
  await fuzz(t, mutatedBytes(DEMO), (bytes) => checkParse(Buffer.from(bytes).toString('utf8')), 1500);
});

/** Every key path of the schema, with its spec. */
function schemaKeys(spec: FieldSpec, prefix: string[] = []): { path: string[]; spec: FieldSpec }[] {
  const out = prefix.length > 0 ? [{ path: prefix, spec }] : [];
  for (const [key, child] of Object.entries(spec.fields ?? {})) out.push(...schemaKeys(child, [...prefix, key]));
  return out;
}
const KEYS = schemaKeys(CONFIG_SCHEMA);

const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53, 1e23, 1e308, -0, 0.5, Number.MAX_SAFE_INTEGER + 2),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('attn', 'mlp', 'norms', 'auto', 'restart', 'bytes', 'scratch', '../x', '/etc/passwd', '', '~', 'yes', '0x10', '.inf', '.nan'),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** A document built from schema keys (some misspelt) with values of any type. */
const documentArb = fc
  .array(fc.tuple(fc.constantFrom(...KEYS), anyValue, fc.boolean()), { maxLength: 12 })
  .map((assignments) => {
    const doc: Record<string, unknown> = {};
    for (const [{ path: keyPath }, value, misspell] of assignments) {
      let node = doc;
      const keys = misspell ? [...keyPath.slice(0, -1), `${keyPath[keyPath.length - 1]}s`] : keyPath;
      for (const k of keys.slice(0, -1)) {
        if (typeof node[k] !== 'object' || node[k] === null || Array.isArray(node[k])) node[k] = {};
        node = node[k] as Record<string, unknown>;
      }
      node[keys[keys.length - 1]] = value;
    }
    return doc;
  });

test('fuzz: documents over the schema\'s keys with values of every type parse to a config or to located issues', async (t) => {
  await fuzz(t, fc.tuple(documentArb, fc.constantFrom<'block' | 'flow'>('block', 'flow')), ([doc, style]) => checkParse(stringify(doc, { collectionStyle: style })), 1500);
});

test('fuzz: arbitrary text and YAML punctuation (anchors, aliases, tags, nesting) never make the parser throw', async (t) => {
  const token = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom(': ', '- ', '\n', '  ', '{', '}', '[', ']', '&a ', '*a', '!!int ', '!!map ', '? ', '|', '>', '#', '"', "'", '---\n', '...\n', '%YAML 1.2\n', '\t', 'train:', 'steps:', '<<: *a'),
  );
  await fuzz(t, fc.array(token, { maxLength: 40 }).map((parts) => parts.join('')), checkParse, 2000);
});
