const n = require('../build/Release/inheritune_native.node');
const N = 1048576;
for (const gen of ['random', 'linear', 'zeros']) {
  const x = new Float32Array(N);
  for (let i = 0; i < N; i++) x[i] = gen === 'random' ? Math.random() * 4 - 2 : gen === 'linear' ? (i % 4000) * 0.001 - 2 : 0;
  const y = new Float32Array(N);
  n.unary(0, x, 0, y, 0, N);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) n.unary(0, x, 0, y, 0, N);
  console.log(gen, ((performance.now() - t0) / 20).toFixed(3), 'ms');
}
