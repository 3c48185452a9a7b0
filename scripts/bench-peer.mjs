// `npm run bench:peer`: the engine's benchmark (`inheritune bench`) and the PyTorch peer
// (../shared/bench/torch_peer.py, or $TORCH_PEER) on the same training configurations, in one
// run, alternating per configuration so both see the same machine load; prints tokens/s and the
// ratio ours / PyTorch per configuration.
//
//   node scripts/bench-peer.mjs [--threads 2 | --threads 1,2] [--configs a,b,c] [--memory-steps 200] [--json]
//
// The peer runs under $PYTHON (default /usr/bin/python3, Debian's python3-torch). Both sides get
// the same thread count; with a list, the whole comparison runs once per count.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const json = args.includes('--json');
const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
const threadCounts = String(opt('threads', String(cores)))
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n >= 1);
const configs = String(opt('configs', 'a,b,c')).split(',').map((s) => s.trim());
const memorySteps = opt('memory-steps', '200');
const python = process.env.PYTHON ?? '/usr/bin/python3';
const peer = process.env.TORCH_PEER ?? path.resolve(root, '..', 'shared', 'bench', 'torch_peer.py');
const cli = path.join(root, 'bin', 'inheritune.js');

/** The peer's shapes and timed steps, as `inheritune bench` runs them. */
const SHAPES = {
  a: { layers: 4, d: 128, heads: 4, seq: 64, batch: 8, vocab: 512, steps: 20 },
  b: { layers: 12, d: 768, heads: 12, seq: 128, batch: 4, vocab: 50304, steps: 3 },
};

const log = (line) => process.stderr.write(`${line}\n`);

function ours(id, threads) {
  const r = spawnSync(
    process.execPath,
    [cli, 'bench', '--json', '--configs', id, '--threads', String(threads), '--memory-steps', id === 'a' ? memorySteps : '0'],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
  );
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0 && !line.startsWith('{')) return { config: id, error: `inheritune bench exited with ${r.status ?? r.signal}` };
  return JSON.parse(line);
}

function pytorch(id, threads) {
  const s = SHAPES[id];
  if (s === undefined) return undefined;
  if (!existsSync(peer)) return { error: `${peer} not found (set TORCH_PEER)` };
  const flags = ['layers', 'd', 'heads', 'seq', 'batch', 'vocab', 'steps'].flatMap((k) => [`--${k}`, String(s[k])]);
  // The peer runs under a wrapper that prints its peak RSS as one more JSON line after its own.
  const wrapper = [
    'import json, resource, runpy, sys',
    'sys.argv = sys.argv[1:]',
    "runpy.run_path(sys.argv[0], run_name='__main__')",
    "print(json.dumps({'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))",
  ].join('\n');
  const r = spawnSync(python, ['-c', wrapper, peer, ...flags, '--threads', String(threads)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error) return { error: `${python}: ${r.error.message}` };
  const lines = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{'));
  if (r.status !== 0 || lines.length < 2) {
    return { error: `torch_peer.py failed (${r.status}): ${(r.stderr ?? '').trim().split('\n').pop() ?? ''} (apt-get install python3-torch libopenblas0-pthread)` };
  }
  return { ...JSON.parse(lines[lines.length - 2]), ...JSON.parse(lines[lines.length - 1]) };
}

log(`bench:peer: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const rows = [];
let failed = false;
for (const threads of threadCounts) {
  for (const id of configs) {
    log(`bench:peer: configuration ${id}, ${threads} thread(s): inheritune bench ...`);
    const a = ours(id, threads);
    let p;
    if (SHAPES[id] !== undefined) {
      log(`bench:peer: configuration ${id}, ${threads} thread(s): torch_peer.py ...`);
      p = pytorch(id, threads);
    }
    const ratio = a.tokens_per_s !== undefined && p?.tokens_per_s ? a.tokens_per_s / p.tokens_per_s : undefined;
    // The peer does the same matrix products: its rate from its step time, against our sgemm rate.
    const peerGflops = a.gflop_per_step !== undefined && p?.ms_per_step ? a.gflop_per_step / (p.ms_per_step / 1000) : undefined;
    const frac = (g) => (g !== undefined && a.sgemm_gflop_per_s ? Math.round((1000 * g) / a.sgemm_gflop_per_s) / 1000 : undefined);
    const row = {
      config: id,
      threads,
      backend: a.backend,
      kernels: a.kernels,
      ours_tokens_per_s: a.tokens_per_s,
      ours_ms_per_step: a.ms_per_step,
      peak_rss_mb: a.peak_rss_mb,
      sgemm_gflop_per_s: a.sgemm_gflop_per_s,
      ours_sgemm_fraction: a.sgemm_fraction,
      ...(a.kernel_ms ? { kernel_ms: a.kernel_ms } : {}),
      ...(a.analysis_ms !== undefined ? { analysis_ms: a.analysis_ms } : {}),
      ...(p !== undefined
        ? { pytorch_tokens_per_s: p.tokens_per_s, pytorch_ms_per_step: p.ms_per_step, pytorch_sgemm_fraction: frac(peerGflops), pytorch_peak_rss_mb: p.peak_rss_mb, pytorch: p.torch }
        : {}),
      ...(ratio !== undefined ? { ratio: Math.round(ratio * 1000) / 1000 } : {}),
      ...(a.memory ? { memory: a.memory } : {}),
      ...(a.error || p?.error ? { error: [a.error, p?.error].filter(Boolean).join('; ') } : {}),
    };
    if (row.error || a.memory?.flat === false) failed = true;
    rows.push(row);
    if (json) process.stdout.write(`${JSON.stringify(row)}\n`);
  }
}

if (!json) {
  const fmt = (x, d = 1) => (typeof x === 'number' ? x.toFixed(d) : '-');
  const pct = (x) => (typeof x === 'number' ? `${(100 * x).toFixed(0)}%` : '-');
  const lines = ['config  threads  backend  ours tok/s  ms/step  of sgemm  peak RSS   PyTorch tok/s  ms/step  of sgemm  peak RSS   ours/PyTorch'];
  for (const r of rows) {
    lines.push(
      [
        r.config.padEnd(6),
        String(r.threads).padStart(7),
        String(r.backend ?? '-').padEnd(7),
        fmt(r.ours_tokens_per_s).padStart(10),
        fmt(r.ours_ms_per_step).padStart(8),
        pct(r.ours_sgemm_fraction).padStart(8),
        `${r.peak_rss_mb ?? '-'} MB`.padStart(8),
        fmt(r.pytorch_tokens_per_s).padStart(14),
        fmt(r.pytorch_ms_per_step).padStart(8),
        pct(r.pytorch_sgemm_fraction).padStart(8),
        `${r.pytorch_peak_rss_mb ?? '-'} MB`.padStart(8),
        (r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : '-').padStart(13),
      ].join('  '),
    );
    if (r.sgemm_gflop_per_s !== undefined) lines.push(`        sgemm measured by our process: ${r.sgemm_gflop_per_s.toFixed(0)} GFLOP/s`);
    if (r.kernel_ms) lines.push(`        our ms per step: ${Object.entries(r.kernel_ms).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
    if (r.analysis_ms !== undefined) lines.push(`        whole analysis (forward and per-head statistics): ${(r.analysis_ms / 1000).toFixed(1)} s`);
    if (r.memory) lines.push(`        memory over ${r.memory.steps} steps: tensors ${r.memory.tensors_first} -> ${r.memory.tensors_last}, RSS ${r.memory.rss_first_mb} -> ${r.memory.rss_last_mb} MB: ${r.memory.flat ? 'flat' : 'NOT FLAT'}`);
    if (r.error) lines.push(`        error: ${r.error}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
process.exit(failed ? 1 : 0);
