// Bundles each entry point with esbuild. tfjs packages stay external: the wasm backend loads its
// .wasm files from its package folder and the native ones are optional, detected at run time.
import { build } from 'esbuild';

const external = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
];

await build({
  entryPoints: { cli: 'server/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external,
  logLevel: 'warning',
});
