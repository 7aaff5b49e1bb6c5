// In-process API of the simulator: the same operations as the drbdsetup-sim executable,
// for tests, benchmarks and the demo.

import { writeFileSync } from 'node:fs';
import * as actions from './actions.js';
import { Transaction } from './actions.js';
import { journalPath, journalSize, readJournal } from './journal.js';
import { withLock } from './lock.js';
import { defaultRenderOptions, endOfDump, type RenderOptions, renderRecords } from './render.js';
import {
  type Clock,
  ensureDir,
  type InitOptions,
  initialState,
  loadState,
  saveState,
  systemClock,
} from './state.js';
import * as statusCmds from './status.js';
import { type CommandResult, peerOf, SimError, type SimState } from './types.js';
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
    ...defaultRenderOptions(state.dialect),
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
    ? renderRecords(dumpRecords(buildView(state, host), opts.resource), ro, epochMicros)
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
  private constructor(
    readonly dir: string,
    private readonly clock: Clock,
  ) {}

  /** Creates (or resets) a pair in `dir`: both hosts up, everything Connected and UpToDate. */
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

  get hosts(): [string, string] {
    return this.read().hosts;
  }

  // ---- drbdsetup verbs (as run on `host`) ----

  primary(host: string, resource: string, opts: { force?: boolean } = {}): CommandResult {
    return this.verb(host, (tx) => actions.primary(tx, host, resource, opts.force === true));
  }

  secondary(host: string, resource: string): CommandResult {
    return this.verb(host, (tx) => actions.secondary(tx, host, resource));
  }

  connect(host: string, resource: string, opts: { discardMyData?: boolean } = {}): CommandResult {
    return this.verb(host, (tx) => actions.connect(tx, host, resource, opts.discardMyData === true));
  }

  disconnect(host: string, resource: string): CommandResult {
    return this.verb(host, (tx) => actions.disconnect(tx, host, resource));
  }

  status(host: string, resource?: string, opts: statusCmds.StatusOptions = {}): CommandResult {
    const state = this.state();
    if (!state.up[host]) return actions.hostDownResult();
    return statusCmds.status(state, host, resource, opts);
  }

  role(host: string, resource: string): string {
    return statusCmds.role(this.state(), host, resource);
  }

  cstate(host: string, resource: string): string {
    return statusCmds.cstate(this.state(), host, resource);
  }

  dstate(host: string, resource: string): string {
    return statusCmds.dstate(this.state(), host, resource);
  }

  /** `events2 --now` lines for `host`. */
  eventsNow(host: string, opts: EventsOptions = {}): string[] {
    return renderEventsNow(this.state(), host, opts, this.clock.nowMicros());
  }

  /** Journal position of `host`, to collect the events of what happens next. */
  mark(host: string): number {
    return journalSize(this.dir, host);
  }

  /** The events2 lines `host` printed since `mark` (what a running stream would show). */
  eventsSince(host: string, mark: number, opts: EventsOptions = {}): string[] {
    const state = this.read();
    const ro = renderOptions(state, opts);
    const lines: string[] = [];
    for (const entry of readJournal(this.dir, host, mark).entries) {
      if (entry.type !== 'events') continue;
      const events = entry.events.filter((e) => opts.resource === undefined || e.resource === opts.resource);
      lines.push(...renderRecords(events, ro, entry.t));
    }
    return lines;
  }

  // ---- faults and controls ----

  linkDown(resource = 'all'): void {
    this.mutate((tx) => actions.linkDown(tx, this.resourcesArg(tx.state, resource)));
  }

  linkUp(resource = 'all'): void {
    this.mutate((tx) => actions.linkUp(tx, this.resourcesArg(tx.state, resource)));
  }

  crash(host: string): void {
    this.mutate((tx) => actions.crash(tx, host));
  }

  boot(host: string): void {
    this.mutate((tx) => actions.boot(tx, host));
  }

  diskFail(host: string, resource: string): void {
    this.mutate((tx) => actions.diskFail(tx, host, resource));
  }

  diskAttach(host: string, resource: string): void {
    this.mutate((tx) => actions.diskAttach(tx, host, resource));
  }

  resync(resource: string, opts: { seconds: number; source?: string }): void {
    this.mutate((tx) => actions.resync(tx, resource, opts.seconds, opts.source));
  }

  splitBrain(resource: string): void {
    this.mutate((tx) => actions.splitBrain(tx, resource));
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

  private read(): SimState {
    return withLock(this.dir, () => loadState(this.dir));
  }

  private resourcesArg(state: SimState, resource: string): string[] {
    if (resource === 'all') return state.resources.map((r) => r.name);
    if (!state.resources.some((r) => r.name === resource))
      throw new SimError(`${resource}: No such resource`, 10);
    return [resource];
  }

  /** Load, advance time, apply `fn`, save: all under the directory lock. */
  mutate<T>(fn: (tx: Transaction) => T): { state: SimState; result: T } {
    return withLock(this.dir, () => {
      const state = loadState(this.dir);
      const tx = new Transaction(this.dir, state, this.clock);
      actions.tick(tx);
      const result = fn(tx);
      saveState(this.dir, state);
      return { state: structuredClone(state), result };
    });
  }

  private verb(host: string, fn: (tx: Transaction) => CommandResult): CommandResult {
    try {
      return this.mutate((tx) => {
        peerOf(tx.state, host);
        if (!tx.state.up[host]) return actions.hostDownResult();
        return fn(tx);
      }).result;
    } catch (err) {
      if (err instanceof SimError) return { exitCode: err.exitCode, stdout: '', stderr: `${err.message}\n` };
      throw err;
    }
  }
}
