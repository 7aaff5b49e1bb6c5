// Runs `drbdsetup events2` and hands its lines over one by one. Like drbd-reactor's event source it
// only reads and restarts: it knows nothing of DRBD states. When the stream ends it is started again
// with exponential backoff, and the caller is told, because the new stream begins with a fresh
// dump that must be compared with what was known before.

import { createInterface } from 'node:readline';
import { execa } from 'execa';
import type { Logger } from '../ports/logger.js';

export interface Events2SourceOptions {
  readonly command: string;
  /** e.g. ['events2', '--timestamps', '--statistics'] */
  readonly args: readonly string[];
  /** `auto`: add --full, and drop it for good if drbdsetup refuses it (8.4 kernels). */
  readonly full: 'auto' | 'always' | 'never';
  readonly env?: Readonly<Record<string, string>>;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly logger: Logger;
  /** Every line, with the time it was read. */
  readonly onLine: (line: string, receivedAt: number) => void;
  /** A new stream started after an earlier one ended (not called for the first start). */
  readonly onRestart: (reason: string, at: number) => void;
  /**
   * A stream ended (not by stop()), told at once, before the backoff: from here on the host is
   * unseen until a new stream has printed its dump.
   */
  readonly onEnded?: (ending: StreamEnding) => void;
  readonly now?: () => number;
  /** Randomness for backoff jitter, injectable so tests are deterministic. */
  readonly random?: () => number;
}

/** How a stream ended, for the log and for the people told that the bot is blind. */
export interface StreamEnding {
  /** "drbdsetup exited with code 20", "could not run drbdsetup: spawn … ENOENT", or why it was restarted. */
  readonly reason: string;
  readonly exitCode?: number;
  readonly signal?: string;
  /** The last lines drbdsetup wrote to stderr (at most STDERR_TAIL_CHARS), trimmed; '' when none. */
  readonly stderrTail: string;
  /** How long it ran. */
  readonly ranMs: number;
  /** Whether it printed anything (an ended stream that printed had been live). */
  readonly printed: boolean;
  readonly at: number;
}

/** How much of drbdsetup's stderr an ending carries: enough for its error, not a flood. */
export const STDERR_TAIL_CHARS = 300;

/** The end of stderr, one line per line, control characters (ANSI colours) removed. */
export function stderrTail(stderr: string, max = STDERR_TAIL_CHARS): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const clean = stderr.replace(/\x1b\[[0-9;]*m/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
  const lines = clean
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const text = lines.join('\n');
  return text.length <= max ? text : `…${text.slice(text.length - max + 1)}`;
}

/** The delay before restart number `attempt` (0-based): doubling, capped, with up to 20 % jitter. */
export function backoffDelay(
  attempt: number,
  backoff: { initialMs: number; maxMs: number },
  random: () => number,
): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + 0.2 * random()));
}

const STREAM_OPTIONS = {
  extendEnv: true,
  buffer: false,
  stdin: 'ignore',
  stdout: 'pipe',
  stderr: 'pipe',
  reject: false,
  forceKillAfterDelay: 2_000,
} as const;

/** What the source keeps of a running stream: a way to end it and a way to wait for that. */
interface RunningStream {
  readonly kill: (signal: NodeJS.Signals) => void;
  readonly exited: Promise<unknown>;
}

const OPTION_REFUSED = /unrecognized option|unknown option|invalid option|illegal option/i;

export class Events2Source {
  readonly #options: Events2SourceOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  #child: RunningStream | undefined;
  #stopping = false;
  #attempt = 0;
  #useFull: boolean;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #pendingReason: string | undefined;
  #streaming = false;

  constructor(options: Events2SourceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#useFull = options.full !== 'never';
  }

  /** True while a stream runs and has printed at least one line (its dump has begun). */
  get streaming(): boolean {
    return this.#streaming;
  }

  /** The arguments the next stream is started with. */
  get args(): string[] {
    const args = [...this.#options.args];
    if (this.#useFull && !args.includes('--full')) args.push('--full');
    return args;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#spawn();
  }

  /** End the current stream and start a new one at once, e.g. after `- skipped N`. */
  restart(reason: string): void {
    if (this.#child === undefined || this.#stopping) return;
    this.#pendingReason = reason;
    this.#child.kill('SIGTERM');
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const child = this.#child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    await child.exited;
  }

  #spawn(): void {
    const { command, logger } = this.#options;
    const args = this.args;
    const startedAt = this.#now();
    logger.info({ command, args }, 'starting DRBD event stream');
    // No timeout: the stream is meant to run for as long as the daemon does. It is ended by
    // stop()/restart() through its PID, and SIGKILL follows if it ignores SIGTERM.
    const child = execa(command, args, { ...STREAM_OPTIONS, env: { ...this.#options.env } });
    this.#child = { kill: (signal) => child.kill(signal), exited: child.then(() => undefined) };
    let sawLine = false;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      // The end is what explains an exit; a chatty stderr must not grow without bound.
      stderr = (stderr + chunk).slice(-4_096);
    });
    if (child.stdout !== null) {
      const lines = createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY });
      lines.on('line', (line) => {
        if (!sawLine) {
          sawLine = true;
          this.#streaming = true;
          // A stream that prints is healthy: the next failure starts the backoff from the beginning.
          this.#attempt = 0;
        }
        this.#options.onLine(line, this.#now());
      });
    }
    void child.then((result) => {
      this.#child = undefined;
      this.#streaming = false;
      if (this.#stopping) return;
      const endedAt = this.#now();
      const ranMs = endedAt - startedAt;
      const requested = this.#pendingReason;
      this.#pendingReason = undefined;
      const why =
        requested ??
        (result.exitCode !== undefined
          ? `drbdsetup exited with code ${result.exitCode}`
          : result.signal !== undefined
            ? `drbdsetup ended by ${result.signal}`
            : // Never started (not installed, not executable): execa says why.
              `could not run ${command}: ${result.originalMessage ?? result.shortMessage ?? 'unknown error'}`);
      this.#options.onEnded?.({
        reason: why,
        ...(result.exitCode === undefined ? {} : { exitCode: result.exitCode }),
        ...(result.signal === undefined ? {} : { signal: result.signal }),
        stderrTail: stderrTail(stderr),
        ranMs,
        printed: sawLine,
        at: endedAt,
      });
      if (requested !== undefined) {
        this.#schedule(requested, 0);
        return;
      }
      if (!sawLine && this.#useFull && this.#options.full === 'auto' && OPTION_REFUSED.test(stderr)) {
        // DRBD 8.4's drbdsetup knows only --timestamps --statistics --now.
        logger.info('drbdsetup refused --full (DRBD 8.4?); continuing without it');
        this.#useFull = false;
        this.#schedule(why, 0);
        return;
      }
      const level = ranMs > 5_000 && result.exitCode === 0 ? 'info' : 'warn';
      logger[level]({ exitCode: result.exitCode, signal: result.signal, stderr: stderr.trim(), ranMs }, why);
      const delay = backoffDelay(this.#attempt, this.#options.backoff, this.#random);
      this.#attempt += 1;
      this.#schedule(why, delay);
    });
  }

  #schedule(reason: string, delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopping) return;
      this.#options.onRestart(reason, this.#now());
      this.#spawn();
    }, delayMs);
  }
}
