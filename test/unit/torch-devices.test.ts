// What the torch engine reports it trains on (the run's `device` event), from the probe of the real
// interpreter: on the CPU, the CPU with its cores and memory and the torch version; the probe names
// the CUDA devices with their memory (none here without CUDA).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { TFJS_ENGINE } from '../../server/engine/train/engine.js';
import { TorchEngine } from '../../server/engine/train/torchEngine.js';
import { probePython } from '../../server/engine/train/torchProbe.js';
import { TEST_PYTHON, torchMissing } from '../helpers/torch.js';

test('the torch engine on the CPU describes the CPU (model, cores, memory) and its torch version', async (t) => {
  const missing = await torchMissing();
  if (missing) return t.skip(missing);
  const probe = await probePython(TEST_PYTHON);
  assert.equal(probe.cudaDeviceInfo.length, probe.cudaDevices);
  const engine = new TorchEngine({ ...TFJS_ENGINE, name: 'torch', python: TEST_PYTHON }, os.tmpdir(), { train: [], val: [], valStarts: [] });
  const d = await engine.describe();
  assert.equal(d.backend, 'cpu fp32');
  assert.deepEqual(d.devices, [{ name: `${os.cpus()[0].model.trim()} (${os.cpus().length} cores, torch ${probe.torch})`, memoryBytes: os.totalmem() }]);
});
