// Builds the optional native addon (native/build/Release/inheritune_native.node) with node-gyp
// against the system BLAS: OpenBLAS on Linux (Debian/Ubuntu: apt-get install libopenblas-dev),
// Accelerate on macOS. Run by `npm install`; it never fails the install: without the addon the
// engine runs tfjs's own kernels and says so in one line. INHERITUNE_NATIVE=0 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const say = (line) => process.stderr.write(`native: ${line}\n`);

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
const nodedir = existsSync(path.join(prefix, 'include', 'node', 'common.gypi')) ? [`--nodedir=${prefix}`] : [];

const [cmd, pre] = nodeGyp();
const r = spawnSync(cmd, [...pre, 'rebuild', ...nodedir], { cwd: here, encoding: 'utf8', maxBuffer: 1 << 24 });
const built = path.join(here, 'build', 'Release', 'inheritune_native.node');
if (r.status === 0 && existsSync(built)) {
  say(`built ${path.relative(process.cwd(), built)}`);
} else {
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim().split('\n');
  const hint = /lopenblas|cblas/i.test(log.join('\n')) ? ' (install libopenblas-dev)' : '';
  say(`build failed${hint}; the engine will use tfjs's own kernels. From the node-gyp log:`);
  const generic = /^gyp (info|http)|^gyp ERR! (System|command|cwd|node -v|node-gyp -v|not ok)/;
  const useful = log.filter((l) => !generic.test(l) && /error|cannot find|not found|no such/i.test(l));
  for (const line of (useful.length > 0 ? useful : log.filter((l) => !generic.test(l))).slice(-6)) process.stderr.write(`  ${line}\n`);
  rmSync(built, { force: true });
}
process.exit(0);
