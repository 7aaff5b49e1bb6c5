// Two real bot processes of one pair (`node bin/drbd-chatops run`), hosts alpha and beta, for system
// tests and the takeover benchmark. They share one DRBD simulator (r0, Primary on alpha), one fake
// Slack (one channel), one lock store (file, the command contract on deploy/lock-dir.sh, or etcd)
// and a peer link on two loopback ports. Each has its own state directory and its own Slack bot
// token, so every Web API call the fake records says which process made it.
//
// Every process is started through execa with an argument array, in its own process group (so a
// "crash" takes its simulator child with it, as a host crash would); signals go to that group by
// the PID we started, never by name. close() ends whatever is left and removes the temporary
// directory; an exit hook SIGKILLs our groups if the test runner dies first.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { PACKAGE_ROOT, SIMULATOR_BIN } from '../../src/adapters/package-paths.js';
import { DEFAULT_LEADER_SETTINGS, type LeaderSettings } from '../../src/core/leader.js';
import type { Notification } from '../../src/core/notification.js';
import { HostWatcher } from '../../src/core/watcher.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { freePorts } from '../fakes/etcd/cluster.js';
import { type ApiCall, FakeSlack, type StoredMessage } from '../fakes/slack/fake-slack.js';

export const HOSTS = ['alpha', 'beta'] as const;
export type Host = (typeof HOSTS)[number];

export const CHANNEL = 'C0PAIR';
const BIN = join(PACKAGE_ROOT, 'bin', 'drbd-chatops');
const LOCK_DIR_SCRIPT = join(PACKAGE_ROOT, 'deploy', 'lock-dir.sh');
const PEER_SECRET = 'pair-harness-peer-secret-0123456789';

/** Short leader settings for tests: a takeover within a few seconds. */
export const FAST_LEADER: LeaderSettings = { leaseMs: 3_000, renewDeadlineMs: 2_000, retryMs: 500 };

export type LockChoice =
  | { readonly backend: 'file' }
  /** deploy/lock-dir.sh on a directory of the harness; setLockStoreReachable() hides that directory. */
  | { readonly backend: 'command' }
  | { readonly backend: 'etcd'; readonly hosts: readonly string[]; readonly prefix?: string };

export interface PairHarnessOptions {
  readonly lock?: LockChoice;
  /** Default FAST_LEADER; pass DEFAULT_LEADER_SETTINGS for the production timings. */
  readonly leader?: LeaderSettings;
  /** delivery.slackIntervalMs (default 0: nothing is folded, every notification is its own message). */
  readonly slackIntervalMs?: number;
  readonly logLevel?: 'debug' | 'info';
}

export interface LogLine {
  readonly level: number;
  readonly time: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** "<host> leads, token <n>[; previous leader <other>]" as it arrived in the channel. */
export interface Announcement {
  readonly host: string;
  readonly token: number;
  readonly previous: string | null;
  readonly text: string;
  /** Date.now() when the fake Slack received the chat.postMessage. */
  readonly receivedAt: number;
  /** The process (by its bot token) that posted it. */
  readonly postedBy: Host | undefined;
}

interface Running {
  readonly pid: number;
  readonly exited: Promise<void>;
  exitCode: number | undefined;
  signal: string | undefined;
  stopped: boolean;
}

const ANNOUNCEMENT = /(\S+) leads, token (\d+)(?:; previous leader (\S+))?/;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Process groups alive in this process, SIGKILLed if the runner exits without close().
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function track(pid: number): void {
  liveGroups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of liveGroups) signalGroup(pid, 'SIGKILL');
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function botToken(host: Host): string {
  return `xoxb-fake-bot-token-${host}`;
}
export function appToken(host: Host): string {
  return `xapp-1-fake-app-token-${host}`;
}

export class PairHarness {
  readonly dir: string;
  readonly simDir: string;
  readonly lockDir: string;
  readonly slack: FakeSlack;
  readonly pair: SimulatedPair;
  readonly leader: LeaderSettings;
  readonly #options: PairHarnessOptions;
  readonly #ports: Record<Host, number>;
  readonly #running = new Map<Host, Running>();
  readonly #logs: Record<Host, LogLine[]> = { alpha: [], beta: [] };
  readonly #raw: Record<Host, string[]> = { alpha: [], beta: [] };
  readonly #dump: Record<Host, string[]>;
  #closed = false;

  private constructor(options: PairHarnessOptions, dir: string, slack: FakeSlack, ports: number[]) {
    this.#options = options;
    this.dir = dir;
    this.slack = slack;
    this.leader = options.leader ?? FAST_LEADER;
    this.simDir = join(dir, 'sim');
    this.lockDir = join(dir, 'locks');
    mkdirSync(this.lockDir);
    this.#ports = { alpha: ports[0] ?? 0, beta: ports[1] ?? 0 };
    this.pair = SimulatedPair.init(this.simDir, {
      hosts: ['alpha', 'beta'],
      resources: [{ name: 'r0', minor: 0 }],
      primary: { r0: 'alpha' },
      resyncSeconds: 0.2,
    });
    // What each host's events2 shows from here on, to compute what it observes (observed()).
    const opts = { timestamps: true, statistics: true, full: true };
    this.#dump = { alpha: this.pair.eventsNow('alpha', opts), beta: this.pair.eventsNow('beta', opts) };
    for (const host of HOSTS)
      writeFileSync(this.configPath(host), JSON.stringify(this.#config(host), null, 2));
  }

  static async create(options: PairHarnessOptions = {}): Promise<PairHarness> {
    const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-pair-harness-'));
    const slack = new FakeSlack({
      botTokens: HOSTS.map(botToken),
      appTokens: HOSTS.map(appToken),
      channels: [CHANNEL],
    });
    try {
      await slack.start();
      return new PairHarness(options, dir, slack, await freePorts(2));
    } catch (error) {
      await slack.stop();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  configPath(host: Host): string {
    return join(this.dir, `${host}.json`);
  }

  stateDir(host: Host): string {
    return join(this.dir, `state-${host}`);
  }

  #config(host: Host): Record<string, unknown> {
    const other: Host = host === 'alpha' ? 'beta' : 'alpha';
    const lock = this.#options.lock ?? { backend: 'file' };
    return {
      host,
      stateDir: this.stateDir(host),
      log: { level: this.#options.logLevel ?? 'info', format: 'json' },
      drbd: {
        drbdsetup: SIMULATOR_BIN,
        env: { DRBD_SIM_DIR: this.simDir, DRBD_SIM_HOST: host },
        restartBackoff: { initialMs: 100, maxMs: 1_000 },
      },
      delivery: {
        slackIntervalMs: this.#options.slackIntervalMs ?? 0,
        retry: { initialMs: 100, maxMs: 1_000 },
        flushOnStopMs: 2_000,
      },
      slack: { apiUrl: this.slack.apiUrl },
      lock:
        lock.backend === 'file'
          ? { backend: 'file', dir: this.lockDir }
          : lock.backend === 'command'
            ? { backend: 'command', command: LOCK_DIR_SCRIPT, args: ['--dir', this.lockDir] }
            : { backend: 'etcd', hosts: lock.hosts, prefix: lock.prefix ?? '/pair-test/' },
      leader: { ...this.leader },
      peer: {
        name: other,
        url: `http://127.0.0.1:${this.#ports[other]}`,
        listen: { host: '127.0.0.1', port: this.#ports[host] },
      },
      routes: [{ platform: 'slack', channel: CHANNEL }],
    };
  }

  // ---- processes ------------------------------------------------------------------------------

  pid(host: Host): number | undefined {
    return this.#running.get(host)?.pid;
  }

  isRunning(host: Host): boolean {
    return this.#running.has(host);
  }

  /**
   * Starts the host's bot and waits until its peer link listens and its DRBD event stream has
   * started (and read its first dump).
   */
  async start(host: Host, timeoutMs = 20_000): Promise<void> {
    if (this.#closed) throw new Error('the harness is closed');
    if (this.#running.has(host)) throw new Error(`${host} is already running`);
    const mark = this.#logs[host].length;
    // A long-running daemon: no timeout; ended by PID in stop()/kill9()/close().
    const child = execa(process.execPath, [BIN, 'run', '--config', this.configPath(host)], {
      env: {
        SLACK_BOT_TOKEN: botToken(host),
        SLACK_APP_TOKEN: appToken(host),
        DRBD_CHATOPS_PEER_SECRET: PEER_SECRET,
      },
      detached: true,
      cleanup: false,
      stdin: 'ignore',
      stdout: 'ignore',
      buffer: false,
      reject: false,
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${host} did not start`);
    track(pid);
    let partial = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.#addLog(host, line);
    });
    const running: Running = {
      pid,
      exited: child.then((result) => {
        if (partial !== '') this.#addLog(host, partial);
        running.exitCode = result.exitCode;
        running.signal = result.signal;
        liveGroups.delete(pid);
        if (this.#running.get(host) === running) this.#running.delete(host);
      }),
      exitCode: undefined,
      signal: undefined,
      stopped: false,
    };
    this.#running.set(host, running);
    try {
      await this.waitForLog(host, (l) => l.msg === 'peer link listening', 'the peer link', timeoutMs, mark);
      await this.waitForLog(
        host,
        (l) => l.msg === 'starting DRBD event stream',
        'the DRBD event stream',
        timeoutMs,
        mark,
      );
      // The simulator prints its dump at once; give the stream a moment to read it.
      await sleep(500);
    } catch (error) {
      this.#signal(host, 'SIGKILL');
      await running.exited;
      throw error;
    }
  }

  #addLog(host: Host, line: string): void {
    if (line.trim() === '') return;
    this.#raw[host].push(line);
    try {
      this.#logs[host].push(JSON.parse(line) as LogLine);
    } catch {
      this.#logs[host].push({ level: 50, time: Date.now(), msg: line });
    }
  }

  #signal(host: Host, signal: NodeJS.Signals): Running {
    const running = this.#running.get(host);
    if (running === undefined) throw new Error(`${host} is not running`);
    signalGroup(running.pid, signal);
    return running;
  }

  /** SIGTERM (a clean stop: flushes, releases the lease); SIGKILL after `graceMs`. Returns the exit code. */
  async stop(host: Host, graceMs = 15_000): Promise<number | undefined> {
    const running = this.#running.get(host);
    if (running === undefined) return undefined;
    if (running.stopped) signalGroup(running.pid, 'SIGCONT');
    // The bot only: it stops its own event stream child on the way out.
    try {
      process.kill(running.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const exited = await Promise.race([running.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!exited) {
      signalGroup(running.pid, 'SIGKILL');
      await running.exited;
    }
    return running.exitCode;
  }

  /** A crash: SIGKILL to the bot and everything in its process group. Resolves once it is gone. */
  async kill9(host: Host): Promise<void> {
    const running = this.#signal(host, 'SIGKILL');
    await running.exited;
  }

  /** Freezes the bot and its children (SIGSTOP), like a hung host: its sockets stay open. */
  sigstop(host: Host): void {
    this.#signal(host, 'SIGSTOP').stopped = true;
  }

  sigcont(host: Host): void {
    this.#signal(host, 'SIGCONT').stopped = false;
  }

  /** How the last run of the host ended, once it has. */
  exitOf(host: Host): { exitCode: number | undefined; signal: string | undefined } | undefined {
    const running = this.#running.get(host);
    return running === undefined ? undefined : { exitCode: running.exitCode, signal: running.signal };
  }

  // ---- the lock store ------------------------------------------------------------------------

  /**
   * The command backend only: hides the lock directory (as if the shared file system were
   * unmounted), so `lock-dir.sh lock` exits 2 ("unknown"), or brings it back.
   */
  setLockStoreReachable(reachable: boolean): void {
    if ((this.#options.lock ?? { backend: 'file' }).backend !== 'command') {
      throw new Error('setLockStoreReachable needs the command backend');
    }
    const hidden = `${this.lockDir}.unmounted`;
    if (reachable && existsSync(hidden)) renameSync(hidden, this.lockDir);
    if (!reachable && existsSync(this.lockDir)) renameSync(this.lockDir, hidden);
  }

  // ---- logs ------------------------------------------------------------------------------------

  /** Every log line the host wrote (all its runs), parsed. */
  logs(host: Host): readonly LogLine[] {
    return this.#logs[host];
  }

  /** The raw stderr lines, for failure messages. */
  rawLog(host: Host): string {
    return this.#raw[host].join('\n');
  }

  /** Resolves with the first log line from index `from` on that matches. */
  async waitForLog(
    host: Host,
    match: (line: LogLine) => boolean,
    what: string,
    timeoutMs = 20_000,
    from = 0,
  ): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.#logs[host].slice(from).find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${host}: ${what}\n${this.tail(host)}`);
      }
      await sleep(20);
    }
  }

  tail(host: Host, lines = 40): string {
    return this.#raw[host].slice(-lines).join('\n');
  }

  /** The leader election events the host logged (`leader election: became-leader` …). */
  elections(host: Host): LogLine[] {
    return this.#logs[host].filter((l) => l.msg.startsWith('leader election: '));
  }

  // ---- the chat --------------------------------------------------------------------------------

  messages(): readonly StoredMessage[] {
    return this.slack.messages(CHANNEL);
  }

  /** Which process made a Web API call (by its bot token). */
  callerOf(call: ApiCall): Host | undefined {
    return HOSTS.find((h) => call.token === botToken(h));
  }

  /** chat.postMessage and chat.update calls, each with the process that made it. */
  chatCalls(): { call: ApiCall; by: Host | undefined }[] {
    return this.slack.calls
      .filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update')
      .map((call) => ({ call, by: this.callerOf(call) }));
  }

  /** The leadership announcements in the channel, oldest first. */
  announcements(): Announcement[] {
    const posts = this.slack.callsTo('chat.postMessage');
    const out: Announcement[] = [];
    for (const m of this.messages()) {
      const match = ANNOUNCEMENT.exec(m.text);
      if (match === null) continue;
      const call = posts.find((c) => c.fault === undefined && String(c.params.text ?? '') === m.text);
      out.push({
        host: match[1] ?? '',
        token: Number(match[2]),
        previous: match[3] ?? null,
        text: m.text,
        receivedAt: call?.at ?? Number.NaN,
        postedBy: call === undefined ? undefined : this.callerOf(call),
      });
    }
    return out;
  }

  /** Waits until "<host> leads, token N" arrives (received at or after `since`, Date.now() ms). */
  async waitForLeader(
    host: Host,
    options: { since?: number; token?: number; timeoutMs?: number } = {},
  ): Promise<Announcement> {
    const since = options.since ?? 0;
    const pick = () =>
      this.announcements().find(
        (a) =>
          a.host === host &&
          a.receivedAt >= since &&
          (options.token === undefined || a.token === options.token),
      );
    const timeoutMs = options.timeoutMs ?? 30_000;
    try {
      await this.slack.waitFor(() => pick() !== undefined, `"${host} leads" in the channel`, timeoutMs);
    } catch (error) {
      const seen = this.announcements()
        .map((a) => a.text)
        .join(' | ');
      throw new Error(
        `${(error as Error).message}; announcements so far: ${seen || 'none'}\n--- alpha:\n${this.tail('alpha', 15)}\n--- beta:\n${this.tail('beta', 15)}`,
      );
    }
    return pick() as Announcement;
  }

  // ---- what the hosts see and keep ---------------------------------------------------------------

  /**
   * The notifications `host` has observed since the harness was created, computed from the
   * simulator's journal with the same parser, state engine and rules the bots run: the same DRBD
   * changes with the same timestamps and texts, hence the same notification keys.
   */
  observed(host: Host): Notification[] {
    const watcher = new HostWatcher(host);
    const now = Date.now();
    const lines = [
      ...this.#dump[host],
      ...this.pair.eventsSince(host, 0, { timestamps: true, statistics: true, full: true }),
    ];
    const out: Notification[] = [];
    for (const line of lines) out.push(...watcher.feed(line, now).notifications);
    return out;
  }

  /** The deliveries left in the host's outbox on disk (not yet confirmed by Slack). */
  pendingOutbox(
    host: Host,
  ): { key: string; op: string; severity: string; title: string; covers: string[] }[] {
    const path = join(this.stateDir(host), 'outbox', 'outbox.ndjson');
    if (!existsSync(path)) return [];
    const live = new Map<
      string,
      { key: string; op: string; severity: string; message: { title: string }; covers?: string[] }
    >();
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let record: {
        put?: {
          id: string;
          key: string;
          op: string;
          severity: string;
          message: { title: string };
          covers?: string[];
        };
        del?: string;
      };
      try {
        record = JSON.parse(line);
      } catch {
        continue; // a torn last line
      }
      if (record.put !== undefined) live.set(record.put.id, record.put);
      else if (record.del !== undefined) live.delete(record.del);
    }
    return [...live.values()].map((e) => ({
      key: e.key,
      op: e.op,
      severity: e.severity,
      title: e.message.title,
      covers: e.covers ?? [],
    }));
  }

  // ---- teardown --------------------------------------------------------------------------------

  /** Ends both processes (continuing a stopped one first), stops the fake Slack, removes the files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      [...this.#running.keys()].map(async (host) => {
        const running = this.#running.get(host);
        if (running === undefined) return;
        signalGroup(running.pid, 'SIGKILL');
        await running.exited;
      }),
    );
    await this.slack.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export { DEFAULT_LEADER_SETTINGS };
