// The demo on the shipped reference model: analyse its attention, inherit half of its layers, train
// the derived model briefly, and compare validation losses. Uses the built CLI (npm install builds it).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const cli = 'dist/cli.js';
const ref = 'examples/models/reference';
const val = 'examples/data/val.jsonl';
const train = 'examples/data/train.jsonl';
const out = '.inheritune/demo';
const backend = process.env.INHERITUNE_BACKEND ?? 'auto';

function inheritune(args, { json = false } = {}) {
  process.stderr.write(`\n$ inheritune ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [cli, ...args, '--backend', backend], { stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  return json ? JSON.parse(r.stdout.trim().split('\n').pop()) : undefined;
}

if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm install (or npm run build) first`);
const layers = JSON.parse(readFileSync(`${ref}/config.json`, 'utf8')).n_layer;
const n = Math.floor(layers / 2);

inheritune(['analyze', ref, '--data', val, '--tokenizer', 'bytes', '--sequences', '16', '--seq-len', '64']);
const refLoss = inheritune(['eval', ref, '--data', val, '--tokenizer', 'bytes', '--block-size', '64', '--max-windows', '64', '--json'], { json: true });
inheritune(['inherit', ref, '--layers', String(n), '--out', `${out}/inherited`]);
const before = inheritune(['eval', `${out}/inherited`, '--data', val, '--tokenizer', 'bytes', '--block-size', '64', '--max-windows', '64', '--json'], { json: true });
inheritune(['pretrain', '--from', `${out}/inherited`, '--data', train, '--val', val, '--tokenizer', 'bytes', '--steps', '40', '--batch-tokens', '1024', '--micro-batch', '8', '--block-size', '64', '--lr', '3e-4', '--min-lr', '3e-5', '--warmup', '4', '--eval-every', '20', '--out', `${out}/derived`]);
const after = inheritune(['eval', `${out}/derived`, '--data', val, '--tokenizer', 'bytes', '--block-size', '64', '--max-windows', '64', '--json'], { json: true });

console.log(`\nreference (${layers} layers): val loss ${refLoss.valLoss.toFixed(4)}`);
console.log(`inherited ${n} layers, untrained: ${before.valLoss.toFixed(4)}`);
console.log(`inherited ${n} layers, trained 40 steps: ${after.valLoss.toFixed(4)}  (${after.valLoss <= refLoss.valLoss ? 'matches' : 'does not yet match'} the reference)`);
console.log(`derived model: ${out}/derived (config.json + model.safetensors)`);
