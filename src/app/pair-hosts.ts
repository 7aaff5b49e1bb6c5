// Both hosts of the pair as the bot reaches them: this one directly (its DRBD watch, its LXD daemons,
// the commands of a failover, the fence lock), the other over the peer link. Chat commands and plan
// steps name a host; this is where the name becomes a local call or a request to the peer.

import { runForOutput } from '../adapters/exec.js';
import type { HostState } from '../core/host-state.js';
import type { Notification } from '../core/notification.js';
import type { StepAction } from '../core/operation.js';
import type { ContainerRuntime } from '../ports/container-runtime.js';
import type { HostOps, PreflightCheck } from '../ports/host-ops.js';
import type { LockStore } from '../ports/leases.js';
import type { StepRun } from '../ports/step-run.js';
import type { ContainersView } from './command-registry.js';
import type { Config } from './config.js';
import { localContainers, mergeContainerViews } from './container-views.js';
import type { Logger } from './log.js';
import type { PeerLink } from './peer.js';
import { runAction } from './steps.js';
import type { RunningWatch } from './watch.js';

export interface PairHostsOptions {
  readonly config: () => Config;
  readonly logger: Logger;
  /** This host's DRBD watch (absent until the daemon starts). */
  readonly watch: () => RunningWatch | undefined;
  /** This host's LXD daemons, when it manages resources. */
  readonly containers: ContainerRuntime | undefined;
  /** DRBD roles, mounts and LXD services here, when it is set up for failovers. */
  readonly host: HostOps | undefined;
  /** Where the resources' fence locks are (the leader's lock store). */
  readonly lockStore: LockStore | undefined;
  readonly peer: PeerLink | undefined;
  /** What a reconciliation found, as notifications (into the daemon's intake). */
  readonly onNotification: (n: Notification) => void;
}

export class PairHosts {
  readonly #o: PairHostsOptions;

  constructor(options: PairHostsOptions) {
    this.#o = options;
  }

  /** Every host's DRBD view this instance has: its own, and its peer's when the peer answers. */
  async states(): Promise<HostState[]> {
    const watch = this.#o.watch();
    const own = watch === undefined ? [] : [watch.watcher.watch.state];
    const peer = await this.#o.peer?.peerState();
    return peer === undefined ? own : [...own, peer];
  }

  /** This host's containers, per resource it is Primary of. */
  async localContainers(): Promise<ContainersView> {
    const config = this.#o.config();
    if (this.#o.containers === undefined) return { containers: [], resources: [] };
    return localContainers(
      this.#o.containers,
      this.#o.watch()?.watcher.watch.state,
      Object.keys(config.resources),
      config.host,
    );
  }

  /** Both hosts' containers (the peer's over the link, or why it could not say). */
  async allContainers(): Promise<ContainersView> {
    const own = await this.localContainers();
    if (this.#o.peer === undefined) return own;
    return mergeContainerViews(
      own,
      await this.#o.peer.peerContainers(),
      this.#o.config().peer?.name ?? 'the peer',
    );
  }

  /** Run a plan step here (for this instance, or for the leader over the peer link). */
  async runLocalStep(action: StepAction): Promise<StepRun[]> {
    if (this.#o.containers === undefined)
      throw new Error(`${this.#o.config().host} manages no LXD resources`);
    return runAction(action, {
      containers: this.#o.containers,
      ...(this.#o.host === undefined ? {} : { host: this.#o.host }),
      state: () => this.#o.watch()?.watcher.watch.state,
      ...(this.#o.lockStore === undefined ? {} : { fences: this.#o.lockStore }),
    });
  }

  /** Run a plan step on the host it names: here, or on the peer (fenced by the leader's token). */
  async runStep(action: StepAction, host: string, token: number): Promise<StepRun[]> {
    const config = this.#o.config();
    if (host === config.host) return this.runLocalStep(action);
    if (this.#o.peer !== undefined && host === config.peer?.name) {
      const lxd = config.lxd;
      const timeout =
        action.kind === 'drbd-wait-synced'
          ? action.timeoutMs + 10_000
          : 2 * lxd.commandTimeoutMs + lxd.verifyTimeoutMs;
      return this.#o.peer.runStep(action, token, timeout);
    }
    throw new Error(`no way to run a step on ${host}: it is neither this host nor the peer`);
  }

  /** Whether this host can take a resource (mount point, LXD unit, binaries). */
  async localPreflight(resource: string): Promise<readonly PreflightCheck[]> {
    if (this.#o.host === undefined) {
      return [
        { name: 'failover', ok: false, detail: `${this.#o.config().host} is not set up for failovers` },
      ];
    }
    return this.#o.host.preflight(resource);
  }

  /** The same, for the host a plan names. */
  async preflight(
    host: string,
    resource: string,
  ): Promise<readonly PreflightCheck[] | { readonly unreachable: string }> {
    const config = this.#o.config();
    if (host === config.host) return this.localPreflight(resource);
    if (this.#o.peer !== undefined && host === config.peer?.name) return this.#o.peer.peerPreflight(resource);
    return { unreachable: `${host} is neither this host nor its peer` };
  }

  /** Compare this host's engine with `drbdsetup events2 --now`; differences become notifications. */
  async reconcileLocal(): Promise<void> {
    const watch = this.#o.watch();
    if (watch === undefined || !watch.isLive()) return;
    const drbd = this.#o.config().drbd;
    const { stdout } = await runForOutput(drbd.drbdsetup, ['events2', '--now'], {
      timeoutMs: drbd.commandTimeoutMs,
      env: drbd.env,
    });
    const result = watch.watcher.reconcile(stdout.split('\n'), Date.now());
    if (result.notifications.length > 0) {
      this.#o.logger.warn({ differences: result.changes.length }, 'reconciliation found differences');
    }
    for (const n of result.notifications) this.#o.onNotification(n);
  }
}
