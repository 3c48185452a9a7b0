/**
 * The run store: one folder per run under the configured out_dir.
 *
 *   <outDir>/<runId>/config.yaml     the config as run (verbatim)
 *                    events.jsonl    every event, one JSON object per line, append-only, seq 1, 2, ...
 *                    checkpoints/    one training checkpoint folder per model label
 *                    attention/      analysis snapshots (statistics JSON + mean matrices safetensors)
 *                    summary.json    the results, once the run has finished
 *                    model/          the final derived model (HF-style)
 *
 * Events are appended and fsynced one at a time, so a kill loses at most the line being written; a
 * torn last line is cut off when the run is reopened, and sequence numbers continue from the last
 * whole event, so the log never has a gap or a duplicate. Every reader of events.jsonl reads it
 * through eventLog.ts, by this rule.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { InherituneError } from '../errors.js';
import { recoverAtomicWrites, writeError, writeFileAtomic } from '../fsAtomic.js';
import { parseEventLine, parseRunSummary, type RunEvent, type RunEventBody, type RunSummary } from '../../protocol/events.js';
import { readJsonFile } from '../jsonFile.js';
import { EVENTS_FILE, readEventLog } from './eventLog.js';

const CONFIG = 'config.yaml';
const SUMMARY = 'summary.json';

/** summary.json of the run folder `dir`: undefined before the run finished; an invalid file is an error naming it. */
export function readRunSummary(dir: string): RunSummary | undefined {
  const file = path.join(dir, SUMMARY);
  if (!fs.existsSync(file)) return undefined;
  const r = parseRunSummary(readJsonFile(file, SUMMARY));
  if (!r.ok) throw new InherituneError(file, r.error);
  return r.summary;
}

/** A run id that sorts by start time and says what ran: `20261126-101500-demo-3f9a`. */
export function newRunId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
  return `${stamp}-${slug}-${randomBytes(2).toString('hex')}`;
}

/** Every whole event of the run folder `dir` (readEventLog), checked for the seq rule; and where they end. */
function storedEvents(dir: string): { events: RunEvent[]; end: number } {
  const { events, offset } = readEventLog(dir);
  events.forEach((e, i) => {
    if (e.seq !== i + 1) throw new InherituneError(path.join(dir, EVENTS_FILE), `line ${i + 1} has seq ${e.seq}; expected ${i + 1}`);
  });
  return { events, end: offset };
}

export class RunStore {
  private seq: number;

  private constructor(
    readonly dir: string,
    readonly runId: string,
    lastSeq: number,
  ) {
    this.seq = lastSeq;
  }

  /** A new, empty run folder holding the config as run. */
  static create(outDir: string, name: string, configText: string): RunStore {
    const runId = newRunId(name);
    const dir = path.join(outDir, runId);
    fs.mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'attention'), { recursive: true });
    writeFileAtomic(path.join(dir, CONFIG), configText);
    fs.writeFileSync(path.join(dir, EVENTS_FILE), '');
    return new RunStore(dir, runId, 0);
  }

  /** An existing run folder, for resuming or reading; repairs a torn last event line. */
  static open(dir: string): RunStore {
    const file = path.join(dir, EVENTS_FILE);
    if (!fs.existsSync(file)) throw new InherituneError(dir, `not a run folder: no ${EVENTS_FILE}`);
    const { events, end } = storedEvents(dir);
    // A torn last line: cut off, so the next event starts a line of its own.
    if (end < fs.statSync(file).size) fs.truncateSync(file, end);
    return new RunStore(path.resolve(dir), path.basename(path.resolve(dir)), events.length);
  }

  /**
   * Puts back what a killed writer left half-switched and removes its temporaries, in the run folder
   * and its checkpoints/ and attention/ (recoverAtomicWrites); the paths restored and removed.
   */
  recover(): { restored: string[]; removed: string[] } {
    const out = { restored: [] as string[], removed: [] as string[] };
    for (const d of [this.dir, path.join(this.dir, 'checkpoints'), path.join(this.dir, 'attention')]) {
      const r = recoverAtomicWrites(d);
      out.restored.push(...r.restored);
      out.removed.push(...r.removed);
    }
    return out;
  }

  get configFile(): string {
    return path.join(this.dir, CONFIG);
  }

  get modelDir(): string {
    return path.join(this.dir, 'model');
  }

  checkpointDir(label: string): string {
    return path.join(this.dir, 'checkpoints', label);
  }

  /** Relative (to the run folder) path of an analysis snapshot. */
  attentionFile(label: string, step: number, ext: 'json' | 'safetensors'): string {
    return path.join('attention', `${label}-step${step}.${ext}`);
  }

  /** Every whole event so far, in order. */
  events(): RunEvent[] {
    return storedEvents(this.dir).events;
  }

  /** Appends one event (durably) and returns it with its runId, seq and time. */
  append(body: RunEventBody): RunEvent {
    const event = { runId: this.runId, seq: this.seq + 1, time: new Date().toISOString(), ...body } as RunEvent;
    const line = JSON.stringify(event);
    // What is stored must read back: an invalid event (a NaN is stored as null) would make the run
    // unreadable and unresumable, so it is refused here, naming the field.
    const parsed = parseEventLine(line);
    if (!parsed.ok) throw new InherituneError(path.join(this.dir, EVENTS_FILE), `refusing to store an invalid ${body.type} event: ${parsed.error}`);
    const file = path.join(this.dir, EVENTS_FILE);
    try {
      const fd = fs.openSync(file, 'a');
      try {
        fs.writeSync(fd, `${line}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      throw writeError(file, e);
    }
    this.seq = event.seq;
    return event;
  }

  writeSummary(summary: RunSummary): void {
    writeFileAtomic(path.join(this.dir, SUMMARY), `${JSON.stringify(summary, null, 2)}\n`);
  }

  writeJson(relative: string, value: unknown): void {
    writeFileAtomic(path.join(this.dir, relative), `${JSON.stringify(value)}\n`);
  }
}
