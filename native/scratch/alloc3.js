const n = require('../build/Release/inheritune_native.node');
for (const N of [2359296, 38633472]) {
const x = new Float32Array(N).fill(1.5), y = new Float32Array(N).fill(2); const L = new Float64Array([1, N, 1, 1]);
for (let rep = 0; rep < 2; rep++) for (const mode of ['calloc', 'unsafe']) {
  const reps = Math.round(4e8 / N);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) { const o = mode === 'calloc' ? new Float32Array(N) : new Float32Array(Buffer.allocUnsafeSlow(N * 4).buffer, 0, N); n.binary(2, x, 0, y, 0, o, 0, L); }
  console.log(N, mode, ((performance.now() - t0) / reps / N * 1e6).toFixed(2), 'ns/el');
}}
