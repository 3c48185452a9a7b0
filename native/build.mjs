// Provides the optional native addon at `npm install`: a prebuilt one (native/prebuilds/, found by
// node-gyp-build, the ecosystem's convention) when it loads on this machine; otherwise it builds
// native/build/Release/inheritune_native.node with node-gyp against the system BLAS (OpenBLAS on
// Linux: Debian/Ubuntu `apt-get install libopenblas-dev`; Accelerate on macOS). It never fails the
// install: without the addon the engine runs tfjs's own kernels and says so in one line.
//
//   node native/build.mjs            prebuilt if it loads, else build
//   node native/build.mjs --force    build even when a prebuilt one loads
//   node native/build.mjs --prebuild make native/prebuilds/<platform>-<arch>/ with prebuildify
//
// INHERITUNE_NATIVE=0 skips it.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const say = (line) => process.stderr.write(`native: ${line}\n`);
const args = process.argv.slice(2);
const { abi } = require('../server/engine/native/abi.json');

if (process.env.INHERITUNE_NATIVE === '0') {
  say('skipped (INHERITUNE_NATIVE=0)');
  process.exit(0);
}

/** node-gyp: the one npm runs scripts with, else npm's own copy beside node, else PATH. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.resolve(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && existsSync(c)) return [process.execPath, [c]];
  return ['node-gyp', []];
}

// Node's headers usually ship with node itself (<prefix>/include/node); pointing node-gyp at them
// avoids a download, so the build works offline. Otherwise node-gyp fetches them.
const prefix = path.resolve(path.dirname(process.execPath), '..');
const nodedir = existsSync(path.join(prefix, 'include', 'node', 'common.gypi')) ? prefix : undefined;

/** The addon node-gyp-build finds (a local build first, then a prebuilt one), if it loads here. */
function loadable() {
  try {
    const file = require('node-gyp-build').path(here);
    const mod = { exports: {} };
    process.dlopen(mod, file);
    // An addon built from older sources (server/engine/native/abi.json's number changed since) is rebuilt.
    return mod.exports.abi === abi ? file : undefined;
  } catch {
    return undefined;
  }
}

/** prebuildify (N-API, stripped, tagged glibc so that musl systems build their own). */
async function prebuild() {
  const prebuildify = require('prebuildify');
  const [, [gyp]] = nodeGyp();
  const opts = {
    cwd: here,
    napi: true,
    strip: true,
    tagLibc: true,
    name: 'inheritune_native',
    targets: [`node@${process.versions.node}`],
    ...(gyp ? { nodeGyp: gyp } : {}),
  };
  // prebuildify passes its own process's environment to node-gyp.
  if (nodedir) process.env.npm_config_nodedir = nodedir;
  await new Promise((resolve, reject) => prebuildify(opts, (err) => (err ? reject(err) : resolve())));
  say(`prebuilt into ${path.relative(process.cwd(), path.join(here, 'prebuilds', `${process.platform}-${process.arch}`))}`);
}

function build() {
  const [cmd, pre] = nodeGyp();
  const r = spawnSync(cmd, [...pre, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], { cwd: here, encoding: 'utf8', maxBuffer: 1 << 24 });
  const built = path.join(here, 'build', 'Release', 'inheritune_native.node');
  if (r.status === 0 && existsSync(built)) {
    say(`built ${path.relative(process.cwd(), built)}`);
    return;
  }
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim().split('\n');
  const hint = /lopenblas|cblas/i.test(log.join('\n')) ? ' (install libopenblas-dev)' : '';
  say(`build failed${hint}; the engine will use tfjs's own kernels. From the node-gyp log:`);
  const generic = /^gyp (info|http)|^gyp ERR! (System|command|cwd|node -v|node-gyp -v|not ok)/;
  const useful = log.filter((l) => !generic.test(l) && /error|cannot find|not found|no such/i.test(l));
  for (const line of (useful.length > 0 ? useful : log.filter((l) => !generic.test(l))).slice(-6)) process.stderr.write(`  ${line}\n`);
  rmSync(built, { force: true });
}

if (args.includes('--prebuild')) {
  await prebuild();
} else {
  const found = args.includes('--force') ? undefined : loadable();
  if (found !== undefined) say(`using ${path.relative(process.cwd(), found)}`);
  else build();
}
process.exit(0);
