/**
 * What must hold (1): a run started over a real socket streams phase/metrics/eval/attention/
 * runFinished in order; two clients see the same stream; a client that drops mid-run and comes back
 * with fromSeq gets every missed event once; heatmaps arrive as binary frames naming their event;
 * runs queue one at a time and listRuns shows the queue; a LLaMA reference streams alike; a client
 * that stops reading is closed (4008) and comes back with fromSeq.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelDir } from '../../server/engine/hfCheckpoint.js';
import { SafetensorsReader } from '../../server/engine/safetensors.js';
import type { RunInfo } from '../../server/protocol/messages.js';
import { CloseCode, HEATMAP_MAX_SIZE, PROTOCOL_VERSION } from '../../server/protocol/messages.js';
import { tinyLlama, writeLlama } from '../helpers/llama.js';
import { Client, Fixture, REPO, ServerProcess, storedEvents, streamProblem, until, fixtureForFile, type Of } from './server-harness.js';

let f: Fixture;
let server: ServerProcess;
// Roots: the fixture (the current folder) and the shipped examples (the demo test's config and reference).
fixtureForFile({ serve: true, args: ['--root', '.', '--root', path.join(REPO, 'examples')] }, (fx, s) => {
  f = fx;
  server = s!;
});

test('serve prints a ready line and greets a client with its versions and backend', { timeout: 120000 }, async () => {
  const r = server.ready;
  assert.equal(r.type, 'ready');
  assert.equal(r.host, '127.0.0.1', 'loopback by default');
  assert.ok(r.port > 0);
  assert.equal(r.protocolVersion, PROTOCOL_VERSION);
  assert.equal(r.backend, 'wasm');
  assert.equal(r.tokenSource, 'env');
  const c = await Client.connect(server.url);
  const w = c.messages[0] as Of<'welcome'>;
  assert.equal(w.type, 'welcome');
  assert.equal(w.protocolVersion, PROTOCOL_VERSION);
  assert.equal(w.backend, 'wasm');
  assert.match(w.device, /cpu/);
  assert.equal(w.pid, r.pid);
  c.close();
});

test('one run, three watchers: same ordered stream, a dropped client resumes with fromSeq, heatmaps as binary frames', { timeout: 120000 }, async () => {
  const a = await Client.connect(server.url);
  const b = await Client.connect(server.url);
  const config = f.writeConfig({ name: 'stream', steps: 240, batchTokens: 128, evalEvery: 60, analysisEvery: 60, checkpointEvery: 20 });
  const queued = (await a.request({ type: 'startRun', configPath: config })) as Of<'runQueued'>;
  assert.equal(queued.type, 'runQueued', JSON.stringify(queued));
  const { runId, dir } = queued.run;
  for (const c of [a, b]) c.send({ type: 'subscribe', runId, fromSeq: 1 });

  // A third client drops (no close handshake) mid-run, then comes back with fromSeq.
  const c1 = await Client.connect(server.url);
  c1.send({ type: 'subscribe', runId, fromSeq: 1 });
  await c1.waitForEvent(runId, (e) => e.type === 'metrics' && e.step >= 20);
  c1.terminate();
  const seen = c1.events(runId);
  const lastSeen = seen.at(-1)!.event.seq;
  // Let the run go on without it for a while.
  await a.waitForEvent(runId, (e) => e.seq >= lastSeen + 30);
  const c2 = await Client.connect(server.url);
  c2.send({ type: 'subscribe', runId, fromSeq: lastSeen + 1, id: 'again' });
  const subscribed = await c2.waitFor<Of<'subscribed'>>((m) => m.type === 'subscribed');
  assert.equal(subscribed.fromSeq, lastSeen + 1);
  assert.ok(subscribed.replayedTo >= lastSeen + 30, 'the missed events were replayed from the run store');

  for (const c of [a, b, c2]) await c.waitForEnd(runId);
  const stored = storedEvents(dir);
  assert.equal(stored.at(-1)?.type, 'runFinished', 'the run finished');

  for (const [name, c, from] of [['a', a, 1], ['b', b, 1], ['reconnected', c2, lastSeen + 1]] as const) {
    assert.equal(streamProblem(c.events(runId), stored, from), undefined, `client ${name}`);
  }
  assert.equal(streamProblem(seen, stored.slice(0, lastSeen), 1), undefined, 'the dropped client, up to its drop');
  assert.deepEqual(
    a.events(runId).map((e) => e.event.seq),
    b.events(runId).map((e) => e.event.seq),
    'two watchers get the same stream',
  );

  // Order and kinds: every non-metrics event was streamed; the run's shape is what the loop emits.
  const types = a.events(runId).map((e) => e.event.type);
  assert.deepEqual(types.slice(0, 6), ['runStarted', 'device', 'phase', 'eval', 'attention', 'modelFinished'], 'what trains the run, then the reference is measured first');
  assert.equal(types.at(-1), 'runFinished');
  const firstOf = (t: (typeof types)[number]) => types.indexOf(t);
  assert.ok(firstOf('phase') < firstOf('metrics') && firstOf('metrics') < types.lastIndexOf('eval') && types.lastIndexOf('attention') < types.length - 1);
  assert.deepEqual(
    stored.filter((e) => e.type !== 'metrics').map((e) => e.seq),
    a.events(runId).filter((e) => e.event.type !== 'metrics').map((e) => e.event.seq),
    'eval, phase, attention, checkpoint and final events are never dropped',
  );
  const storedMetrics = stored.filter((e) => e.type === 'metrics').length;
  const liveMetrics = a.events(runId).filter((e) => e.event.type === 'metrics').length;
  assert.ok(liveMetrics <= storedMetrics);
  const live = a.events(runId).filter((e) => e.event.type === 'metrics');
  const seconds = (Date.parse(stored.at(-1)!.time) - Date.parse(stored[0].time)) / 1000;
  assert.ok(liveMetrics <= 4 * seconds + 12, `metrics are throttled: ${liveMetrics} live of ${storedMetrics} stored in ${seconds.toFixed(1)} s`);
  assert.ok(live.some((e) => e.coalesced > 0) || storedMetrics <= 4 * seconds + 12, 'fast steps are coalesced');

  // Heatmaps: per attention event, one frame per (layer, head), at most 64 x 64, naming the event.
  const attention = a.events(runId).filter((e) => e.event.type === 'attention');
  assert.ok(attention.length >= 3);
  for (const { event, heatmaps } of attention) {
    if (event.type !== 'attention') continue;
    const frames = a.frames.filter((fr) => fr.header.runId === runId && fr.header.seq === event.seq);
    const heads = event.layers[0].heads.length;
    assert.equal(heatmaps, event.layers.length * heads);
    assert.equal(frames.length, heatmaps, `frames of the attention event ${event.seq}`);
    for (const fr of frames) {
      assert.ok(fr.header.rows <= HEATMAP_MAX_SIZE && fr.header.cols <= HEATMAP_MAX_SIZE);
      assert.equal(fr.cells.length, fr.header.rows * fr.header.cols);
      assert.equal(fr.header.seqLen, event.seqLen);
    }
    // The run store keeps the full-resolution matrices the frames were made from.
    const reader = SafetensorsReader.open(path.join(dir, event.file));
    assert.deepEqual(reader.info('layer.0').shape, [heads, event.seqLen, event.seqLen]);
    reader.close();
  }
  assert.equal(b.frames.length, a.frames.length, 'every watcher gets the heatmaps');
  for (const c of [a, b, c2]) c.close();
});

/** Waits until no run is training (a training process exits a moment after its last event). */
async function idle(c: Client): Promise<RunInfo[]> {
  for (const t0 = Date.now(); ; ) {
    const { runs } = (await c.request({ type: 'listRuns' })) as Of<'runs'>;
    if (!runs.some((r) => r.status === 'running' || r.status === 'stopping')) return runs;
    assert.ok(Date.now() - t0 < 30_000, 'the server is idle within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('runs train one at a time: the second waits in the queue, visible in listRuns, then runs', { timeout: 120000 }, async () => {
  const c = await Client.connect(server.url);
  // The training process of an earlier test's run may still be exiting after its last event.
  await idle(c);
  const first = (await c.request({ type: 'startRun', configPath: f.writeConfig({ name: 'first', steps: 120, batchTokens: 128, checkpointEvery: 0, evalEvery: 0, analysisEvery: 0 }) })) as Of<'runQueued'>;
  const second = (await c.request({ type: 'startRun', config: f.configText({ name: 'second', steps: 5 }), configPath: path.join(f.dir, 'unsaved.inheritune.yaml') })) as Of<'runQueued'>;
  assert.equal(second.type, 'runQueued', JSON.stringify(second));
  assert.equal(second.run.status, 'queued');
  const list = (await c.request({ type: 'listRuns' })) as Of<'runs'>;
  const byId = new Map<string, RunInfo>(list.runs.map((r) => [r.runId, r]));
  assert.equal(byId.get(first.run.runId)?.status, 'running');
  assert.equal(byId.get(second.run.runId)?.status, 'queued');
  assert.equal(byId.get(second.run.runId)?.queuePosition, 1);
  assert.equal(byId.get(second.run.runId)?.configPath, path.join(f.dir, 'unsaved.inheritune.yaml'), 'config text with a path: the path names it');
  c.send({ type: 'subscribe', runId: first.run.runId });
  c.send({ type: 'subscribe', runId: second.run.runId });
  const firstEnd = await c.waitForEnd(first.run.runId);
  const secondEnd = await c.waitForEnd(second.run.runId);
  assert.ok(c.messages.indexOf(firstEnd) < c.messages.indexOf(secondEnd), 'the second ran after the first');
  const secondStart = storedEvents(second.run.dir)[0];
  const firstLast = storedEvents(first.run.dir).at(-1)!;
  assert.ok(Date.parse(secondStart.time) >= Date.parse(firstLast.time), 'never both at once');
  // Status changes reach every client.
  const updates = c.messages.filter((m): m is Of<'runUpdate'> => m.type === 'runUpdate' && m.run.runId === second.run.runId).map((m) => m.run.status);
  assert.deepEqual(updates, ['queued', 'running', 'finished']);
  const done = (await c.request({ type: 'listRuns' })) as Of<'runs'>;
  const fin = done.runs.find((r) => r.runId === first.run.runId)!;
  assert.equal(fin.status, 'finished');
  assert.ok(fin.final && fin.final.layers === 2 && fs.existsSync(fin.final.modelDir));
  // A run folder deleted (the Runs view's Delete Run, or by hand) is no longer listed once its
  // training process has exited.
  fs.rmSync(second.run.dir, { recursive: true, force: true });
  for (const t0 = Date.now(); ; ) {
    const { runs } = (await c.request({ type: 'listRuns' })) as Of<'runs'>;
    assert.ok(runs.some((r) => r.runId === first.run.runId));
    if (!runs.some((r) => r.runId === second.run.runId)) break;
    assert.ok(Date.now() - t0 < 30_000, 'the deleted run is gone from listRuns within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  c.close();
});

test('analyze: attention statistics of a model directory, with heatmaps, computed in a separate process', { timeout: 120_000 }, async () => {
  const c = await Client.connect(server.url);
  const r = (await c.request({ type: 'analyze', modelDir: f.referenceDir, data: 'val.jsonl', options: { sequences: 3, seqLen: 16, tokenizer: 'bytes' } })) as Of<'analysisResult'>;
  assert.equal(r.type, 'analysisResult', JSON.stringify(r));
  assert.equal(r.result.layers.length, 4);
  assert.equal(r.result.sequences, 3);
  assert.equal(r.heatmaps, 4 * 2);
  await c.waitFor(() => c.frames.filter((fr) => fr.header.requestId === r.requestId).length === r.heatmaps);
  for (const fr of c.frames) assert.equal(fr.header.rows, 16);
  const missing = (await c.request({ type: 'analyze', modelDir: f.dir, data: 'val.jsonl' })) as Of<'error'>;
  assert.equal(missing.code, 'notFound');
  assert.match(missing.message, /not a model directory/);
  const tooLong = (await c.request({ type: 'analyze', modelDir: f.referenceDir, data: 'val.jsonl', options: { seqLen: 32, tokenizer: 'bytes' } })) as Of<'error'>;
  assert.equal(tooLong.code, 'analyzeFailed');
  assert.match(tooLong.message, /seqLen \(32\) exceeds the model's 16 positions/);
  c.close();
});

test('the demo config (shipped 8-layer reference, its data) streams phase, metrics, eval, attention and runFinished in order', { timeout: 600000 }, async () => {
  const demo = path.join(REPO, 'examples', 'demo.inheritune.yaml');
  // The demo itself, shortened (fewer steps, one baseline) and writing its run store in the fixture.
  const text = fs
    .readFileSync(demo, 'utf8')
    .replace(/steps: 40/, 'steps: 4')
    .replace(/eval_every: 20/, 'eval_every: 2')
    .replace(/baselines: \[scratch, scratch_2x\]/, 'baselines: [scratch]')
    .replace(/out_dir: [^,}]+/, `out_dir: ${path.join(f.dir, 'demo-runs')}`);
  const c = await Client.connect(server.url);
  const queued = (await c.request({ type: 'startRun', config: text, configPath: demo })) as Of<'runQueued'>;
  assert.equal(queued.type, 'runQueued', JSON.stringify(queued));
  const { runId, dir } = queued.run;
  c.send({ type: 'subscribe', runId, fromSeq: 1 });
  await c.waitForEnd(runId, 540_000);
  const stored = storedEvents(dir);
  assert.equal(streamProblem(c.events(runId), stored, 1), undefined);
  const types = c.events(runId).map((e) => e.event.type);
  const first = (t: (typeof types)[number]) => types.indexOf(t);
  assert.ok(first('runStarted') === 0 && first('phase') < first('eval') && first('eval') < first('attention') && first('attention') < first('metrics'), types.slice(0, 8).join(','));
  assert.equal(types.at(-1), 'runFinished');
  const finished = c.events(runId).at(-1)!.event;
  assert.ok(finished.type === 'runFinished' && finished.summary.reference.layers === 8 && finished.summary.rounds[0].layers === 4);
  c.close();
});

test('a client that stops reading is closed with 4008 once its unread data passes --max-client-buffer; another watcher is not held up, and it reconnects with fromSeq missing nothing', { timeout: 180000 }, async (t) => {
  // A stopped run of 20,000 stored events (about 10 MB): more than the kernel's socket buffers hold.
  const runId = '20261126-120000-slow-reader-0001';
  const dir = path.join(f.runsDir, runId);
  fs.mkdirSync(dir, { recursive: true });
  const time = '2026-11-26T12:00:00.000Z';
  const N = 20_000;
  const lines = [JSON.stringify({ runId, seq: 1, time, type: 'runStarted', name: 'slow-reader', configPath: path.join(f.dir, 'x.inheritune.yaml'), backend: 'wasm', resumed: false })];
  for (let seq = 2; seq < N; seq++) lines.push(JSON.stringify({ runId, seq, time, type: 'log', level: 'info', message: `line ${seq} ${'.'.repeat(400)}` }));
  lines.push(JSON.stringify({ runId, seq: N, time, type: 'runFailed', error: 'stopped', interrupted: true }));
  fs.writeFileSync(path.join(dir, 'events.jsonl'), `${lines.join('\n')}\n`);

  const s = await ServerProcess.start(f, { args: ['--max-client-buffer', '0.01'] });
  try {
    const slow = await Client.connect(s.url);
    const watcher = await Client.connect(s.url);
    slow.send({ type: 'subscribe', runId });
    slow.pauseReading();
    watcher.send({ type: 'subscribe', runId });
    await until(() => /client \d+: \d+ bytes unread; closing it/.test(s.stderr), 60_000, 'the server closes the client that stopped reading');
    slow.resumeReading();
    const closed = await slow.closed(30_000);
    assert.equal(closed.code, CloseCode.tooSlow);
    assert.equal(closed.reason, 'client too slow: reconnect and subscribe with fromSeq');
    const got = slow.events(runId);
    const last = got.at(-1)?.event.seq ?? 0;
    assert.ok(last < N, `closed before the end of the stream (after ${last} of ${N} events)`);
    t.diagnostic(`the paused client was closed (4008) after ${last} of ${N} events`);

    const again = await Client.connect(s.url);
    again.send({ type: 'subscribe', runId, fromSeq: last + 1 });
    for (const c of [watcher, again]) await c.waitForEnd(runId);
    const stored = storedEvents(dir);
    assert.equal(streamProblem(got, stored.slice(0, last), 1), undefined, 'the slow client, up to its close');
    assert.equal(streamProblem(again.events(runId), stored, last + 1), undefined, 'the slow client, reconnected');
    assert.equal(streamProblem(watcher.events(runId), stored, 1), undefined, 'the watcher that kept reading');
    for (const c of [watcher, again]) c.close();
  } finally {
    await s.stop();
  }
});

test('a run on a tiny LLaMA reference streams like a GPT-2 run: events in order, heatmaps per layer and head, a LLaMA model saved', { timeout: 120000 }, async () => {
  const refDir = path.join(f.dir, 'llama-ref');
  writeLlama(refDir, tinyLlama({ vocabSize: 320, nPositions: 64 }), 4, { tokenizer: true });
  const config = path.join(f.dir, 'llama.inheritune.yaml');
  fs.writeFileSync(
    config,
    f.configText({ name: 'llama', steps: 12, evalEvery: 6, analysisEvery: 6, grow: true })
      .replace('reference: { path: reference }', 'reference: { path: llama-ref }')
      .replace('tokenizer: bytes', 'tokenizer: model'),
  );
  const c = await Client.connect(server.url);
  const queued = (await c.request({ type: 'startRun', configPath: config })) as Of<'runQueued'>;
  assert.equal(queued.type, 'runQueued', JSON.stringify(queued));
  const { runId, dir } = queued.run;
  c.send({ type: 'subscribe', runId });
  const end = (await c.waitForEnd(runId)) as Of<'event'>;
  assert.equal(end.event.type, 'runFinished', JSON.stringify(end.event));
  const stored = storedEvents(dir);
  assert.equal(streamProblem(c.events(runId), stored, 1), undefined);
  const types = c.events(runId).map((e) => e.event.type);
  assert.deepEqual(types.slice(0, 6), ['runStarted', 'device', 'phase', 'eval', 'attention', 'modelFinished'], 'what trains the run, then the reference is measured first');
  for (const { event, heatmaps } of c.events(runId)) {
    if (event.type !== 'attention') continue;
    // 4 query heads per layer (grouped-query attention shares key/value heads, not attention maps).
    assert.ok(event.layers.every((l) => l.heads.length === 4));
    assert.equal(heatmaps, event.layers.length * 4);
    assert.equal(c.frames.filter((fr) => fr.header.runId === runId && fr.header.seq === event.seq).length, heatmaps);
  }
  const summary = end.event.summary;
  assert.equal(summary.rounds[0].layers, 2, 'inherits 2 of the 3 layers');
  const saved = ModelDir.open(path.join(dir, 'model'));
  assert.ok(saved.config.family === 'llama', 'the saved model is a LLaMA');
  assert.equal(saved.config.nLayer, summary.final.layers);
  saved.close();
  c.close();
});
