// Bundles each entry point with esbuild. tfjs-core and its pure-JS backends are bundled from their
// ESM builds (mainFields 'module' first), so the bundle holds exactly one tfjs-core: its main CJS
// file lacks the chained ops and gradient registrations, and mixing it with the ESM side-effect
// modules breaks gradients. The native bindings stay external: optional, detected at run time.
import { build } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const external = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

await build({
  entryPoints: { cli: 'server/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external,
  mainFields: ['module', 'main'],
  logLevel: 'warning',
});

// The bundled wasm backend looks for its binaries beside the bundle.
const wasmDir = path.join('node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmDir, f), path.join('dist', f));
