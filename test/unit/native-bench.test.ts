/**
 * The benchmark: `inheritune bench --json` prints one object per configuration with tokens_per_s
 * and the backend; training configuration a keeps a constant tensor count and flat RSS over many
 * steps (the bench checks 200; this runs a shorter stretch); without the addon the engine says so
 * in one line and still trains.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { BENCH_CONFIGS, runBenchConfig } from '../../server/cli/commands/bench.js';

test('inheritune bench --json: one object per configuration with tokens_per_s and backend', async () => {
  const r = await runCli(['bench', '--json', '--configs', 'a', '--steps', '2', '--warmup', '1', '--memory-steps', '0'], { timeoutMs: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  const o = JSON.parse(lines[0]) as Record<string, unknown>;
  assert.equal(o.config, 'a');
  assert.equal(typeof o.tokens_per_s, 'number');
  assert.ok((o.tokens_per_s as number) > 0);
  assert.ok(['wasm', 'cpu', 'tensorflow'].includes(o.backend as string), String(o.backend));
  assert.ok((o.peak_rss_mb as number) > 0);
  assert.ok(Number.isFinite(o.loss as number));
});

test('inheritune bench rejects an unknown configuration in one line', async () => {
  const r = await runCli(['bench', '--configs', 'a,z']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: --configs: unknown configuration "z"/m);
});

test('training configuration a: tensor count constant and RSS flat over 60 steps', async () => {
  const a = BENCH_CONFIGS.find((c) => c.id === 'a')!;
  const r = await runBenchConfig(a, { backend: 'auto', threads: 1, steps: 2, warmup: 3, memorySteps: 60, seed: 1 });
  assert.ok(r.memory, 'no memory check ran');
  assert.equal(r.memory.tensors_last, r.memory.tensors_first, `tensors ${r.memory.tensors_first} -> ${r.memory.tensors_last}`);
  assert.ok(r.memory.flat, `RSS ${r.memory.rss_first_mb} -> ${r.memory.rss_last_mb} MB`);
});

test('without the addon the engine prints one notice line and trains with tfjs kernels', async () => {
  const r = await runCli(['bench', '--json', '--configs', 'a', '--steps', '1', '--warmup', '0', '--memory-steps', '0'], {
    env: { INHERITUNE_NATIVE_PATH: '/nonexistent/inheritune_native.node' },
    timeoutMs: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const notices = r.stderr.split('\n').filter((l) => l.startsWith('note: native kernels unavailable'));
  assert.equal(notices.length, 1, r.stderr);
  const o = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
  assert.equal(o.kernels, 'tfjs');
  assert.ok((o.tokens_per_s as number) > 0);
});
