// The daemon: DRBD event stream → watcher → notifier (incidents, routes) → outbox → chat platforms,
// and chat commands back. Stops cleanly on SIGTERM/SIGINT (delivering what it can within
// delivery.flushOnStopMs; the rest stays in the outbox for the next start) and reloads its
// configuration on SIGHUP without dropping state.

import { join } from 'node:path';
import { AuditLog } from '../adapters/audit-log.js';
import { handoverClock } from '../adapters/cron.js';
import { runForOutput } from '../adapters/exec.js';
import { CommandHost } from '../adapters/host.js';
import type { TornTail } from '../adapters/journal.js';
import { LxcCli } from '../adapters/lxd.js';
import { Metrics } from '../adapters/metrics.js';
import { OnCallStore } from '../adapters/oncall-store.js';
import { OperationStore } from '../adapters/operation-store.js';
import { type Gate, Outbox } from '../adapters/outbox.js';
import { StatusServer } from '../adapters/status-server.js';
import { type ConsoleStatus, hostStatus } from '../adapters/web-console/status.js';
import type { OutboxEntry } from '../core/delivery.js';
import { digestMessage } from '../core/digest.js';
import type { HostState } from '../core/host-state.js';
import { hostIncidentKey } from '../core/incidents.js';
import type { ElectionEvent } from '../core/leader.js';
import type { Message } from '../core/message.js';
import type { Notification } from '../core/notification.js';
import { escalationLevels } from '../core/oncall-workflow.js';
import { chores, intake, type PairSituation, voice } from '../core/pair-voice.js';
import { type HandoverClock, onCall, type Roster } from '../core/policy.js';
import {
  DEFAULT_STREAM_DOWN,
  outageTakenOver,
  peerOutageStep,
  primaryOf,
  type StreamHealth,
} from '../core/stream-health.js';
import { formatTime, MESSAGE_TIME_ZONE } from '../core/text.js';
import type {
  ChatPlatform,
  CommandHandler,
  CommandReply,
  IncomingCommand,
  PlatformName,
} from '../ports/chat.js';
import type { ContainerRuntime } from '../ports/containers.js';
import type { HostOps } from '../ports/host.js';
import type { LockStore } from '../ports/lock.js';
import {
  type CommandContext,
  type CommandDefinition,
  type ContainersView,
  commandHandler,
  type LeadershipView,
  type ResourceSettings,
} from './command-registry.js';
import { type Config, loadConfig, slashNamings } from './config.js';
import { localContainers, mergeContainerViews } from './containers.js';
import { DeliveryReplica } from './delivery-replica.js';
import { LeaderElector } from './leader-elector.js';
import { createLockStore } from './lock-store.js';
import type { Logger } from './log.js';
import { Notifier, type OperationThread } from './notifier.js';
import { Operations } from './operations.js';
import { Paging, pagingConfigOf, tickInterval } from './paging.js';
import { PeerLink } from './peer.js';
import { type ScheduledJob, Scheduler } from './scheduler.js';
import { runAction, StepFailed } from './steps.js';

/** How long a forced failover holds the resource's fence lock. */
const FENCE_TTL_MS = 60 * 60_000;

import { type RunningWatch, startWatch, streamDownReason } from './watch.js';

export interface DaemonOptions {
  readonly config: Config;
  readonly configPath: string | undefined;
  readonly logger: Logger;
  /** The chat platforms to use, already constructed (see platforms.ts). */
  readonly platforms: ReadonlyMap<PlatformName, ChatPlatform>;
  /** Called with every notification as the watcher produces it (tests, the demo). */
  readonly onNotification?: (n: Notification) => void;
  /** A lock store to elect the leader with (tests); otherwise built from `config.lock`. */
  readonly lockStore?: LockStore;
  /** The LXD daemons of the resources (the demo's simulated ones); otherwise lxc per config.resources. */
  readonly containers?: ContainerRuntime;
  /** DRBD roles, mounts and the LXD daemons for failovers (the demo's simulated host); otherwise commands per config. */
  readonly host?: HostOps;
  /** The chat commands, chosen once by the entry point (the demo adds its fault injection). */
  readonly commands: readonly CommandDefinition[];
}

/** The configured resources with their defaults filled in (the recipe's /r0/lxd). */
export function resourceSettings(config: Config): Record<string, ResourceSettings> {
  return Object.fromEntries(
    Object.entries(config.resources).map(([name, r]) => [
      name,
      {
        lxdDir: r.lxdDir ?? `/${name}/lxd`,
        subnets: r.subnets,
        mountPoint: r.mountPoint ?? `/${name}`,
        device: r.device ?? `/dev/drbd/by-res/${name}/0`,
        lxdUnit: r.lxdUnit ?? `${name}lxd`,
        ...(r.commands.lxdStart !== undefined || r.commands.lxdStop !== undefined
          ? { lxdCommands: true }
          : {}),
      },
    ]),
  );
}

function rosterOf(config: Config): Roster {
  const o = config.oncall;
  return {
    team: o.team,
    schedule:
      o.rotation !== undefined
        ? { kind: 'rotation', ...o.rotation }
        : o.static !== undefined
          ? { kind: 'static', onCall: o.static }
          : { kind: 'none' },
  };
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
  /** Present when the instances of a pair elect a leader; absent: this instance acts alone. */
  readonly elector: LeaderElector | undefined;
  #platformsStarted = false;
  #handler: CommandHandler | undefined;
  #leadership: Promise<void> = Promise.resolve();
  readonly #lockStore: LockStore | undefined;
  #pairTimer: NodeJS.Timeout | undefined;
  /** An outage of the other host's stream this instance took over from a former leader that died blind. */
  #peerOutage: { host: string; health: StreamHealth; primary: readonly string[] } | undefined;
  /** A follower's criticals without a peer link, kept in case nobody turns out to lead. */
  #heldCriticals: Notification[] = [];
  /** The link to the other instance of the pair, when configured. */
  readonly peer: PeerLink | undefined;
  /** The pair's delivery record, kept by both instances (with a peer link). */
  readonly replica: DeliveryReplica | undefined;
  readonly operations: Operations;
  readonly #containers: ContainerRuntime | undefined;
  readonly #commands: readonly CommandDefinition[];
  readonly #host: HostOps | undefined;
  readonly #operationStore: OperationStore;
  readonly #audit: AuditLog;
  /** The on-call workflow: mentions, acknowledgements, repeats and escalation, silences, runbooks. */
  readonly paging: Paging;
  readonly #oncallStore: OnCallStore;
  readonly #clock: HandoverClock | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  readonly scheduler: Scheduler;
  readonly metrics: Metrics;
  #statusServer: StatusServer | undefined;

  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.#configPath = options.configPath;
    this.#logger = options.logger;
    this.#platforms = options.platforms;
    this.#onNotification = options.onNotification;
    this.#commands = options.commands;
    const delivery = options.config.delivery;
    this.outbox = new Outbox({
      dir: join(options.config.stateDir, 'outbox'),
      platforms: options.platforms,
      logger: options.logger.child({ part: 'outbox' }),
      minIntervalMs: {
        slack: delivery.slackIntervalMs,
        discord: delivery.discordIntervalMs,
        console: 0,
        web: 0,
      },
      backoff: delivery.retry,
      gate: (entry) => this.#gate(entry),
      record: (records) => this.replica?.record(records) ?? Promise.resolve(),
      onDelivered: (entry, confirmedAt) =>
        this.metrics.observeDelivery(entry.platform, (confirmedAt - entry.createdAt) / 1_000),
      onFailed: (entry, error) => this.metrics.deliveryFailed(entry.platform, error.retryable),
    });
    const store =
      options.lockStore ??
      (options.config.lock === undefined ? undefined : createLockStore(options.config.lock));
    this.#lockStore = store;
    this.elector =
      store === undefined
        ? undefined
        : new LeaderElector({
            store,
            key: options.config.leader.key,
            self: options.config.host,
            settings: options.config.leader,
            logger: options.logger.child({ part: 'leader' }),
            onEvent: (event) => this.#onElection(event),
          });
    const resources = resourceSettings(options.config);
    this.#containers =
      options.containers ??
      (Object.keys(resources).length === 0
        ? undefined
        : new LxcCli({
            host: options.config.host,
            resources,
            lxc: options.config.lxd.lxc,
            timeoutMs: {
              list: options.config.lxd.commandTimeoutMs,
              stop: options.config.lxd.commandTimeoutMs,
              start: options.config.lxd.commandTimeoutMs,
              config: options.config.lxd.commandTimeoutMs,
            },
          }));
    const drbd = options.config.drbd;
    this.#host =
      options.host ??
      (Object.keys(resources).length === 0
        ? undefined
        : new CommandHost({
            drbdadm: drbd.drbdadm,
            drbdadmArgs: drbd.drbdadmArgs,
            env: drbd.env,
            timeoutMs: drbd.commandTimeoutMs,
            serviceTimeoutMs: options.config.lxd.commandTimeoutMs,
            resources: Object.fromEntries(
              Object.entries(resources).map(([name, r]) => [
                name,
                { ...r, commands: options.config.resources[name]?.commands ?? {} },
              ]),
            ),
          }));
    const rotation = options.config.oncall.rotation;
    this.#clock = rotation === undefined ? undefined : handoverClock(rotation.handover);
    this.peer =
      options.config.peer === undefined
        ? undefined
        : new PeerLink({
            config: options.config.peer,
            stateDir: options.config.stateDir,
            logger: options.logger.child({ part: 'peer' }),
            leading: () => this.elector?.mayAct() ?? true,
            ingest: (notifications) => this.notifier.notify(notifications),
            receiveLedger: (push) => {
              if (this.replica === undefined) throw new Error('no delivery record');
              return this.replica.receive(push);
            },
            onReleased: () => this.elector?.attemptNow(),
            adopt: (entries) => this.#adopt(entries),
            localState: () => this.#watch?.watcher.watch.state,
            localStream: () => this.#watch?.stream(),
            localContainers: () => this.#localContainers(),
            runLocalStep: (action) => this.#runLocalStep(action),
            reconcileLocal: () => this.#reconcileLocal(),
            preflight: (resource) => this.#localPreflight(resource),
            adoptOperation: (op) => this.operations.adopt(op),
            jobDone: (job, slot) => this.scheduler.record(job, slot),
            onRefused: (reason) => this.metrics.peerRefused(reason),
          });
    this.replica =
      this.peer === undefined
        ? undefined
        : new DeliveryReplica({
            self: options.config.host,
            send: (push) => {
              if (this.peer === undefined) throw new Error('no peer link');
              return this.peer.pushLedger(push);
            },
            logger: options.logger.child({ part: 'delivery-record' }),
          });
    this.notifier = new Notifier({
      stateDir: options.config.stateDir,
      routes: options.config.routes,
      outbox: this.outbox,
      operations: () => this.#operationThreads(),
      ...(this.replica === undefined
        ? {}
        : {
            record: (records) => this.replica?.record(records) ?? Promise.resolve(),
            seen: (key) => this.replica?.ledger.seen.has(key) === true,
          }),
      review: (n, entries, context) => this.paging.review(n, entries, context),
    });
    const repaired = (journal: string) => (torn: TornTail) =>
      this.#logger.warn(
        { journal, bytes: torn.bytes, movedTo: torn.movedTo },
        'torn last line (crash mid-write) moved aside; the next record starts on its own line',
      );
    this.#operationStore = new OperationStore(join(options.config.stateDir, 'operations.ndjson'), {
      onRepair: repaired('operations'),
    });
    this.#audit = new AuditLog(join(options.config.stateDir, 'audit.ndjson'), {
      onRepair: repaired('audit'),
    });
    this.#oncallStore = new OnCallStore(options.config.stateDir, { onRepair: repaired('muted') });
    this.paging = new Paging({
      host: options.config.host,
      store: this.#oncallStore,
      audit: this.#audit,
      outbox: this.outbox,
      incidents: () => this.notifier.incidents,
      config: () => pagingConfigOf(this.#config),
      levels: (now) => escalationLevels(rosterOf(this.#config), now, this.#clock),
      resources: async () => [
        ...new Set([
          ...Object.keys(this.#config.resources),
          ...(await this.#hosts()).flatMap((h) => Object.keys(h.resources)),
        ]),
      ],
      logger: options.logger.child({ part: 'paging' }),
      // Acknowledgements and silences go on when the other instance takes over.
      record: (state) => this.replica?.record([{ oncall: state }]) ?? Promise.resolve(),
    });
    const lxd = {
      stopTimeoutS: options.config.lxd.stopTimeoutS,
      verifyTimeoutMs: options.config.lxd.verifyTimeoutMs,
    };
    this.operations = new Operations({
      host: options.config.host,
      store: this.#operationStore,
      audit: this.#audit,
      commands: this.#commands,
      policies: options.config.policies,
      chat: (platform) => (this.#platformsStarted ? this.#platforms.get(platform) : undefined),
      runStep: (action, host, token) => this.#runStep(action, host, token),
      token: () => this.elector?.state.token ?? 0,
      roster: () => ({ team: this.#config.oncall.team, onCallNow: this.#onCall().now }),
      context: () => this.#commandContext(),
      planContext: { host: options.config.host, resources, lxd },
      logger: options.logger.child({ part: 'operations' }),
      onOutcome: (command, outcome) => this.#logger.info({ command, outcome }, 'change finished'),
      ...(this.peer === undefined
        ? {}
        : { replicate: (op) => this.peer?.replicateOperation(op) ?? Promise.resolve() }),
    });
    this.metrics = new Metrics({
      host: options.config.host,
      // The last state seen stays exported while the stream is down, marked with its age.
      state: () => this.#watch?.lastKnownState(),
      stream: () => ({
        up: this.#watch?.isLive() === true,
        stateAgeSeconds: this.#watch?.stateAgeSeconds(),
      }),
      leader: () => ({ leads: this.elector?.mayAct() ?? true, token: this.elector?.state.token ?? 0 }),
      outboxDepth: () => this.outbox.depth,
      platforms: [...options.platforms.keys()],
    });
    this.scheduler = new Scheduler({
      jobs: this.#scheduledJobs(),
      tickers: [
        {
          name: 'paging',
          everyMs: tickInterval(pagingConfigOf(options.config).settings),
          run: (now) => this.paging.tick(now),
        },
      ],
      stateDir: options.config.stateDir,
      leading: () => this.#platformsStarted && (this.elector?.mayAct() ?? true),
      logger: options.logger.child({ part: 'scheduler' }),
      ...(this.peer === undefined
        ? {}
        : {
            tellPeer: (job: string, slot: string) => this.peer?.tellJobDone(job, slot) ?? Promise.resolve(),
          }),
    });
  }

  #scheduledJobs(): ScheduledJob[] {
    const config = this.#config;
    const jobs: ScheduledJob[] = [];
    if (config.schedules.reconcile !== null) {
      jobs.push({
        name: 'reconcile',
        cron: config.schedules.reconcile,
        run: async () => {
          await this.#reconcileLocal();
          await this.peer?.askReconcile(this.elector?.state.token ?? 0);
        },
      });
    }
    if (config.schedules.digest !== null) {
      // A digest missed while nobody led (up to 6 hours) is posted by the next leader.
      jobs.push({
        name: 'digest',
        cron: config.schedules.digest,
        catchUpMs: 6 * 3_600_000,
        run: (slot) => this.#digest(slot),
      });
    }
    const rotation = config.oncall.rotation;
    if (rotation !== undefined && config.oncall.announce) {
      jobs.push({
        name: 'oncall-handover',
        cron: rotation.handover,
        catchUpMs: 3_600_000,
        run: async (slot) => {
          const roster = this.#onCall();
          const names = (people: readonly { name: string }[]) =>
            people.map((m) => m.name).join(', ') || 'nobody';
          await this.#announce(
            `On call now: ${names(roster.now)}${roster.handoverAt === null ? '' : ` (next: ${names(roster.next)} from ${formatTime(roster.handoverAt, MESSAGE_TIME_ZONE)})`}`,
            `handover:${slot.toISOString()}`,
          );
        },
      });
    }
    return jobs;
  }

  /** Compare this host's engine with `drbdsetup events2 --now`; differences become notifications. */
  async #reconcileLocal(): Promise<void> {
    const watch = this.#watch;
    if (watch === undefined || !watch.isLive()) return;
    const drbd = this.#config.drbd;
    const { stdout } = await runForOutput(drbd.drbdsetup, ['events2', '--now'], {
      timeoutMs: drbd.commandTimeoutMs,
      env: drbd.env,
    });
    const result = watch.watcher.reconcile(stdout.split('\n'), Date.now());
    if (result.notifications.length > 0) {
      this.#logger.warn({ differences: result.changes.length }, 'reconciliation found differences');
    }
    for (const n of result.notifications) this.#collect(n);
  }

  /** Every host's DRBD view this instance has: its own, and its peer's when the peer answers. */
  async #hosts(): Promise<HostState[]> {
    const own = this.#watch === undefined ? [] : [this.#watch.watcher.watch.state];
    const peer = await this.peer?.peerState();
    return peer === undefined ? own : [...own, peer];
  }

  async #digest(slot: Date): Promise<void> {
    const hosts = await this.#hosts();
    const peerName = this.#config.peer?.name;
    let lockStoreProblem: string | null = null;
    if (this.#lockStore !== undefined) {
      try {
        await this.#lockStore.read(this.#config.leader.key);
      } catch (err) {
        lockStoreProblem = (err as Error).message;
      }
    }
    const view = await this.#leadershipView();
    const message = digestMessage({
      now: Date.now(),
      hosts,
      silent: peerName !== undefined && !hosts.some((h) => h.host === peerName) ? [peerName] : [],
      incidents: this.notifier.incidents,
      operations: this.operations.list(),
      outbox: { depth: this.outbox.depth, deadLetters: this.outbox.deadLetters },
      leader: { host: view.leader, token: view.token },
      lockStoreProblem,
      onCall: this.#onCall().now.map((m) => m.name),
    });
    await this.#postToRoutes(message, `digest:${slot.toISOString()}`);
  }

  #onCall() {
    return onCall(rosterOf(this.#config), new Date(), this.#clock);
  }

  async #localContainers(): Promise<ContainersView> {
    if (this.#containers === undefined) return { containers: [], resources: [] };
    return localContainers(
      this.#containers,
      this.#watch?.watcher.watch.state,
      Object.keys(this.#config.resources),
      this.#config.host,
    );
  }

  async #allContainers(): Promise<ContainersView> {
    const own = await this.#localContainers();
    if (this.peer === undefined) return own;
    return mergeContainerViews(own, await this.peer.peerContainers(), this.#config.peer?.name ?? 'the peer');
  }

  async #runLocalStep(action: Parameters<typeof runAction>[0]) {
    if (this.#containers === undefined) throw new Error(`${this.#config.host} manages no LXD resources`);
    const store = this.#lockStore;
    return runAction(action, {
      containers: this.#containers,
      ...(this.#host === undefined ? {} : { host: this.#host }),
      state: () => this.#watch?.watcher.watch.state,
      ...(store === undefined
        ? {}
        : { fence: (resource, holder, take) => this.#fence(store, resource, holder, take) }),
    });
  }

  /**
   * Take or give back a resource's fence lock (the recipe's: a disconnected node may only become
   * Primary while holding it). Held for FENCE_TTL_MS; the recipe's own scripts take over from there.
   */
  async #fence(store: LockStore, resource: string, holder: string, take: boolean) {
    const started = performance.now();
    const argv = ['lock-store', take ? 'acquire' : 'release', resource, holder];
    if (!take) {
      await store.release(resource, holder);
      return [{ argv, exitCode: 0, durationMs: performance.now() - started, stdout: '', stderr: '' }];
    }
    const lease = await store.acquireOrRenew(resource, holder, FENCE_TTL_MS);
    const run = {
      argv,
      exitCode: lease.held ? 0 : 1,
      durationMs: performance.now() - started,
      stdout: lease.held ? `held by ${holder}, token ${lease.token}` : '',
      stderr: lease.held ? '' : `held by ${lease.holder ?? 'nobody'}`,
    };
    if (!lease.held) {
      throw new StepFailed(`the fence lock of ${resource} is held by ${lease.holder ?? 'someone else'}`, [
        run,
      ]);
    }
    return [run];
  }

  async #localPreflight(resource: string) {
    if (this.#host === undefined) {
      return [{ name: 'failover', ok: false, detail: `${this.#config.host} is not set up for failovers` }];
    }
    return this.#host.preflight(resource);
  }

  async #runStep(action: Parameters<typeof runAction>[0], host: string, token: number) {
    if (host === this.#config.host) return this.#runLocalStep(action);
    if (this.peer !== undefined && host === this.#config.peer?.name) {
      const lxd = this.#config.lxd;
      const timeout =
        action.kind === 'drbd-wait-synced'
          ? action.timeoutMs + 10_000
          : 2 * lxd.commandTimeoutMs + lxd.verifyTimeoutMs;
      return this.peer.runStep(action, token, timeout);
    }
    throw new Error(`no way to run a step on ${host}: it is neither this host nor the peer`);
  }

  #commandContext(): CommandContext {
    const config = this.#config;
    return {
      host: config.host,
      hosts: () => this.#hosts(),
      incidents: () => this.notifier.incidents,
      ...(this.#lockStore === undefined ? {} : { leadership: () => this.#leadershipView() }),
      commands: this.#commands,
      now: Date.now,
      slashCommands: slashNamings(config),
      resources: resourceSettings(config),
      ...(this.#containers === undefined && this.peer === undefined
        ? {}
        : { containers: () => this.#allContainers() }),
      team: config.oncall.team,
      onCall: () => this.#onCall(),
      preflight: async (host, resource) => {
        if (host === config.host) return this.#localPreflight(resource);
        if (this.peer !== undefined && host === config.peer?.name) return this.peer.peerPreflight(resource);
        return { unreachable: `${host} is neither this host nor its peer` };
      },
      ...(config.peer === undefined ? {} : { peerName: config.peer.name }),
      operations: this.operations,
      paging: this.paging,
      lxd: { stopTimeoutS: config.lxd.stopTimeoutS, verifyTimeoutMs: config.lxd.verifyTimeoutMs },
    };
  }

  get config(): Config {
    return this.#config;
  }

  get watch(): RunningWatch | undefined {
    return this.#watch;
  }

  async start(): Promise<void> {
    await this.outbox.open();
    await this.#audit.open();
    await this.operations.open();
    const context = this.#commandContext();
    const handle = commandHandler(context, this.#logger.child({ part: 'commands' }));
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
      onHealth: (health, primary) => this.#recordStream(health, primary),
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
        this.#pairChores()
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
    const status = this.#config.status;
    if (!status.enabled) return;
    const server = new StatusServer({
      host: status.listen.host,
      port: status.listen.port,
      metrics: this.metrics,
      logger: this.#logger.child({ part: 'status' }),
      health: () => ({
        eventSource:
          this.#watch?.isLive() === true
            ? { ok: true }
            : {
                ok: false,
                reason:
                  this.#watch === undefined
                    ? 'the DRBD event stream is not started yet'
                    : streamDownReason(this.#config.host, this.#watch.stream()),
              },
      }),
      ready: () => ({
        leader:
          this.elector === undefined || this.elector.mayAct()
            ? { ok: true }
            : { ok: false, reason: 'another instance leads (or none can be elected)' },
        chat: this.#platformsStarted ? { ok: true } : { ok: false, reason: 'chat platforms not connected' },
      }),
    });
    try {
      const address = await server.start();
      this.#statusServer = server;
      this.#logger.info({ host: address.address, port: address.port }, 'metrics and health listening');
    } catch (err) {
      this.#logger.error(
        { err: (err as Error).message, ...status.listen },
        'metrics and health server could not start',
      );
    }
  }

  /** The web console's status panel: both hosts' DRBD view, the leader, who is on call. */
  async consoleStatus(): Promise<ConsoleStatus> {
    const hosts = [hostStatus(this.#config.host, this.#watch?.watcher.watch.state)];
    const peerName = this.#config.peer?.name;
    if (peerName !== undefined) hosts.push(hostStatus(peerName, await this.peer?.peerState()));
    const state = this.elector?.state;
    return {
      leader:
        this.elector === undefined
          ? this.#config.host
          : state?.role === 'leader'
            ? this.#config.host
            : (state?.leader ?? null),
      token: state?.token ?? 0,
      hosts,
      onCall: this.#onCall().now.map((m) => m.name),
    };
  }

  /** Where /metrics listens (tests ask for port 0). */
  get statusAddress(): { host: string; port: number } | undefined {
    const address = this.#statusServer?.address;
    return address === undefined ? undefined : { host: address.address, port: address.port };
  }

  async #leadershipView(): Promise<LeadershipView> {
    const state = this.elector?.state;
    const store = this.#lockStore;
    if (store === undefined)
      return { self: this.#config.host, leader: this.#config.host, token: 0, fences: [] };
    const fences = await Promise.all(
      this.#config.fences.map(async (key) => {
        try {
          const lease = await store.read(key);
          return { key, holder: lease.holder, expiresAt: lease.expiresAt };
        } catch (err) {
          return { key, holder: null, expiresAt: null, error: (err as Error).message };
        }
      }),
    );
    return {
      self: this.#config.host,
      leader: state === undefined ? null : state.role === 'leader' ? this.#config.host : state.leader,
      token: state?.token ?? 0,
      fences,
    };
  }

  /**
   * A former leader's unsent deliveries (it comes back as the follower). What the pair's delivery
   * record shows as posted or queued here already is dropped; an entry whose send it had started is
   * checked with the platform by its key first. Edits of its incident parents go where the record
   * says the parents are; those it cannot find are dropped by the outbox.
   */
  async #adopt(entries: readonly OutboxEntry[]): Promise<void> {
    const ledger = this.replica?.ledger;
    const fresh = entries.filter((e) => ledger === undefined || !ledger.knows(e));
    if (fresh.length < entries.length) {
      this.#logger.info(
        { handed: entries.length, known: entries.length - fresh.length },
        'deliveries handed over by the former leader: those already covered are dropped',
      );
    }
    await this.outbox.enqueue(
      fresh
        .filter((e) => ledger !== undefined || e.op !== 'update-parent')
        .map(({ id: _id, attempts: _a, createdAt: _c, absorbed: _ab, ...e }) =>
          e.op === 'update-parent' || e.op === 'amend' || e.sending !== true ? e : { ...e, sending: true },
        ),
    );
  }

  /** Where this instance stands in its pair now (for the pure decisions of core/pair-voice.ts). */
  #situation(): PairSituation {
    const elector = this.elector;
    const state = elector?.state;
    return {
      paired: elector !== undefined,
      leads: elector?.mayAct() ?? true,
      leaderless: elector?.leaderless() ?? false,
      leaderKnown: state?.role === 'follower' && state.leader !== null,
      peerLink: this.peer !== undefined,
      pendingForwards: this.peer?.pending ?? 0,
    };
  }

  /** Operations running or just finished, with their plan messages: their consequences go there. */
  #operationThreads(): OperationThread[] {
    return this.operations.list().flatMap((op) => {
      const from = op.steps[0]?.startedAt;
      if (op.messageId === null || from === undefined) return [];
      if (op.state !== 'running' && op.finishedAt === undefined) return [];
      return [
        {
          id: op.id,
          command: op.plan.name,
          resource: op.plan.resource,
          from,
          to: op.state === 'running' ? undefined : op.finishedAt,
          platform: op.channel.platform,
          channel: op.channel.channelId,
          messageId: op.messageId,
        },
      ];
    });
  }

  /**
   * Every retry period: when no leader can be established, the criticals that waited for one are
   * posted by this instance (fail open); when another instance leads, deliveries left from this
   * one's own time as leader are handed to it. A leader brings its follower's copy of the delivery
   * record up to date.
   */
  async #pairChores(): Promise<void> {
    const situation = this.#situation();
    if (situation.leads) {
      this.replica?.heartbeat();
      await this.#watchPeerStream();
    }
    const todo = chores(situation);
    if (todo.postHeld) {
      const waiting = [...this.#heldCriticals, ...((await this.peer?.takeCritical()) ?? [])];
      this.#heldCriticals = [];
      if (waiting.length > 0) await this.notifier.notify(waiting);
      return;
    }
    // Someone else leads and reports its own view of the same changes.
    if (todo.dropHeld) this.#heldCriticals = [];
    if (todo.handOver) await this.#handOverLeftovers();
  }

  /** The leader's own event stream, in the pair's delivery record (a follower's would overwrite the leader's). */
  #recordStream(health: StreamHealth, primary: readonly string[]): Promise<void> {
    if (this.replica === undefined || !(this.elector?.mayAct() ?? true)) return Promise.resolve();
    return this.replica.record([{ stream: { host: this.#config.host, health, primary } }]);
  }

  /**
   * The leader's watch over the other host's event stream, while there is something to watch: an
   * outage taken over from a former leader that died blind (warned and escalated here while that
   * instance does not answer), or the other host's open stream incident (resolved here once its
   * instance answers with a live stream, since a restarted instance never says so itself).
   */
  async #watchPeerStream(): Promise<void> {
    const peer = this.peer;
    const host = this.#config.peer?.name;
    if (peer === undefined || host === undefined) return;
    const incident = this.notifier.incidents[hostIncidentKey(host)];
    const open =
      incident === undefined || incident.resolvedAt !== undefined
        ? undefined
        : {
            since: Date.parse(String(incident.latest.details.downSince ?? '')) || incident.openedAt,
            cause: String(incident.latest.details.cause ?? 'unknown'),
          };
    const tracked = this.#peerOutage?.host === host ? this.#peerOutage : undefined;
    if (tracked === undefined && open === undefined) return;
    const step = peerOutageStep({
      health: tracked?.health,
      peer: await peer.peerStream(),
      open,
      now: Date.now(),
      settings: this.#config.drbd.streamDown ?? DEFAULT_STREAM_DOWN,
      host,
      primary: tracked?.primary ?? [],
    });
    this.#peerOutage =
      step.health === undefined ? undefined : { host, health: step.health, primary: tracked?.primary ?? [] };
    if (step.notification !== undefined) await this.notifier.notify([step.notification]);
  }

  /** A follower that still holds deliveries from its time as leader hands them to the leader. */
  async #handOverLeftovers(): Promise<void> {
    const peer = this.peer;
    if (peer === undefined || this.outbox.depth === 0) return;
    try {
      const handed = await this.outbox.handOver((entries) => peer.handOver(entries));
      if (handed > 0) this.#logger.info({ handed }, 'handed unsent deliveries to the leader');
    } catch (err) {
      this.#logger.debug({ err: (err as Error).message }, 'could not hand deliveries to the leader yet');
    }
  }

  /** Run a chat command as if it came from a platform (the console, tests). */
  async runCommand(command: IncomingCommand): Promise<CommandReply> {
    if (this.#handler === undefined) throw new Error('the daemon has not started');
    return this.#handler(command, { update: async () => {} });
  }

  /** May this instance send chat messages now? Leaders send; without any leader, criticals fail open. */
  #gate(entry: OutboxEntry): Gate {
    const decision = voice(this.#situation(), entry.severity, this.#config.host);
    if (decision.type === 'send') return { send: true };
    if (decision.type === 'send-with-note') return { send: true, note: decision.note };
    return { send: false };
  }

  async #startPlatforms(): Promise<void> {
    if (this.#platformsStarted || this.#handler === undefined) return;
    this.#platformsStarted = true;
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
          await this.#announce(
            `${this.#config.host} leads, token ${event.token}${event.previous === null ? '' : `; previous leader ${event.previous}`}`,
            undefined,
            true,
          );
          this.outbox.wake();
          await this.#continueRecord();
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

  /**
   * A new leader continues from the pair's delivery record: the former leader's incidents and pair
   * view, where its messages are, and what it had queued but not posted (in order). A record that
   * was not refreshed for longer than the former leader could have gone on alone may be behind it:
   * then every queued post is checked with the platform by its key before it is posted.
   */
  async #continueRecord(): Promise<void> {
    const replica = this.replica;
    if (replica === undefined) return;
    const ledger = replica.ledger;
    const self = this.#config.host;
    if (ledger.origin !== '' && ledger.origin !== self) {
      const { leaseMs, retryMs } = this.#config.leader;
      const age = replica.mirrorAgeMs();
      const stale = age !== undefined && age > leaseMs + 2 * retryMs + 2_000;
      const takeover = ledger.takeover(stale);
      await this.notifier.adopt(takeover.incidents, takeover.pair);
      this.paging.adopt(takeover.oncall);
      await this.outbox.adopt(takeover);
      if (takeover.stream !== undefined && takeover.stream.host !== self) {
        // The former leader was blind on its own host: nobody else would say so now.
        const { host, health, primary } = takeover.stream;
        const taken = outageTakenOver(health, host, Date.now(), self);
        if (!taken.health.up) this.#peerOutage = { host, health: taken.health, primary };
        if (taken.notification !== undefined) await this.notifier.notify([taken.notification]);
      }
      this.#logger.info(
        { from: ledger.origin, queued: takeover.entries.length, stale, covered: ledger.covered.size },
        'continuing the delivery record of the former leader',
      );
    }
    ledger.rebase(self, {
      entries: this.outbox.entries(),
      parents: this.outbox.parents,
      incidents: this.notifier.incidents,
      pair: this.notifier.pairView,
    });
    const own = this.#watch?.health();
    if (own !== undefined) await this.#recordStream(own, primaryOf(this.#watch?.lastKnownState()));
    replica.ready();
  }

  /** A leadership change or a hand-over, posted once to every channel the routes name. */
  async #announce(title: string, key = `leader:${title}`, first = false): Promise<void> {
    const message: Message = { title, tone: 'info', host: this.#config.host, at: new Date().toISOString() };
    await this.#postToRoutes(message, key, first);
  }

  /**
   * One message to every channel of the routes. `key` names it: posts are checked with the platform
   * by key before sending, so a message a former leader already posted is not posted again.
   */
  async #postToRoutes(message: Message, key: string, first = false): Promise<void> {
    const channels = new Map(this.#config.routes.map((r) => [`${r.platform}\u0000${r.channel}`, r]));
    await this.outbox.enqueue(
      [...channels.values()].map((route) => ({
        key: `${key}:${route.platform}:${route.channel}`,
        platform: route.platform,
        channel: route.channel,
        op: 'post' as const,
        message,
        resource: null,
        severity:
          message.tone === 'critical'
            ? ('critical' as const)
            : message.tone === 'warning'
              ? ('warning' as const)
              : ('info' as const),
        urgent: false,
        kinds: {},
        changes: 0,
        sending: true,
        ...(first ? { first: true } : {}),
      })),
    );
  }

  /**
   * Notifications of one burst of lines are written to the outbox together: one fsync for the
   * batch instead of one per notification.
   */
  #collect(n: Notification): void {
    this.#onNotification?.(n);
    this.metrics.notified(n.kind, n.severity);
    const peer = this.peer;
    switch (intake(this.#situation(), n.severity)) {
      case 'notify':
      case 'notify-fail-open':
        this.#toNotifier(n);
        return;
      case 'forward':
        // The leader reports the pair; a leader that just took over with older notifications still
        // queued keeps the order through the same queue.
        if (peer !== undefined) this.#forward(peer, n);
        return;
      case 'hold':
        this.#heldCriticals.push(n);
        return;
      case 'drop':
        return;
    }
  }

  #forward(peer: PeerLink, n: Notification): void {
    peer
      .forward([n])
      .catch((err: Error) => this.#logger.error({ err }, 'could not queue a notification for the leader'));
  }

  #toNotifier(n: Notification): void {
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
      const needsRestart = (
        ['host', 'drbd', 'stateDir', 'slack', 'discord', 'web', 'resources', 'lxd', 'policies'] as const
      ).filter((key) => JSON.stringify(config[key]) !== JSON.stringify(this.#config[key]));
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
      this.#logger.error(
        { err: (err as Error).message },
        'configuration reload failed; keeping the running configuration',
      );
      return false;
    }
  }

  /**
   * A planned stop of the leader: no new send starts, the one in progress finishes, the follower gets
   * every record, then the lease is released and the follower told so; it takes over within a
   * moment. What is queued here is the follower's now (it has it in its copy) and is dropped here,
   * so a later start does not hand it over again. False (nothing changed) when the follower cannot
   * take it: then this instance flushes as before and the lease is released afterwards.
   */
  async #handOverOnStop(): Promise<boolean> {
    const { elector, replica, peer } = this;
    if (elector === undefined || replica === undefined || peer === undefined || !elector.mayAct())
      return false;
    await this.outbox.pause(10_000);
    if (!(await replica.flush(2_000))) {
      this.#logger.info('the follower does not have the whole delivery record; flushing before handing over');
      this.outbox.resume();
      return false;
    }
    await elector.stop();
    await peer.tellReleased();
    const left = await this.outbox.release();
    this.#logger.info({ left }, 'handed over to the follower: lease released, queued deliveries are its now');
    return true;
  }

  async stop(): Promise<void> {
    clearInterval(this.#pairTimer);
    clearInterval(this.#sweepTimer);
    await this.scheduler.stop();
    await this.#statusServer?.stop();
    // A running change finishes (or fails and rolls back) before the chat clients go.
    await this.operations.idle();
    await this.#watch?.stop();
    // Whatever the watcher said last must reach the outbox before it stops.
    await new Promise((r) => setImmediate(r));
    await this.notifier.notify([]);
    // A leader with a follower that has the whole delivery record hands over at once instead of
    // flushing first: the follower posts what is left, after its announcement.
    const handedOver = await this.#handOverOnStop();
    await this.outbox.stop(handedOver ? 0 : this.#config.delivery.flushOnStopMs);
    await this.elector?.stop();
    await this.#leadership;
    await this.peer?.stop();
    await this.#stopPlatforms();
    await this.#operationStore.close();
    await this.#audit.close();
    await this.#oncallStore.close();
    this.#logger.info({ undelivered: this.outbox.depth }, 'stopped');
  }
}
