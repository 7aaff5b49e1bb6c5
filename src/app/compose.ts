// The daemon's wiring, in one place: every part built from the configuration and handed what it
// needs from the others. The parts reach each other through small closures (late-bound, so the
// order of construction does not matter); what they need from the running daemon (the current
// configuration, the DRBD watch, whether chat is connected) comes through `DaemonRuntime`.
// Behaviour lives in the parts; daemon.ts starts and stops them.

import { join } from 'node:path';
import { AuditLog } from '../adapters/audit-log.js';
import { CommandHost } from '../adapters/command-host.js';
import { handoverClock } from '../adapters/cron.js';
import type { TornTail } from '../adapters/durable-journal.js';
import { LxcCli } from '../adapters/lxd.js';
import { Metrics } from '../adapters/metrics.js';
import { OnCallStore } from '../adapters/oncall-store.js';
import { OperationStore } from '../adapters/operation-store.js';
import { Outbox } from '../adapters/outbox.js';
import { StatusServer } from '../adapters/status-server.js';
import type { ElectionEvent } from '../core/leader.js';
import type { Notification } from '../core/notification.js';
import { escalationLevels } from '../core/oncall-workflow.js';
import { type HandoverClock, onCall, type Roster } from '../core/policy.js';
import type { ChatPlatform, PlatformName } from '../ports/chat.js';
import type { ContainerRuntime } from '../ports/container-runtime.js';
import type { HostOps } from '../ports/host-ops.js';
import type { LockStore } from '../ports/leases.js';
import { Announcer } from './announcements.js';
import type {
  CommandContext,
  CommandDefinition,
  LeadershipView,
  ResourceSettings,
} from './command-registry.js';
import { type Config, slashNamings } from './config.js';
import { DeliveryReplica } from './delivery-replica.js';
import { LeaderElector } from './leader-elector.js';
import { createLockStore } from './lock-store.js';
import type { Logger } from './log.js';
import { Notifier, type OperationThread } from './notifier.js';
import { Operations } from './operations.js';
import { Paging, pagingConfigOf, tickInterval } from './paging.js';
import { PairCoordinator } from './pair-coordinator.js';
import { PairHosts } from './pair-hosts.js';
import { PeerLink } from './peer.js';
import { scheduledJobs } from './scheduled-jobs.js';
import { Scheduler } from './scheduler.js';
import { type RunningWatch, streamDownReason } from './watch.js';

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

/** What the parts read from the running daemon. */
export interface DaemonRuntime {
  /** The configuration in force (a reload replaces some sections). */
  config(): Config;
  /** This host's DRBD watch, once started. */
  watch(): RunningWatch | undefined;
  /** The chat platforms are connected: this instance leads (or acts alone) and takes commands. */
  chatConnected(): boolean;
  /** A notification of this host (the watcher's, or a reconciliation's), into the intake. */
  collect(n: Notification): void;
  /** The leader election changed something. */
  onElection(event: ElectionEvent): void;
}

export interface DaemonParts {
  readonly outbox: Outbox;
  readonly notifier: Notifier;
  readonly elector: LeaderElector | undefined;
  readonly lockStore: LockStore | undefined;
  readonly peer: PeerLink | undefined;
  readonly replica: DeliveryReplica | undefined;
  readonly pair: PairCoordinator;
  readonly hosts: PairHosts;
  readonly announcer: Announcer;
  readonly operations: Operations;
  readonly paging: Paging;
  readonly scheduler: Scheduler;
  readonly metrics: Metrics;
  /** /metrics, /healthz, /readyz (not started); absent when disabled. */
  readonly statusServer: StatusServer | undefined;
  readonly stores: {
    readonly operations: OperationStore;
    readonly audit: AuditLog;
    readonly oncall: OnCallStore;
  };
  /** What the chat commands see (built anew each time: a reload changes the team). */
  readonly commandContext: () => CommandContext;
  /** Who is on call now and next. */
  readonly onCall: () => ReturnType<typeof onCall>;
  readonly leadership: () => Promise<LeadershipView>;
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

export function composeDaemon(options: DaemonOptions, runtime: DaemonRuntime): DaemonParts {
  const { config, logger } = options;
  const current = () => runtime.config();
  const resources = resourceSettings(config);
  const leading = () => elector?.mayAct() ?? true;
  const token = () => elector?.state.token ?? 0;

  const delivery = config.delivery;
  const outbox: Outbox = new Outbox({
    dir: join(config.stateDir, 'outbox'),
    platforms: options.platforms,
    logger: logger.child({ part: 'outbox' }),
    minIntervalMs: {
      slack: delivery.slackIntervalMs,
      discord: delivery.discordIntervalMs,
      console: 0,
      web: 0,
    },
    backoff: delivery.retry,
    gate: (entry) => pair.gate(entry),
    record: (records) => replica?.record(records) ?? Promise.resolve(),
    onDelivered: (entry, confirmedAt) =>
      metrics.observeDelivery(entry.platform, (confirmedAt - entry.createdAt) / 1_000),
    onFailed: (entry, error) => metrics.deliveryFailed(entry.platform, error.retryable),
  });

  const lockStore =
    options.lockStore ?? (config.lock === undefined ? undefined : createLockStore(config.lock));
  const elector =
    lockStore === undefined
      ? undefined
      : new LeaderElector({
          store: lockStore,
          key: config.leader.key,
          self: config.host,
          settings: config.leader,
          logger: logger.child({ part: 'leader' }),
          onEvent: (event) => runtime.onElection(event),
        });

  const commandTimeoutMs = config.lxd.commandTimeoutMs;
  const managesResources = Object.keys(resources).length > 0;
  const containers =
    options.containers ??
    (managesResources
      ? new LxcCli({
          host: config.host,
          resources,
          lxc: config.lxd.lxc,
          timeoutMs: {
            list: commandTimeoutMs,
            stop: commandTimeoutMs,
            start: commandTimeoutMs,
            config: commandTimeoutMs,
          },
        })
      : undefined);
  const host =
    options.host ??
    (managesResources
      ? new CommandHost({
          drbdadm: config.drbd.drbdadm,
          drbdadmArgs: config.drbd.drbdadmArgs,
          env: config.drbd.env,
          timeoutMs: config.drbd.commandTimeoutMs,
          serviceTimeoutMs: commandTimeoutMs,
          resources: Object.fromEntries(
            Object.entries(resources).map(([name, r]) => [
              name,
              { ...r, commands: config.resources[name]?.commands ?? {} },
            ]),
          ),
        })
      : undefined);

  const rotation = config.oncall.rotation;
  const clock: HandoverClock | undefined =
    rotation === undefined ? undefined : handoverClock(rotation.handover);
  const whoIsOnCall = () => onCall(rosterOf(current()), new Date(), clock);

  const peer: PeerLink | undefined =
    config.peer === undefined
      ? undefined
      : new PeerLink({
          config: config.peer,
          stateDir: config.stateDir,
          logger: logger.child({ part: 'peer' }),
          leading,
          ingest: (notifications) => notifier.notify(notifications),
          receiveLedger: (push) => {
            if (replica === undefined) throw new Error('no delivery record');
            return replica.receive(push);
          },
          onReleased: () => elector?.attemptNow(),
          adopt: (entries) => pair.adopt(entries),
          localState: () => runtime.watch()?.watcher.watch.state,
          localStream: () => runtime.watch()?.stream(),
          localContainers: () => hosts.localContainers(),
          runLocalStep: (action) => hosts.runLocalStep(action),
          reconcileLocal: () => hosts.reconcileLocal(),
          preflight: (resource) => hosts.localPreflight(resource),
          adoptOperation: (op) => operations.adopt(op),
          jobDone: (job, slot) => scheduler.record(job, slot),
          onRefused: (reason) => metrics.peerRefused(reason),
        });
  const replica: DeliveryReplica | undefined =
    peer === undefined
      ? undefined
      : new DeliveryReplica({
          self: config.host,
          send: (push) => peer.pushLedger(push),
          logger: logger.child({ part: 'delivery-record' }),
        });

  const notifier: Notifier = new Notifier({
    stateDir: config.stateDir,
    routes: config.routes,
    outbox,
    operations: () => operationThreads(operations),
    ...(replica === undefined
      ? {}
      : {
          record: (records) => replica.record(records),
          seen: (key) => replica.ledger.seen.has(key),
        }),
    review: (n, entries, context) => paging.review(n, entries, context),
  });

  const repaired = (journal: string) => (torn: TornTail) =>
    logger.warn(
      { journal, bytes: torn.bytes, movedTo: torn.movedTo },
      'torn last line (crash mid-write) moved aside; the next record starts on its own line',
    );
  const stores = {
    operations: new OperationStore(join(config.stateDir, 'operations.ndjson'), {
      onRepair: repaired('operations'),
    }),
    audit: new AuditLog(join(config.stateDir, 'audit.ndjson'), { onRepair: repaired('audit') }),
    oncall: new OnCallStore(config.stateDir, { onRepair: repaired('muted') }),
  };

  const hosts: PairHosts = new PairHosts({
    config: current,
    logger: logger.child({ part: 'hosts' }),
    watch: () => runtime.watch(),
    containers,
    host,
    lockStore,
    peer,
    onNotification: (n) => runtime.collect(n),
  });

  const paging: Paging = new Paging({
    host: config.host,
    store: stores.oncall,
    audit: stores.audit,
    outbox,
    incidents: () => notifier.incidents,
    config: () => pagingConfigOf(current()),
    levels: (now) => escalationLevels(rosterOf(current()), now, clock),
    resources: async () => [
      ...new Set([
        ...Object.keys(current().resources),
        ...(await hosts.states()).flatMap((h) => Object.keys(h.resources)),
      ]),
    ],
    logger: logger.child({ part: 'paging' }),
    // Acknowledgements and silences go on when the other instance takes over.
    record: (state) => replica?.record([{ oncall: state }]) ?? Promise.resolve(),
  });

  const pair: PairCoordinator = new PairCoordinator({
    config: current,
    logger,
    elector,
    peer,
    replica,
    outbox,
    notifier,
    paging,
    watch: () => runtime.watch(),
  });

  const leadership = () => leadershipView(current(), elector, lockStore);
  const lxd = { stopTimeoutS: config.lxd.stopTimeoutS, verifyTimeoutMs: config.lxd.verifyTimeoutMs };
  // Built anew for each use: a reload changes the team and the on-call rotation.
  const commandContext = (): CommandContext => ({
    host: config.host,
    hosts: () => hosts.states(),
    incidents: () => notifier.incidents,
    ...(lockStore === undefined ? {} : { leadership }),
    commands: options.commands,
    now: Date.now,
    slashCommands: slashNamings(config),
    resources,
    ...(containers === undefined && peer === undefined ? {} : { containers: () => hosts.allContainers() }),
    team: current().oncall.team,
    onCall: whoIsOnCall,
    preflight: (target, resource) => hosts.preflight(target, resource),
    ...(config.peer === undefined ? {} : { peerName: config.peer.name }),
    operations,
    paging,
    lxd,
  });

  const operations: Operations = new Operations({
    host: config.host,
    store: stores.operations,
    audit: stores.audit,
    commands: options.commands,
    policies: config.policies,
    chat: (platform) => (runtime.chatConnected() ? options.platforms.get(platform) : undefined),
    runStep: (action, target, fencingToken) => hosts.runStep(action, target, fencingToken),
    token,
    roster: () => ({ team: current().oncall.team, onCallNow: whoIsOnCall().now }),
    context: commandContext,
    planContext: { host: config.host, resources, lxd },
    logger: logger.child({ part: 'operations' }),
    onOutcome: (command, outcome) => logger.info({ command, outcome }, 'change finished'),
    ...(peer === undefined ? {} : { replicate: (op) => peer.replicateOperation(op) }),
  });

  const metrics: Metrics = new Metrics({
    host: config.host,
    // The last state seen stays exported while the stream is down, marked with its age.
    state: () => runtime.watch()?.lastKnownState(),
    stream: () => ({
      up: runtime.watch()?.isLive() === true,
      stateAgeSeconds: runtime.watch()?.stateAgeSeconds(),
    }),
    leader: () => ({ leads: leading(), token: token() }),
    outboxDepth: () => outbox.depth,
    platforms: [...options.platforms.keys()],
  });

  const announcer = new Announcer(current, outbox);
  const scheduler: Scheduler = new Scheduler({
    jobs: scheduledJobs({
      config,
      hosts,
      peer,
      token,
      announcer,
      notifier,
      operations,
      outbox,
      lockStore,
      leadership,
      onCall: whoIsOnCall,
    }),
    tickers: [
      {
        name: 'paging',
        everyMs: tickInterval(pagingConfigOf(config).settings),
        run: (now) => paging.tick(now),
      },
    ],
    stateDir: config.stateDir,
    leading: () => runtime.chatConnected() && leading(),
    logger: logger.child({ part: 'scheduler' }),
    ...(peer === undefined ? {} : { tellPeer: (job: string, slot: string) => peer.tellJobDone(job, slot) }),
  });

  const status = config.status;
  const statusServer = !status.enabled
    ? undefined
    : new StatusServer({
        host: status.listen.host,
        port: status.listen.port,
        metrics,
        logger: logger.child({ part: 'status' }),
        health: () => {
          const watch = runtime.watch();
          return {
            eventSource: watch?.isLive()
              ? { ok: true }
              : {
                  ok: false,
                  reason:
                    watch === undefined
                      ? 'the DRBD event stream is not started yet'
                      : streamDownReason(config.host, watch.stream()),
                },
          };
        },
        ready: () => ({
          leader: leading()
            ? { ok: true }
            : { ok: false, reason: 'another instance leads (or none can be elected)' },
          chat: runtime.chatConnected()
            ? { ok: true }
            : { ok: false, reason: 'chat platforms not connected' },
        }),
      });

  return {
    outbox,
    notifier,
    elector,
    lockStore,
    peer,
    replica,
    pair,
    hosts,
    announcer,
    operations,
    paging,
    scheduler,
    metrics,
    statusServer,
    stores,
    commandContext,
    onCall: whoIsOnCall,
    leadership,
  };
}

/** Operations running or just finished, with their plan messages: their consequences go there. */
function operationThreads(operations: Operations): OperationThread[] {
  return operations.list().flatMap((op) => {
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

/** Who leads and who holds the DRBD fence locks, read from the lock store. */
async function leadershipView(
  config: Config,
  elector: LeaderElector | undefined,
  store: LockStore | undefined,
): Promise<LeadershipView> {
  const state = elector?.state;
  if (store === undefined) return { self: config.host, leader: config.host, token: 0, fences: [] };
  const fences = await Promise.all(
    config.fences.map(async (key) => {
      try {
        const lease = await store.read(key);
        return { key, holder: lease.holder, expiresAt: lease.expiresAt };
      } catch (err) {
        return { key, holder: null, expiresAt: null, error: (err as Error).message };
      }
    }),
  );
  return {
    self: config.host,
    leader: state === undefined ? null : state.role === 'leader' ? config.host : state.leader,
    token: state?.token ?? 0,
    fences,
  };
}
