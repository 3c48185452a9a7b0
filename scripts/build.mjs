// Bundles each entry point with esbuild. tfjs-core and its pure-JS backends are bundled from their
// ESM builds (mainFields 'module' first), so the bundle holds exactly one tfjs-core: its main CJS
// file lacks the chained ops and gradient registrations, and mixing it with the ESM side-effect
// modules breaks gradients. The native bindings stay external: optional, detected at run time.
import { build } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

// `webgpu` (Dawn's bindings) is ESM that finds its dawn.node through import.meta.url: loaded at run
// time from node_modules (or the device bundle's), never bundled.
const external = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu'];
/** Options every Node bundle (CLI, language server, extension host) shares. */
const nodeBundle = { outdir: 'dist', bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true };

await build({
  ...nodeBundle,
  entryPoints: { cli: 'server/cli/main.ts', language: 'server/language/main.ts' },
  external,
  mainFields: ['module', 'main'],
  logLevel: 'warning',
});

// The bundled wasm backend looks for its binaries beside the bundle.
const wasmDir = path.join('node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
for (const f of fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmDir, f), path.join('dist', f));

// The optional native kernels beside the bundle, loaded at run time with process.dlopen
// (server/engine/native/addon.ts): what node-gyp-build finds in native/ (a local build, else the
// prebuilt one for this platform); a stale copy goes when there is none.
{
  let addon;
  try {
    addon = createRequire(import.meta.url)('node-gyp-build').path('native');
  } catch {
    addon = undefined;
  }
  const copy = path.join('dist', 'inheritune_native.node');
  // Copied under another name, then renamed: a running process keeps the file it mapped.
  if (addon !== undefined) {
    fs.copyFileSync(addon, `${copy}.tmp`);
    fs.renameSync(`${copy}.tmp`, copy);
  } else fs.rmSync(copy, { force: true });
}

// The run config's JSON Schema (package.json contributes.yamlValidation), generated from the one schema
// table in server/protocol/configSchema.ts.
{
  const out = await build({ entryPoints: ['server/protocol/configJsonSchema.ts'], bundle: true, platform: 'node', format: 'cjs', write: false, logLevel: 'warning' });
  const mod = { exports: {} };
  new Function('module', 'exports', 'require', out.outputFiles[0].text)(mod, mod.exports, createRequire(import.meta.url));
  const { toJsonSchema } = mod.exports;
  fs.writeFileSync(path.join('dist', 'inheritune-config.schema.json'), `${JSON.stringify(toJsonSchema(), null, 2)}\n`);
}

// The VS Code extension (extension host: node, `vscode` provided by the host) and its webviews
// (browser bundles: dashboard and sidebar, with chart.js and @vscode-elements/elements inside).
await build({
  ...nodeBundle,
  entryPoints: { extension: 'extension/extension.ts', serverHost: 'extension/serverHost.ts' },
  external: ['vscode', 'bufferutil', 'utf-8-validate'],
  minify: true,
  keepNames: true,
  logLevel: 'warning',
});
await build({
  entryPoints: { dashboard: 'webview/dashboard/main.ts', sidebar: 'webview/sidebar/main.ts' },
  outdir: path.join('dist', 'webview'),
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'iife',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
