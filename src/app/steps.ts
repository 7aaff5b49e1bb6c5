// Runs one plan step's action on this host through the ports. The leader runs steps for the other
// host over the peer link (the /v1/steps route, fenced by the leader's token); that host runs them
// here too, so both ends execute exactly the same code.

import { sleep as pause } from '../adapters/sleep.js';
import type { HostState } from '../core/host-state.js';
import type { StepAction } from '../core/operation.js';
import type { ContainerInfo, ContainerRuntime } from '../ports/container-runtime.js';
import type { HostOps } from '../ports/host-ops.js';
import type { LockStore } from '../ports/leases.js';
import { ExternalCommandError, type LockRun, type StepRun } from '../ports/step-run.js';

/** "(-12) Device is held open by someone" and friends, explained for the person reading the plan. */
export function explainFailure(message: string): string {
  if (message.includes('(-12)')) {
    return `${message}. Something still has the DRBD device open: often multipathd (blacklist DRBD devices in multipath.conf) or a process left on the mount; \`fuser -vm\` and \`lsof\` on the device show it`;
  }
  if (message.includes('(-2)')) {
    return `${message}. DRBD refuses to promote without UpToDate data: the disk here is not UpToDate (check \`drbdadm status\`)`;
  }
  if (message.includes('target is busy')) {
    return `${message}. A process still uses the mount point (\`fuser -vm\` shows which)`;
  }
  return message;
}

/** Run one call per container at once; every run is kept, failures listed together. */
async function parallel(
  names: readonly string[],
  work: (name: string) => Promise<StepRun[]>,
): Promise<StepRun[]> {
  const results = await Promise.allSettled(names.map((name) => collect(() => work(name))));
  const runs: StepRun[] = [];
  const failed: string[] = [];
  for (const [i, result] of results.entries()) {
    if (result.status === 'fulfilled') runs.push(...result.value);
    else {
      const err = result.reason as Error;
      if (err instanceof StepFailed) runs.push(...err.runs);
      failed.push(`${names[i]}: ${err.message}`);
    }
  }
  if (failed.length > 0) throw new StepFailed(failed.join('; '), runs);
  return runs;
}

/** A step that failed, with every command it ran (the failed one included) for the audit log. */
export class StepFailed extends Error {
  readonly code = 'STEP_FAILED';
  constructor(
    message: string,
    readonly runs: readonly StepRun[],
  ) {
    super(message);
    this.name = 'StepFailed';
  }
}

export interface StepPorts {
  readonly containers: ContainerRuntime;
  /** DRBD, mounts and the LXD daemon; absent where this instance does no failovers. */
  readonly host?: HostOps;
  /** The lock store that holds the resources' fence locks (the leader's). */
  readonly fences?: LockStore;
  /** This host's DRBD view (for waiting on a resync). */
  readonly state?: () => HostState | undefined;
  /** For waiting in `container-verify`; tests pass a faster one. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/** How long a forced failover holds the resource's fence lock. */
export const FENCE_TTL_MS = 60 * 60_000;

/**
 * Take or give back a resource's fence lock (the recipe's: a disconnected node may only become
 * Primary while holding it). Held for FENCE_TTL_MS; the recipe's own scripts take over from there.
 * A lock held by someone else fails the step, with who holds it.
 */
async function fence(store: LockStore, resource: string, holder: string, take: boolean): Promise<LockRun> {
  const started = performance.now();
  const lock = { key: resource, op: take ? ('acquire' as const) : ('release' as const), holder };
  if (!take) {
    await store.release(resource, holder);
    return { lock, ok: true, durationMs: performance.now() - started };
  }
  const lease = await store.acquireOrRenew(resource, holder, FENCE_TTL_MS);
  const durationMs = performance.now() - started;
  if (!lease.held) {
    throw new StepFailed(`the fence lock of ${resource} is held by ${lease.holder ?? 'someone else'}`, [
      { lock, ok: false, heldBy: lease.holder, durationMs },
    ]);
  }
  return { lock, ok: true, token: lease.token, durationMs };
}

async function collect(work: () => Promise<StepRun[]>): Promise<StepRun[]> {
  try {
    return await work();
  } catch (err) {
    // An adapter call of several commands reports all of them (`runs`), the failing one last; a
    // refusal before any command (e.g. the container is not stopped) may carry the inspection.
    const runs = (err as { runs?: unknown }).runs;
    if (Array.isArray(runs)) throw new StepFailed((err as Error).message, runs as StepRun[]);
    if (err instanceof ExternalCommandError) throw new StepFailed(err.message, [err.run]);
    throw err;
  }
}

/** Why a container is not yet Running with `wanted` up, or null when it is. */
function notUp(found: ContainerInfo | undefined, wanted: readonly string[]): string | null {
  if (found === undefined) return 'not found';
  const up = [...found.addresses.ipv4, ...found.addresses.ipv6];
  if (found.status === 'Running' && wanted.every((a) => up.includes(a))) return null;
  return `${found.status}, up: ${up.join(', ') || 'no address'}`;
}

/**
 * Ask `pending` every half second until it answers null (done); at the deadline, fail with what it
 * said last. The waits of the plans (addresses up, a resync finished) are all this.
 */
async function poll(
  ports: StepPorts,
  timeoutMs: number,
  pending: () => Promise<string | null>,
  failure: (last: string) => string,
): Promise<StepRun[]> {
  const sleep = ports.sleep ?? pause;
  const now = ports.now ?? Date.now;
  const deadline = now() + timeoutMs;
  for (;;) {
    const last = await pending();
    if (last === null) return [];
    if (now() >= deadline) throw new StepFailed(failure(last), []);
    await sleep(500);
  }
}

export async function runAction(action: StepAction, ports: StepPorts): Promise<StepRun[]> {
  const lxd = ports.containers;
  switch (action.kind) {
    case 'container-stop':
      return collect(() => lxd.stop(action.resource, action.container, { timeoutS: action.timeoutS }));
    case 'container-start':
      return collect(() => lxd.start(action.resource, action.container));
    case 'container-set-addresses':
      return collect(() =>
        lxd.setAddresses(action.resource, action.container, action.device, {
          ipv4: action.ipv4,
          ipv6: action.ipv6,
        }),
      );
    case 'containers-stop':
      return parallel(action.containers, (name) =>
        lxd.stop(action.resource, name, { timeoutS: action.timeoutS }),
      );
    case 'containers-start':
      return parallel(action.containers, (name) => lxd.start(action.resource, name));
    case 'containers-verify-all':
      // One listing per poll for all of them (not one per container: it is LXD's slowest call).
      return poll(
        ports,
        action.timeoutMs,
        async () => {
          const listed = new Map((await lxd.list(action.resource)).map((c) => [c.name, c]));
          const missing = action.expect.flatMap((e) => {
            const found = listed.get(e.name);
            const short = notUp(found, [...e.ipv4, ...e.ipv6]);
            return short === null
              ? []
              : [`${e.name} (${short}; wanted ${[...e.ipv4, ...e.ipv6].join(', ')})`];
          });
          return missing.length === 0 ? null : missing.join('; ');
        },
        (last) => `not up within ${Math.round(action.timeoutMs / 1000)} s: ${last}`,
      );
    case 'fence-acquire':
    case 'fence-release': {
      if (ports.fences === undefined)
        throw new StepFailed('no lock store: the fence lock cannot be taken', []);
      return [await fence(ports.fences, action.resource, action.holder, action.kind === 'fence-acquire')];
    }
    case 'containers-list': {
      const list = await lxd.list(action.resource);
      const text = list
        .map((c) => `${c.name} ${c.status} ${[...c.addresses.ipv4, ...c.addresses.ipv6].join(',')}`)
        .join('\n');
      return [{ argv: ['lxc', 'list'], exitCode: 0, durationMs: 0, stdout: text, stderr: '' }];
    }
    case 'drbd-wait-synced':
      return poll(
        ports,
        action.timeoutMs,
        async () => {
          const r = ports.state?.()?.resources[action.resource];
          if (r === undefined) return 'no DRBD view';
          const disks = Object.values(r.devices).map((d) => d.fields.disk ?? 'unknown');
          const connections = Object.values(r.connections);
          const synced =
            disks.every((d) => d === 'UpToDate') &&
            connections.length > 0 &&
            connections.every(
              (c) =>
                c.fields.connection === 'Connected' &&
                Object.values(c.peerDevices).every(
                  (pd) => pd.fields.replication === 'Established' && pd.fields['peer-disk'] === 'UpToDate',
                ),
            );
          if (synced) return null;
          const links = connections.flatMap((c) => [
            c.fields.connection ?? 'unknown',
            ...Object.values(c.peerDevices).map(
              (pd) => `${pd.fields.replication ?? 'unknown'}/${pd.fields['peer-disk'] ?? 'unknown'}`,
            ),
          ]);
          return `disk ${disks.join('/')}, ${links.join(', ')}`;
        },
        (last) =>
          `${action.resource} is not in sync after ${Math.round(action.timeoutMs / 1000)} s (${last})`,
      );
    case 'drbd-disconnect':
    case 'drbd-connect':
    case 'lxd-stop':
    case 'lxd-start':
    case 'mount':
    case 'umount':
    case 'holders-check':
    case 'drbd-role': {
      const host = ports.host;
      if (host === undefined)
        throw new StepFailed('this host is not set up for failovers (no host operations)', []);
      try {
        switch (action.kind) {
          case 'lxd-stop':
            return await collect(() => host.lxdStop(action.resource));
          case 'lxd-start':
            return await collect(() => host.lxdStart(action.resource));
          case 'mount':
            return await collect(() => host.mount(action.resource));
          case 'umount':
            return await collect(() => host.umount(action.resource));
          case 'drbd-role':
            return await collect(() => host.drbdRole(action.resource, action.role));
          case 'drbd-disconnect':
            return await collect(() => host.drbdDisconnect(action.resource));
          case 'drbd-connect':
            return await collect(() =>
              host.drbdConnect(action.resource, { discardMyData: action.discardMyData }),
            );
          case 'holders-check': {
            const found = await host.holders(action.resource);
            if (found.holders.length > 0) {
              throw new StepFailed(`still in use: ${found.holders.join('; ')}`, found.runs);
            }
            return [...found.runs];
          }
        }
      } catch (err) {
        if (err instanceof StepFailed) throw new StepFailed(explainFailure(err.message), err.runs);
        throw err;
      }
      break;
    }
    case 'container-verify': {
      const wanted = [...action.ipv4, ...action.ipv6];
      return poll(
        ports,
        action.timeoutMs,
        async () =>
          notUp(
            (await lxd.list(action.resource)).find((c) => c.name === action.container),
            wanted,
          ),
        (last) =>
          `${action.container} did not come up with ${wanted.join(', ')} within ${Math.round(action.timeoutMs / 1000)} s (${last})`,
      );
    }
  }
}
