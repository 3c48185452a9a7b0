/** The atomic writers (server/engine/fsAtomic.ts): failures name the file, and leave no temporaries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { recoverAtomicWrites } from '../../server/engine/fsAtomic.js';
import { REPO } from '../helpers/cli.js';

/** Runs `code` (CommonJS, may require the repo's .ts files) in a node whose file size limit is `kib` KiB. */
function withFileSizeLimit(kib: number, code: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('bash', ['-c', `ulimit -f ${kib}; exec "$0" --import tsx -e "$1"`, process.execPath, code], { cwd: REPO, encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

test('writeFileAtomic: a write that fails (file size limit: EFBIG, as ENOSPC would) is an InherituneError naming the file, and no temporary is left', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-fsatomic-'));
  try {
    const target = path.join(dir, 'attention', 'round-1-step0.json');
    const r = withFileSizeLimit(
      4,
      `const { writeFileAtomic } = require('./server/engine/fsAtomic.ts');
       try { writeFileAtomic(${JSON.stringify(target)}, 'x'.repeat(64 * 1024)); } catch (e) { console.log(JSON.stringify({ name: e.name, source: e.source, message: e.message })); }`,
    );
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout) as { name: string; source: string; message: string };
    assert.equal(e.name, 'InherituneError');
    assert.equal(e.source, target);
    assert.match(e.message, /round-1-step0\.json: cannot write: EFBIG/);
    assert.deepEqual(fs.readdirSync(path.dirname(target)), [], 'the temporary file is removed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('RunStore.append: a write that fails names events.jsonl', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-fsatomic-'));
  try {
    const r = withFileSizeLimit(
      4,
      `const { RunStore } = require('./server/engine/run/runStore.ts');
       const store = RunStore.create(${JSON.stringify(dir)}, 'full', 'name: full\\n');
       try { for (let i = 0; i < 1000; i++) store.append({ type: 'log', level: 'info', message: 'x'.repeat(100) }); } catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`,
    );
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout) as { name: string; message: string };
    assert.equal(e.name, 'InherituneError');
    assert.match(e.message, /events\.jsonl: cannot write: EFBIG/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('recoverAtomicWrites: restores a .old whose target is missing, removes other temporaries of dead writers, keeps a live writer\'s and names not ours', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inheritune-fsatomic-'));
  try {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const live = process.ppid;
    const make = (name: string, content = 'x') => {
      fs.mkdirSync(path.join(dir, name));
      fs.writeFileSync(path.join(dir, name, 'f'), content);
    };
    make(`.a.tmp-${dead}-1.old`, 'previous a');
    make(`.a.tmp-${dead}-1`, 'half of the new a');
    make('b', 'current b');
    make(`.b.tmp-${dead}-2.old`, 'previous b');
    make(`.c.tmp-${live}-3`);
    make('d.tmp-1-4');
    const r = recoverAtomicWrites(dir);
    assert.deepEqual(r.restored, [path.join(dir, 'a')]);
    assert.deepEqual(fs.readdirSync(dir).sort(), [`.c.tmp-${live}-3`, 'a', 'b', 'd.tmp-1-4']);
    assert.equal(fs.readFileSync(path.join(dir, 'a', 'f'), 'utf8'), 'previous a');
    assert.equal(fs.readFileSync(path.join(dir, 'b', 'f'), 'utf8'), 'current b');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
