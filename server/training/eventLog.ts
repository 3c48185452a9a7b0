/**
 * Read-only access to a run's events.jsonl for the server: chunks from a byte offset (replays) and
 * the last events (status of past runs). The training process is the only writer; these readers
 * skip a torn last line (a line without its newline is not an event yet) and never modify the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from '../engine/errors.js';
import { parseEventLine, type RunEvent } from '../protocol/events.js';

export const EVENTS_FILE = 'events.jsonl';

export interface EventChunk {
  events: RunEvent[];
  /** Byte offset just past the last whole line read: where the next chunk starts. */
  offset: number;
}

function parseLine(file: string, line: string): RunEvent {
  const r = parseEventLine(line);
  if (!r.ok) throw new InherituneError(file, `holds a line that is not a run event: ${r.error}`);
  return r.event;
}

/** Whole event lines from byte `offset` on, about `maxBytes` at a time (more for a single long line). */
export function readEventChunk(dir: string, offset: number, maxBytes = 4 << 20): EventChunk {
  const file = path.join(dir, EVENTS_FILE);
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
        if (offset + n >= size) return { events: [], offset };
        want = Math.min(want * 2, size - offset);
        continue;
      }
      const text = buf.subarray(0, last).toString('utf8');
      const events = text.length === 0 ? [] : text.split('\n').map((l) => parseLine(file, l));
      return { events, offset: offset + last + 1 };
    }
    return { events: [], offset };
  } finally {
    fs.closeSync(fd);
  }
}

/** Every whole event with seq >= fromSeq. */
export function readEvents(dir: string, fromSeq = 1): RunEvent[] {
  const out: RunEvent[] = [];
  let offset = 0;
  for (;;) {
    const chunk = readEventChunk(dir, offset);
    if (chunk.events.length === 0) return out;
    for (const e of chunk.events) if (e.seq >= fromSeq) out.push(e);
    offset = chunk.offset;
  }
}

/** The first event and the last few events (those in the file's last ~64 KiB), without reading it all. */
export function eventEnds(dir: string): { first?: RunEvent; tail: RunEvent[] } {
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
      if (start > 0 && firstNl < 0 && want < size) {
        want = Math.min(size, want * 4);
        continue;
      }
      const body = start === 0 ? text : text.slice(firstNl + 1);
      const tail = body.length === 0 ? [] : body.split('\n').map((l) => parseLine(file, l));
      let first: RunEvent | undefined;
      if (start === 0) first = tail[0];
      else {
        const head = readEventChunk(dir, 0, 16 << 10).events;
        first = head[0];
      }
      return { first, tail };
    }
  } finally {
    fs.closeSync(fd);
  }
}
