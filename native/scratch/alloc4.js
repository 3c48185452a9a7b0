const n = require('../build/Release/inheritune_native.node');
if (process.env.TUNE) console.log('tuned', n.keepHeapMemory());
const N = 38633472;
const x = new Float32Array(N).fill(1.5), y = new Float32Array(N).fill(2); const L = new Float64Array([1, N, 1, 1]);
const keep = [];
for (let rep = 0; rep < 3; rep++) {
  let t0 = performance.now();
  for (let i = 0; i < 20; i++) { const o = new Float32Array(Buffer.allocUnsafeSlow(N * 4).buffer, 0, N); }
  const a = (performance.now() - t0) / 20;
  t0 = performance.now();
  for (let i = 0; i < 20; i++) { const o = new Float32Array(Buffer.allocUnsafeSlow(N * 4).buffer, 0, N); n.binary(2, x, 0, y, 0, o, 0, L); }
  const b = (performance.now() - t0) / 20;
  const o = new Float32Array(N);
  t0 = performance.now();
  for (let i = 0; i < 20; i++) { n.binary(2, x, 0, y, 0, o, 0, L); }
  const c = (performance.now() - t0) / 20;
  console.log(`alloc only ${a.toFixed(1)} ms, alloc+mul ${b.toFixed(1)} ms, mul into reused ${c.toFixed(1)} ms`);
}
