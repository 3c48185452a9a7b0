/**
 * The protocol definitions the server and the extension share: message validation, heatmap frames
 * and down-sampling; and the run store's full-resolution mean attention matrices (the engine side of
 * heatmaps).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '../../server/engine/tf.js';
import { analysisStarts, analyzeAttention, MeanAttention } from '../../server/engine/analyze.js';
import { initBackend } from '../../server/engine/backend.js';
import { GPT2 } from '../../server/engine/gpt2.js';
import { initWeightsOf } from '../../server/engine/modelFamily.js';
import { SafetensorsReader } from '../../server/engine/safetensors.js';
import { InherituneRun, type RunPlan } from '../../server/engine/run/inherituneRun.js';
import { RunStore } from '../../server/engine/run/runStore.js';
import { saveGPT2 } from '../../server/engine/hfCheckpoint.js';
import {
  decodeHeatmapFrame,
  downsampleHeatmap,
  encodeHeatmapFrame,
  parseClientMessage,
  PROTOCOL_VERSION,
} from '../../server/protocol/messages.js';
import type { RunEvent } from '../../server/protocol/events.js';
import { eventEnds, readEventChunk, readEvents } from '../../server/engine/run/eventLog.js';
import { runOutcome } from '../../server/protocol/runOutcome.js';
import { refConfig } from './server-harness.js';

test('parseClientMessage accepts every well-formed message and names the field at fault otherwise', () => {
  const good = [
    { type: 'hello', token: 'x', protocolVersion: PROTOCOL_VERSION },
    { type: 'startRun', id: 1, configPath: '/a.inheritune.yaml' },
    { type: 'startRun', id: 'a', config: 'name: x\n' },
    { type: 'resumeRun', runId: 'r' },
    { type: 'stopRun', runId: 'r', mode: 'finish-and-save' },
    { type: 'listRuns' },
    { type: 'subscribe', runId: 'r', fromSeq: 5, heatmaps: false },
    { type: 'unsubscribe', runId: 'r' },
    { type: 'deleteRun', id: 2, runId: 'r' },
    { type: 'analyze', modelDir: 'm', data: 'd.bin', options: { sequences: 4, seqLen: 16, tokenizer: 'bytes' } },
  ];
  for (const m of good) {
    const r = parseClientMessage(JSON.stringify(m));
    assert.ok(r.ok, `${JSON.stringify(m)}: ${r.ok ? '' : r.message}`);
    assert.deepEqual(r.message, m);
  }
  const bad: [string, string, RegExp][] = [
    ['{not json', 'badJson', /not valid JSON/],
    ['[1,2]', 'badMessage', /JSON object/],
    ['{"id":3}', 'badMessage', /no "type"/],
    ['{"type":"launchMissiles","id":4}', 'unknownType', /unknown message type "launchMissiles"/],
    ['{"type":"subscribe","runId":"r","fromSeq":0}', 'badMessage', /subscribe\.fromSeq must be an integer >= 1, got 0/],
    ['{"type":"subscribe","runId":"r","fromseq":3}', 'badMessage', /unknown field "fromseq"/],
    ['{"type":"stopRun","runId":"r","mode":"now"}', 'badMessage', /stopRun\.mode must be one of "cancel", "finish-and-save"/],
    ['{"type":"stopRun","mode":"cancel"}', 'badMessage', /stopRun\.runId is missing/],
    ['{"type":"deleteRun","runId":""}', 'badMessage', /deleteRun\.runId must be a non-empty string/],
    ['{"type":"startRun"}', 'badMessage', /configPath.*or "config"/],
    ['{"type":"analyze","modelDir":"m","data":"d","options":{"seqLen":1.5}}', 'badMessage', /analyze\.options\.seqLen must be an integer/],
  ];
  for (const [text, code, re] of bad) {
    const r = parseClientMessage(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) {
      assert.equal(r.code, code, text);
      assert.match(r.message, re, text);
    }
  }
  const withId = parseClientMessage('{"type":"nope","id":"q1"}');
  assert.ok(!withId.ok && withId.inReplyTo === 'q1', 'errors carry the id of the message they answer');
});

test('heatmaps: block-averaged down-sampling to at most 64 x 64, uint8 relative to the max, framed with a JSON header', () => {
  const T = 128;
  const m = new Float32Array(2 * T * T);
  // Head 1: a value per cell that makes every 2x2 block average easy to predict.
  for (let r = 0; r < T; r++) for (let c = 0; c < T; c++) m[T * T + r * T + c] = Math.floor(r / 2) + Math.floor(c / 2) + (r % 2) * 0.5;
  const h = downsampleHeatmap(m, T, T * T);
  assert.equal(h.size, 64);
  // Block (i, j) averages 2 rows: i + j and i + j + 0.5 -> i + j + 0.25; the max is 63 + 63 + 0.25.
  assert.equal(h.max, 126.25);
  assert.equal(h.cells[0], Math.round((0.25 / 126.25) * 255));
  assert.equal(h.cells[64 * 64 - 1], 255);
  const small = downsampleHeatmap(new Float32Array([0.5, 0.5, 0.25, 0.75]), 2);
  assert.equal(small.size, 2);
  assert.deepEqual([...small.cells], [170, 170, 85, 255]);

  const frame = encodeHeatmapFrame({ runId: 'r1', seq: 7, layer: 2, head: 1, rows: 64, cols: 64, seqLen: T, max: h.max }, h.cells);
  const back = decodeHeatmapFrame(frame);
  assert.deepEqual(back.header, { runId: 'r1', seq: 7, layer: 2, head: 1, rows: 64, cols: 64, seqLen: T, max: h.max });
  assert.deepEqual([...back.cells], [...h.cells]);
  assert.throws(() => decodeHeatmapFrame(new Uint8Array(10)), /magic/);
});

test('mean attention: the analysis averages every head\'s matrix over the windows, and a run stores it per layer [heads, T, T]', async () => {
  await initBackend('wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-means-'));
  try {
    const model = new GPT2(refConfig, initWeightsOf(refConfig, 3));
    const tokens = Array.from({ length: 200 }, (_, i) => (i * 37) % 257);
    const o = { sequences: 3, seqLen: 8, windows: 'random' as const, seed: 2, tau: 0.9, eta: 0.9, mass: 'sorted' as const, batchSize: 2 };
    const starts = analysisStarts(tokens.length, o, 'tokens');
    const means = new MeanAttention(refConfig.nLayer, refConfig.nHead, o.seqLen);
    const result = await analyzeAttention(model, tokens, starts, o, undefined, means);
    // Direct: one forward pass over all windows, averaged here.
    const inputs = starts.flatMap((s) => tokens.slice(s, s + o.seqLen));
    const att = tf.tidy(() => model.forward(tf.tensor2d(inputs, [starts.length, o.seqLen], 'int32'), { attention: true }).attention);
    const tensors = new Map(means.tensors());
    att.forEach((probs, l) => {
      const expected = tf.tidy(() => probs.mean(0)).dataSync();
      const got = tensors.get(`layer.${l}`)!;
      assert.deepEqual(got.shape, [refConfig.nHead, o.seqLen, o.seqLen]);
      for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got.data[i] - expected[i]) < 1e-6, `layer ${l} cell ${i}: ${got.data[i]} vs ${expected[i]}`);
      probs.dispose();
    });
    assert.equal(result.layers.length, refConfig.nLayer, 'the statistics are unchanged');
    model.dispose();

    // A run writes attention/<label>-step<k>.safetensors and its attention events point at it.
    const referenceDir = path.join(dir, 'reference');
    saveGPT2(referenceDir, refConfig, initWeightsOf(refConfig, 11));
    const text = Array.from({ length: 100 }, (_, i) => JSON.stringify({ text: `line ${i}: the quick brown fox` })).join('\n');
    fs.writeFileSync(path.join(dir, 'd.jsonl'), text);
    const plan: RunPlan = {
      name: 'means',
      configPath: path.join(dir, 'means.inheritune.yaml'),
      referenceDir,
      layers: 2,
      inherit: { parts: ['attn', 'mlp', 'norms'], embeddings: true, positions: true, finalNorm: true },
      grow: { enabled: false, step: 1, maxLayers: 4, mode: 'restart', tolerance: 0 },
      data: { train: path.join(dir, 'd.jsonl'), val: path.join(dir, 'd.jsonl'), tokenizer: 'bytes', subset: 1 },
      train: { steps: 2, batchTokens: 64, microBatch: 4, blockSize: 16, lr: 1e-3, minLr: 1e-4, warmup: 1, weightDecay: 0, betas: [0.9, 0.95], gradClip: 1, evalEvery: 0, seed: 1, checkpointEvery: 0, evalWindows: 4 },
      baselines: [],
      analysis: { every: 0, sequences: 2, seqLen: 16, windows: 'random', seed: 0, tau: 0.9, eta: 0.9, mass: 'sorted' },
    };
    process.env.INHERITUNE_CACHE_DIR = path.join(dir, 'cache');
    const store = RunStore.create(path.join(dir, 'runs'), 'means', 'name: means\n');
    await new InherituneRun(plan, store, { backend: 'wasm' }).run();
    const attention = store.events().filter((e) => e.type === 'attention');
    assert.deepEqual(attention.map((e) => e.type === 'attention' && e.file), [path.join('attention', 'reference-step0.safetensors'), path.join('attention', 'round-1-step2.safetensors')]);
    for (const e of attention) {
      if (e.type !== 'attention') continue;
      const reader = SafetensorsReader.open(path.join(store.dir, e.file));
      assert.deepEqual(reader.names(), Array.from({ length: e.model.layers }, (_, l) => `layer.${l}`));
      for (const name of reader.names()) {
        assert.deepEqual(reader.info(name).shape, [refConfig.nHead, 16, 16]);
        const data = reader.readFloat32(name);
        // Every row of a mean of softmax matrices sums to 1.
        for (let row = 0; row < refConfig.nHead * 16; row++) {
          const sum = data.subarray(row * 16, row * 16 + 16).reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(sum - 1) < 1e-4, `${e.file} ${name} row ${row} sums to ${sum}`);
        }
      }
      reader.close();
      assert.ok(fs.existsSync(path.join(store.dir, e.file.replace(/\.safetensors$/, '.json'))), 'the statistics JSON is kept beside it');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** The status and error the run store gives a run's events (runOutcome; its summary aside: these events carry none). */
function statusFromTail(events: RunEvent[]): { status: string; error?: string } {
  const { summary: _summary, ...status } = runOutcome(events);
  return status;
}

test('the server reads events.jsonl in chunks from byte offsets, skips a torn last line, and finds the first and last events cheaply', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-events-'));
  try {
    const events = Array.from({ length: 3000 }, (_, i) => ({
      runId: 'r',
      seq: i + 1,
      time: new Date(1e12 + i).toISOString(),
      type: 'log',
      level: 'info',
      // Some lines far longer than a chunk.
      message: i % 997 === 0 ? 'y'.repeat(100_000) : `line ${i + 1}`,
    }));
    const text = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'events.jsonl'), `${text}{"runId":"r","seq":3001,"ti`);
    const seqs: number[] = [];
    let offset = 0;
    for (;;) {
      const chunk = readEventChunk(dir, offset, 4096);
      if (chunk.events.length === 0) break;
      seqs.push(...chunk.events.map((e) => e.seq));
      offset = chunk.offset;
    }
    assert.deepEqual(seqs, events.map((e) => e.seq), 'every whole line once, in order; the torn line is not an event');
    assert.equal(offset, Buffer.byteLength(text));
    assert.deepEqual(readEvents(dir, 2990).map((e) => e.seq), Array.from({ length: 11 }, (_, i) => 2990 + i));
    const ends = eventEnds(dir);
    assert.equal(ends.first?.seq, 1);
    assert.equal(ends.tail.at(-1)?.seq, 3000);
    assert.ok(ends.tail.length < 3000, 'only the end of the file is read');
    assert.deepEqual(statusFromTail(ends.tail), { status: 'interrupted', error: 'the run stopped without a final event (killed or crashed); resume to continue from the last checkpoint' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const ev = (type: string, extra: object = {}) => ({ runId: 'r', seq: 1, time: '', type, ...extra }) as unknown as RunEvent;
  assert.deepEqual(statusFromTail([]), { status: 'created' });
  assert.deepEqual(statusFromTail([ev('runFinished'), ev('log')]), { status: 'finished' });
  assert.deepEqual(statusFromTail([ev('runFailed', { interrupted: true, error: 'stopped' }), ev('log')]), { status: 'interrupted', error: 'stopped' });
  assert.deepEqual(statusFromTail([ev('runFailed', { interrupted: false, error: 'bad data' })]), { status: 'failed', error: 'bad data' });
});
