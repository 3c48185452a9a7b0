/**
 * What must hold (3), and the rest of the lifecycle: SIGTERM stops the server gracefully (the run
 * checkpoints and reads interrupted); SIGKILL of the server mid-run, a restart and resumeRun finish
 * the run with an event stream that has no gap or duplicate; a crashed training process leaves the
 * run resumable; stopRun cancel / finish-and-save.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelDir } from '../../server/engine/hfCheckpoint.js';
import type { RunEvent } from '../../server/protocol/events.js';
import { CloseCode } from '../../server/protocol/messages.js';
import { processAlive } from '../../server/engine/run/runLock.js';
import { Client, Fixture, ServerProcess, storedEvents, streamProblem, until, type ReceivedEvent, fixtureForFile, type Of } from './server-harness.js';

let f: Fixture;
fixtureForFile({ serve: false }, (fx) => (f = fx));

const LONG = { steps: 300, batchTokens: 128, evalEvery: 100, analysisEvery: 100, checkpointEvery: 10 };


test('SIGTERM checkpoints; SIGKILL mid-run, restart, resume: the run completes and its stream has no gap or duplicate', { timeout: 240000 }, async () => {
  const config = f.writeConfig({ name: 'survivor', ...LONG });

  // 1. Server A: start, watch, SIGTERM mid-run.
  const a = await ServerProcess.start(f);
  const ca = await Client.connect(a.url);
  const { run } = (await ca.request({ type: 'startRun', configPath: config })) as Of<'runQueued'>;
  const { runId, dir } = run;
  ca.send({ type: 'subscribe', runId });
  await ca.waitForEvent(runId, (e) => e.type === 'metrics' && e.step >= 30);
  a.kill('SIGTERM');
  assert.deepEqual(await a.exited(), { code: 0, signal: null }, 'SIGTERM: a clean exit');
  assert.deepEqual(await ca.closed(), { code: CloseCode.goingAway, reason: 'server shutting down' });
  let stored = storedEvents(dir);
  const lastNonLog = [...stored].reverse().find((e) => e.type !== 'log')!;
  assert.ok(lastNonLog.type === 'runFailed' && lastNonLog.interrupted, `marked interrupted: ${JSON.stringify(lastNonLog)}`);
  assert.ok(stored.some((e) => e.type === 'log' && /shutting down/.test(e.message)));
  assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'round-1', 'trainer.json')), 'checkpointed');
  assert.equal(streamProblem(ca.events(runId), stored), undefined, 'the watcher got every event up to the stop');
  const received: ReceivedEvent[] = [...ca.events(runId)];

  // 2. Server B lists it as interrupted; resume, then SIGKILL the server mid-run.
  const b = await ServerProcess.start(f);
  const cb = await Client.connect(b.url);
  const listed = ((await cb.request({ type: 'listRuns' })) as Of<'runs'>).runs.find((r) => r.runId === runId);
  assert.equal(listed?.status, 'interrupted', 'past runs are listed from the run store after a restart');
  assert.equal(listed?.lastSeq, stored.at(-1)!.seq);
  cb.send({ type: 'subscribe', runId, fromSeq: received.at(-1)!.event.seq + 1 });
  const resumedB = (await cb.request({ type: 'resumeRun', runId })) as Of<'runQueued'>;
  assert.equal(resumedB.type, 'runQueued');
  const resumeEvent = (await cb.waitForEvent(runId, (e) => e.type === 'resumed')) as Of<'event'>;
  const fromStep = resumeEvent.event.type === 'resumed' ? resumeEvent.event.fromStep : -1;
  assert.ok(fromStep >= 30, `resumed from the checkpoint at step ${fromStep}`);
  await cb.waitForEvent(runId, (e) => e.type === 'metrics' && e.step >= fromStep + 40);
  const workerPid = JSON.parse(fs.readFileSync(path.join(dir, '.lock'), 'utf8')).pid as number;
  b.kill('SIGKILL');
  await b.exited();
  await cb.closed();
  received.push(...cb.events(runId));

  // 3. Server C: resume again (its training process waits for the orphaned one to checkpoint and let go).
  const c = await ServerProcess.start(f);
  const cc = await Client.connect(c.url);
  const listedC = ((await cc.request({ type: 'listRuns' })) as Of<'runs'>).runs.find((r) => r.runId === runId);
  assert.equal(listedC?.status, 'interrupted');
  cc.send({ type: 'subscribe', runId, fromSeq: received.at(-1)!.event.seq + 1 });
  await cc.request({ type: 'resumeRun', runId });
  await cc.waitForEvent(runId, (e) => e.type === 'runFinished');
  received.push(...cc.events(runId));
  await until(() => !processAlive(workerPid), 10_000, 'the orphaned training process exits');

  stored = storedEvents(dir);
  assert.deepEqual(stored.map((e) => e.seq), stored.map((_, i) => i + 1), 'the store: seq 1..N, no gap, no duplicate');
  assert.equal(stored.at(-1)?.type, 'runFinished');
  assert.equal(stored.filter((e) => e.type === 'runFinished').length, 1);
  assert.equal(stored.filter((e) => e.type === 'runStarted').length, 3, 'three attempts');
  assert.ok(
    stored.some((e) => e.type === 'log' && /server went away/.test(e.message)),
    `the orphan noticed the server was gone and checkpointed; events: ${stored.filter((e) => e.type !== 'metrics').map((e) => `${e.seq} ${e.type}${e.type === 'log' || e.type === 'runFailed' ? ` ${JSON.stringify(e)}` : ''}`).join('\n')}`,
  );
  assert.equal(streamProblem(received, stored), undefined, 'the three connections together saw every event once');

  // The figures equal an uninterrupted run's.
  const straight = (await cc.request({ type: 'startRun', configPath: config })) as Of<'runQueued'>;
  cc.send({ type: 'subscribe', runId: straight.run.runId });
  const end = (await cc.waitForEnd(straight.run.runId)) as Of<'event'>;
  const final = stored.at(-1) as Extract<RunEvent, { type: 'runFinished' }>;
  assert.ok(end.event.type === 'runFinished');
  if (end.event.type === 'runFinished') {
    assert.ok(Math.abs(end.event.summary.final.valLoss - final.summary.final.valLoss) < 1e-5, `${end.event.summary.final.valLoss} vs ${final.summary.final.valLoss}`);
  }
  cc.close();
  await c.stop();
});

test('stopRun finish-and-save keeps the model, cancel does not; a crashed training process leaves the run resumable', { timeout: 240000 }, async () => {
  const s = await ServerProcess.start(f);
  const c = await Client.connect(s.url);
  try {
    // finish-and-save, in the precision the config asks for
    const saved = ((await c.request({ type: 'startRun', configPath: f.writeConfig({ name: 'saver', ...LONG, saveDtype: 'bfloat16' }) })) as Of<'runQueued'>).run;
    c.send({ type: 'subscribe', runId: saved.runId });
    await c.waitForEvent(saved.runId, (e) => e.type === 'metrics' && e.step >= 15);
    const ack = (await c.request({ type: 'stopRun', runId: saved.runId, mode: 'finish-and-save' })) as Of<'stopping'>;
    assert.equal(ack.type, 'stopping');
    await c.waitForEnd(saved.runId);
    await c.waitForEvent(saved.runId, (e) => e.type === 'log' && /finish-and-save: saved round-1/.test(e.message));
    const model = ModelDir.open(path.join(saved.dir, 'model'));
    assert.deepEqual(Object.keys(model.storage()), ['BF16'], 'the model being trained was saved, in runtime.save_dtype');
    model.close();
    // A user's stop: the run reads stopped (not an error), resumable.
    await until(() => c.messages.some((m) => m.type === 'runUpdate' && m.run.runId === saved.runId && m.run.status === 'stopped'), 10_000, 'status stopped');
    const again = (await c.request({ type: 'stopRun', runId: saved.runId, mode: 'cancel' })) as Of<'error'>;
    assert.equal(again.code, 'conflict');

    // cancel
    const cancelled = ((await c.request({ type: 'startRun', configPath: f.writeConfig({ name: 'canceller', ...LONG }) })) as Of<'runQueued'>).run;
    c.send({ type: 'subscribe', runId: cancelled.runId });
    await c.waitForEvent(cancelled.runId, (e) => e.type === 'metrics' && e.step >= 15);
    await c.request({ type: 'stopRun', runId: cancelled.runId, mode: 'cancel' });
    const end = (await c.waitForEnd(cancelled.runId)) as Of<'event'>;
    assert.ok(end.event.type === 'runFailed' && end.event.interrupted && end.event.byUser === true, JSON.stringify(end.event));
    assert.match(end.event.error, /^stopped at step \d+ of round-1 \(checkpoint saved\)$/);
    assert.ok(!fs.existsSync(path.join(cancelled.dir, 'model')));

    // The training process of a resumed run crashes (SIGKILL): the server records it, the run stays resumable.
    const failures = () => c.events(cancelled.runId).filter((r) => r.event.type === 'runFailed');
    const before = failures().length;
    await c.request({ type: 'resumeRun', runId: cancelled.runId });
    await c.waitForEvent(cancelled.runId, (e) => e.type === 'metrics' && e.step >= 40);
    const workerPid = JSON.parse(fs.readFileSync(path.join(cancelled.dir, '.lock'), 'utf8')).pid as number;
    process.kill(workerPid, 'SIGKILL');
    await until(() => failures().length > before, 20_000, 'the crash is recorded');
    const crash = failures().at(-1)!.event;
    assert.ok(crash.type === 'runFailed' && crash.interrupted && crash.byUser === undefined && /training process ended unexpectedly \(SIGKILL\)/.test(crash.error), JSON.stringify(crash));
    await until(() => c.messages.some((m) => m.type === 'runUpdate' && m.run.runId === cancelled.runId && m.run.status === 'interrupted'), 10_000, 'a crash reads interrupted, not stopped');
    await c.request({ type: 'resumeRun', runId: cancelled.runId });
    const fin = (await c.waitForEvent(cancelled.runId, (e) => e.type === 'runFinished')) as Of<'event'>;
    assert.equal(fin.event.type, 'runFinished');
    const stored = storedEvents(cancelled.dir);
    assert.equal(streamProblem(c.events(cancelled.runId), stored), undefined);
  } finally {
    c.close();
    await s.stop();
  }
});
