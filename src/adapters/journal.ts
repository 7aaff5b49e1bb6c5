// A durable append-only journal of JSON records (one per line). Appends are serialised and each
// batch is fsynced before the promise resolves, so a record that was acknowledged survives a crash
// or a power cut. A torn last line (a crash mid-write) is ignored on load. When most records are
// obsolete the journal is compacted: the live records are written to a new file, fsynced, and
// renamed over the old one (rename is atomic), then the directory is fsynced.

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';

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

export interface LoadedJournal<T> {
  readonly records: T[];
  /** Lines that could not be read (a torn write at the end, or damage). */
  readonly damaged: number;
}

export function readJournal<T>(path: string): LoadedJournal<T> {
  if (!existsSync(path)) return { records: [], damaged: 0 };
  const records: T[] = [];
  let damaged = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    try {
      records.push(JSON.parse(line) as T);
    } catch {
      damaged++;
    }
  }
  return { records, damaged };
}

export class Journal<T> {
  #handle: FileHandle | undefined;
  #chain: Promise<void> = Promise.resolve();
  #appended = 0;

  constructor(readonly path: string) {}

  /** Records appended since the last compaction (or open). */
  get appended(): number {
    return this.#appended;
  }

  async #file(): Promise<FileHandle> {
    if (this.#handle === undefined) {
      mkdirSync(dirname(this.path), { recursive: true });
      const created = !existsSync(this.path);
      this.#handle = await open(this.path, 'a', 0o600);
      if (created) fsyncDir(dirname(this.path));
    }
    return this.#handle;
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
