/**
 * What must hold (2): wrong or missing token, a bad Origin, malformed JSON, an unknown message type,
 * an oversized frame, a startRun with an invalid config: each is answered or closed with a clear
 * reason, and the server and the run under way keep going (the run still finishes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import WebSocket from 'ws';
import { CloseCode, MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from '../../server/protocol/messages.js';
import { Client, Fixture, ServerProcess, storedEvents, streamProblem, TOKEN, fixtureForFile, type Of } from './server-harness.js';

let f: Fixture;
let server: ServerProcess;
fixtureForFile({ serve: true, args: ['--allow-origin', 'vscode-webview://trusted'] }, (fx, s) => {
  f = fx;
  server = s!;
});

test('bad clients and bad messages are refused with a clear reason while a run goes on to finish', { timeout: 120000 }, async () => {
  const watcher = await Client.connect(server.url);
  const queued = (await watcher.request({ type: 'startRun', configPath: f.writeConfig({ name: 'victim', steps: 300, batchTokens: 128, evalEvery: 100, analysisEvery: 100 }) })) as Of<'runQueued'>;
  const { runId, dir } = queued.run;
  watcher.send({ type: 'subscribe', runId });
  await watcher.waitForEvent(runId, (e) => e.type === 'metrics');

  // Wrong token: an error, then the socket is closed with 4001.
  const wrong = await Client.connect(server.url, { token: 'not-the-token-at-all' });
  assert.deepEqual((wrong.messages[0] as Of<'error'>).code, 'unauthorized');
  assert.deepEqual(await wrong.closed(), { code: CloseCode.unauthorized, reason: 'unauthorized: wrong token' });

  // No hello at all: closed after the hello timeout.
  const silent = await Client.connect(server.url, { token: null });
  const t0 = Date.now();
  const silentClose = await silent.closed(5000);
  assert.equal(silentClose.code, CloseCode.helloTimeout);
  assert.match(silentClose.reason, /authentication timeout: send hello with the token within 2000 ms/);
  assert.ok(Date.now() - t0 < 4000);

  // A first message that is not hello (even a valid one) is refused: the token comes first.
  const rude = await Client.connect(server.url, { token: null });
  rude.send({ type: 'listRuns' });
  const rudeClose = await rude.closed();
  assert.equal(rudeClose.code, CloseCode.unauthorized);
  assert.ok(!rude.messages.some((m) => m.type === 'runs'), 'nothing is answered before authentication');

  // Wrong protocol version.
  const old = await Client.connect(server.url, { token: null });
  old.send({ type: 'hello', token: TOKEN, protocolVersion: PROTOCOL_VERSION + 1 });
  const oldClose = await old.closed();
  assert.equal(oldClose.code, CloseCode.protocolVersion);
  assert.match(oldClose.reason, /protocol version 2 is not supported; this server speaks 1/);

  // A browser page (any Origin not allow-listed) cannot even open the socket.
  await assert.rejects(Client.connect(server.url, { origin: 'https://evil.example' }), /HTTP 403/);
  const body = await new Promise<string>((resolve) => {
    const ws = new WebSocket(server.url, { origin: 'http://localhost:3000' });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve(`${res.statusCode} ${text}`));
    });
    ws.on('error', () => undefined);
  });
  assert.match(body, /^403 Origin "http:\/\/localhost:3000" is not allowed/);
  const trusted = await Client.connect(server.url, { origin: 'vscode-webview://trusted' });
  assert.equal(trusted.messages[0].type, 'welcome', 'an allow-listed Origin is accepted');
  trusted.close();

  // An authenticated client sending garbage: every message answered, the connection kept.
  const c = await Client.connect(server.url);
  c.ws.send('{this is not json');
  assert.equal((await c.waitFor<Of<'error'>>((m) => m.type === 'error' && m.code === 'badJson')).message.startsWith('the message is not valid JSON'), true);
  const unknown = (await c.request({ type: 'formatDisk' })) as Of<'error'>;
  assert.equal(unknown.code, 'unknownType');
  assert.match(unknown.message, /unknown message type "formatDisk"; known: hello, startRun/);
  const badField = (await c.request({ type: 'subscribe', runId, fromSeq: 'yesterday' })) as Of<'error'>;
  assert.equal(badField.code, 'badMessage');
  assert.match(badField.message, /subscribe\.fromSeq must be an integer >= 1, got "yesterday"/);
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.match((await c.waitFor<Of<'error'>>((m) => m.type === 'error' && /binary/.test(m.message))).message, /binary frames are not accepted/);
  const again = (await c.request({ type: 'hello', token: TOKEN, protocolVersion: PROTOCOL_VERSION })) as Of<'error'>;
  assert.match(again.message, /already authenticated/);
  const notFound = (await c.request({ type: 'subscribe', runId: 'no-such-run' })) as Of<'error'>;
  assert.equal(notFound.code, 'notFound');
  const conflict = (await c.request({ type: 'resumeRun', runId })) as Of<'error'>;
  assert.equal(conflict.code, 'conflict');
  // Running, or already finished on a fast machine: either way not resumable.
  assert.match(conflict.message, /is running|has already finished/);
  const missing = (await c.request({ type: 'startRun', configPath: path.join(f.dir, 'nope.inheritune.yaml') })) as Of<'error'>;
  assert.equal(missing.code, 'notFound');
  assert.match(missing.message, /nope\.inheritune\.yaml: run config not found/);

  // An invalid config: every issue, as file:line:col, and no run folder is created.
  const before = fs.readdirSync(f.runsDir).length;
  const badConfig = f.configText({ name: 'bad', steps: 10 }).replace('steps: 10', 'steps: -3').replace('tokenizer: bytes', 'tokenizer: morse');
  const invalid = (await c.request({ type: 'startRun', config: badConfig, configPath: path.join(f.dir, 'bad.inheritune.yaml') })) as Of<'error'>;
  assert.equal(invalid.code, 'invalidConfig');
  assert.match(invalid.message, /2 errors in the run config/);
  assert.equal(invalid.issues?.length, 2);
  assert.match(invalid.issues![0], /bad\.inheritune\.yaml:5:\d+: .*tokenizer/);
  assert.match(invalid.issues![1], /bad\.inheritune\.yaml:6:\d+: .*steps/);
  assert.equal(fs.readdirSync(f.runsDir).length, before);

  // An oversized frame: ws closes the socket with 1009.
  const big = await Client.connect(server.url);
  big.ws.send(JSON.stringify({ type: 'startRun', config: 'x'.repeat(MAX_MESSAGE_BYTES + 10) }));
  assert.equal((await big.closed()).code, CloseCode.messageTooBig);

  // The server still answers, and the run was never disturbed.
  const list = (await c.request({ type: 'listRuns' })) as Of<'runs'>;
  assert.ok(list.runs.some((r) => r.runId === runId));
  await watcher.waitForEnd(runId);
  const stored = storedEvents(dir);
  assert.equal(stored.at(-1)?.type, 'runFinished');
  assert.equal(streamProblem(watcher.events(runId), stored), undefined);
  assert.match(server.stderr, /wrong token/);
  assert.match(server.stderr, /unknownType: unknown message type "formatDisk"/);
  c.close();
  watcher.close();
});

test('the token never comes from argv: a random one is written to a 0600 file when none is given; a non-loopback host warns', { timeout: 120000 }, async () => {
  const s = await ServerProcess.start(f, { token: null, args: ['--host', '0.0.0.0'] });
  try {
    assert.equal(s.ready.tokenSource, 'generated');
    const file = s.ready.tokenFile!;
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const token = fs.readFileSync(file, 'utf8').trim();
    assert.ok(token.length >= 32);
    assert.match(s.stderr, /warning: listening on 0\.0\.0\.0, not loopback/);
    const c = await Client.connect(`ws://127.0.0.1:${s.ready.port}`, { token });
    assert.equal(c.messages[0].type, 'welcome');
    c.close();
    const bad = await Client.connect(`ws://127.0.0.1:${s.ready.port}`, { token: TOKEN });
    assert.equal((await bad.closed()).code, CloseCode.unauthorized);
  } finally {
    await s.stop();
  }
  // --token-file: an existing file is read.
  const tokenFile = path.join(f.dir, 'my.token');
  fs.writeFileSync(tokenFile, 'file-token-abcdefghijklmnop\n', { mode: 0o600 });
  const s2 = await ServerProcess.start(f, { token: null, args: ['--token-file', tokenFile] });
  try {
    assert.equal(s2.ready.tokenSource, 'file');
    const c = await Client.connect(`ws://127.0.0.1:${s2.ready.port}`, { token: 'file-token-abcdefghijklmnop' });
    assert.equal(c.messages[0].type, 'welcome');
    c.close();
  } finally {
    await s2.stop();
  }
});
