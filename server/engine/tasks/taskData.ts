/**
 * A task's dataset rows: from a local file (JSONL, one JSON object a line; or parquet, read with
 * hyparquet), from a folder holding `<task>.jsonl` / `<task>.parquet`, or from the dataset's snapshot
 * in the Hugging Face cache (`datasets--ORG--NAME/snapshots/<commit>/`, the layout Python's `datasets`
 * and `huggingface_hub` download into), where the split's files are found by name: `<split>.jsonl`,
 * `<split>-00000-of-00001.parquet` or `<split>/0000.parquet`, under the config's folder when the repo
 * has one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { InherituneError } from '../errors.js';
import { hubCacheDir, hubOffline } from '../hub/env.js';
import { cachedCommit, snapshotDir } from '../hub/cache.js';
import { TASK_SOURCES, type Row, type TaskName } from './formats.js';

export interface TaskRows {
  /** The files read, in order. */
  files: string[];
  /** Each row with the file and row number that name it in errors. */
  rows: { row: Row; where: string }[];
}

function isRow(v: unknown): v is Row {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readFileRows(file: string, limit: number | undefined): Promise<{ row: Row; where: string }[]> {
  const out: { row: Row; where: string }[] = [];
  if (file.endsWith('.parquet')) {
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: await asyncBufferFromFile(file), rowFormat: 'object', ...(limit !== undefined ? { rowEnd: limit } : {}) });
    } catch (e) {
      throw new InherituneError(file, `is not a parquet file this reader can read: ${(e as Error).message}`);
    }
    rows.forEach((row, i) => out.push({ row, where: `${file}: row ${i + 1}` }));
    return out;
  }
  if (!file.endsWith('.jsonl')) throw new InherituneError(file, 'task data must be .jsonl (one JSON object a line) or .parquet');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length && (limit === undefined || out.length < limit); i++) {
    if (lines[i].trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(lines[i]);
    } catch (e) {
      throw new InherituneError(`${file}:${i + 1}`, `is not valid JSON (${(e as Error).message})`);
    }
    if (!isRow(v)) throw new InherituneError(`${file}:${i + 1}`, 'must be a JSON object (one dataset row)');
    out.push({ row: v, where: `${file}:${i + 1}` });
  }
  return out;
}

function walk(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    // Snapshot files are symlinks to blobs: follow them.
    const full = path.join(dir, e.name);
    return fs.statSync(full).isDirectory() ? walk(full, rel) : [rel];
  });
}

/** Of a dataset repo's files (relative paths), those of `task`'s split, sorted (shards in order). */
export function pickSplitFiles(all: readonly string[], task: TaskName): string[] {
  const { config, split } = TASK_SOURCES[task];
  const files = all.filter((f) => /\.(parquet|jsonl)$/.test(f));
  const named = files.filter((f) => {
    const parts = f.split('/');
    const base = parts[parts.length - 1];
    return new RegExp(`^${split}(-\\d+-of-\\d+)?\\.(parquet|jsonl)$`).test(base) || parts[parts.length - 2] === split || base.startsWith(`${split}-`);
  });
  const inConfig = config === undefined ? [] : named.filter((f) => f.split('/').includes(config));
  return (inConfig.length > 0 ? inConfig : named).sort();
}

/** The split's data files in a dataset snapshot folder. */
export function splitFiles(snapshot: string, task: TaskName): string[] {
  return pickSplitFiles(walk(snapshot), task).map((f) => path.join(snapshot, f));
}

/** The task's dataset folder in the Hugging Face cache. */
export function datasetFolder(task: TaskName): string {
  return path.join(hubCacheDir(), getRepoFolderName({ name: TASK_SOURCES[task].repo, type: 'dataset' }));
}

/** The task's dataset snapshot in the Hugging Face cache (its `main` ref), or an error saying how to get it. */
export function cachedDataset(task: TaskName): string {
  const { repo } = TASK_SOURCES[task];
  const folder = datasetFolder(task);
  const commit = cachedCommit(folder, 'main');
  if (commit === undefined || !fs.existsSync(snapshotDir(folder, commit))) {
    throw new InherituneError(
      `task ${task}`,
      `dataset ${repo} is not in the Hugging Face cache (${folder})${hubOffline() ? ' and HF_HUB_OFFLINE is set' : ''}: download it once (\`inheritune evaluate-tasks\` does, as does \`hf download ${repo} --repo-type dataset\`), or give the data as files (--data-dir DIR holding ${task}.jsonl or ${task}.parquet)`,
    );
  }
  return snapshotDir(folder, commit);
}

/** The files `task`'s rows would be read from (see loadTaskRows), or the error that reading would meet: checked before a run starts. */
export function taskFiles(task: TaskName, source: string | undefined): string[] {
  if (source === undefined) {
    const snapshot = cachedDataset(task);
    const files = splitFiles(snapshot, task);
    if (files.length === 0) throw new InherituneError(snapshot, `holds no ${TASK_SOURCES[task].split} split (.parquet or .jsonl) for task ${task}`);
    return files;
  }
  if (fs.existsSync(source) && fs.statSync(source).isDirectory()) {
    const found = ['jsonl', 'parquet'].map((ext) => path.join(source, `${task}.${ext}`)).filter((f) => fs.existsSync(f));
    if (found.length === 0) throw new InherituneError(source, `holds neither ${task}.jsonl nor ${task}.parquet`);
    return [found[0]];
  }
  if (!fs.existsSync(source)) throw new InherituneError(source, `no such file (the data of task ${task})`);
  return [source];
}

/**
 * The rows of `task` (at most `limit`): from `source` (a .jsonl/.parquet file, or a folder holding
 * `<task>.jsonl` or `<task>.parquet`), else from the Hugging Face cache.
 */
export async function loadTaskRows(task: TaskName, source: string | undefined, limit?: number): Promise<TaskRows> {
  const files = taskFiles(task, source);
  const rows: TaskRows['rows'] = [];
  for (const f of files) {
    if (limit !== undefined && rows.length >= limit) break;
    rows.push(...(await readFileRows(f, limit === undefined ? undefined : limit - rows.length)));
  }
  if (rows.length === 0) throw new InherituneError(files.join(', '), `holds no rows for task ${task}`);
  return { files, rows };
}
