/**
 * Stop, Pause and Resume work the same on the torch engine as on tfjs, through the training server
 * the extension uses: a device event names the engine; Pause (stopRun cancel) checkpoints and reads
 * stopped; resumeRun continues from that checkpoint to the end with a stream without gap or repeat;
 * Stop and save (finish-and-save) writes the model being trained.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelDir } from '../../server/engine/hfCheckpoint.js';
import { TEST_PYTHON, torchMissing } from '../helpers/torch.js';
import { Client, Fixture, ServerProcess, storedEvents, streamProblem, until, fixtureForFile, type Of } from './server-harness.js';

let f: Fixture;
fixtureForFile({ serve: false }, (fx) => (f = fx));

/** The fixture's config on the torch engine (400 steps: a stop after step 10 always lands mid-run). */
function torchConfig(name: string): string {
  const file = f.writeConfig({ name, steps: 400, batchTokens: 128, evalEvery: 200, analysisEvery: 0, checkpointEvery: 10 });
  const text = fs.readFileSync(file, 'utf8').replace('runtime: { backend: wasm,', `runtime: { engine: torch, python: ${TEST_PYTHON}, backend: wasm,`);
  assert.match(text, /engine: torch/);
  fs.writeFileSync(file, text);
  return file;
}

test('torch engine through the server: Pause reads stopped and Resume finishes from its checkpoint; Stop and save writes the model', { timeout: 300_000 }, async (t) => {
  const skip = await torchMissing();
  if (skip) return t.skip(skip);
  const s = await ServerProcess.start(f);
  const c = await Client.connect(s.url);
  try {
    // Pause: checkpoint, a user's stop (stopped, not an error).
    const paused = ((await c.request({ type: 'startRun', configPath: torchConfig('torch-pause') })) as Of<'runQueued'>).run;
    c.send({ type: 'subscribe', runId: paused.runId });
    const device = (await c.waitForEvent(paused.runId, (e) => e.type === 'device')) as Of<'event'>;
    assert.ok(device.event.type === 'device' && device.event.engine === 'torch', JSON.stringify(device.event));
    await c.waitForEvent(paused.runId, (e) => e.type === 'metrics' && e.step >= 10);
    await c.request({ type: 'stopRun', runId: paused.runId, mode: 'cancel' });
    const end = (await c.waitForEnd(paused.runId)) as Of<'event'>;
    assert.ok(end.event.type === 'runFailed' && end.event.interrupted && end.event.byUser === true, JSON.stringify(end.event));
    await until(() => c.messages.some((m) => m.type === 'runUpdate' && m.run.runId === paused.runId && m.run.status === 'stopped'), 10_000, 'status stopped');
    assert.ok(!fs.existsSync(path.join(paused.dir, 'model')), 'a pause writes no model');

    // Resume: from the checkpoint, to the end.
    await c.request({ type: 'resumeRun', runId: paused.runId });
    const resumed = (await c.waitForEvent(paused.runId, (e) => e.type === 'resumed')) as Of<'event'>;
    assert.ok(resumed.event.type === 'resumed' && resumed.event.fromStep >= 10, JSON.stringify(resumed.event));
    await c.waitForEvent(paused.runId, (e) => e.type === 'runFinished', 240_000);
    assert.equal(streamProblem(c.events(paused.runId), storedEvents(paused.dir)), undefined);
    assert.ok(fs.existsSync(path.join(paused.dir, 'model', 'config.json')), 'the finished run wrote its model');

    // Stop and save: the model being trained is written now.
    const saved = ((await c.request({ type: 'startRun', configPath: torchConfig('torch-save') })) as Of<'runQueued'>).run;
    c.send({ type: 'subscribe', runId: saved.runId });
    await c.waitForEvent(saved.runId, (e) => e.type === 'metrics' && e.step >= 10);
    await c.request({ type: 'stopRun', runId: saved.runId, mode: 'finish-and-save' });
    await c.waitForEnd(saved.runId);
    await c.waitForEvent(saved.runId, (e) => e.type === 'log' && /finish-and-save: saved round-1/.test(e.message));
    await until(() => c.messages.some((m) => m.type === 'runUpdate' && m.run.runId === saved.runId && m.run.status === 'stopped'), 10_000, 'status stopped');
    const model = ModelDir.open(path.join(saved.dir, 'model'));
    assert.ok(Object.keys(model.storage()).length > 0, 'the saved model has weights');
    model.close();
  } finally {
    c.close();
    await s.stop();
  }
});
