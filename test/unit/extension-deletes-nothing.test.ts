/**
 * The extension host deletes no file: a run's folder is deleted by the training server (deleteRun),
 * inside its own run folders; a path the extension was told over the socket (another machine's, with
 * a remote server, or whatever a hostile server names) is never removed on this machine (issue 11).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const EXTENSION = path.resolve(__dirname, '..', '..', 'extension');
/** node:fs and vscode.workspace.fs calls that remove files or folders. */
const REMOVES = /\b(rm|rmSync|rmdir|rmdirSync|unlink|unlinkSync|delete)\s*\(/;

test('no extension source removes a file or folder (Delete Run goes through the server)', () => {
  const found: string[] = [];
  for (const name of fs.readdirSync(EXTENSION).filter((n) => n.endsWith('.ts'))) {
    fs.readFileSync(path.join(EXTENSION, name), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // Map and Set deletes are not file system calls.
        if (REMOVES.test(line) && /\bfs\b|\bpromises\b/.test(line)) found.push(`extension/${name}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, []);
});
