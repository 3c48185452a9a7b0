/**
 * The one reader of a run's events.jsonl: the run store (reopening a run), the training server
 * (listing runs, replays), the extension (runs view, dashboards) and the language server (last run,
 * stored analyses) all read through here. The rule is the store's repair rule: a line is an event
 * once its newline is written; a last line without one was torn by a kill (or is being written) and
 * is not an event, so readers stop before it and never modify the file (RunStore.open cuts it off).
 * A whole line that is not a run event is an error naming the file and line (`invalid: 'throw'`,
 * the store and the server), or is skipped (`'skip'`: views that draw what they can). Node fs only,
 * no tfjs: the extension imports it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from '../errors.js';
import { parseEventLine, type RunEvent } from '../../protocol/events.js';
import { runOutcome, type RunOutcome } from '../../protocol/runOutcome.js';

export const EVENTS_FILE = 'events.jsonl';

export interface ReadOptions {
  /** A whole line that is not a run event: an error naming file and line (default), or skipped. */
  invalid?: 'throw' | 'skip';
}

/** Where reading goes on: the byte offset just past a whole line, and the number of lines before it. */
export interface EventCursor {
  offset: number;
  line: number;
}

export interface EventChunk extends EventCursor {
  events: RunEvent[];
}

/** `text`: whole lines without their last newline; `firstLine`: the first one's number, when known. */
function parseLines(file: string, text: string, firstLine: number | undefined, opts: ReadOptions): RunEvent[] {
  const events: RunEvent[] = [];
  if (text.length === 0) return events;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const r = parseEventLine(lines[i]);
    if (r.ok) events.push(r.event);
    else if (opts.invalid !== 'skip') throw new InherituneError(file, `${firstLine !== undefined ? `line ${firstLine + i}` : 'a line'} is not a run event: ${r.error}`);
  }
  return events;
}

const lineCount = (buf: Buffer) => {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
};

/**
 * Whole event lines from byte `offset` on, about `maxBytes` at a time (more for a single long line).
 * `line`: the number of lines before `offset` (0 at the start), for error messages and the cursor.
 */
export function readEventChunk(dir: string, offset = 0, maxBytes = 4 << 20, opts: ReadOptions & { line?: number } = {}): EventChunk {
  const file = path.join(dir, EVENTS_FILE);
  const line = opts.line ?? 0;
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    let want = Math.min(maxBytes, size - offset);
    while (want > 0) {
      const buf = Buffer.alloc(want);
      const n = fs.readSync(fd, buf, 0, want, offset);
      const last = buf.subarray(0, n).lastIndexOf(0x0a);
      if (last < 0) {
        // No whole line yet: a torn line at the end, or one line longer than the chunk.
        if (offset + n >= size) break;
        want = Math.min(want * 2, size - offset);
        continue;
      }
      const whole = buf.subarray(0, last + 1);
      const events = parseLines(file, whole.subarray(0, last).toString('utf8'), line + 1, opts);
      return { events, offset: offset + last + 1, line: line + lineCount(whole) };
    }
    return { events: [], offset, line };
  } finally {
    fs.closeSync(fd);
  }
}

/** Every whole event from `from` (default: the start) to the end of the file, and where the next read begins. */
export function readEventLog(dir: string, from: EventCursor = { offset: 0, line: 0 }, opts: ReadOptions = {}): EventChunk {
  const events: RunEvent[] = [];
  let at = from;
  for (;;) {
    const chunk = readEventChunk(dir, at.offset, undefined, { ...opts, line: at.line });
    if (chunk.offset === at.offset) return { events, ...at };
    events.push(...chunk.events);
    at = chunk;
  }
}

/** Every whole event with seq >= fromSeq. */
export function readEvents(dir: string, fromSeq = 1, opts: ReadOptions = {}): RunEvent[] {
  return readEventLog(dir, undefined, opts).events.filter((e) => e.seq >= fromSeq);
}

/**
 * The first event and the last few (those in the file's last ~64 KiB), without reading the whole
 * file. runOutcome of the tail is the run's outcome: only the events from the last one that is not a
 * log count, and a run ends with at most a few log lines after its final event.
 */
export function eventEnds(dir: string, opts: ReadOptions = {}): { first?: RunEvent; tail: RunEvent[] } {
  const file = path.join(dir, EVENTS_FILE);
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return { tail: [] };
    let want = Math.min(size, 64 << 10);
    for (;;) {
      const start = size - want;
      const buf = Buffer.alloc(want);
      const n = fs.readSync(fd, buf, 0, want, start);
      let text = buf.subarray(0, n).toString('utf8');
      const lastNl = text.lastIndexOf('\n');
      text = lastNl < 0 ? '' : text.slice(0, lastNl);
      // Drop the first, partial line unless the chunk starts the file.
      const firstNl = start === 0 ? -1 : text.indexOf('\n');
      if (start > 0 && firstNl < 0) {
        want = Math.min(size, want * 4);
        continue;
      }
      const tail = parseLines(file, start === 0 ? text : text.slice(firstNl + 1), start === 0 ? 1 : undefined, opts);
      const first = start === 0 ? tail[0] : readEventChunk(dir, 0, 16 << 10, opts).events[0];
      return { first, tail };
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** A stored run as its events tell it: the first and last events, and the outcome (runOutcome). */
export function readRunEnds(dir: string, opts: ReadOptions = {}): { first?: RunEvent; last?: RunEvent; outcome: RunOutcome } {
  const { first, tail } = eventEnds(dir, opts);
  return { first, last: tail.at(-1), outcome: runOutcome(tail) };
}
