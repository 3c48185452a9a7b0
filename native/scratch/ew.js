const n = require('../build/Release/inheritune_native.node');
const N = 262144 * 4;
const x = new Float32Array(N).map(() => Math.random() * 4 - 2), y = new Float32Array(N);
for (const op of [0, 1, 2, 3, 5]) {
  n.unary(op, x, 0, y, 0, N);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) n.unary(op, x, 0, y, 0, N);
  console.log('unary', op, ((performance.now() - t0) / 20).toFixed(3), 'ms per', N);
}
const L = new Float64Array([1, N, 1, 1]);
for (const op of [0, 2, 4]) {
  n.binary(op, x, 0, x, 0, y, 0, L);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) n.binary(op, x, 0, x, 0, y, 0, L);
  console.log('binary', op, ((performance.now() - t0) / 20).toFixed(3));
}
