/**
 * The dashboard's data handling (webview/dashboard): merging replayed and live run events without
 * duplicates or disorder, the series the charts draw, binary heatmap decoding and the canvas
 * helpers; the sidebar's lazy-layer strip; and the results table rendered in a DOM (happy-dom).
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Window } from 'happy-dom';
import { baselineModel, referenceModel, roundModel, type RunEvent, type RunEventBody } from '../../server/protocol/events.js';
import { downsampleHeatmap, encodeHeatmapFrame } from '../../server/protocol/messages.js';
import { cellSpan, colorBarTicks, decodeHeatmap, heatmapLevels, heatmapPixels, hitCell, positionLabel, rampColor, rankColor, rankGrid } from '../../webview/dashboard/heatmap.js';
import { lossRange } from '../../webview/dashboard/lossAxis.js';
import { renderResults } from '../../webview/dashboard/results.js';
import { RunModel } from '../../webview/dashboard/runModel.js';
import { stripBars, stripPlaceholder } from '../../webview/sidebar/strip.js';

const RUN = '20261126-101500-demo-3f9a';

/** A small but complete run: reference, round 1 (4 steps), grow, round 2 (4 steps), baseline, finish. */
function sampleRun(): RunEvent[] {
  const bodies: RunEventBody[] = [];
  const ref = referenceModel(4);
  const layerStats = (n: number, lazyFrom: number) =>
    Array.from({ length: n }, (_, l) => ({ layer: l, maxRank: l >= lazyFrom ? 1 : 3.5, avgMass: 10 - l, lazy: l >= lazyFrom, heads: [{ rank: l >= lazyFrom ? 1 : 4, mass: 10 }, { rank: l >= lazyFrom ? 1 : 3, mass: 9 }] }));
  bodies.push({ type: 'runStarted', name: 'demo', configPath: '/w/demo.inheritune.yaml', backend: 'wasm', resumed: false });
  bodies.push({ type: 'phase', phase: 'reference', model: ref, message: 'evaluating the reference' });
  bodies.push({ type: 'eval', model: ref, step: 0, valLoss: 2.5, referenceValLoss: 2.5 });
  bodies.push({ type: 'attention', model: ref, step: 0, tau: 0.9, eta: 0.9, sequences: 2, seqLen: 32, layers: layerStats(4, 3), file: 'attention/reference-step0.safetensors' });
  bodies.push({ type: 'modelFinished', model: ref, steps: 0, valLoss: 2.5, lazyLayers: [3] });
  for (const [label, layers] of [['round-1', 2], ['round-2', 4]] as const) {
    const m = roundModel(label === 'round-1' ? 1 : 2, layers);
    bodies.push({ type: 'phase', phase: label === 'round-1' ? 'inherit' : 'grow', model: m, message: `${layers} layers` });
    bodies.push({ type: 'phase', phase: 'train', model: m, message: 'training' });
    for (let s = 1; s <= 4; s++) bodies.push({ type: 'metrics', model: m, step: s, steps: 4, trainLoss: 3 - s * 0.1, lr: 1e-3, gradNorm: 1, tokensPerSec: 1000, tokensSeen: s * 128 });
    bodies.push({ type: 'eval', model: m, step: 4, valLoss: label === 'round-1' ? 2.8 : 2.4, referenceValLoss: 2.5 });
    bodies.push({ type: 'attention', model: m, step: 4, tau: 0.9, eta: 0.9, sequences: 2, seqLen: 32, layers: layerStats(layers, 99), file: `attention/${label}-step4.safetensors` });
    bodies.push({ type: 'modelFinished', model: m, steps: 4, valLoss: label === 'round-1' ? 2.8 : 2.4, lazyLayers: [] });
  }
  const b = baselineModel('scratch', 4);
  bodies.push({ type: 'phase', phase: 'baseline', model: b, message: 'scratch' });
  for (let s = 1; s <= 4; s++) bodies.push({ type: 'metrics', model: b, step: s, steps: 4, trainLoss: 5 - s * 0.1, lr: 1e-3, gradNorm: 1, tokensPerSec: 1000, tokensSeen: s * 128 });
  bodies.push({ type: 'eval', model: b, step: 4, valLoss: 4.5, referenceValLoss: 2.5 });
  bodies.push({ type: 'modelFinished', model: b, steps: 4, valLoss: 4.5, lazyLayers: null });
  bodies.push({
    type: 'runFinished',
    summary: {
      runId: RUN,
      name: 'demo',
      backend: 'wasm',
      reference: { path: '/w/ref', layers: 4, valLoss: 2.5, params: 60000 },
      rounds: [
        { layers: 2, steps: 4, valLoss: 2.8 },
        { layers: 4, steps: 4, valLoss: 2.4 },
      ],
      baselines: [{ name: 'scratch', layers: 4, steps: 4, valLoss: 4.5 }],
      final: { layers: 4, valLoss: 2.4, matchedReference: true, params: 60000, modelDir: '/w/run/model' },
      lazyLayers: { reference: [3], final: [] },
      seconds: 3,
    },
  });
  return bodies.map((body, i) => ({ runId: RUN, seq: i + 1, time: new Date(1_800_000_000_000 + i * 1000).toISOString(), ...body }) as RunEvent);
}

/** A comparable view of everything the charts draw. */
function derived(m: RunModel) {
  return {
    lastSeq: m.lastSeq,
    ref: m.referenceValLoss,
    models: [...m.models.values()].map((s) => ({ label: s.label, offset: s.offset, train: s.train, val: s.val })),
    grow: m.growMarkers,
    attention: m.attention.map((a) => `${a.model.label}@${a.step}`),
    state: m.state,
    results: m.results(),
  };
}

describe('RunModel: merging replayed and live events', () => {
  test('a replay then the live stream, overlapping, gives the same model as the events once, in order', () => {
    const events = sampleRun();
    const once = new RunModel();
    once.add(events);

    const merged = new RunModel();
    // Replay of the first 20 from the store, live events from 15 on (the server's replay overlapped).
    assert.equal(merged.add(events.slice(0, 20)), 20);
    assert.equal(merged.add(events.slice(15)), events.length - 20);
    assert.equal(merged.size, events.length);
    assert.deepEqual(derived(merged), derived(once));
  });

  test('duplicates add nothing and do not bump the version', () => {
    const events = sampleRun();
    const m = new RunModel();
    m.add(events);
    const v = m.version;
    assert.equal(m.add(events), 0);
    assert.equal(m.add([events[3], events[10]]), 0);
    assert.equal(m.version, v);
    const round1 = m.models.get('round-1');
    assert.equal(round1?.train.length, 4, 'no repeated points');
  });

  test('live events with gaps (coalesced metrics), filled later out of order, end up complete and sorted', () => {
    const events = sampleRun();
    const once = new RunModel();
    once.add(events);
    const m = new RunModel();
    const gaps = new Set([8, 9, 10, 20, 21]);
    m.add(events.filter((e) => !gaps.has(e.seq)));
    assert.equal(m.models.get('round-1')?.train.length, 1);
    // The fill-in from the run store arrives later and older than what is held.
    m.add(events.filter((e) => gaps.has(e.seq)).reverse());
    assert.deepEqual(derived(m), derived(once));
    const xs = m.models.get('round-1')!.train.map((p) => p.x);
    assert.deepEqual(xs, [1, 2, 3, 4]);
  });

  test('shuffled events give the same model as ordered ones', () => {
    const events = sampleRun();
    const once = new RunModel();
    once.add(events);
    const shuffled = [...events];
    let seed = 7;
    for (let i = shuffled.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = seed % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const m = new RunModel();
    for (let i = 0; i < shuffled.length; i += 5) m.add(shuffled.slice(i, i + 5));
    assert.deepEqual(derived(m), derived(once));
  });

  test('events of another run are ignored; clear() starts over', () => {
    const m = new RunModel();
    m.add(sampleRun());
    const other = { ...sampleRun()[0], runId: 'other', seq: 999 } as RunEvent;
    assert.equal(m.add([other]), 0);
    m.clear('other');
    assert.equal(m.size, 0);
    assert.equal(m.add([other]), 1);
    assert.equal(m.name, 'demo');
  });

  test('series: rounds back to back with a grow marker, baselines from 0, reference line, results', () => {
    const m = new RunModel();
    m.add(sampleRun());
    const r1 = m.models.get('round-1')!;
    const r2 = m.models.get('round-2')!;
    const sc = m.models.get('scratch')!;
    assert.equal(r1.offset, 0);
    assert.equal(r2.offset, 4, 'round 2 starts where round 1 ended');
    assert.equal(sc.offset, 0, 'baselines overlay from step 0');
    assert.equal(sc.kind, 'baseline');
    assert.deepEqual(m.growMarkers, [{ x: 4, label: 'round-2', layers: 4 }]);
    assert.equal(m.referenceValLoss, 2.5);
    assert.equal(m.state, 'finished');
    assert.equal(m.latestAttention('reference')?.layers.length, 4);
    assert.equal(m.latestDerivedAttention()?.model.label, 'round-2');
    const rows = m.results();
    assert.deepEqual(
      rows.map((r) => [r.model, r.layers, r.valLoss, r.lazy]),
      [
        ['reference', 4, 2.5, '3'],
        ['derived, round 1', 2, 2.8, 'none'],
        ['derived, round 2', 4, 2.4, 'none'],
        ['scratch', 4, 4.5, 'n/a'],
      ],
    );
    const csv = m.toCsv().trim().split('\n');
    assert.equal(csv[0], 'model,layers,step,inheritune_step,train_loss,val_loss,lr,tokens_per_sec');
    assert.ok(csv.includes('round-2,4,4,8,2.6,2.4,0.001,1000'), csv.join('\n'));
  });

  test('a resumption drops the recomputed steps; an interrupted run says so', () => {
    const events = sampleRun().slice(0, 12); // round 1 up to step 3 or so
    const m = new RunModel();
    m.add(events);
    const n = events.length;
    const round1 = roundModel(1, 2);
    const more: RunEventBody[] = [
      { type: 'runFailed', error: 'stopped', interrupted: true },
      { type: 'runStarted', name: 'demo', configPath: '/w/demo.inheritune.yaml', backend: 'wasm', resumed: true },
      { type: 'resumed', model: round1, fromStep: 1 },
      { type: 'metrics', model: round1, step: 2, steps: 4, trainLoss: 1.5, lr: 1e-3, gradNorm: 1, tokensPerSec: 1, tokensSeen: 1 },
    ];
    m.add([{ runId: RUN, seq: n + 1, time: '', ...more[0] } as RunEvent]);
    assert.equal(m.state, 'interrupted');
    m.add(more.slice(1).map((b, i) => ({ runId: RUN, seq: n + 2 + i, time: '', ...b }) as RunEvent));
    assert.equal(m.state, 'running');
    assert.deepEqual(m.models.get('round-1')!.train.map((p) => [p.x, p.y]), [[1, 2.9], [2, 1.5]]);
  });

  test("a user's stop reads stopped (not failed or interrupted) and the results table shows the unfinished model as stopped", () => {
    const events = sampleRun().slice(0, 12);
    const m = new RunModel();
    m.add(events);
    assert.equal(m.results().find((r) => r.model === 'derived, round 1')?.note, 'training');
    m.add([{ runId: RUN, seq: events.length + 1, time: '', type: 'runFailed', error: 'stopped at step 3 of round-1 (checkpoint saved)', interrupted: true, byUser: true }]);
    assert.equal(m.state, 'stopped');
    assert.equal(m.error, 'stopped at step 3 of round-1 (checkpoint saved)');
    assert.equal(m.results().find((r) => r.model === 'derived, round 1')?.note, 'stopped');
  });

  test('the loss axis fits the rounds and the reference, not the baselines, unless asked', () => {
    const m = new RunModel();
    m.add(sampleRun());
    const rounds = [...m.models.values()].filter((s) => s.kind === 'round').flatMap((s) => [...s.train, ...s.val].map((p) => p.y));
    const base = [...m.models.values()].filter((s) => s.kind === 'baseline').flatMap((s) => [...s.train, ...s.val].map((p) => p.y));
    const lo = Math.min(...rounds, m.referenceValLoss!);
    const hi = Math.max(...rounds, m.referenceValLoss!);
    assert.ok(Math.max(...base) > hi, 'the sample baseline lies above the rounds');
    const r = lossRange(m.models.values(), m.referenceValLoss, false)!;
    assert.ok(r.min < lo && r.min > lo - 0.1 * (hi - lo) - 1e-9, `min ${r.min} just below ${lo}`);
    assert.ok(r.max > hi && r.max < hi + 0.1 * (hi - lo) + 1e-9, `max ${r.max} just above ${hi}`);
    const all = lossRange(m.models.values(), m.referenceValLoss, true)!;
    assert.ok(all.max > Math.max(...base), 'fitting the baselines takes their highest point in');
    assert.equal(lossRange(new RunModel().models.values(), null, false), null);
  });
});

describe('heatmaps: binary frames and canvas helpers', () => {
  test('an encoded frame decodes to its header and values (within quantisation)', () => {
    const T = 40;
    const data = new Float32Array(T * T);
    for (let r = 0; r < T; r++) {
      let sum = 0;
      for (let c = 0; c <= r; c++) sum += c + 1;
      for (let c = 0; c <= r; c++) data[r * T + c] = (c + 1) / sum; // causal rows summing to 1
    }
    const d = downsampleHeatmap(data, T, 0, 16);
    const frame = encodeHeatmapFrame({ runId: RUN, seq: 4, layer: 2, head: 1, rows: d.size, cols: d.size, seqLen: T, max: d.max }, d.cells);
    for (const input of [frame, frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength), Array.from(frame)]) {
      const h = decodeHeatmap(input as Uint8Array);
      assert.deepEqual({ ...h.header }, { runId: RUN, seq: 4, layer: 2, head: 1, rows: 16, cols: 16, seqLen: T, max: d.max });
      assert.equal(h.values.length, 256);
      // Upper triangle (future keys) is zero; values never exceed max.
      assert.equal(h.values[0 * 16 + 15], 0);
      for (const v of h.values) assert.ok(v >= 0 && v <= d.max + 1e-6);
      const brightest = h.values.indexOf(Math.max(...h.values));
      assert.equal(h.cells[brightest], 255);
    }
  });

  test('a frame embedded at an offset of a larger buffer (as a ws message) decodes', () => {
    const cells = new Uint8Array([0, 128, 255, 64]);
    const frame = encodeHeatmapFrame({ layer: 0, head: 0, rows: 2, cols: 2, seqLen: 2, max: 0.5 }, cells);
    const big = new Uint8Array(frame.length + 13);
    big.set(frame, 13);
    const h = decodeHeatmap(big.subarray(13));
    assert.deepEqual([...h.cells], [0, 128, 255, 64]);
    assert.ok(Math.abs(h.values[2] - 0.5) < 1e-6);
  });

  test('corrupt frames are refused with a clear error', () => {
    assert.throws(() => decodeHeatmap(new Uint8Array([1, 2, 3])), /no IHM1 magic/);
    const frame = encodeHeatmapFrame({ layer: 0, head: 0, rows: 2, cols: 2, seqLen: 2, max: 1 }, new Uint8Array(4));
    assert.throws(() => decodeHeatmap(frame.subarray(0, frame.length - 1)), /3 cells for 2x2/);
  });

  test('colour scales: linear is the share of the largest cell, log spreads the decades, per row scales each row to its largest', () => {
    // Row 0: one sink cell (255) and small ones; row 1: the small ones only.
    const cells = new Uint8Array([255, 25, 3, 0, 25, 3]);
    const h = decodeHeatmap(encodeHeatmapFrame({ layer: 0, head: 0, rows: 2, cols: 3, seqLen: 3, max: 0.8 }, cells));
    const near = (a: ArrayLike<number>, b: number[]) => b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-6, `${a[i]} vs ${v} at ${i}`));
    near(heatmapLevels(h, 'linear'), [1, 25 / 255, 3 / 255, 0, 25 / 255, 3 / 255]);
    near(heatmapLevels(h, 'log'), [1, Math.log(25) / Math.log(255), Math.log(3) / Math.log(255), 0, Math.log(25) / Math.log(255), Math.log(3) / Math.log(255)]);
    near(heatmapLevels(h, 'row'), [1, 25 / 255, 3 / 255, 0, 1, 3 / 25]);
    // Under log a cell a tenth of the largest sits well above the middle of the ramp; under linear near black.
    assert.ok(heatmapLevels(h, 'log')[1] > 0.5 && heatmapLevels(h, 'linear')[1] < 0.1);
    assert.deepEqual([...heatmapPixels(h, 'row').subarray(16, 20)], [...rampColor(1), 255]);
  });

  test('the colour bar names the values its ticks stand for', () => {
    const h = decodeHeatmap(encodeHeatmapFrame({ layer: 0, head: 0, rows: 1, cols: 2, seqLen: 2, max: 0.5 }, new Uint8Array([0, 255])));
    assert.deepEqual(colorBarTicks(h, 'linear').map((t) => [t.at, t.label]), [[0, '0.000'], [0.25, '0.125'], [0.5, '0.250'], [0.75, '0.375'], [1, '0.500']]);
    const log = colorBarTicks(h, 'log');
    assert.deepEqual(log.map((t) => t.label), ['<= 2.0e-3', '5.0e-3', '0.050', '0.500']);
    // 0.05 is one decade below the largest cell: 1 - ln(10)/ln(255) up the bar.
    assert.ok(Math.abs(log[2].at - (1 - Math.log(10) / Math.log(255))) < 1e-12);
    assert.deepEqual(colorBarTicks(h, 'row').map((t) => t.label), ['0', 'half row max', 'row max']);
  });

  test('pixels, colours, labels and hit-testing', () => {
    const frame = encodeHeatmapFrame({ layer: 0, head: 0, rows: 1, cols: 2, seqLen: 2, max: 1 }, new Uint8Array([0, 255]));
    const px = heatmapPixels(decodeHeatmap(frame));
    assert.deepEqual([...px], [...rampColor(0), 255, ...rampColor(1), 255]);
    assert.deepEqual(rampColor(-3), rampColor(0));
    assert.deepEqual(rampColor(NaN), rampColor(0));
    // Rank 1 is red; a high rank is not.
    const [r1, g1] = rankColor(1, 8);
    assert.ok(r1 > 200 && g1 < 60);
    const [rh, , bh] = rankColor(8, 8);
    assert.ok(rh < 60 && bh > 150);
    assert.deepEqual(cellSpan(0, 16, 64), [0, 3]);
    assert.equal(positionLabel(15, 16, 64), 't60-63');
    assert.equal(positionLabel(5, 32, 32), 't5');
    assert.deepEqual(hitCell(99, 10, 100, 50, 5, 10), { row: 1, col: 9 });
    assert.equal(hitCell(100, 10, 100, 50, 5, 10), null);
    const g = rankGrid([
      { layer: 1, maxRank: 1, avgMass: 2, lazy: true, heads: [{ rank: 1, mass: 2 }] },
      { layer: 0, maxRank: 3, avgMass: 5, lazy: false, heads: [{ rank: 3, mass: 5 }, { rank: 2, mass: 4 }] },
    ]);
    assert.deepEqual([g.heads, g.layers, g.rank(0, 0), g.rank(1, 0), g.rank(0, 1)], [2, 2, 3, 2, 1]);
    assert.ok(Number.isNaN(g.rank(1, 1)));
  });
});

describe('sidebar strip and results table', () => {
  test('one bar per reference layer; lazy layers flagged; missing layers grey', () => {
    const bars = stripBars({ source: 'run x', tau: 0.9, layers: [{ layer: 0, maxRank: 4, avgMass: 9, lazy: false }, { layer: 2, maxRank: 1, avgMass: 1, lazy: true }] }, 4);
    assert.equal(bars.length, 4);
    assert.deepEqual(bars.map((b) => b.lazy), [false, false, true, false]);
    assert.equal(bars[0].height, 1);
    assert.equal(bars[2].height, 0.25);
    assert.equal(bars[1].maxRank, null);
    assert.match(bars[2].title, /layer 3: MaxRank 1\.00.*\(lazy\)/);
    assert.equal(stripBars(null, 3).length, 3);
  });

  test('before any analysis the strip says what it will show and on which windows', () => {
    const text = stripPlaceholder(8, { sequences: 8, seqLen: 64 }, 'data/val.jsonl');
    assert.match(text, /^Analyze the reference on the run's 8 windows of 64 tokens of data\/val\.jsonl to see .* each of its 8 layers .*MaxRank.*lazy layers \(rank-1 attention\)/);
    assert.doesNotMatch(stripPlaceholder(8, { sequences: null, seqLen: 64 }, 'data/val.jsonl'), /windows/);
  });

  test('the results table renders in a DOM (happy-dom)', () => {
    const window = new Window();
    const doc = window.document;
    const host = doc.createElement('div');
    doc.body.append(host);
    const m = new RunModel();
    renderResults(host as unknown as HTMLElement, m.results());
    assert.equal(host.textContent, 'No results yet.');
    m.add(sampleRun());
    renderResults(host as unknown as HTMLElement, m.results());
    const rows = [...host.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    assert.deepEqual(rows[0], ['reference', '4', '-', '2.5000', '3', '60,000 params']);
    assert.deepEqual(rows[2], ['derived, round 2', '4', '4', '2.4000', 'none', 'matches the reference']);
    assert.equal(host.querySelector('tbody tr[data-model="scratch"] td.num')?.textContent, '4');
    void window.happyDOM.close();
  });
});
