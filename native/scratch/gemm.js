const n = require('../build/Release/inheritune_native.node');
console.log(n.blasInfo(), n.threads());
for (const th of [1, 2]) {
  n.setThreads(th);
  for (const [M, N, K, batch] of [[512, 384, 128, 1], [512, 2304, 768, 1], [512, 50304, 768, 1], [64, 64, 32, 32], [128,128,64,48]]) {
    const A = new Float32Array(M * K * batch).fill(1), B = new Float32Array(K * N * batch).fill(1), C = new Float32Array(M * N * batch);
    n.gemm(false, false, M, N, K, A, 0, M * K, B, 0, K * N, C, 0, batch);
    const reps = Math.max(3, Math.round(2e9 / (2 * M * N * K * batch)));
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) n.gemm(false, true, M, N, K, A, 0, M * K, B, 0, K * N, C, 0, batch);
    const dt = (performance.now() - t0) / reps;
    console.log(th, M, N, K, batch, dt.toFixed(3), 'ms', (2 * M * N * K * batch / dt / 1e6).toFixed(1), 'GFLOP/s');
  }
}
