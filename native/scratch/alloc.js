const n = require('../build/Release/inheritune_native.node');
const N = 4718592; // c_fc weight 768x3072 floats (18.9MB)
const x = new Float32Array(N).fill(1.5), y = new Float32Array(N).fill(2);
const L = new Float64Array([1, N, 1, 1]);
let out = new Float32Array(N);
let t0 = performance.now();
for (let i = 0; i < 50; i++) n.binary(2, x, 0, y, 0, out, 0, L);
console.log('reuse', ((performance.now() - t0) / 50 / N * 1e6).toFixed(2), 'ns/el');
t0 = performance.now();
for (let i = 0; i < 50; i++) { const o = new Float32Array(N); n.binary(2, x, 0, y, 0, o, 0, L); }
console.log('new Float32Array', ((performance.now() - t0) / 50 / N * 1e6).toFixed(2), 'ns/el');
const N2 = 38633472; // wte
const x2 = new Float32Array(N2).fill(1.5), y2 = new Float32Array(N2).fill(2); const L2 = new Float64Array([1, N2, 1, 1]);
t0 = performance.now();
for (let i = 0; i < 10; i++) { const o = new Float32Array(N2); n.binary(2, x2, 0, y2, 0, o, 0, L2); }
console.log('new Float32Array wte', ((performance.now() - t0) / 10 / N2 * 1e6).toFixed(2), 'ns/el');
t0 = performance.now();
for (let i = 0; i < 10; i++) { const o = Buffer.allocUnsafeSlow(N2 * 4); n.binary(2, x2, 0, y2, 0, new Float32Array(o.buffer, o.byteOffset, N2), 0, L2); }
console.log('allocUnsafeSlow wte', ((performance.now() - t0) / 10 / N2 * 1e6).toFixed(2), 'ns/el');
