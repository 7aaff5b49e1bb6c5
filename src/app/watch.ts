// The live DRBD event stream through the watcher, each notification handed to a sink (the daemon's
// notifier or peer link, the CLI's printer). Also keeps watch over the stream itself: while it is
// down the host is unseen, and that is said like any other alert (core/stream-health.ts), through
// the same sink, so a follower's blindness reaches the leader the way its other notifications do.

import { Events2Source, type StreamEnding } from '../adapters/events2-source.js';
import type { HostState } from '../core/host-state.js';
import type { Notification } from '../core/notification.js';
import {
  assessOutage,
  blindMs,
  DEFAULT_STREAM_DOWN,
  endingCause,
  missedChanges,
  outageCheckAt,
  primaryOf,
  type StreamHealth,
  streamBack,
  streamLost,
  watchingStarted,
} from '../core/stream-health.js';
import { HostWatcher } from '../core/watcher.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

/** Whether the host is seen, since when, and if not, why. */
export interface StreamStatus {
  /** The stream runs and its dump has been read: changes are seen as they happen. */
  readonly up: boolean;
  /** Since when it is up, or since when the host is unseen. */
  readonly since: number;
  /** Why it is down (drbdsetup's exit and stderr); absent while up. */
  readonly cause?: string;
}

export interface RunningWatch {
  readonly watcher: HostWatcher;
  /** The event stream runs and its dump has been read: changes from now on are seen live. */
  isLive(): boolean;
  stream(): StreamStatus;
  /** The stream's health as the outage rules keep it (who was told what). */
  health(): StreamHealth;
  /**
   * The last DRBD state seen: the current one while live; during an outage the one from before it
   * (the watcher's own state is being rebuilt from the fresh dump); undefined before the first dump.
   */
  lastKnownState(): HostState | undefined;
  /**
   * Resolves true once the first DRBD state has been read, or false after `timeoutMs` (a stream that
   * does not start is reported by the outage rules, not by waiting here).
   */
  firstState(timeoutMs: number): Promise<boolean>;
  /** Seconds since `lastKnownState()` was last known to be current: 0 while live. */
  stateAgeSeconds(now?: number): number | undefined;
  stop(): Promise<void>;
}

export interface WatchHooks {
  /** The clock (tests inject). */
  readonly now?: () => number;
  /**
   * The stream's health changed (lost, people told, back), with the resources the host was Primary
   * of when last seen: the leader records it in the pair's delivery record, so that a new leader
   * can continue an outage this instance can no longer report (it died blind).
   */
  readonly onHealth?: (health: StreamHealth, primary: readonly string[]) => void;
}

export function startWatch(
  config: Config,
  logger: Logger,
  onNotification: (notification: Notification) => void,
  hooks: WatchHooks = {},
): RunningWatch {
  const now = hooks.now ?? Date.now;
  const host = config.host;
  const settings = config.drbd.streamDown ?? DEFAULT_STREAM_DOWN;
  const watcher = new HostWatcher(host);
  let health: StreamHealth = watchingStarted(now());
  const setHealth = (next: StreamHealth): void => {
    if (next === health) return;
    health = next;
    hooks.onHealth?.(health, primaryOf(lastKnownState()));
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let seen = false;
  const waiting: (() => void)[] = [];

  const lastKnownState = (): HostState | undefined => {
    const watch = watcher.watch;
    if (watch.phase === 'live') return watch.state;
    return watch.phase === 'resync-dump' ? watch.baseline : undefined;
  };

  // One timer, armed for the next thing there is to say about the outage.
  const arm = (): void => {
    clearTimeout(timer);
    timer = undefined;
    const at = outageCheckAt(health, settings);
    if (at === undefined || stopped) return;
    timer = setTimeout(check, Math.max(0, at - now()));
  };
  const check = (): void => {
    timer = undefined;
    const step = assessOutage(health, now(), settings, host, primaryOf(lastKnownState()));
    setHealth(step.health);
    if (step.notification !== undefined) {
      logger.warn(
        {
          severity: step.notification.severity,
          downMs: step.notification.details.downMs,
          cause: health.up ? undefined : health.cause,
        },
        'DRBD event stream down: the host is not seen',
      );
      onNotification(step.notification);
    }
    arm();
  };
  const onEnded = (ending: StreamEnding): void => {
    setHealth(streamLost(health, ending.at, endingCause(ending.reason, ending.stderrTail)));
    arm();
  };

  const source: Events2Source = new Events2Source({
    command: config.drbd.drbdsetup,
    args: config.drbd.events2Args,
    full: config.drbd.full,
    env: config.drbd.env,
    backoff: config.drbd.restartBackoff,
    logger,
    onEnded,
    onRestart: (reason, at) => watcher.restarted(at, reason),
    onLine: (line, receivedAt) => {
      const before = watcher.watch;
      const result = watcher.feed(line, receivedAt);
      if (result.error !== undefined) {
        // Lenient with input: a bad line is logged and skipped, the stream goes on.
        logger.warn(
          { line: result.error.line, reason: result.error.reason },
          'skipping unparsable events2 line',
        );
      }
      let notifications = result.notifications;
      if (before.phase !== 'live' && result.watch.phase === 'live') {
        if (!seen) {
          seen = true;
          for (const resolve of waiting.splice(0)) resolve();
        }
        // Seen again. If people were told the host was unseen, the resolution replaces the watcher's
        // own "it was blind for N s" report: one message that says it all.
        const step = streamBack(
          health,
          receivedAt,
          host,
          before.phase === 'resync-dump' ? missedChanges(result.changes) : undefined,
        );
        if (step.notification !== undefined) {
          logger.info({ downMs: step.notification.details.downMs }, 'DRBD event stream back');
          notifications = [
            step.notification,
            ...notifications.filter((n) => !(n.kind === 'watcher-gap' && 'blindMs' in n.details)),
          ];
        }
        setHealth(step.health);
        arm();
      }
      for (const notification of notifications) onNotification(notification);
      if (result.resyncRequested === true) source.restart('events were skipped');
    },
  });
  source.start();
  arm();
  return {
    watcher,
    isLive: () => source.streaming && watcher.watch.phase === 'live',
    stream: () =>
      health.up ? { up: true, since: health.since } : { up: false, since: health.since, cause: health.cause },
    health: () => health,
    firstState: (timeoutMs) =>
      seen
        ? Promise.resolve(true)
        : new Promise<boolean>((resolve) => {
            const done = () => {
              clearTimeout(giveUp);
              resolve(true);
            };
            const giveUp = setTimeout(() => {
              const at = waiting.indexOf(done);
              if (at >= 0) waiting.splice(at, 1);
              resolve(false);
            }, timeoutMs);
            waiting.push(done);
          }),
    lastKnownState,
    stateAgeSeconds: (at = now()) =>
      lastKnownState() === undefined ? undefined : blindMs(health, at) / 1_000,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      return source.stop();
    },
  };
}

/** Why the host is unseen, for /healthz and logs: since when, for how long, and the cause. */
export function streamDownReason(host: string, status: StreamStatus, now: number = Date.now()): string {
  const since = new Date(status.since).toISOString();
  const seconds = Math.round(Math.max(0, now - status.since) / 1_000);
  return (
    `the DRBD event stream on ${host} is down since ${since} (${seconds} s): ` +
    `${status.cause ?? 'restarting'}; the bot keeps restarting it`
  );
}
