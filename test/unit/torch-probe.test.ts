/** The torch runtime checks against what a probe found: each problem one error naming its setting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TFJS_ENGINE, type EngineSettings } from '../../server/engine/train/engine.js';
import { checkTorchSettings, torchVersion, type PythonProbe } from '../../server/engine/train/torchProbe.js';
import { workerCommand } from '../../server/engine/train/torchEngine.js';

const torch: EngineSettings = { ...TFJS_ENGINE, name: 'torch' };
const gpuBox: PythonProbe = { python: 'python3', pythonVersion: '3.11.2', torch: '2.4.1+cu121', cudaDevices: 2, cudaBf16: true, cudaDeviceInfo: [{ name: 'NVIDIA H100 80GB HBM3', memoryBytes: 85_029_158_912 }, { name: 'NVIDIA H100 80GB HBM3', memoryBytes: 85_029_158_912 }] };
const cpuBox: PythonProbe = { ...gpuBox, torch: '1.13.0a0', cudaDevices: 0, cudaBf16: false, cudaDeviceInfo: [] };

test('torch versions are read from local and pre-release version strings', () => {
  assert.deepEqual(torchVersion('1.13.0a0'), [1, 13]);
  assert.deepEqual(torchVersion('2.4.1+cu121'), [2, 4]);
  assert.equal(torchVersion('nightly'), undefined);
});

test('good settings pass', () => {
  checkTorchSettings(torch, cpuBox, 2);
  checkTorchSettings({ ...torch, nproc: 2 }, cpuBox, 2);
  checkTorchSettings({ ...torch, devices: 'cuda', precision: 'bf16', nproc: 2 }, gpuBox);
  checkTorchSettings({ ...torch, devices: 'cuda:1' }, gpuBox);
  checkTorchSettings({ ...torch, nnodes: 2, nodeRank: 1, rdzvEndpoint: 'head:29500', devices: 'cuda', nproc: 2 }, gpuBox);
});

test('each bad setting is one error naming it', () => {
  const cases: [EngineSettings, PythonProbe, RegExp][] = [
    [torch, { ...cpuBox, torch: null, torchError: "ModuleNotFoundError: No module named 'torch'" }, /^runtime\.python: "python3" \(Python 3\.11\.2\) has no torch \(ModuleNotFoundError/],
    [torch, { ...cpuBox, torch: '1.12.1' }, /^runtime\.python: .* has torch 1\.12\.1; the torch engine needs torch >= 1\.13$/],
    [{ ...torch, devices: 'cuda' }, cpuBox, /^runtime\.devices: cuda was asked for, but torch 1\.13\.0a0 .* sees no CUDA device$/],
    [{ ...torch, devices: 'cuda:2' }, gpuBox, /^runtime\.devices: cuda:2 does not exist: torch sees 2 CUDA device\(s\), cuda:0\.\.cuda:1$/],
    [{ ...torch, devices: 'cuda', precision: 'bf16' }, { ...gpuBox, cudaBf16: false }, /^runtime\.precision: bf16 was asked for, but the CUDA device\(s\) do not support bfloat16/],
    [{ ...torch, devices: 'cuda', nproc: 3 }, gpuBox, /^runtime\.nproc: 3 processes, but cuda gives 2 CUDA device\(s\)/],
    [{ ...torch, devices: 'cuda:0', nproc: 2 }, gpuBox, /^runtime\.nproc: 2 processes, but cuda:0 gives 1 CUDA device/],
    [{ ...torch, nproc: 3 }, cpuBox, /^runtime\.nproc: 3 processes on the CPU, but this machine has 2 cores$/],
    [{ ...torch, nnodes: 2 }, cpuBox, /^runtime\.rdzv_endpoint: nnodes is 2: give the host:port/],
    [{ ...torch, nnodes: 2, nodeRank: 2, rdzvEndpoint: 'h:1' }, cpuBox, /^runtime\.node_rank: 2 must be below nnodes \(2\)$/],
  ];
  for (const [s, probe, message] of cases) assert.throws(() => checkTorchSettings(s, probe, 2), (e: Error) => message.test(e.message), `${JSON.stringify(s)} -> ${message}`);
});

test('one process runs the worker directly; several go through torchrun', () => {
  assert.deepEqual(workerCommand(torch, 'job.json'), ['python3', '-m', 'server.torch', 'train', 'job.json']);
  assert.deepEqual(workerCommand({ ...torch, nproc: 2 }, 'job.json'), [
    'python3', '-m', 'server.torch', 'launch', '--nproc_per_node=2', '--standalone', '--nnodes=1', '--max_restarts=0', '-m', 'server.torch', 'train', 'job.json',
  ]);
  assert.deepEqual(workerCommand({ ...torch, nproc: 8, nnodes: 2, nodeRank: 1, rdzvEndpoint: 'head:29500' }, 'j').slice(4, 9), [
    '--nproc_per_node=8', '--nnodes=2', '--node_rank=1', '--rdzv_backend=c10d', '--rdzv_endpoint=head:29500',
  ]);
});
