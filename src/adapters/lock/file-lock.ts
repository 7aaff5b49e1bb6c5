// The `file` lock backend: one lease record per key in a directory, for the single-machine demo and
// for tests where two processes on one host contend. Not for two hosts: it trusts one clock and
// the directory's rename/O_EXCL semantics, which network file systems do not all keep.
//
// Per key, in `dir`:
//   KEY.lease   the record {holder, expiresAt, token}, replaced as a whole (write temp, fsync, rename)
//               so a reader never sees half of it and a crash leaves the old or the new record.
//   KEY.guard   created with O_EXCL around read-modify-write: whoever creates it may change the record.
//               It names its owner (host, pid, nonce) so a guard left by a crashed process is broken:
//               when that pid is dead on this host, or when the guard is older than `staleGuardMs`.
//   KEY.break   a second O_EXCL file held only while breaking a stale guard, so two processes that
//               both judged the same guard stale cannot delete a fresh guard taken in between.

import { randomBytes } from 'node:crypto';
import { constants, type FileHandle, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type LeaseState, type LockStore, LockStoreError } from '../../ports/leases.js';
import { sleep } from '../sleep.js';

export interface FileLockStoreOptions {
  /** The directory holding the lease files; created when missing. */
  readonly dir: string;
  /** A guard older than this is broken even if its owner looks alive (default 5000 ms). */
  readonly staleGuardMs?: number;
  /** How long an operation waits for the guard before failing with LockStoreError (default 10 s). */
  readonly guardTimeoutMs?: number;
  /** The clock that decides expiry (default Date.now). */
  readonly now?: () => number;
}

const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Keys become file names: only a conservative alphabet, never a path or a hidden file. */
export function assertFileLockKey(key: string): void {
  if (!KEY_PATTERN.test(key)) {
    throw new RangeError(
      `invalid lock key ${JSON.stringify(key)}: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
  }
}

interface LeaseRecord {
  readonly holder: string | null;
  readonly expiresAt: number | null;
  readonly token: number;
}

const EMPTY: LeaseRecord = { holder: null, expiresAt: null, token: 0 };

function parseRecord(text: string, file: string): LeaseRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LockStoreError(`lease file ${file} is not JSON`, { cause: err });
  }
  const v = value as Partial<Record<keyof LeaseRecord, unknown>> | null;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    (v.holder === null || (typeof v.holder === 'string' && v.holder !== '')) &&
    (v.expiresAt === null || (typeof v.expiresAt === 'number' && Number.isFinite(v.expiresAt))) &&
    typeof v.token === 'number' &&
    Number.isSafeInteger(v.token) &&
    v.token >= 0 &&
    (v.holder === null) === (v.expiresAt === null);
  if (!ok) throw new LockStoreError(`lease file ${file} has an unexpected shape: ${text.slice(0, 200)}`);
  return v as LeaseRecord;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return errno(err) !== 'ESRCH';
  }
}

export class FileLockStore implements LockStore {
  readonly backend = 'file' as const;
  readonly #dir: string;
  readonly #staleGuardMs: number;
  readonly #guardTimeoutMs: number;
  readonly #now: () => number;
  readonly #host = hostname();
  #dirReady: Promise<void> | undefined;
  #closed = false;

  constructor(options: FileLockStoreOptions) {
    this.#dir = options.dir;
    this.#staleGuardMs = options.staleGuardMs ?? 5000;
    this.#guardTimeoutMs = options.guardTimeoutMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  async acquireOrRenew(key: string, holder: string, ttlMs: number): Promise<LeaseState> {
    this.#check(key, holder);
    if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${ttlMs}`);
    return this.#withGuard(key, async () => {
      const current = this.#live(await this.#readRecord(key));
      if (current.holder !== null && current.holder !== holder) {
        return { held: false, holder: current.holder, expiresAt: current.expiresAt, token: current.token };
      }
      // Free, expired, released or ours: a renewal keeps the token, anything else is a new holding.
      const token = current.holder === holder ? current.token : current.token + 1;
      const next: LeaseRecord = { holder, expiresAt: this.#now() + ttlMs, token };
      await this.#writeRecord(key, next);
      return { held: true, holder, expiresAt: next.expiresAt, token };
    });
  }

  async release(key: string, holder: string): Promise<void> {
    this.#check(key, holder);
    await this.#withGuard(key, async () => {
      const current = await this.#readRecord(key);
      // An expired record of ours is cleared too: nobody else took it in between, the guard says so.
      if (current.holder !== holder) return;
      await this.#writeRecord(key, { holder: null, expiresAt: null, token: current.token });
    });
  }

  async read(key: string): Promise<LeaseState> {
    this.#check(key);
    // No guard: the record is only ever replaced by rename, so a read sees a whole record.
    const current = this.#live(await this.#readRecord(key));
    return { held: current.holder !== null, ...current };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #check(key: string, holder?: string): void {
    if (this.#closed) throw new LockStoreError('the file lock store is closed');
    assertFileLockKey(key);
    if (holder !== undefined && holder === '') throw new RangeError('holder must not be empty');
  }

  /** The record as it stands now: an expired lease counts as nobody's but keeps its token. */
  #live(record: LeaseRecord): LeaseRecord {
    if (record.holder !== null && record.expiresAt !== null && record.expiresAt <= this.#now()) {
      return { holder: null, expiresAt: null, token: record.token };
    }
    return record;
  }

  #ensureDir(): Promise<void> {
    this.#dirReady ??= mkdir(this.#dir, { recursive: true }).then(
      () => undefined,
      (err: unknown) => {
        this.#dirReady = undefined;
        throw new LockStoreError(`cannot create lock directory ${this.#dir}: ${String(err)}`, { cause: err });
      },
    );
    return this.#dirReady;
  }

  async #readRecord(key: string): Promise<LeaseRecord> {
    await this.#ensureDir();
    const file = join(this.#dir, `${key}.lease`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT') return EMPTY;
      throw new LockStoreError(`cannot read lease file ${file}: ${String(err)}`, { cause: err });
    }
    return parseRecord(text, file);
  }

  async #writeRecord(key: string, record: LeaseRecord): Promise<void> {
    const file = join(this.#dir, `${key}.lease`);
    const temp = join(this.#dir, `.${key}.lease.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, 'wx', 0o644);
      await handle.writeFile(`${JSON.stringify(record)}\n`);
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(temp, file);
      await this.#syncDir();
    } catch (err) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw new LockStoreError(`cannot write lease file ${file}: ${String(err)}`, { cause: err });
    }
  }

  /** Makes the rename itself durable; some file systems refuse fsync on a directory, which is fine. */
  async #syncDir(): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(this.#dir, constants.O_RDONLY);
      await handle.sync();
    } catch (err) {
      if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes(errno(err) ?? '')) throw err;
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }

  async #withGuard<T>(key: string, fn: () => Promise<T>): Promise<T> {
    await this.#ensureDir();
    const guard = join(this.#dir, `${key}.guard`);
    const nonce = randomBytes(8).toString('hex');
    const owner = `${this.#host} ${process.pid} ${nonce} ${this.#now()}\n`;
    const deadline = Date.now() + this.#guardTimeoutMs;
    let delay = 1;
    for (;;) {
      if (await this.#createExclusive(guard, owner)) break;
      await this.#breakIfStale(key, guard);
      if (Date.now() > deadline) {
        throw new LockStoreError(`timed out after ${this.#guardTimeoutMs} ms waiting for the guard ${guard}`);
      }
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 20);
    }
    try {
      return await fn();
    } finally {
      // Only remove the guard if it is still ours: after a very long pause it may have been broken.
      try {
        if ((await readFile(guard, 'utf8')) === owner) await unlink(guard);
      } catch {
        // Already gone: broken as stale by someone else.
      }
    }
  }

  /** O_EXCL create: true when this call made the file, false when it already existed. */
  async #createExclusive(file: string, content: string): Promise<boolean> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(file, 'wx', 0o644);
    } catch (err) {
      if (errno(err) === 'EEXIST') return false;
      throw new LockStoreError(`cannot create ${file}: ${String(err)}`, { cause: err });
    }
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  }

  async #isStale(guard: string): Promise<{ stale: boolean; content: string | null }> {
    let content: string;
    let mtimeMs: number;
    try {
      [content, mtimeMs] = await Promise.all([readFile(guard, 'utf8'), stat(guard).then((s) => s.mtimeMs)]);
    } catch (err) {
      if (errno(err) === 'ENOENT') return { stale: false, content: null };
      throw new LockStoreError(`cannot inspect guard ${guard}: ${String(err)}`, { cause: err });
    }
    if (Date.now() - mtimeMs > this.#staleGuardMs) return { stale: true, content };
    const [host, pidText] = content.split(' ');
    const pid = Number(pidText);
    // A guard with no owner yet (between create and write) is judged by its age alone.
    if (host === this.#host && Number.isInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid)) {
      return { stale: true, content };
    }
    return { stale: false, content };
  }

  async #breakIfStale(key: string, guard: string): Promise<void> {
    const judged = await this.#isStale(guard);
    if (!judged.stale) return;
    const breaker = join(this.#dir, `${key}.break`);
    if (!(await this.#createExclusive(breaker, `${this.#host} ${process.pid}\n`))) {
      // Someone else is breaking it; a breaker left by a crash is only ever held for an instant.
      try {
        if (Date.now() - (await stat(breaker)).mtimeMs > this.#staleGuardMs) await unlink(breaker);
      } catch {
        // Gone meanwhile.
      }
      return;
    }
    try {
      // Still the very guard judged stale (same content, so not a fresh one taken meanwhile)?
      const again = await this.#isStale(guard);
      if (again.stale && again.content === judged.content) await unlink(guard).catch(() => undefined);
    } finally {
      await unlink(breaker).catch(() => undefined);
    }
  }
}
