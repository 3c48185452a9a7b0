// Runs every test file under test/ (or those given as arguments) with node's test runner and ends
// with a plain "N passed, N failed, N skipped" line.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Newest modification time of the files under `p` (0 if it does not exist). */
function newest(p) {
  let st;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((name) => newest(join(p, name))));
}

// The CLI tests run the built bundle (bin/inheritune.js -> dist/cli.js): rebuild it first when it
// is missing or older than its sources.
const bundle = newest(join('dist', 'cli.js'));
if (bundle === 0 || ['server', join('scripts', 'build.mjs'), 'package.json', 'package-lock.json'].some((p) => newest(p) > bundle)) {
  const built = spawnSync(process.execPath, [join('scripts', 'build.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) {
    console.error('test: `node scripts/build.mjs` failed; the CLI tests need dist/cli.js');
    process.exit(built.status ?? 1);
  }
}

const args = process.argv.slice(2);
const files = args.length > 0 ? args : findTests('test');
const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=./scripts/summary-reporter.mjs', '--test-reporter-destination=stdout',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
