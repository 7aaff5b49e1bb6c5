// The daemon: DRBD event stream → watcher → notifier (incidents, routes) → outbox → chat platforms,
// and chat commands back. Stops cleanly on SIGTERM/SIGINT (delivering what it can within
// delivery.flushOnStopMs; the rest stays in the outbox for the next start) and reloads its
// configuration on SIGHUP without dropping state.

import { join } from 'node:path';
import { COMMANDS } from '../../commands/index.js';
import { Outbox } from '../adapters/outbox.js';
import type { Notification } from '../core/notification.js';
import type { ChatPlatform, PlatformName } from '../ports/chat.js';
import { commandHandler } from './command-registry.js';
import { type Config, loadConfig } from './config.js';
import type { Logger } from './log.js';
import { Notifier } from './notifier.js';
import { type RunningWatch, startWatch } from './watch.js';

export interface DaemonOptions {
  readonly config: Config;
  readonly configPath: string | undefined;
  readonly logger: Logger;
  /** The chat platforms to use, already constructed (see platforms.ts). */
  readonly platforms: ReadonlyMap<PlatformName, ChatPlatform>;
  /** Called with every notification as the watcher produces it (tests, the demo). */
  readonly onNotification?: (n: Notification) => void;
}

export class Daemon {
  readonly #logger: Logger;
  readonly #platforms: ReadonlyMap<PlatformName, ChatPlatform>;
  readonly #configPath: string | undefined;
  #config: Config;
  readonly outbox: Outbox;
  readonly notifier: Notifier;
  #watch: RunningWatch | undefined;
  #batch: Notification[] = [];
  #flushScheduled = false;
  #onNotification: ((n: Notification) => void) | undefined;

  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.#configPath = options.configPath;
    this.#logger = options.logger;
    this.#platforms = options.platforms;
    this.#onNotification = options.onNotification;
    const delivery = options.config.delivery;
    this.outbox = new Outbox({
      dir: join(options.config.stateDir, 'outbox'),
      platforms: options.platforms,
      logger: options.logger.child({ part: 'outbox' }),
      minIntervalMs: { slack: delivery.slackIntervalMs, discord: delivery.discordIntervalMs, console: 0 },
      backoff: delivery.retry,
    });
    this.notifier = new Notifier({
      stateDir: options.config.stateDir,
      routes: options.config.routes,
      outbox: this.outbox,
    });
  }

  get config(): Config {
    return this.#config;
  }

  get watch(): RunningWatch | undefined {
    return this.#watch;
  }

  async start(): Promise<void> {
    await this.outbox.open();
    const handler = commandHandler(
      {
        host: this.#config.host,
        hosts: () => (this.#watch === undefined ? [] : [this.#watch.watcher.watch.state]),
        incidents: () => this.notifier.incidents,
        commands: COMMANDS,
        now: Date.now,
      },
      this.#logger.child({ part: 'commands' }),
    );
    for (const platform of this.#platforms.values()) {
      await platform.start(handler);
      this.#logger.info({ platform: platform.name }, 'chat platform started');
    }
    this.#watch = startWatch(this.#config, this.#logger.child({ part: 'events2' }), (n) => this.#collect(n));
  }

  /**
   * Notifications of one burst of lines are written to the outbox together: one fsync for the
   * batch instead of one per notification.
   */
  #collect(n: Notification): void {
    this.#onNotification?.(n);
    this.#batch.push(n);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const batch = this.#batch;
      this.#batch = [];
      this.notifier.notify(batch).catch((err: Error) => {
        this.#logger.error(
          { err, notifications: batch.length },
          'could not write notifications to the outbox',
        );
      });
    });
  }

  /** Re-read the configuration; keep the old one when the new one is invalid. */
  async reload(): Promise<boolean> {
    try {
      const { config } = await loadConfig(this.#configPath);
      const needsRestart = (['host', 'drbd', 'stateDir', 'slack', 'discord'] as const).filter(
        (key) => JSON.stringify(config[key]) !== JSON.stringify(this.#config[key]),
      );
      this.notifier.setRoutes(config.routes);
      this.#logger.level = config.log.level;
      this.#config = { ...this.#config, routes: config.routes, log: config.log, delivery: config.delivery };
      this.#logger.info({ routes: config.routes.length, needsRestart }, 'configuration reloaded');
      if (needsRestart.length > 0) {
        this.#logger.warn(
          { sections: needsRestart },
          'these sections changed and take effect after a restart',
        );
      }
      return true;
    } catch (err) {
      this.#logger.error(
        { err: (err as Error).message },
        'configuration reload failed; keeping the running configuration',
      );
      return false;
    }
  }

  async stop(): Promise<void> {
    await this.#watch?.stop();
    // Whatever the watcher said last must reach the outbox before it stops.
    await new Promise((r) => setImmediate(r));
    await this.notifier.notify([]);
    await this.outbox.stop(this.#config.delivery.flushOnStopMs);
    for (const platform of this.#platforms.values()) await platform.stop();
    this.#logger.info({ undelivered: this.outbox.depth }, 'stopped');
  }
}
