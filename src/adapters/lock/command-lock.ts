// The `command` lock backend: leases kept by an operator's own script, so the pair keeps whatever
// storage its DRBD fence script already trusts (a bucket, a shared directory, a database).
//
// The contract, a superset of the recipe's `drbd-fence lock|unlock RESOURCE` (exit 0 = success,
// 1 = failure), with the configured prefix arguments first:
//   COMMAND lock KEY HOLDER TTL_SECONDS  exit 0: HOLDER holds it now; 1: someone else does
//   COMMAND unlock KEY HOLDER            exit 0: released, or HOLDER did not hold it
//   COMMAND status KEY                   exit 0
// `lock` and `status` print one line `holder=NAME expires=EPOCH_SECONDS token=N` on stdout (`holder=`
// empty or `-` when nobody holds it; `expires` may be fractional); `unlock` may print it too. Any
// other exit code, a signal, a timeout or output that cannot be read is a LockStoreError: the bot then
// knows nothing, which is not the same as "someone else holds it".

import { execa } from 'execa';
import { type LeaseState, type LockStore, LockStoreError } from '../../ports/leases.js';

export interface CommandLockStoreOptions {
  /** The executable (a path, or a name looked up in PATH). Run directly, never through a shell. */
  readonly command: string;
  /** Arguments placed before the verb, e.g. ['--bucket', 'pair-locks']. */
  readonly args?: readonly string[];
  /** Each run is killed (with everything it started) after this long. */
  readonly timeoutMs: number;
  /** Added to the daemon's environment for the command. */
  readonly env?: Readonly<Record<string, string>>;
  /** The clock that decides whether a lease `status` reports has run out (default Date.now). */
  readonly now?: () => number;
}

const MAX_STDERR = 500;
const MAX_OUTPUT = 64 * 1024;

/** Keys reach the command as one argument each; they must stay one word and not look like options. */
export function assertCommandLockKey(key: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (key === '' || key.length > 256 || key.startsWith('-') || /[\s\x00-\x1f\x7f]/.test(key)) {
    throw new RangeError(
      `invalid lock key ${JSON.stringify(key)}: 1-256 characters, no whitespace or control characters, not starting with "-"`,
    );
  }
}

/** A holder is printed back as `holder=NAME`: one word, and never the "nobody" marker `-`. */
export function assertCommandLockHolder(holder: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (holder === '' || holder.length > 256 || holder.startsWith('-') || /[\s\x00-\x1f\x7f]/.test(holder)) {
    throw new RangeError(
      `invalid lock holder ${JSON.stringify(holder)}: 1-256 characters, no whitespace or control characters, not starting with "-"`,
    );
  }
}

/** One lease record line as the command prints it. */
export interface CommandLeaseRecord {
  readonly holder: string | null;
  readonly expiresAt: number | null;
  readonly token: number;
}

/**
 * Reads the `holder=… expires=… token=…` line from a command's stdout. Lenient where it costs
 * nothing (other lines such as log output, extra fields, any field order, CRLF) and strict where a
 * wrong guess would be dangerous: a missing or malformed token or expiry is an error, not a default.
 * Returns a string describing the problem instead of throwing, so the caller can add the context.
 */
export function parseLeaseLine(stdout: string): CommandLeaseRecord | string {
  const lines = stdout
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => /(^|\s)token=/.test(line));
  const line = lines.at(-1);
  if (line === undefined) return 'no "holder=… expires=… token=…" line on stdout';
  const fields = new Map<string, string>();
  for (const word of line.split(/\s+/)) {
    const eq = word.indexOf('=');
    if (eq > 0) fields.set(word.slice(0, eq), word.slice(eq + 1));
  }
  const tokenText = fields.get('token') ?? '';
  if (!/^\d{1,15}$/.test(tokenText)) return `bad token ${JSON.stringify(tokenText)} in "${line}"`;
  const token = Number(tokenText);
  if (!fields.has('holder')) return `no holder= field in "${line}"`;
  const holderText = fields.get('holder') ?? '';
  const holder = holderText === '' || holderText === '-' ? null : holderText;
  if (holder === null) return { holder: null, expiresAt: null, token };
  const expiresText = fields.get('expires') ?? '';
  if (!/^\d+(\.\d+)?$/.test(expiresText)) return `bad expires ${JSON.stringify(expiresText)} in "${line}"`;
  const expiresAt = Math.round(Number(expiresText) * 1000);
  if (!Number.isSafeInteger(expiresAt)) return `bad expires ${JSON.stringify(expiresText)} in "${line}"`;
  return { holder, expiresAt, token };
}

interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
}

export class CommandLockStore implements LockStore {
  readonly backend = 'command' as const;
  readonly #options: CommandLockStoreOptions;
  readonly #now: () => number;
  #closed = false;

  constructor(options: CommandLockStoreOptions) {
    if (options.command === '') throw new RangeError('the lock command must not be empty');
    if (!(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
      throw new RangeError(`timeoutMs must be positive, got ${options.timeoutMs}`);
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async acquireOrRenew(key: string, holder: string, ttlMs: number): Promise<LeaseState> {
    this.#checkOpen();
    assertCommandLockKey(key);
    assertCommandLockHolder(holder);
    if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw new RangeError(`ttlMs must be positive, got ${ttlMs}`);
    // Whole seconds for the script's sake, rounded up so the lease is never shorter than asked.
    const ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const args = ['lock', key, holder, String(ttlSeconds)];
    const result = await this.#run(args, [0, 1]);
    const record = this.#parse(args, result);
    if (result.exitCode === 0) {
      if (record.holder !== holder) {
        throw this.#failure(args, `exited 0 (taken) but reports holder ${JSON.stringify(record.holder)}`);
      }
      return { held: true, ...record };
    }
    if (record.holder === null || record.holder === holder) {
      throw this.#failure(args, `exited 1 (refused) but reports holder ${JSON.stringify(record.holder)}`);
    }
    return { held: false, ...record };
  }

  async release(key: string, holder: string): Promise<void> {
    this.#checkOpen();
    assertCommandLockKey(key);
    assertCommandLockHolder(holder);
    await this.#run(['unlock', key, holder], [0]);
  }

  async read(key: string): Promise<LeaseState> {
    this.#checkOpen();
    assertCommandLockKey(key);
    const args = ['status', key];
    const record = this.#parse(args, await this.#run(args, [0]));
    // A script may print the record as stored; a lease whose time is up is nobody's.
    if (record.expiresAt !== null && record.expiresAt <= this.#now()) {
      return { held: false, holder: null, expiresAt: null, token: record.token };
    }
    return { held: record.holder !== null, ...record };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(): void {
    if (this.#closed) throw new LockStoreError('the command lock store is closed');
  }

  #describe(args: readonly string[]): string {
    return [this.#options.command, ...(this.#options.args ?? []), ...args].join(' ');
  }

  #failure(args: readonly string[], what: string, stderr = '', cause?: unknown): LockStoreError {
    const trimmed = stderr.trim();
    const tail =
      trimmed === ''
        ? ''
        : `: ${trimmed.length > MAX_STDERR ? `${trimmed.slice(0, MAX_STDERR)}… (${trimmed.length} chars)` : trimmed}`;
    return new LockStoreError(`lock command \`${this.#describe(args)}\` ${what}${tail}`, { cause });
  }

  #parse(args: readonly string[], result: RunResult): CommandLeaseRecord {
    const record = parseLeaseLine(result.stdout);
    if (typeof record === 'string') {
      const out = result.stdout.trim().slice(0, MAX_STDERR);
      throw this.#failure(
        args,
        `printed an unreadable lease: ${record}${out === '' ? '' : ` (stdout: ${out})`}`,
      );
    }
    return record;
  }

  async #run(args: readonly string[], accepted: readonly number[]): Promise<RunResult> {
    const { timeoutMs } = this.#options;
    const child = execa(this.#options.command, [...(this.#options.args ?? []), ...args], {
      env: { ...this.#options.env },
      stdin: 'ignore',
      reject: false,
      timeout: timeoutMs,
      // Its own process group, so a timeout also ends what the script started (curl, sleep …),
      // which would otherwise keep the output pipes open and the call waiting.
      detached: true,
      forceKillAfterDelay: 1000,
      maxBuffer: MAX_OUTPUT,
      encoding: 'utf8',
      stripFinalNewline: false,
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }, timeoutMs);
    let result: Awaited<typeof child>;
    try {
      result = await child;
    } finally {
      clearTimeout(timer);
    }
    const stderr = typeof result.stderr === 'string' ? result.stderr : '';
    const stdout = typeof result.stdout === 'string' ? result.stdout : '';
    if (timedOut || result.timedOut) throw this.#failure(args, `timed out after ${timeoutMs} ms`, stderr);
    if (result.isMaxBuffer) throw this.#failure(args, `printed more than ${MAX_OUTPUT} bytes`, stderr);
    if (result.signal !== undefined) throw this.#failure(args, `was killed by ${result.signal}`, stderr);
    if (result.exitCode === undefined) {
      const reason = result.cause instanceof Error ? result.cause.message : result.shortMessage;
      throw this.#failure(args, `could not be run (${reason})`, stderr, result.cause);
    }
    if (!accepted.includes(result.exitCode)) {
      throw this.#failure(args, `exited with unexpected status ${result.exitCode}`, stderr);
    }
    return { exitCode: result.exitCode, stdout };
  }
}
