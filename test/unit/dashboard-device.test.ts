// The dashboard header's device line (webview/dashboard/deviceLine.ts) from run events through the
// dashboard's RunModel: the engine and its backend or devices, each device with its memory, the GPU
// memory in use from the latest metrics that report it; runs stored before the `device` event show
// runStarted's backend. The events pass the protocol's schema first.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunEvent, roundModel, type RunEvent, type RunEventBody } from '../../server/protocol/events.js';
import { deviceLine } from '../../webview/dashboard/deviceLine.js';
import { RunModel } from '../../webview/dashboard/runModel.js';

const GiB = 2 ** 30;

function events(bodies: RunEventBody[]): RunEvent[] {
  return bodies.map((body, i) => {
    const r = parseRunEvent({ runId: 'r1', seq: i + 1, time: new Date(1_800_000_000_000 + i).toISOString(), ...body });
    assert.ok(r.ok, r.ok ? '' : r.error);
    return r.event;
  });
}

const m = roundModel(1, 2);
const metrics = (step: number, memoryBytes?: number): RunEventBody => ({ type: 'metrics', model: m, step, steps: 4, trainLoss: 3, lr: 1e-3, gradNorm: 1, tokensPerSec: 100, tokensSeen: step * 64, ...(memoryBytes !== undefined ? { memoryBytes } : {}) });
const started: RunEventBody = { type: 'runStarted', name: 'x', configPath: '/w/x.inheritune.yaml', backend: 'cpu', resumed: false };

test('torch on two GPUs: the engine with its devices setting, the GPUs counted with their memory, and the memory in use from the latest metrics', () => {
  const model = new RunModel();
  model.add(events([
    started,
    { type: 'device', engine: 'torch', backend: 'cuda bf16 × 2 processes', devices: [{ name: 'NVIDIA H100 80GB HBM3', memoryBytes: 80 * GiB }, { name: 'NVIDIA H100 80GB HBM3', memoryBytes: 80 * GiB }] },
    metrics(1, 12 * GiB),
    metrics(2),
    metrics(3, 13.5 * GiB),
  ]));
  assert.equal(deviceLine(model), 'torch cuda bf16 × 2 processes · 2 × NVIDIA H100 80GB HBM3 (80 GiB each) · 14 GiB in use');
});

test('tfjs on a WebGPU adapter: the adapter with no memory figure until a step reports the bytes on the GPU', () => {
  const model = new RunModel();
  const adapter = 'nvidia / hopper / NVIDIA H100 (maxBufferSize 4 GiB)';
  model.add(events([started, { type: 'device', engine: 'tfjs', backend: 'webgpu', devices: [{ name: adapter, memoryBytes: null }] }]));
  assert.equal(deviceLine(model), `tfjs webgpu · ${adapter}`);
  model.add(events([started, { type: 'device', engine: 'tfjs', backend: 'webgpu', devices: [{ name: adapter, memoryBytes: null }] }, metrics(1, 300 * 2 ** 20)]));
  assert.equal(deviceLine(model), `tfjs webgpu · ${adapter} · 300 MiB in use`);
});

test('a resumption on other hardware shows the new device; a run without device events shows its backend', () => {
  const model = new RunModel();
  model.add(events([
    started,
    { type: 'device', engine: 'torch', backend: 'cuda:0 fp32', devices: [{ name: 'NVIDIA A100-SXM4-40GB', memoryBytes: 40 * GiB }] },
    metrics(1, 2 * GiB),
    { type: 'runFailed', error: 'stopped', interrupted: true },
    { ...started, resumed: true },
    { type: 'device', engine: 'tfjs', backend: 'cpu', devices: [{ name: 'AMD EPYC 7B13 (16 cores)', memoryBytes: 64 * GiB }] },
  ]));
  assert.equal(deviceLine(model), 'tfjs cpu · AMD EPYC 7B13 (16 cores) (64 GiB)');
  const old = new RunModel();
  old.add(events([started, metrics(1)]));
  assert.equal(deviceLine(old), 'backend cpu');
});
