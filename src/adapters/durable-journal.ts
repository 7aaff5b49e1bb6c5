// A durable append-only journal of JSON records (one per line). Appends are serialised and each
// batch is fsynced before the promise resolves, so a record that was acknowledged survives a crash
// or a power cut. A torn last line (a crash mid-write) is moved aside before the first append, so
// the next record starts on its own line instead of being glued to the torn bytes and lost with
// them. Records are validated on load: one that does not match its schema (damage, a bug of an
// older version, a hand edit) is moved to `<journal>.quarantine` with the reason, and start-up goes
// on without it. When most records are obsolete the journal is compacted: the live records are
// written to a new file, fsynced, and renamed over the old one (rename is atomic), then the
// directory is fsynced.

import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write a whole file atomically and durably: temp file, fsync, rename, fsync the directory. */
export function writeFileDurably(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** What repairTornTail moved aside. */
export interface TornTail {
  readonly bytes: number;
  /** Where the torn bytes are now, for a person to look at. */
  readonly movedTo: string;
}

/**
 * A journal whose last line has no newline ends in a torn write (a crash or power cut mid-append).
 * Move those bytes to `<journal>.torn-<ms>` and cut the journal back to its last complete line, so
 * the next record is written on a line of its own. Nothing is thrown away: the torn bytes are kept
 * beside the journal.
 */
export function repairTornTail(path: string, now: number = Date.now()): TornTail | undefined {
  if (!existsSync(path)) return undefined;
  const size = statSync(path).size;
  if (size === 0) return undefined;
  const fd = openSync(path, 'r+');
  try {
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 0x0a) return undefined;
    const text = readFileSync(path);
    const cut = text.lastIndexOf(0x0a) + 1;
    const movedTo = `${path}.torn-${now}`;
    const tmp = openSync(movedTo, 'w', 0o600);
    try {
      writeSync(tmp, text.subarray(cut));
      fsyncSync(tmp);
    } finally {
      closeSync(tmp);
    }
    ftruncateSync(fd, cut);
    fsyncSync(fd);
    fsyncDir(dirname(path));
    return { bytes: size - cut, movedTo };
  } finally {
    closeSync(fd);
  }
}

export interface LoadedJournal<T> {
  readonly records: T[];
  /** Lines that could not be read (a torn write at the end, or damage). */
  readonly damaged: number;
  /** Readable records that did not match the schema, moved to `<journal>.quarantine`. */
  readonly quarantined: number;
}

export interface ReadJournalOptions<T> {
  /**
   * Every record is checked against it. Records that do not match, and unreadable lines other than
   * a torn last one, are appended to `<journal>.quarantine` (with the reason) and skipped: a bad
   * record must not stop a start-up, and must not vanish either.
   */
  readonly schema?: z.ZodType<T>;
}

export function quarantinePath(path: string): string {
  return `${path}.quarantine`;
}

export function readJournal<T>(path: string, options: ReadJournalOptions<T> = {}): LoadedJournal<T> {
  if (!existsSync(path)) return { records: [], damaged: 0, quarantined: 0 };
  const records: T[] = [];
  const bad: { line: string; reason: string }[] = [];
  let damaged = 0;
  let quarantined = 0;
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, index) => {
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      damaged++;
      // The last line without a newline is a torn write (repairTornTail keeps it); others are damage.
      if (index < lines.length - 1) bad.push({ line, reason: 'not JSON' });
      return;
    }
    if (options.schema === undefined) {
      records.push(value as T);
      return;
    }
    const checked = options.schema.safeParse(value);
    if (checked.success) {
      records.push(checked.data);
      return;
    }
    quarantined++;
    const issue = checked.error.issues[0];
    bad.push({
      line,
      reason: issue === undefined ? 'invalid' : `${issue.path.join('.') || '(record)'}: ${issue.message}`,
    });
  });
  if (options.schema !== undefined && bad.length > 0) {
    const at = new Date().toISOString();
    appendFileSync(
      quarantinePath(path),
      bad.map((b) => `${JSON.stringify({ at, reason: b.reason, line: b.line })}\n`).join(''),
      { mode: 0o600 },
    );
  }
  return { records, damaged, quarantined };
}

export interface JournalOptions {
  /** Told when a torn last line was moved aside before the first append (log it). */
  readonly onRepair?: (torn: TornTail) => void;
}

export class Journal<T> {
  #handle: FileHandle | undefined;
  #chain: Promise<void> = Promise.resolve();
  #appended = 0;
  readonly #onRepair: ((torn: TornTail) => void) | undefined;

  constructor(
    readonly path: string,
    options: JournalOptions = {},
  ) {
    this.#onRepair = options.onRepair;
  }

  /** Records appended since the last compaction (or open). */
  get appended(): number {
    return this.#appended;
  }

  async #file(): Promise<FileHandle> {
    if (this.#handle === undefined) {
      mkdirSync(dirname(this.path), { recursive: true });
      const created = !existsSync(this.path);
      const torn = repairTornTail(this.path);
      if (torn !== undefined) this.#onRepair?.(torn);
      this.#handle = await open(this.path, 'a', 0o600);
      if (created) fsyncDir(dirname(this.path));
    }
    return this.#handle;
  }

  /** Open the file now (repairing a torn last line), rather than at the first append. */
  async open(): Promise<void> {
    const run = this.#chain.then(async () => {
      await this.#file();
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Append records; resolves once they are on disk. Appends run one after another, in call order. */
  append(records: readonly T[]): Promise<void> {
    if (records.length === 0) return this.#chain;
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    const run = this.#chain.then(async () => {
      const file = await this.#file();
      await file.write(text);
      await file.sync();
      this.#appended += records.length;
    });
    // Keep the chain alive after a failure; the caller still sees the error.
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Replace the journal by `live` (after pending appends), atomically. */
  compact(live: readonly T[]): Promise<void> {
    const run = this.#chain.then(async () => {
      await this.#handle?.close();
      this.#handle = undefined;
      writeFileDurably(this.path, live.map((r) => `${JSON.stringify(r)}\n`).join(''));
      this.#appended = 0;
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#handle?.close();
    this.#handle = undefined;
  }
}
