// The first runnable slice of the daemon: the live DRBD event stream through the watcher, each
// notification handed to a sink. Later the sink is the outbox towards Slack and Discord.

import { Events2Source } from '../adapters/events2-source.js';
import type { Notification } from '../core/notification.js';
import { HostWatcher } from '../core/watcher.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

export interface RunningWatch {
  readonly watcher: HostWatcher;
  /** The event stream runs and its dump has been read: changes from now on are seen live. */
  isLive(): boolean;
  stop(): Promise<void>;
}

export function startWatch(
  config: Config,
  logger: Logger,
  onNotification: (notification: Notification) => void,
): RunningWatch {
  const watcher = new HostWatcher(config.host);
  const source: Events2Source = new Events2Source({
    command: config.drbd.drbdsetup,
    args: config.drbd.events2Args,
    full: config.drbd.full,
    env: config.drbd.env,
    backoff: config.drbd.restartBackoff,
    logger,
    onRestart: (reason, at) => watcher.restarted(at, reason),
    onLine: (line, receivedAt) => {
      const result = watcher.feed(line, receivedAt);
      if (result.error !== undefined) {
        // Lenient with input: a bad line is logged and skipped, the stream goes on.
        logger.warn(
          { line: result.error.line, reason: result.error.reason },
          'skipping unparsable events2 line',
        );
      }
      for (const notification of result.notifications) onNotification(notification);
      if (result.resyncRequested === true) source.restart('events were skipped');
    },
  });
  source.start();
  return {
    watcher,
    isLive: () => source.streaming && watcher.watch.phase === 'live',
    stop: () => source.stop(),
  };
}
