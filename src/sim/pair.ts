// In-process API of the simulator: the same operations as the drbdsetup-sim executable,
// for tests, benchmarks and the demo.

import { writeFileSync } from 'node:fs';
import * as actions from './actions.js';
import { Transaction } from './actions.js';
import * as statusCmds from './drbdsetup-status.js';
import { journalPath, journalSize, readJournal } from './event-journal.js';
import { defaultRenderOptions, endOfDump, type RenderOptions, renderRecords, skippedLine } from './render.js';
import {
  type Clock,
  ensureDir,
  type InitOptions,
  initialState,
  loadState,
  saveState,
  systemClock,
} from './state.js';
import { withLock } from './state-lock.js';
import {
  type CommandResult,
  type ConnectionCause,
  peersOf,
  SimError,
  type SimState,
  utilsBefore,
} from './types.js';
import { buildView, dumpRecords } from './views.js';

export interface EventsOptions {
  /** Only this resource (default: all). */
  resource?: string;
  timestamps?: boolean;
  statistics?: boolean;
  full?: boolean;
  color?: boolean;
}

export interface PairOptions {
  clock?: Clock;
}

function renderOptions(state: SimState, opts: EventsOptions): RenderOptions {
  return {
    ...defaultRenderOptions(state.dialect, !utilsBefore(state, '9.14')),
    timestamps: opts.timestamps === true,
    statistics: opts.statistics === true,
    full: opts.full === true,
    color: opts.color === true,
  };
}

/** `events2 --now` for `host`: the dump lines, ending with `exists -`. */
export function renderEventsNow(
  state: SimState,
  host: string,
  opts: EventsOptions = {},
  epochMicros?: number,
): string[] {
  const ro = renderOptions(state, opts);
  const lines = state.up[host]
    ? renderRecords(dumpRecords(buildView(state, host), state, opts.resource), ro, epochMicros)
    : [];
  lines.push(endOfDump(ro, epochMicros));
  return lines;
}

/** Reads the state directory and renders `events2 --now` for `host`. */
export function eventsNowFromDir(dir: string, host: string, opts: EventsOptions = {}): string[] {
  const state = withLock(dir, () => loadState(dir));
  return renderEventsNow(state, host, opts, systemClock.nowMicros());
}

export class SimulatedPair {
  readonly #clock: Clock;
  private constructor(
    readonly dir: string,
    clock: Clock,
  ) {
    this.#clock = clock;
  }

  /** Creates (or resets) the hosts in `dir`: all up, everything Connected and UpToDate. */
  static init(dir: string, opts: InitOptions, pairOpts: PairOptions = {}): SimulatedPair {
    const state = initialState(opts);
    ensureDir(dir);
    withLock(dir, () => {
      // A re-init starts with empty journals so no old stream mistakes new events for its own.
      for (const host of state.hosts) writeFileSync(journalPath(dir, host), '');
      saveState(dir, state);
    });
    return new SimulatedPair(dir, pairOpts.clock ?? systemClock);
  }

  static open(dir: string, pairOpts: PairOptions = {}): SimulatedPair {
    loadState(dir);
    return new SimulatedPair(dir, pairOpts.clock ?? systemClock);
  }

  /** A copy of the current state (after advancing time-based things). */
  state(): SimState {
    return this.mutate(() => undefined).state;
  }

  get hosts(): string[] {
    return this.#read().hosts;
  }

  // ---- drbdsetup verbs (as run on `host`) ----

  primary(host: string, resource: string, opts: { force?: boolean } = {}): CommandResult {
    return this.#verb(host, (tx) => actions.primary(tx, host, resource, opts.force === true));
  }

  secondary(host: string, resource: string): CommandResult {
    return this.#verb(host, (tx) => actions.secondary(tx, host, resource));
  }

  /** `connect` to every StandAlone peer, or only to `peer`. */
  connect(
    host: string,
    resource: string,
    opts: { discardMyData?: boolean; peer?: string } = {},
  ): CommandResult {
    return this.#verb(host, (tx) =>
      actions.connect(tx, host, resource, opts.discardMyData === true, opts.peer),
    );
  }

  /** `disconnect` from every peer, or only from `peer`. */
  disconnect(host: string, resource: string, opts: { peer?: string } = {}): CommandResult {
    return this.#verb(host, (tx) => actions.disconnect(tx, host, resource, opts.peer));
  }

  suspendIo(host: string, resource: string): CommandResult {
    return this.#verb(host, (tx) => actions.suspendIo(tx, host, resource));
  }

  resumeIo(host: string, resource: string): CommandResult {
    return this.#verb(host, (tx) => actions.resumeIo(tx, host, resource));
  }

  status(host: string, resource?: string, opts: statusCmds.StatusOptions = {}): CommandResult {
    const state = this.state();
    if (!state.up[host]) return actions.hostDownResult();
    return statusCmds.status(state, host, resource, opts);
  }

  role(host: string, resource: string): string {
    return statusCmds.role(this.state(), host, resource);
  }

  cstate(host: string, resource: string, peer?: string): string {
    return statusCmds.cstate(this.state(), host, resource, peer);
  }

  dstate(host: string, resource: string): string {
    return statusCmds.dstate(this.state(), host, resource);
  }

  /** `events2 --now` lines for `host`. */
  eventsNow(host: string, opts: EventsOptions = {}): string[] {
    return renderEventsNow(this.state(), host, opts, this.#clock.nowMicros());
  }

  /** Journal position of `host`, to collect the events of what happens next. */
  mark(host: string): number {
    return journalSize(this.dir, host);
  }

  /** The events2 lines `host` printed since `mark` (what a running stream would show). */
  eventsSince(host: string, mark: number, opts: EventsOptions = {}): string[] {
    const state = this.#read();
    const ro = renderOptions(state, opts);
    const lines: string[] = [];
    for (const entry of readJournal(this.dir, host, mark).entries) {
      if (entry.type === 'skip') lines.push(skippedLine(entry.n));
      if (entry.type !== 'events') continue;
      const events = entry.events.filter((e) => opts.resource === undefined || e.resource === opts.resource);
      lines.push(...renderRecords(events, ro, entry.t));
    }
    return lines;
  }

  // ---- faults and scenarios (see docs/simulator.md) ----

  linkDown(resource = 'all', opts: actions.LinkDownOptions = {}): void {
    this.mutate((tx) => actions.linkDown(tx, this.#resourcesArg(tx.state, resource), opts));
  }

  linkUp(resource = 'all', opts: actions.LinkSelection = {}): void {
    this.mutate((tx) => actions.linkUp(tx, this.#resourcesArg(tx.state, resource), opts));
  }

  crash(host: string, opts: { cause?: ConnectionCause; fenceExit?: number } = {}): void {
    this.mutate((tx) => actions.crash(tx, host, opts));
  }

  boot(host: string): void {
    this.mutate((tx) => actions.boot(tx, host));
  }

  /** An I/O error; `helper` = on-io-error call-local-io-error for this failure. */
  diskFail(host: string, resource: string, opts: { helper?: boolean } = {}): void {
    this.mutate((tx) => actions.diskFail(tx, host, resource, opts));
  }

  /** Administrative detach (DRBD 9 Detaching → Diskless; 8.4 Failed → Diskless). */
  detach(host: string, resource: string): void {
    this.mutate((tx) => actions.detach(tx, host, resource));
  }

  diskAttach(host: string, resource: string): void {
    this.mutate((tx) => actions.diskAttach(tx, host, resource));
  }

  resync(resource: string, opts: { seconds: number; source?: string; target?: string }): void {
    this.mutate((tx) => actions.resync(tx, resource, opts.seconds, opts.source, opts.target));
  }

  /** Admin-started full resync: invalidate-remote on `source` or invalidate on `target`. */
  fullSync(resource: string, opts: { source?: string; target?: string; seconds?: number } = {}): void {
    this.mutate((tx) => actions.fullSync(tx, resource, opts));
  }

  splitBrain(resource: string, opts: actions.SplitBrainOptions = {}): void {
    this.mutate((tx) => actions.splitBrain(tx, resource, opts));
  }

  /** The Primary loses its peer(s) with fencing; the fence-peer handler answers `exit`. */
  fencePeer(resource: string, opts: { exit: number; stonith?: boolean; crash?: boolean }): void {
    this.mutate((tx) => actions.fencePeer(tx, resource, opts));
  }

  noData(host: string, resource: string): void {
    this.mutate((tx) => actions.noData(tx, host, resource));
  }

  quorumLost(host: string, resource: string, opts: { onNoQuorum?: 'suspend-io' | 'io-error' } = {}): void {
    this.mutate((tx) => actions.quorumLost(tx, host, resource, opts));
  }

  verify(
    resource: string,
    opts: { source?: string; target?: string; seconds?: number; outOfSyncKiB?: number } = {},
  ): void {
    this.mutate((tx) => actions.verify(tx, resource, opts));
  }

  congestion(resource: string, opts: { source?: string } = {}): void {
    this.mutate((tx) => actions.congestion(tx, resource, opts));
  }

  congestionEnd(resource: string, opts: { seconds?: number } = {}): void {
    this.mutate((tx) => actions.congestionEnd(tx, resource, opts));
  }

  pauseSync(resource: string, opts: { host?: string; reason?: 'user' | 'dependency' } = {}): void {
    this.mutate((tx) =>
      actions.pauseSync(tx, resource, { ...opts, reason: opts.reason ?? 'user', pause: true }),
    );
  }

  resumeSync(resource: string, opts: { host?: string; reason?: 'user' | 'dependency' } = {}): void {
    this.mutate((tx) =>
      actions.pauseSync(tx, resource, { ...opts, reason: opts.reason ?? 'user', pause: false }),
    );
  }

  newResource(
    name: string,
    minor: number,
    opts: { primary?: string; port?: number; seconds?: number } = {},
  ): void {
    this.mutate((tx) => actions.newResource(tx, name, minor, opts));
  }

  helper(
    host: string,
    resource: string,
    name: string,
    opts: { exitCode?: number; peer?: string } = {},
  ): void {
    this.mutate((tx) => actions.helper(tx, host, resource, name, opts));
  }

  /** A `- skipped N` line in `host`'s stream (drbd-utils < 9.28 or drbdsetup-84). */
  skip(host: string, n: number): void {
    this.mutate((tx) => actions.skip(tx, host, n));
  }

  openDevice(host: string, resource: string, holder: string): void {
    this.mutate((tx) => actions.openDevice(tx, host, resource, holder));
  }

  closeDevice(host: string, resource: string, holder: string): void {
    this.mutate((tx) => actions.closeDevice(tx, host, resource, holder));
  }

  /** Advances resync progress and completion to the clock's current time. */
  tick(): void {
    this.mutate(() => undefined);
  }

  /** Sets the duration of resyncs that handshakes start from now on. */
  setResyncSeconds(seconds: number): void {
    if (!(seconds > 0)) throw new SimError('resync seconds must be positive', 2);
    this.mutate((tx) => {
      tx.state.resyncSeconds = seconds;
    });
  }

  // ---- plumbing ----

  #read(): SimState {
    return withLock(this.dir, () => loadState(this.dir));
  }

  #resourcesArg(state: SimState, resource: string): string[] {
    if (resource === 'all') return state.resources.map((r) => r.name);
    if (!state.resources.some((r) => r.name === resource))
      throw new SimError(`${resource}: No such resource`, 10);
    return [resource];
  }

  /** Load, advance time, apply `fn`, save: all under the directory lock. */
  mutate<T>(fn: (tx: Transaction) => T): { state: SimState; result: T } {
    return withLock(this.dir, () => {
      const state = loadState(this.dir);
      const tx = new Transaction(this.dir, state, this.#clock);
      actions.tick(tx);
      const result = fn(tx);
      saveState(this.dir, state);
      return { state: structuredClone(state), result };
    });
  }

  #verb(host: string, fn: (tx: Transaction) => CommandResult): CommandResult {
    try {
      return this.mutate((tx) => {
        peersOf(tx.state, host);
        if (!tx.state.up[host]) return actions.hostDownResult();
        return fn(tx);
      }).result;
    } catch (err) {
      if (err instanceof SimError) return { exitCode: err.exitCode, stdout: '', stderr: `${err.message}\n` };
      throw err;
    }
  }
}
