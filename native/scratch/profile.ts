import * as tf from '../../server/engine/tf.js';
import { initBackend } from '../../server/engine/backend.js';
import { GPT2 } from '../../server/engine/gpt2.js';
import { initWeights } from '../../server/engine/init.js';
import { Trainer } from '../../server/engine/train/trainer.js';
import { installNativeKernels, setNativeThreads } from '../../server/engine/native/index.js';

const [L, C, H, T, B, V, steps, backend] = process.argv.slice(2);
(async () => {
await initBackend((backend ?? 'wasm') as 'wasm');
if (process.env.NATIVE !== '0') console.log(installNativeKernels());
if (process.env.TH) setNativeThreads(+process.env.TH);
const times = new Map<string, number>();
const counts = new Map<string, number>();
for (const k of tf.getKernelsForBackend(tf.getBackend())) {
  const f = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, k.backendName);
  tf.registerKernel({ ...k, setupFunc: undefined, kernelFunc: (args) => { const t0 = performance.now(); const r = f(args); const dt = performance.now() - t0; times.set(k.kernelName, (times.get(k.kernelName) ?? 0) + dt); counts.set(k.kernelName, (counts.get(k.kernelName) ?? 0) + 1); return r; } });
}
const cfg = { vocabSize: +V, nPositions: +T, nEmbd: +C, nLayer: +L, nHead: +H, nInner: 4 * +C, layerNormEpsilon: 1e-5, bias: true, scaleAttnByInverseLayerIdx: false, tieWordEmbeddings: true };
const model = new GPT2(cfg, initWeights(cfg, 1));
const train = new Uint16Array(100000).map((_, i) => (i * 7919) % +V);
const trainer = new Trainer(model, { steps: 1000, batchTokens: +B * +T, microBatch: +B, blockSize: +T, lr: 3e-4, minLr: 3e-5, warmup: 0, weightDecay: 0.1, betas: [0.9, 0.95], gradClip: 1, evalEvery: 0, seed: 1, checkpointEvery: 0 }, { train, val: train, valStarts: [0] });
const step = () => (trainer as any).trainStep();
let t0 = performance.now(); step(); console.log('warmup', performance.now() - t0);
times.clear(); counts.clear();
t0 = performance.now();
for (let i = 0; i < +steps; i++) step();
const total = (performance.now() - t0) / +steps;
console.log('ms/step', total.toFixed(1), 'tok/s', (+B * +T / total * 1000).toFixed(1), 'rss', (process.memoryUsage().rss / 1e6).toFixed(0));
const rows = [...times].sort((a, b) => b[1] - a[1]).slice(0, 25);
for (const [k, t] of rows) console.log(k.padEnd(24), (t / +steps).toFixed(1).padStart(9), counts.get(k)! / +steps);
})();
