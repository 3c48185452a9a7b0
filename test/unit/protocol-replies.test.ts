// The server -> client half of the protocol (server/protocol/messages.ts): every message has a
// schema the extension checks it with, and every request has its reply type, so a caller of
// ServerClient.request gets the reply typed and a reply of another type is a compile error (see the
// expected errors in replyTypes, checked by `tsc -p .`) and, at run time, a rejection.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { ServerClient } from '../../extension/serverClient.js';
import { roundModel } from '../../server/protocol/events.js';
import {
  CLIENT_MESSAGES,
  parseReadyLine,
  parseServerMessage,
  REPLIES,
  replyTo,
  SERVER_MESSAGES,
  type ClientMessageType,
  type ServerMessage,
  type ServerMessageOf,
  type ServerMessageType,
} from '../../server/protocol/messages.js';

/** Compile-time only: never called. */
export function replyTypes(client: ServerClient): void {
  const queued: Promise<ServerMessageOf<'runQueued'>> = client.request({ type: 'startRun', config: 'name: x' });
  // @ts-expect-error startRun is answered with runQueued, never runs
  const runs: Promise<ServerMessageOf<'runs'>> = client.request({ type: 'startRun', config: 'name: x' });
  // @ts-expect-error a request is a client message: listRuns takes no runId
  void client.request({ type: 'listRuns', runId: 'r' });
  // @ts-expect-error every reply named in the map is a server message type
  const map: { [K in ClientMessageType]: readonly ServerMessageType[] } = { ...REPLIES, listRuns: ['runz'] };
  const queuedRun = (samples[2] as ServerMessageOf<'runQueued'>).run;
  // The server's side: replyTo takes only the reply type REPLIES names.
  const ok: ServerMessageOf<'runs'> = replyTo({ type: 'listRuns', id: 1 }, { type: 'runs', runs: [queuedRun] });
  // @ts-expect-error the server answers listRuns with runs, never runQueued
  void replyTo({ type: 'listRuns', id: 1 }, { type: 'runQueued', run: queuedRun });
  void [queued, runs, map, ok];
}

const run = { runId: 'r1', name: 'demo', dir: '/runs/r1', status: 'failed', lastSeq: 4, error: 'boom' };
const event = { runId: 'r1', seq: 2, time: '2026-11-26T12:00:00.000Z', type: 'metrics', model: roundModel(1, 2), step: 1, steps: 4, trainLoss: 3, lr: 1e-3, gradNorm: 1, tokensPerSec: 10, tokensSeen: 8 };
const samples: ServerMessage[] = [
  { type: 'welcome', serverVersion: '0.1.0', protocolVersion: 1, backend: 'cpu', device: 'cpu', pid: 1, runsDir: '/runs', inReplyTo: 0 },
  { type: 'error', code: 'invalidConfig', message: 'bad', issues: ['a.yaml:1:1: x'], inReplyTo: 'q' },
  { type: 'runQueued', run: { ...run, status: 'queued', queuePosition: 1 }, inReplyTo: 3 },
  { type: 'runs', runs: [run as ServerMessageOf<'runs'>['runs'][number]] },
  { type: 'runUpdate', run: { ...run, status: 'finished', final: { layers: 2, valLoss: 2, matchedReference: true, params: 10, modelDir: '/m' } } },
  { type: 'runDeleted', runId: 'r1' },
  { type: 'stopping', runId: 'r1', mode: 'finish-and-save', inReplyTo: 4 },
  { type: 'event', event: event as ServerMessageOf<'event'>['event'], coalesced: 2 },
  { type: 'subscribed', runId: 'r1', fromSeq: 1, replayedTo: 4, status: 'running' },
  { type: 'unsubscribed', runId: 'r1' },
  { type: 'download', repo: 'acme/ref', revision: 'main', file: 'model.safetensors', bytes: 100, totalBytes: 400, bytesPerSecond: 50, etaSeconds: 6, done: false },
  { type: 'analysisResult', requestId: '7', modelDir: '/m', backend: 'cpu', result: { tau: 0.9, eta: 0.9, sequences: 2, seqLen: 8, layers: [{ layer: 0, maxRank: 2, avgMass: 1, lazy: false, heads: [] }] }, heatmaps: 0 },
];

test('every server message type has a schema, every client message a reply; samples of each parse back to themselves', () => {
  assert.deepEqual(Object.keys(REPLIES).sort(), Object.keys(CLIENT_MESSAGES).sort());
  assert.deepEqual([...new Set(samples.map((m) => m.type))].sort(), Object.keys(SERVER_MESSAGES).sort());
  for (const m of samples) {
    const r = parseServerMessage(JSON.stringify(m));
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.message, m);
  }
});

test('replyTo answers a request with its id, or without one when it had none', () => {
  assert.deepEqual(replyTo({ type: 'unsubscribe', id: 'q7' }, { type: 'unsubscribed', runId: 'r1' }), { type: 'unsubscribed', runId: 'r1', inReplyTo: 'q7' });
  assert.deepEqual(replyTo({ type: 'unsubscribe' }, { type: 'unsubscribed', runId: 'r1' }), { type: 'unsubscribed', runId: 'r1' });
});

test('a server message outside the protocol is refused naming the field', () => {
  const error = (v: unknown) => {
    const r = parseServerMessage(JSON.stringify(v));
    assert.ok(!r.ok);
    return r.error;
  };
  assert.equal(error({ type: 'runs', runs: [{ ...run, status: 'done' }] }), 'message.runs[0].status must be one of "queued", "running", "stopping", "created", "stopped", "interrupted", "failed", "finished", got "done"');
  assert.match(error({ type: 'event', event: { ...event, trainLoss: null } }), /^message\.event\.trainLoss must be a number/);
  assert.match(error({ type: 'welcome' }), /^message\.serverVersion is missing/);
  assert.match(error({ type: 'hello' }), /^message\.type must be one of welcome, error, /);
  assert.equal(parseServerMessage('{"type"').ok, false);
  assert.equal(parseReadyLine('{"type":"ready","host":"127.0.0.1","port":"7000"}'), undefined);
});

test('ServerClient.request: the reply of the type the protocol says resolves; another type rejects; an invalid message is dropped, reported', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  after(() => wss.close());
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { type: string; id: number };
      const inReplyTo = m.id;
      if (m.type === 'hello') ws.send(JSON.stringify({ ...samples[0], inReplyTo }));
      else if (m.type === 'listRuns') ws.send(JSON.stringify({ type: 'runs', runs: [run], inReplyTo }));
      else if (m.type === 'resumeRun') {
        ws.send(JSON.stringify({ type: 'runQueued', run: { ...run, status: 'late' }, inReplyTo }));
        ws.send(JSON.stringify({ type: 'runs', runs: [], inReplyTo }));
      }
    });
  });
  const { port } = wss.address() as { port: number };
  const client = await ServerClient.connect(`ws://127.0.0.1:${port}`, 'x'.repeat(32));
  const dropped: string[] = [];
  client.listen({ invalid: (why) => dropped.push(why) });
  const runs = await client.request({ type: 'listRuns' });
  assert.equal(runs.runs[0].error, 'boom');
  await assert.rejects(client.request({ type: 'resumeRun', runId: 'r1' }), /the training server answered resumeRun with runs/);
  assert.deepEqual(dropped, ['message.run.status must be one of "queued", "running", "stopping", "created", "stopped", "interrupted", "failed", "finished", got "late"']);
  client.close();
});
