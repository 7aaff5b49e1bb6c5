// The web console's status panel: what it shows of the pair (leader, both hosts, every resource),
// and how a host's DRBD view (src/core/host-state.ts) becomes one host of it.

import type { HostState, ResourceState } from '../../core/host-state.js';
import type { ConsoleHostStatus, ConsoleResourceStatus } from './wire.js';

export type { ConsoleHostStatus, ConsoleResourceStatus, ConsoleStatus } from './wire.js';

const NONE = '—';

function joined(values: readonly (string | undefined)[]): string {
  const known = values.map((v) => v ?? '?');
  return known.length === 0 ? NONE : known.join('/');
}

function resourceStatus(resource: ResourceState): ConsoleResourceStatus {
  const devices = Object.values(resource.devices).sort((a, b) => a.volume - b.volume);
  const connections = Object.values(resource.connections).sort((a, b) => a.peer.localeCompare(b.peer));
  const peerDevices = connections.flatMap((c) =>
    Object.values(c.peerDevices).sort((a, b) => a.volume - b.volume),
  );
  const progress = peerDevices
    .map((pd) => pd.resync?.donePercent)
    .filter((p): p is number => p !== undefined);
  const syncPercent = progress.length === 0 ? undefined : Math.min(...progress);
  return {
    name: resource.name,
    role: resource.fields.role ?? '?',
    disk: joined(devices.map((d) => d.fields.disk)),
    connection: joined(connections.map((c) => c.fields.connection)),
    replication: joined(peerDevices.map((pd) => pd.fields.replication)),
    peerDisk: joined(peerDevices.map((pd) => pd.fields['peer-disk'])),
    ...(syncPercent === undefined ? {} : { syncPercent: Math.round(syncPercent * 10) / 10 }),
  };
}

/**
 * One host of the panel from its DRBD view; `undefined` (no view could be had, e.g. the peer link is
 * down) shows the host as unreachable.
 */
export function hostStatus(host: string, state: HostState | undefined): ConsoleHostStatus {
  if (state === undefined) return { host, reachable: false, resources: [] };
  return {
    host,
    reachable: true,
    resources: Object.values(state.resources)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(resourceStatus),
  };
}
