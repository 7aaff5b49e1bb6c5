// Whether the bot can see DRBD on a host. While `drbdsetup events2` is down the bot is blind there:
// whatever it last said about that host may no longer be true, and silence would read as "all is
// well". So blindness is itself an alert. A stream that restarts within a few seconds is routine
// (the backoff, DRBD 8.4's --full fallback), so nothing is said before `warnAfterMs`; then a warning
// that names the host and why the stream is down; critical once it lasts `criticalAfterMs`, or at
// once when the host was Primary when last seen (that is where a failure loses service); and a
// resolution when the stream has read a fresh dump, saying how long it was down and what changed
// meanwhile. Pure: the caller brings the clock and arms the timers (see `outageCheckAt`).

import type { Change, HostState } from './host-state.js';
import type { Notification, Severity } from './notification.js';
import { formatDuration } from './rules.js';
import { describeChange } from './watcher.js';

export interface StreamDownSettings {
  /** Down longer than this: a warning (critical at once on a host last seen Primary). */
  readonly warnAfterMs: number;
  /** Down longer than this: critical. */
  readonly criticalAfterMs: number;
}

export const DEFAULT_STREAM_DOWN: StreamDownSettings = { warnAfterMs: 10_000, criticalAfterMs: 120_000 };

export type StreamHealth =
  | { readonly up: true; readonly since: number }
  | {
      readonly up: false;
      /** When the host was last seen: the stream's end, or the start of watching. */
      readonly since: number;
      /** Why it is down, as a person reads it (drbdsetup's exit and the end of its stderr). */
      readonly cause: string;
      /** The worst severity already said about this outage; absent while nobody was told. */
      readonly told?: Severity;
    };

/** Before the first dump nothing is seen yet; the clock for "down" starts with watching. */
export function watchingStarted(at: number): StreamHealth {
  return { up: false, since: at, cause: 'drbdsetup events2 has not printed the DRBD state yet' };
}

/** The stream ended (or failed again): an outage starts, or an ongoing one gets its latest cause. */
export function streamLost(health: StreamHealth, at: number, cause: string): StreamHealth {
  if (health.up) return { up: false, since: at, cause };
  return { ...health, cause };
}

/** When `assessOutage` has something new to say; undefined while up or once critical was said. */
export function outageCheckAt(health: StreamHealth, settings: StreamDownSettings): number | undefined {
  if (health.up || health.told === 'critical') return undefined;
  return health.since + (health.told === undefined ? settings.warnAfterMs : settings.criticalAfterMs);
}

/** How long the host has been unseen at `now` (0 while the stream is up). */
export function blindMs(health: StreamHealth, now: number): number {
  return health.up ? 0 : Math.max(0, now - health.since);
}

/** The resources a host held as Primary in a state: where a failure unseen costs service. */
export function primaryOf(state: HostState | undefined): string[] {
  if (state === undefined) return [];
  return Object.values(state.resources)
    .filter((r) => r.fields.role === 'Primary')
    .map((r) => r.name)
    .sort();
}

export interface OutageStep {
  readonly health: StreamHealth;
  readonly notification?: Notification;
}

/**
 * What to say about an outage at `now`: the warning once it passed `warnAfterMs` (critical if the
 * host was Primary of `primary` when last seen, or already past `criticalAfterMs`), the escalation
 * once it passes `criticalAfterMs`; nothing otherwise, and nothing twice.
 */
export function assessOutage(
  health: StreamHealth,
  now: number,
  settings: StreamDownSettings,
  host: string,
  primary: readonly string[],
  /** The bot on that host does not answer (a leader that died blind): nothing restarts its stream. */
  botGone = false,
): OutageStep {
  if (health.up || health.told === 'critical') return { health };
  const downMs = now - health.since;
  if (downMs < settings.warnAfterMs) return { health };
  const lasting = downMs >= settings.criticalAfterMs;
  if (health.told === 'warning' && !lasting) return { health };
  const severity: Severity = lasting || primary.length > 0 ? 'critical' : 'warning';
  const wasPrimary =
    primary.length === 0 ? '' : ` ${host} was Primary of ${primary.join(', ')} when last seen.`;
  const text =
    health.told === undefined
      ? `The bot cannot see DRBD on ${host}: its event stream (drbdsetup events2) has been down for ` +
        `${formatDuration(downMs)}. Cause: ${health.cause}.${wasPrimary} ` +
        (botGone
          ? `The bot on ${host} does not answer, so nothing restarts the stream: changes on ${host} are ` +
            `seen only from the other side of the replication link. Check the bot on ${host} ` +
            '(`systemctl status drbd-chatops`) and drbdsetup (`drbdsetup events2 --now`).'
          : `Changes on ${host} are not reported until the stream is back; the bot keeps restarting it. ` +
            `Check drbdsetup on ${host} (\`drbdsetup events2 --now\`).`)
      : `Still blind on ${host}: the DRBD event stream has been down for ${formatDuration(downMs)}. ` +
        `Cause: ${health.cause}.${wasPrimary}`;
  return {
    health: { ...health, told: severity },
    notification: aboutStream(host, severity, now, text, {
      stream: health.told === undefined ? 'down' : 'still-down',
      downSince: new Date(health.since).toISOString(),
      downMs,
      cause: health.cause,
      primary: primary.length === 0 ? null : primary.join(','),
    }),
  };
}

/**
 * The stream is live again (its fresh dump is read). If people were told it was down, they are told
 * it is back: for how long it was down, why, and what changed meanwhile (`missed`: the changes
 * between the state before and the fresh dump; undefined when there was no state before, i.e. the
 * bot never saw this host since it started).
 */
export function streamBack(
  health: StreamHealth,
  at: number,
  host: string,
  missed: readonly string[] | undefined,
): OutageStep {
  if (health.up) return { health };
  const back: StreamHealth = { up: true, since: at };
  if (health.told === undefined) return { health: back };
  const downMs = at - health.since;
  const meanwhile =
    missed === undefined
      ? `This is the first DRBD state the bot has read on ${host} since it started.`
      : missed.length === 0
        ? 'Nothing changed meanwhile.'
        : `${missed.length} change${missed.length === 1 ? ' was' : 's were'} missed meanwhile: ${missed.join('; ')}.`;
  return {
    health: back,
    notification: aboutStream(
      host,
      'info',
      at,
      `The bot sees DRBD on ${host} again: its event stream is back after ${formatDuration(downMs)} ` +
        `(it was down: ${health.cause}). ${meanwhile}`,
      {
        stream: 'back',
        downSince: new Date(health.since).toISOString(),
        downMs,
        cause: health.cause,
        missed: missed?.length ?? null,
      },
    ),
  };
}

/** A notification about a host's event stream: a `watcher-gap` of the whole host (no resource). */
function aboutStream(
  host: string,
  severity: Severity,
  at: number,
  text: string,
  details: Notification['details'],
): Notification {
  return {
    kind: 'watcher-gap',
    severity,
    host,
    resource: null,
    text,
    details,
    at: new Date(at).toISOString(),
  };
}

/** The changes a person would have been told about, as the watcher's own gap report lists them. */
export function missedChanges(changes: readonly Change[]): string[] {
  return changes.filter((c) => c.type !== 'field' || c.old !== undefined).map(describeChange);
}

/** The cause of an ended stream as a sentence part: the exit, then what drbdsetup said. */
export function endingCause(reason: string, stderrTail: string): string {
  if (stderrTail === '') return reason;
  return `${reason}: "${stderrTail.replace(/\n/g, ' / ')}"`;
}

// ---- A leader that died blind ---------------------------------------------------------------------
// The leader watches its own stream. If it dies while blind, its watch dies with it and nobody else
// knows that host is unseen: the follower would take over and say nothing. So the leader records its
// stream in the pair's delivery record, and a new leader continues the former leader's outage from
// there while the former leader's instance does not answer; once it answers, its own watch speaks for
// its host again.

/** How long the other instance's stream must have been up before the leader calls the outage over. */
export const PEER_BACK_GRACE_MS = 5_000;

/**
 * A former leader's outage, continued by the new leader. The cause says that nobody watches that
 * host now. If people were told about the outage, they are told that too (a reply in the host's
 * incident); otherwise the warning comes when it is due, from `peerOutageStep`.
 */
export function outageTakenOver(
  health: StreamHealth,
  host: string,
  at: number,
  newLeader: string,
): OutageStep {
  if (health.up) return { health };
  const cause = `${health.cause}; then the bot on ${host} stopped leading (${newLeader} leads now)`;
  const taken: StreamHealth = { ...health, cause };
  if (health.told === undefined) return { health: taken };
  const downMs = Math.max(0, at - health.since);
  return {
    health: taken,
    notification: aboutStream(
      host,
      health.told,
      at,
      `Still blind on ${host}, and its bot stopped leading: the DRBD event stream there has been down ` +
        `for ${formatDuration(downMs)} (${health.cause}). ${newLeader} leads now and reports when the bot ` +
        `on ${host} answers again; until then changes on ${host} are seen only from ${newLeader}'s side ` +
        'of the replication link.',
      {
        stream: 'still-down',
        downSince: new Date(health.since).toISOString(),
        downMs,
        cause,
        leaderLost: true,
      },
    ),
  };
}

/** What the other instance said about its event stream when the leader asked (undefined: no answer). */
export interface PeerStream {
  readonly up: boolean;
  readonly since: number;
}

/**
 * The leader's watch over the other host's outage, each time it asks that host's instance.
 * - No answer: an outage taken over from a former leader goes on (warning, escalation, as
 *   `assessOutage`).
 * - An answer: that instance's own watch speaks for its host from now on, so this one stops; and if
 *   it sees DRBD (for a moment already, so its own resolution had time to arrive) while the host's
 *   incident is still open, the outage is over — said here, because a restarted instance never told
 *   anyone about it.
 */
export function peerOutageStep(input: {
  readonly health: StreamHealth | undefined;
  readonly peer: PeerStream | undefined;
  /** The host's open incident of its stream, with when it went down and why. */
  readonly open: { readonly since: number; readonly cause: string } | undefined;
  readonly now: number;
  readonly settings: StreamDownSettings;
  readonly host: string;
  readonly primary: readonly string[];
}): { readonly health: StreamHealth | undefined; readonly notification?: Notification } {
  const { health, peer, open, now, host } = input;
  if (peer === undefined) {
    if (health === undefined) return { health };
    return assessOutage(health, now, input.settings, host, input.primary, true);
  }
  if (!peer.up || open === undefined || now - peer.since < PEER_BACK_GRACE_MS) return { health: undefined };
  const downMs = Math.max(0, peer.since - open.since);
  return {
    health: undefined,
    notification: aboutStream(
      host,
      'info',
      now,
      `The bot sees DRBD on ${host} again: the bot there answers and its event stream is up, after ` +
        `${formatDuration(downMs)} unseen (${open.cause}). What changed meanwhile shows in \`status\`.`,
      {
        stream: 'back',
        downSince: new Date(open.since).toISOString(),
        downMs,
        cause: open.cause,
        missed: null,
      },
    ),
  };
}
