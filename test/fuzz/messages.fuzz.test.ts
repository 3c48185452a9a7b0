/**
 * Fuzz: the training server's message parser (every frame a client sends goes through it) on
 * message-shaped objects of every known type with fields of any value, and on arbitrary text: it
 * never throws; an accepted message is one of the protocol's types and survives a JSON round trip
 * unchanged; a refusal has a known code and a short message that does not echo large input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CLIENT_MESSAGES, parseClientMessage } from '../../server/protocol/messages.js';
import { fuzz } from './harness.js';

const CODES = new Set(['badJson', 'badMessage', 'unknownType']);
const TYPES = Object.keys(CLIENT_MESSAGES);
const FIELDS = ['id', 'token', 'protocolVersion', 'client', 'configPath', 'config', 'runId', 'mode', 'fromSeq', 'heatmaps', 'modelDir', 'data', 'options', '__proto__', 'constructor'];

const anyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.constantFrom(0, -1, 1, 1.5, 2 ** 53, -(2 ** 53), 1e300, 'cancel', 'finish-and-save', 'random', 'sorted', 'bytes', '', 'run-1', '../x', 'x'.repeat(70)),
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 16 }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.constantFrom('sequences', 'seqLen', 'windows', 'tau', 'mass', 'tokenizer', 'seed', 'eta'), fc.string({ maxLength: 6 })), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const messageArb = fc.record({
  type: fc.oneof(fc.constantFrom(...TYPES), fc.string({ maxLength: 10 }), anyJson),
  fields: fc.dictionary(fc.constantFrom(...FIELDS), anyJson, { maxKeys: 6 }),
});

function checkParse(text: string): void {
  const r = parseClientMessage(text);
  if (r.ok) {
    assert.ok(TYPES.includes(r.message.type), r.message.type);
    const again = parseClientMessage(JSON.stringify(r.message));
    assert.ok(again.ok, 'an accepted message is accepted again after a JSON round trip');
    assert.deepEqual(again.message, r.message);
  } else {
    assert.ok(CODES.has(r.code), `code ${r.code}`);
    assert.ok(r.message.length > 0 && r.message.length <= 600, `a refusal of ${r.message.length} characters: ${r.message.slice(0, 120)}...`);
  }
}

test('fuzz: message-shaped objects of every type with fields of any value parse or are refused with a short, coded error', async (t) => {
  await fuzz(t, messageArb, ({ type, fields }) => checkParse(JSON.stringify({ ...fields, type })), 4000);
});

const runIdArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/);
const idArb = fc.option(fc.oneof(fc.nat(), fc.string({ minLength: 1, maxLength: 64 })), { nil: undefined });
/** Messages the protocol accepts, of each type, with their optional fields present or not. */
const validArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ type: fc.constant('hello'), id: idArb, token: fc.string({ minLength: 1, maxLength: 64 }), protocolVersion: fc.nat(), client: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }) }, { requiredKeys: ['type', 'token', 'protocolVersion'] }),
  fc.record({ type: fc.constant('startRun'), id: idArb, configPath: fc.string({ minLength: 1, maxLength: 60 }), config: fc.string({ minLength: 1, maxLength: 200 }) }, { requiredKeys: ['type', 'configPath'] }),
  fc.record({ type: fc.constantFrom('resumeRun', 'unsubscribe'), id: idArb, runId: runIdArb }, { requiredKeys: ['type', 'runId'] }),
  fc.record({ type: fc.constant('stopRun'), id: idArb, runId: runIdArb, mode: fc.constantFrom('cancel', 'finish-and-save') }, { requiredKeys: ['type', 'runId', 'mode'] }),
  fc.record({ type: fc.constant('listRuns'), id: idArb }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('subscribe'), id: idArb, runId: runIdArb, fromSeq: fc.integer({ min: 1 }), heatmaps: fc.boolean() }, { requiredKeys: ['type', 'runId'] }),
  fc.record(
    {
      type: fc.constant('analyze'),
      id: idArb,
      modelDir: fc.string({ minLength: 1, maxLength: 40 }),
      data: fc.string({ minLength: 1, maxLength: 40 }),
      options: fc.record(
        { sequences: fc.integer({ min: 1, max: 10_000 }), seqLen: fc.integer({ min: 1, max: 8192 }), windows: fc.constantFrom('random', 'contiguous'), seed: fc.nat(), tau: fc.double({ min: 0, max: 1, noNaN: true }), mass: fc.constantFrom('sorted', 'prefix'), tokenizer: fc.constantFrom('gpt2', 'bytes', 'model') },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['type', 'modelDir', 'data'] },
  ),
);

test('fuzz: valid messages of every type are accepted exactly, and one wrong field turns each into a coded refusal', async (t) => {
  await fuzz(
    t,
    fc.tuple(validArb, fc.option(fc.tuple(fc.constantFrom(...FIELDS), anyJson), { nil: undefined })),
    ([message, spoil]) => {
      const text = JSON.stringify(message);
      const r = parseClientMessage(text);
      assert.ok(r.ok, `refused a valid ${String(message.type)}: ${r.ok ? '' : r.message}`);
      assert.deepEqual(r.message, JSON.parse(text));
      if (spoil !== undefined) checkParse(JSON.stringify({ ...message, [spoil[0]]: spoil[1] }));
    },
    3000,
  );
});

test('fuzz: large field values (up to 64 KiB) are refused without being echoed', async (t) => {
  const big = fc.string({ minLength: 1000, maxLength: 64 * 1024, unit: 'grapheme-ascii' });
  await fuzz(
    t,
    fc.record({ type: fc.oneof(fc.constantFrom(...TYPES), big), field: fc.constantFrom(...FIELDS), value: fc.oneof(big, fc.array(big, { maxLength: 2 })) }),
    ({ type, field, value }) => checkParse(JSON.stringify({ type, [field]: value })),
    300,
  );
});

test('fuzz: arbitrary text and JSON fragments are refused with a coded error, never thrown', async (t) => {
  const token = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('{', '}', '[', ']', '"type"', ':', ',', '"hello"', 'null', '1e999', '"\\u0000"', '\\'));
  await fuzz(t, fc.oneof(fc.array(token, { maxLength: 30 }).map((p) => p.join('')), fc.string({ maxLength: 200 })), checkParse, 3000);
});
