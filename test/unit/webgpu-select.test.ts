// How `--backend auto` decides on a GPU adapter, and the probe cache; no adapter needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AdapterSummary } from '../../server/engine/webgpu/device.js';
import { describeAdapter } from '../../server/engine/webgpu/device.js';
import { guardProgram } from '../../server/engine/webgpu/guard.js';
import { decoderMatmuls, readProbeCache, webgpuVerdict, writeProbeCache } from '../../server/engine/webgpu/probe.js';

const MiB = 2 ** 20;
const hardware: AdapterSummary = {
  vendor: 'nvidia',
  architecture: 'hopper',
  description: 'NVIDIA H100',
  fallback: false,
  maxStorageBufferBindingSize: 2048 * MiB,
  maxBufferSize: 4096 * MiB,
  maxStorageBuffersPerShaderStage: 16,
};

test('auto never picks a software adapter, and picks a hardware one only when its probe is faster', () => {
  const soft = webgpuVerdict({ ...hardware, fallback: true }, { gpuSeconds: 0.001, cpuSeconds: 1 });
  assert.equal(soft.use, false);
  assert.match(soft.why, /software adapter/);
  const fast = webgpuVerdict(hardware, { gpuSeconds: 0.01, cpuSeconds: 0.05 });
  assert.equal(fast.use, true);
  assert.match(fast.why, /10\.0 ms on it, 50\.0 ms on the CPU path \(5\.0x faster\)/);
  const slow = webgpuVerdict(hardware, { gpuSeconds: 0.05, cpuSeconds: 0.04 });
  assert.equal(slow.use, false);
  assert.match(slow.why, /not faster/);
  assert.deepEqual(webgpuVerdict(hardware, undefined, 'webgpu: MatMulPacked: out of memory'), { use: false, why: 'its probe failed: webgpu: MatMulPacked: out of memory' });
});

test('the probe cache is keyed by adapter and shapes, and a corrupt cache reads as none', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-probe-'));
  try {
    const file = path.join(dir, 'sub', 'webgpu-probe.json');
    const shapes = decoderMatmuls(512, 768, 3072);
    assert.deepEqual(shapes, [[512, 768, 2304], [512, 768, 3072], [512, 3072, 768]]);
    assert.equal(readProbeCache(file, hardware, shapes), undefined);
    writeProbeCache(file, hardware, shapes, { gpuSeconds: 0.01, cpuSeconds: 0.2 });
    assert.deepEqual(readProbeCache(file, hardware, shapes), { gpuSeconds: 0.01, cpuSeconds: 0.2 });
    assert.equal(readProbeCache(file, { ...hardware, description: 'another GPU' }, shapes), undefined);
    assert.equal(readProbeCache(file, hardware, decoderMatmuls(256, 768, 3072)), undefined);
    fs.writeFileSync(file, '{not json');
    assert.equal(readProbeCache(file, hardware, shapes), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a tensor beyond maxStorageBufferBindingSize is refused naming the op, the shape and the limit', () => {
  class MatMulPackedProgram {
    outputShape = [50304, 768];
  }
  const limits = { maxStorageBufferBindingSize: 128 * MiB };
  assert.throws(
    () => guardProgram(new MatMulPackedProgram(), [{ shape: [4, 768], dtype: 'float32' }], limits),
    /^InherituneError: webgpu: MatMulPacked: a tensor of shape \[50304, 768\] \(147\.4 MiB\) exceeds this adapter's maxStorageBufferBindingSize \(128 MiB\)/,
  );
  assert.equal(guardProgram(new MatMulPackedProgram(), [], { maxStorageBufferBindingSize: 2048 * MiB }), 'MatMulPacked');
});

test('the adapter is described by vendor, architecture, name and limits', () => {
  assert.equal(describeAdapter(hardware), 'nvidia / hopper / NVIDIA H100; limits: storage binding 2048 MiB, buffer 4096 MiB, 16 storage buffers per stage');
});
