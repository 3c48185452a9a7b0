const n = require('../build/Release/inheritune_native.node');
const N = 1048576;
const x = new Float32Array(N).map(() => Math.random() * 4 - 2), y = new Float32Array(N);
const t0 = performance.now();
for (let i = 0; i < 200; i++) n.unary(0, x, 0, y, 0, N);
console.log(((performance.now() - t0) / 200).toFixed(3));
