// The daemon's lifecycle: DRBD event stream → watcher → notifier (incidents, routes) → outbox → chat
// platforms, and chat commands back, as wired in compose.ts. Starts the parts in order (the DRBD
// view and the health endpoint first), connects chat only while this instance leads, stops cleanly
// on SIGTERM/SIGINT (a leader hands over to its follower at once, or delivers what it can within
// delivery.flushOnStopMs; the rest stays in the outbox for the next start) and reloads its
// configuration on SIGHUP without dropping state.

import type { AuditLog } from '../adapters/audit-log.js';
import type { Metrics } from '../adapters/metrics.js';
import type { OnCallStore } from '../adapters/oncall-store.js';
import type { OperationStore } from '../adapters/operation-store.js';
import type { Outbox } from '../adapters/outbox.js';
import type { StatusServer } from '../adapters/status-server.js';
import { type ConsoleStatus, hostStatus } from '../adapters/web-console/console-status.js';
import type { ElectionEvent } from '../core/leader.js';
import type { Notification } from '../core/notification.js';
import type {
  ChatPlatform,
  CommandHandler,
  CommandReply,
  IncomingCommand,
  PlatformName,
} from '../ports/chat.js';
import type { Announcer } from './announcements.js';
import { commandHandler } from './command-registry.js';
import { composeDaemon, type DaemonOptions, type DaemonParts } from './compose.js';
import { type Config, loadConfig } from './config.js';
import type { DeliveryReplica } from './delivery-replica.js';
import type { LeaderElector } from './leader-elector.js';
import type { Logger } from './log.js';
import type { Notifier } from './notifier.js';
import type { Operations } from './operations.js';
import type { Paging } from './paging.js';
import type { PairCoordinator } from './pair-coordinator.js';
import type { PeerLink } from './peer.js';
import type { Scheduler } from './scheduler.js';
import { type RunningWatch, startWatch } from './watch.js';

export type { DaemonOptions } from './compose.js';
export { resourceSettings } from './compose.js';

/** How long connecting chat waits at start-up for the first DRBD state to be read. */
const FIRST_STATE_WAIT_MS = 2_000;

/** Sections a reload cannot change while running: they take effect after a restart. */
const RESTART_SECTIONS = [
  'host',
  'drbd',
  'stateDir',
  'slack',
  'discord',
  'web',
  'resources',
  'lxd',
  'policies',
] as const;

export class Daemon {
  readonly #logger: Logger;
  readonly #platforms: ReadonlyMap<PlatformName, ChatPlatform>;
  readonly #configPath: string | undefined;
  readonly #onNotification: ((n: Notification) => void) | undefined;
  #config: Config;
  #watch: RunningWatch | undefined;
  #platformsStarted = false;
  #handler: CommandHandler | undefined;
  /** Leadership changes, applied one after another. */
  #leadership: Promise<void> = Promise.resolve();
  #pairTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  readonly #parts: DaemonParts;
  readonly #pair: PairCoordinator;
  readonly #announcer: Announcer;
  readonly #statusServer: StatusServer | undefined;
  readonly #stores: {
    readonly operations: OperationStore;
    readonly audit: AuditLog;
    readonly oncall: OnCallStore;
  };
  #statusListening = false;

  readonly outbox: Outbox;
  readonly notifier: Notifier;
  /** Present when the instances of a pair elect a leader; absent: this instance acts alone. */
  readonly elector: LeaderElector | undefined;
  /** The link to the other instance of the pair, when configured. */
  readonly peer: PeerLink | undefined;
  /** The pair's delivery record, kept by both instances (with a peer link). */
  readonly replica: DeliveryReplica | undefined;
  readonly operations: Operations;
  /** The on-call workflow: mentions, acknowledgements, repeats and escalation, silences, runbooks. */
  readonly paging: Paging;
  readonly scheduler: Scheduler;
  readonly metrics: Metrics;

  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.#configPath = options.configPath;
    this.#logger = options.logger;
    this.#platforms = options.platforms;
    this.#onNotification = options.onNotification;
    const parts = composeDaemon(options, {
      config: () => this.#config,
      watch: () => this.#watch,
      chatConnected: () => this.#platformsStarted,
      collect: (n) => this.#collect(n),
      onElection: (event) => this.#onElection(event),
    });
    this.#parts = parts;
    this.#pair = parts.pair;
    this.#announcer = parts.announcer;
    this.#statusServer = parts.statusServer;
    this.#stores = parts.stores;
    this.outbox = parts.outbox;
    this.notifier = parts.notifier;
    this.elector = parts.elector;
    this.peer = parts.peer;
    this.replica = parts.replica;
    this.operations = parts.operations;
    this.paging = parts.paging;
    this.scheduler = parts.scheduler;
    this.metrics = parts.metrics;
  }

  get config(): Config {
    return this.#config;
  }

  get watch(): RunningWatch | undefined {
    return this.#watch;
  }

  async start(): Promise<void> {
    await this.outbox.open();
    await this.#stores.audit.open();
    await this.operations.open();
    const handle = commandHandler(this.#parts.commandContext(), this.#logger.child({ part: 'commands' }));
    this.#handler = async (command, reply) => {
      const answer = await handle(command, reply);
      // The registry says which command it was and how it went; text that names no command is
      // counted as `unknown` (a label never comes from what someone typed).
      this.metrics.commandRun(answer.command ?? 'unknown', answer.outcome ?? 'ok');
      return answer;
    };
    await this.peer?.start();
    // The DRBD view and the health endpoint first: a daemon is healthy once it has read DRBD, and
    // that should not wait for a chat platform's library to load and connect.
    this.#watch = startWatch(this.#config, this.#logger.child({ part: 'events2' }), (n) => this.#collect(n), {
      onHealth: (health, primary) => {
        this.#pair.recordStream(health, primary).catch((err: Error) => {
          this.#logger.warn({ err }, 'could not record the event stream for the follower');
        });
      },
    });
    await this.#startStatusServer();
    if (this.elector === undefined) {
      await this.#startPlatforms();
    } else {
      // Only the leader connects to Slack Socket Mode / the Discord gateway and takes commands;
      // a follower keeps its state engine warm and its chat clients disconnected.
      this.elector.start();
    }
    // Open requests whose time ran out, or whose leader is gone, are closed on their messages.
    this.#sweepTimer = setInterval(() => {
      if (!this.#platformsStarted) return;
      this.operations.sweep().catch((err: Error) => this.#logger.error({ err }, 'expiring requests failed'));
    }, 15_000);
    if (this.elector !== undefined) {
      let choring = false;
      this.#pairTimer = setInterval(() => {
        // One round at a time: asking a peer that does not answer can outlast the period.
        if (choring) return;
        choring = true;
        this.#pair
          .chores()
          .catch((err: Error) => this.#logger.error({ err }, 'pair housekeeping failed'))
          .finally(() => {
            choring = false;
          });
      }, this.#config.leader.retryMs);
    }
    this.scheduler.start();
  }

  /** /metrics, /healthz, /readyz. A port in use is logged, not fatal: alerting matters more. */
  async #startStatusServer(): Promise<void> {
    const server = this.#statusServer;
    if (server === undefined) return;
    try {
      const address = await server.start();
      this.#statusListening = true;
      this.#logger.info({ host: address.address, port: address.port }, 'metrics and health listening');
    } catch (err) {
      this.#logger.error({ err, ...this.#config.status.listen }, 'metrics and health server could not start');
    }
  }

  /** Where /metrics listens (tests ask for port 0). */
  get statusAddress(): { host: string; port: number } | undefined {
    const address = this.#statusListening ? this.#statusServer?.address : undefined;
    return address === undefined ? undefined : { host: address.address, port: address.port };
  }

  /** The web console's status panel: both hosts' DRBD view, the leader, who is on call. */
  async consoleStatus(): Promise<ConsoleStatus> {
    const hosts = [hostStatus(this.#config.host, this.#watch?.watcher.watch.state)];
    const peerName = this.#config.peer?.name;
    if (peerName !== undefined) hosts.push(hostStatus(peerName, await this.peer?.peerState()));
    const state = this.elector?.state;
    return {
      leader: state === undefined || state.role === 'leader' ? this.#config.host : (state.leader ?? null),
      token: state?.token ?? 0,
      hosts,
      onCall: this.#parts.onCall().now.map((m) => m.name),
    };
  }

  /** Run a chat command as if it came from a platform (the console, tests). */
  async runCommand(command: IncomingCommand): Promise<CommandReply> {
    if (this.#handler === undefined) throw new Error('the daemon has not started');
    return this.#handler(command, { update: async () => {} });
  }

  /** Every notification of this host, counted, then to wherever the pair says it goes. */
  #collect(n: Notification): void {
    this.#onNotification?.(n);
    this.metrics.notified(n.kind, n.severity);
    this.#pair.take(n);
  }

  async #startPlatforms(): Promise<void> {
    if (this.#platformsStarted || this.#handler === undefined) return;
    this.#platformsStarted = true;
    // Loading a platform's library holds the event loop for a few hundred milliseconds: at start-up
    // the first DRBD state is read (and /healthz can say so) before that, unless it takes long.
    await this.#watch?.firstState(FIRST_STATE_WAIT_MS);
    for (const platform of this.#platforms.values()) {
      await platform.start(this.#handler);
      this.#logger.info({ platform: platform.name }, 'chat platform started');
    }
    // A request that was running when this instance stopped is reported, never continued.
    await this.operations.recover();
    await this.operations.sweep();
    // Scheduled slots nobody ran while leadership was changing hands run once, now.
    void this.scheduler.catchUp();
  }

  async #stopPlatforms(): Promise<void> {
    if (!this.#platformsStarted) return;
    this.#platformsStarted = false;
    for (const platform of this.#platforms.values()) await platform.stop();
  }

  #onElection(event: ElectionEvent): void {
    if (event.type === 'became-leader') {
      // Right away, not behind earlier leadership changes: the announcement goes first, within a
      // moment of taking the lease, and the delivery record starts a new term.
      this.replica?.lead();
    } else if (event.type === 'stepped-down') {
      this.replica?.follow();
    }
    // Connecting and disconnecting take time; changes are applied one after another, in order.
    this.#leadership = this.#leadership
      .then(async () => {
        if (event.type === 'became-leader') {
          await this.#announcer.announce(
            `${this.#config.host} leads, token ${event.token}${event.previous === null ? '' : `; previous leader ${event.previous}`}`,
            undefined,
            true,
          );
          this.outbox.wake();
          await this.#pair.continueRecord();
          // What this instance had not yet forwarded is its own to post now, after the record.
          this.peer?.flushNow();
          this.outbox.wake();
          await this.#startPlatforms();
        } else if (event.type === 'stepped-down') {
          await this.#stopPlatforms();
        }
      })
      .catch((err: Error) => this.#logger.error({ err }, 'could not apply a leadership change'));
  }

  /** Re-read the configuration; keep the old one when the new one is invalid. */
  async reload(): Promise<boolean> {
    try {
      const { config } = await loadConfig(this.#configPath);
      const needsRestart = RESTART_SECTIONS.filter(
        (key) => JSON.stringify(config[key]) !== JSON.stringify(this.#config[key]),
      );
      this.notifier.setRoutes(config.routes);
      this.#logger.level = config.log.level;
      this.#config = {
        ...this.#config,
        routes: config.routes,
        log: config.log,
        delivery: config.delivery,
        oncall: config.oncall,
        runbooks: config.runbooks,
        maintenance: config.maintenance,
      };
      this.#logger.info({ routes: config.routes.length, needsRestart }, 'configuration reloaded');
      if (needsRestart.length > 0) {
        this.#logger.warn(
          { sections: needsRestart },
          'these sections changed and take effect after a restart',
        );
      }
      return true;
    } catch (err) {
      this.#logger.error({ err }, 'configuration reload failed; keeping the running configuration');
      return false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#pairTimer);
    clearInterval(this.#sweepTimer);
    await this.scheduler.stop();
    if (this.#statusListening) await this.#statusServer?.stop();
    this.#statusListening = false;
    // A running change finishes (or fails and rolls back) before the chat clients go.
    await this.operations.idle();
    await this.#watch?.stop();
    // Whatever the watcher said last must reach the outbox before it stops.
    await new Promise((r) => setImmediate(r));
    await this.notifier.notify([]);
    // A leader with a follower that has the whole delivery record hands over at once instead of
    // flushing first: the follower posts what is left, after its announcement.
    const handedOver = await this.#pair.handOverOnStop();
    await this.outbox.stop(handedOver ? 0 : this.#config.delivery.flushOnStopMs);
    await this.elector?.stop();
    await this.#leadership;
    await this.peer?.stop();
    await this.#stopPlatforms();
    await this.#stores.operations.close();
    await this.#stores.audit.close();
    await this.#stores.oncall.close();
    this.#logger.info({ undelivered: this.outbox.depth }, 'stopped');
  }
}
