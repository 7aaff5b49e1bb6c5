// sd_notify(3) for the daemon under systemd (Type=notify, WatchdogSec=): READY=1 once the bot is up,
// WATCHDOG=1 while its event loop turns, STOPPING=1 on the way down, STATUS= for `systemctl status`.
//
// Why the `systemd-notify` tool and not a socket: the protocol is one datagram on the AF_UNIX socket
// named by $NOTIFY_SOCKET, and Node's dgram speaks only UDP; an AF_UNIX datagram socket needs a native
// module, and the npm packages for this are native bindings to libsystemd or shell out to this same
// tool. The tool is part of systemd, so it is on every host that can run the unit.
//
// Why NotifyAccess=main is enough although the datagram leaves from a child process: systemd-notify
// calls sd_pid_notify(getppid(), …), i.e. it sends with *our* PID in the SCM_CREDENTIALS, which the
// kernel allows to a process holding CAP_SYS_ADMIN (the unit's bounding set keeps it, the service
// runs as root). We never pass --pid=: that would also send MAINPID= and is the variant that needs
// NotifyAccess=all. Unprivileged, the tool falls back to its own PID and systemd drops the message;
// that is why the unit documents the dependency on CAP_SYS_ADMIN.
//
// Why the watchdog is a timer in this process: a timer callback runs only while the event loop turns,
// so a loop stuck in a synchronous call (or spinning) stops the pings, and systemd kills and restarts
// the bot after WatchdogSec. That is exactly the failure the watchdog is for; a loop that turns but
// whose work is stuck is reported by /healthz instead.

import type { Logger } from '../ports/logger.js';
import { run } from './exec.js';

export interface SystemdNotifyOptions {
  /** $NOTIFY_SOCKET as systemd set it. Absent or empty: not under systemd, every call is a no-op. */
  readonly socket?: string | undefined;
  /** $WATCHDOG_USEC: systemd's WatchdogSec= in microseconds. Absent: no watchdog. */
  readonly watchdogUsec?: string | undefined;
  /** $WATCHDOG_PID: the process the watchdog is meant for; another PID's watchdog is not ours. */
  readonly watchdogPid?: string | undefined;
  /** This process (sd_watchdog_enabled compares WATCHDOG_PID with it). */
  readonly pid: number;
  readonly logger: Logger;
  /** The tool; tests point it elsewhere. Default systemd-notify from $PATH. */
  readonly command?: string;
  /** Per message. The tool waits for systemd to have read it (a barrier) and gives up after 5 s itself. */
  readonly timeoutMs?: number;
}

/** The options for this process from its environment ($NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID). */
export function systemdNotifyEnvironment(
  env: NodeJS.ProcessEnv,
): Pick<SystemdNotifyOptions, 'socket' | 'watchdogUsec' | 'watchdogPid'> {
  return { socket: env.NOTIFY_SOCKET, watchdogUsec: env.WATCHDOG_USEC, watchdogPid: env.WATCHDOG_PID };
}

/** The variables systemd sets for the main process only; children (drbdadm, lxc, lock scripts) must not see them. */
export const SYSTEMD_NOTIFY_VARIABLES = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

const DEFAULT_TIMEOUT_MS = 10_000;

/** A STATUS= value is one line of the datagram: a newline would start another assignment. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}

export class SystemdNotifier {
  readonly #socket: string | undefined;
  readonly #watchdogMs: number | undefined;
  readonly #logger: Logger;
  readonly #command: string;
  readonly #timeoutMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** A ping still on its way is not doubled: a slow tool must not pile up processes. */
  #inFlight: Promise<boolean> | undefined;
  #failing = false;
  #lastStatus: string | undefined;
  #status: (() => string | undefined) | undefined;

  constructor(options: SystemdNotifyOptions) {
    this.#logger = options.logger;
    this.#command = options.command ?? 'systemd-notify';
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#socket = options.socket === undefined || options.socket === '' ? undefined : options.socket;
    this.#watchdogMs = this.#socket === undefined ? undefined : this.#watchdogInterval(options);
  }

  /** Whether systemd listens ($NOTIFY_SOCKET set). */
  get enabled(): boolean {
    return this.#socket !== undefined;
  }

  /** How often WATCHDOG=1 is sent: half of WatchdogSec (sd_watchdog_enabled(3)), or undefined. */
  get watchdogIntervalMs(): number | undefined {
    return this.#watchdogMs;
  }

  /** READY=1: start-up is complete (`systemctl start` returns, ordering dependencies proceed). */
  async ready(status: string): Promise<boolean> {
    return this.#send(['READY=1', `STATUS=${this.#remember(status)}`]);
  }

  /** STOPPING=1: shutting down (systemd shows "deactivating" instead of a failure). */
  async stopping(status: string): Promise<boolean> {
    return this.#send(['STOPPING=1', `STATUS=${this.#remember(status)}`]);
  }

  async status(status: string): Promise<boolean> {
    return this.#send([`STATUS=${this.#remember(status)}`]);
  }

  /**
   * WATCHDOG=1 every half WatchdogSec while the event loop turns; a no-op without a watchdog. `status`
   * is asked at each ping and sent along when it changed, so `systemctl status` follows the bot at no
   * extra process.
   */
  startWatchdog(status?: () => string | undefined): void {
    const interval = this.#watchdogMs;
    if (interval === undefined || this.#timer !== undefined) return;
    this.#status = status;
    this.#timer = setInterval(() => this.#ping(), interval);
    // The pings must not keep a stopped bot alive.
    this.#timer.unref();
    this.#ping();
  }

  /** No more pings; resolves once a ping already on its way has been delivered (or has failed). */
  async stopWatchdog(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  #ping(): void {
    if (this.#inFlight !== undefined) return;
    const current = this.#status?.();
    const fields = ['WATCHDOG=1'];
    if (current !== undefined && oneLine(current) !== this.#lastStatus) {
      fields.push(`STATUS=${this.#remember(current)}`);
    }
    this.#inFlight = this.#send(fields).finally(() => {
      this.#inFlight = undefined;
    });
  }

  #remember(status: string): string {
    this.#lastStatus = oneLine(status);
    return this.#lastStatus;
  }

  async #send(fields: readonly string[]): Promise<boolean> {
    const socket = this.#socket;
    if (socket === undefined) return false;
    try {
      await run(this.#command, fields, { timeoutMs: this.#timeoutMs, env: { NOTIFY_SOCKET: socket } });
      if (this.#failing) this.#logger.info('systemd notifications are delivered again');
      this.#failing = false;
      return true;
    } catch (err) {
      // Said once per outage: a watchdog ping every few seconds must not flood the journal.
      if (!this.#failing) {
        this.#logger.warn(
          { err, fields },
          'could not notify systemd (systemd-notify); without READY=1 systemd stops the start after TimeoutStartSec, without WATCHDOG=1 it restarts the bot after WatchdogSec',
        );
      }
      this.#failing = true;
      return false;
    }
  }

  #watchdogInterval(options: SystemdNotifyOptions): number | undefined {
    const { watchdogUsec, watchdogPid } = options;
    if (watchdogUsec === undefined || watchdogUsec === '') return undefined;
    if (watchdogPid !== undefined && watchdogPid !== '' && watchdogPid !== String(options.pid)) {
      // sd_watchdog_enabled(3): the watchdog belongs to another process (we were started by it).
      return undefined;
    }
    const usec = /^\d+$/.test(watchdogUsec) ? Number(watchdogUsec) : Number.NaN;
    if (!Number.isSafeInteger(usec) || usec <= 0) {
      this.#logger.warn(
        { WATCHDOG_USEC: watchdogUsec },
        'WATCHDOG_USEC is not a positive number; no watchdog pings',
      );
      return undefined;
    }
    // Half the period, as sd_watchdog_enabled(3) recommends; at least 1 ms for setInterval.
    return Math.max(1, Math.floor(usec / 2 / 1000));
  }
}
