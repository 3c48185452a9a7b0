// `npm run package` / `npm run package:linux-x64`: the .vsix packages.
//
//   node scripts/package.mjs                     dist/inheritune.vsix, universal: no native addon
//                                                (the engine runs tfjs's wasm kernels)
//   node scripts/package.mjs --target linux-x64  dist/inheritune-linux-x64.vsix, a platform-specific
//                                                package with the prebuilt addon (native/prebuilds/,
//                                                OpenBLAS linked in) beside the bundles, and Dawn's
//                                                WebGPU bindings for that platform (the optional
//                                                `webgpu` package: the webgpu backend)
//
// VS Code installs the package for the user's platform when the Marketplace has one, else the
// universal package. Run `npm run build` first (package.json's scripts do).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const t = args.indexOf('--target');
const target = t >= 0 ? args[t + 1] : undefined;
const addon = path.join(root, 'dist', 'inheritune_native.node');
const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
const vsce = ['--no-dependencies', '--allow-missing-repository', '--skip-license'];

// The bundles import `webgpu` at run time (it is external: its dawn.node is found through
// import.meta.url); Node resolves it from dist/ upwards, so a package staged in dist/node_modules
// is the one a platform .vsix loads. Staged only while vsce runs.
const WEBGPU_STAGE = 'dist/node_modules/webgpu';

/** Copies the `webgpu` package with only this target's Dawn binary; false when it has none. */
function stageWebGPU(vsceTarget) {
  const [platform, arch] = vsceTarget.split('-');
  const from = path.join(root, 'node_modules', 'webgpu');
  const binaries = path.join('dist', platform === 'darwin' ? 'darwin-universal' : `${platform}-${arch}`);
  if (!fs.existsSync(path.join(from, binaries))) {
    process.stderr.write(`package: no WebGPU bindings for ${vsceTarget} (node_modules/webgpu/${binaries}); the package runs without the webgpu backend\n`);
    return false;
  }
  const to = path.join(root, WEBGPU_STAGE);
  fs.rmSync(to, { recursive: true, force: true });
  for (const f of ['package.json', 'index.js', 'LICENSE.md', binaries]) fs.cpSync(path.join(from, f), path.join(to, f), { recursive: true });
  return true;
}

let out;
let ignoreFile;
if (target === undefined) {
  out = path.join('dist', 'inheritune.vsix');
  // .vscodeignore ships dist/*.node; the universal package drops that line (vsce's negations win
  // over its ignores whatever their order, so the line must go rather than be overridden).
  ignoreFile = path.join(root, 'dist', '.vscodeignore-universal');
  const lines = ignore.split('\n').filter((l) => l.trim() !== '!dist/*.node');
  if (lines.length === ignore.split('\n').length) throw new Error('.vscodeignore lacks the line !dist/*.node this script drops');
  fs.writeFileSync(ignoreFile, lines.join('\n'));
} else {
  const dir = path.join(root, 'native', 'prebuilds', target);
  const prebuilt = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.node')) : undefined;
  if (prebuilt === undefined) {
    process.stderr.write(`package: no prebuilt addon in ${path.relative(root, dir)} (make it there with \`node native/build.mjs --prebuild\`)\n`);
    process.exit(1);
  }
  // The prebuilt addon, never a local build (which may link the system's shared libopenblas).
  fs.copyFileSync(path.join(dir, prebuilt), addon);
  out = path.join('dist', `inheritune-${target}.vsix`);
  ignoreFile = path.join(root, 'dist', `.vscodeignore-${target}`);
  fs.writeFileSync(ignoreFile, `${ignore}\n${stageWebGPU(target) ? `!${WEBGPU_STAGE}/**\n` : ''}`);
  vsce.push('--target', target);
}
try {
  execFileSync(path.join(root, 'node_modules', '.bin', 'vsce'), ['package', ...vsce, '--ignoreFile', ignoreFile, '--out', out], { cwd: root, stdio: 'inherit' });
} finally {
  fs.rmSync(path.join(root, WEBGPU_STAGE), { recursive: true, force: true });
}
