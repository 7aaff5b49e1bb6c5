// Per-host append-only journal of events (one JSON object per line). Mutations append under
// the state lock; streaming readers tail their host's file and render with their own options.

import { appendFileSync, closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { EventRecord } from './views.js';

export type JournalEntry =
  | { type: 'events'; t: number; events: EventRecord[] }
  /** The host crashed: its kernel module (and every events2 stream) is gone. */
  | { type: 'down'; t: number }
  | { type: 'boot'; t: number }
  /** drbd-utils before 9.28 (and drbdsetup-84) saw a gap of `n` in the kernel's sequence numbers. */
  | { type: 'skip'; t: number; n: number };

export function journalPath(dir: string, host: string): string {
  return join(dir, `journal-${host}.ndjson`);
}

export function appendJournal(dir: string, host: string, entry: JournalEntry): void {
  appendFileSync(journalPath(dir, host), `${JSON.stringify(entry)}\n`);
}

export function journalSize(dir: string, host: string): number {
  const path = journalPath(dir, host);
  return existsSync(path) ? statSync(path).size : 0;
}

/** Reads whole lines from `offset`; a partially written last line is left for the next read. */
export function readJournal(
  dir: string,
  host: string,
  offset: number,
): { entries: JournalEntry[]; offset: number } {
  const path = journalPath(dir, host);
  if (!existsSync(path)) return { entries: [], offset };
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let position = offset;
    const buffer = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, position);
      if (n <= 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
      position += n;
    }
    const data = Buffer.concat(chunks);
    const lastNewline = data.lastIndexOf(0x0a);
    if (lastNewline < 0) return { entries: [], offset };
    const complete = data.subarray(0, lastNewline).toString('utf8');
    const entries = complete
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as JournalEntry);
    return { entries, offset: offset + lastNewline + 1 };
  } finally {
    closeSync(fd);
  }
}
