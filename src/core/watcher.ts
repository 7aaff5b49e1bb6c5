// The whole path from an events2 line to notifications for one host: parser → state → rules.
// The daemon, `watch` and `replay` all go through `feedLine`, so a recorded stream replays exactly
// as it would have run live. Pure: time comes in with each line.

import { type Events2Error, type Events2Record, parseEvents2Line } from '../drbd/events2.js';
import {
  applyEvent,
  type Change,
  carryOverVanishedConnections,
  diffHostStates,
  emptyHostState,
  type HostState,
} from './host-state.js';
import type { Notification } from './notification.js';
import { assessHost, evaluateChanges, formatDuration, type Problems } from './rules.js';

/**
 * `initial-dump`: reading the first `exists` lines, nothing is announced yet.
 * `live`: every line is a change as it happens.
 * `resync-dump`: the stream restarted; the fresh dump is collected and compared with what we had.
 */
export type WatchPhase = 'initial-dump' | 'live' | 'resync-dump';

export interface WatchState {
  readonly host: string;
  readonly phase: WatchPhase;
  readonly state: HostState;
  readonly problems: Problems;
  /** During `resync-dump`: the state before the restart, to compare the fresh dump with. */
  readonly baseline?: HostState;
  readonly restart?: { readonly at: number; readonly reason: string };
}

export interface StepResult {
  readonly watch: WatchState;
  readonly changes: readonly Change[];
  readonly notifications: readonly Notification[];
  /** Set when the line could not be parsed; nothing else changed. */
  readonly error?: Events2Error;
  /** The stream lost events (`- skipped N`): the caller should restart it to get a fresh dump. */
  readonly resyncRequested?: boolean;
}

export function initialWatch(host: string): WatchState {
  return { host, phase: 'initial-dump', state: emptyHostState(host), problems: {} };
}

/**
 * The event stream (re)started: whatever it prints first is a fresh dump. Before the first dump
 * completed there is nothing to compare with, so the watch simply starts over.
 */
export function streamRestarted(watch: WatchState, at: number, reason: string): WatchState {
  if (watch.phase === 'initial-dump') return initialWatch(watch.host);
  const baseline = watch.phase === 'resync-dump' ? (watch.baseline ?? watch.state) : watch.state;
  const restart =
    watch.phase === 'resync-dump' && watch.restart !== undefined ? watch.restart : { at, reason };
  return { ...watch, phase: 'resync-dump', state: emptyHostState(watch.host), baseline, restart };
}

export function feedLine(watch: WatchState, line: string, receivedAt: number): StepResult {
  return feedRecord(watch, parseEvents2Line(line), receivedAt);
}

export function feedRecord(watch: WatchState, record: Events2Record, receivedAt: number): StepResult {
  switch (record.type) {
    case 'empty':
      return { watch, changes: [], notifications: [] };
    case 'error':
      return { watch, changes: [], notifications: [], error: record };
    case 'end-of-dump':
      return endOfDump(watch, record.time ?? receivedAt);
    case 'skipped': {
      // drbd-utils before 9.28 print the jump in the kernel's sequence numbers with %d: a positive
      // count is lost events, a negative one events that arrived out of order. Either way the state
      // built from the stream may be wrong; only a fresh dump can tell.
      if (record.count === 0) return { watch, changes: [], notifications: [] };
      const at = record.time ?? receivedAt;
      const n = Math.abs(record.count);
      const what =
        record.count > 0
          ? `DRBD's event stream on ${watch.host} skipped ${n} event${n === 1 ? '' : 's'}: changes may have been missed`
          : `DRBD's event stream on ${watch.host} went back ${n} event${n === 1 ? '' : 's'} in its sequence ` +
            `(events arrived out of order, as drbd-utils before 9.28 report it): the order of changes is unreliable`;
      const notification = gapNotification(
        watch.host,
        `${what}; the watcher restarts the event stream to read the current state.`,
        at,
        { skipped: record.count },
      );
      return { watch, changes: [], notifications: [notification], resyncRequested: true };
    }
    case 'event':
      break;
  }

  const at = record.time ?? receivedAt;
  if (watch.phase !== 'live') {
    if (record.verb === 'exists') {
      return {
        watch: { ...watch, state: applyEvent(watch.state, record, at).state },
        changes: [],
        notifications: [],
      };
    }
    // A live event before `exists -`: the stream was joined mid-way; the dump is over.
    const ended = endOfDump(watch, at);
    const next = feedRecord(ended.watch, record, receivedAt);
    return { ...next, notifications: [...ended.notifications, ...next.notifications] };
  }

  const { state, changes } = applyEvent(watch.state, record, at);
  if (changes.length === 0) return { watch: { ...watch, state }, changes, notifications: [] };
  const result = evaluateChanges(changes, watch.state, state, watch.problems);
  return {
    watch: { ...watch, state, problems: result.problems },
    changes,
    notifications: result.notifications,
  };
}

function endOfDump(watch: WatchState, at: number): StepResult {
  if (watch.phase === 'live') return { watch, changes: [], notifications: [] };
  if (watch.phase === 'initial-dump') {
    const assessed = assessHost(watch.state, watch.problems, at);
    return {
      watch: { ...watch, phase: 'live', problems: assessed.problems },
      changes: [],
      notifications: assessed.notifications,
    };
  }
  const baseline = watch.baseline ?? emptyHostState(watch.host);
  const fresh = carryOverVanishedConnections(baseline, watch.state);
  const changes = diffHostStates(baseline, fresh, at);
  const result = evaluateChanges(changes, baseline, fresh, watch.problems);
  const restart = watch.restart ?? { at, reason: 'restart' };
  const missed = changes.filter((c) => c.type !== 'field' || c.old !== undefined).map(describeChange);
  const gap = gapNotification(
    watch.host,
    `The DRBD event stream on ${watch.host} restarted (${restart.reason}); it was blind for ` +
      `${formatDuration(at - restart.at)}. ` +
      (missed.length === 0
        ? 'Nothing changed meanwhile.'
        : `${missed.length} change${missed.length === 1 ? ' was' : 's were'} missed: ${missed.join('; ')}.`),
    at,
    { reason: restart.reason, blindMs: at - restart.at, missed: missed.length },
  );
  const { baseline: _b, restart: _r, ...rest } = watch;
  return {
    watch: { ...rest, phase: 'live', state: fresh, problems: result.problems },
    changes,
    notifications: [gap, ...result.notifications],
  };
}

function gapNotification(
  host: string,
  text: string,
  at: number,
  details: Record<string, string | number>,
): Notification {
  return {
    kind: 'watcher-gap',
    severity: 'warning',
    host,
    resource: null,
    text,
    details,
    at: new Date(at).toISOString(),
  };
}

/** "r0 connection beta: Connected → Connecting", for summaries of missed changes. */
export function describeChange(change: Change): string {
  const where = [
    change.resource,
    change.peer,
    change.volume === undefined ? undefined : `volume ${change.volume}`,
  ]
    .filter((part) => part !== undefined)
    .join(' ');
  switch (change.type) {
    case 'field':
      return `${where} ${change.field}: ${change.old ?? '(none)'} → ${change.new ?? '(none)'}`;
    case 'created':
      return `${where} ${change.object} appeared`;
    case 'destroyed':
      return `${where} ${change.object} disappeared`;
    case 'renamed':
      return `${where} renamed to ${change.newName}`;
    case 'helper':
      return `${where} helper ${change.helper} ${change.phase}`;
  }
}

/** Imperative wrapper for adapters that feed a stream line by line. */
/**
 * Compare the engine's state with a fresh `drbdsetup events2 --now` dump (the scheduled
 * reconciliation). Any difference in the fields that matter means the engine missed something:
 * it is reported as a watcher-gap listing what differed, the alerts the differences imply are
 * raised, and the engine takes the fresh state. No difference: nothing is said.
 */
export function reconcile(watch: WatchState, dump: readonly string[], at: number): StepResult {
  if (watch.phase !== 'live') return { watch, changes: [], notifications: [] };
  let fresh = emptyHostState(watch.host);
  for (const line of dump) {
    const record = parseEvents2Line(line);
    if (record.type === 'event') fresh = applyEvent(fresh, record, at).state;
  }
  fresh = carryOverVanishedConnections(watch.state, fresh);
  const changes = diffHostStates(watch.state, fresh, at);
  if (changes.length === 0) return { watch, changes, notifications: [] };
  const result = evaluateChanges(changes, watch.state, fresh, watch.problems);
  const differences = changes.map(describeChange);
  const gap = gapNotification(
    watch.host,
    `Reconciliation on ${watch.host}: the live DRBD state differs from what the event stream reported ` +
      `(${differences.length} difference${differences.length === 1 ? '' : 's'}: ${differences.join('; ')}). ` +
      'The live state is taken as the truth.',
    at,
    { reason: 'reconciliation', differences: differences.length },
  );
  return {
    watch: { ...watch, state: fresh, problems: result.problems },
    changes,
    notifications: [gap, ...result.notifications],
  };
}

export class HostWatcher {
  #watch: WatchState;

  constructor(host: string) {
    this.#watch = initialWatch(host);
  }

  get watch(): WatchState {
    return this.#watch;
  }

  feed(line: string, receivedAt: number): StepResult {
    const result = feedLine(this.#watch, line, receivedAt);
    this.#watch = result.watch;
    return result;
  }

  restarted(at: number, reason: string): void {
    this.#watch = streamRestarted(this.#watch, at, reason);
  }

  reconcile(dump: readonly string[], at: number): StepResult {
    const result = reconcile(this.#watch, dump, at);
    this.#watch = result.watch;
    return result;
  }
}
