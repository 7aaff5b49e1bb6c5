// What one host's DRBD would report about itself: the objects of `drbdsetup events2`,
// computed from the shared state, and the difference between two such snapshots.

import {
  type Dialect,
  type Endpoint,
  established,
  isClient,
  nodeId,
  peersOf,
  type Replica,
  type ReplState,
  type Resync,
  type SimState,
  syncKey,
  utilsBefore,
} from './types.js';

export type ObjectKind = 'resource' | 'device' | 'connection' | 'peer-device' | 'path';

export type Fields = Record<string, string>;

export interface DrbdObject {
  kind: ObjectKind;
  resource: string;
  /** The peer a connection, peer-device or path object belongs to. */
  peer?: string;
  /** Identity keys in the order drbdsetup prints them. */
  keys: [string, string][];
  /** State fields (always printed on exists/create). */
  info: Fields;
  /** Counters (printed with --statistics; `done` also without while resyncing). */
  stats: Fields;
}

export type HostView = DrbdObject[];

/** One event line as stored in a journal; rendering depends on the reader's options. */
export interface EventRecord {
  verb: 'exists' | 'create' | 'change' | 'destroy' | 'call' | 'response';
  kind: ObjectKind | 'helper';
  resource: string;
  keys: [string, string][];
  info: Fields;
  stats: Fields;
  changed: string[];
  statsChanged: boolean;
}

export const BACKING_DEV_PREFIX = '/dev/vg';

const SYNC_STATES: ReplState[] = ['SyncSource', 'SyncTarget', 'PausedSyncS', 'PausedSyncT'];
const VERIFY_STATES: ReplState[] = ['VerifyS', 'VerifyT'];

/** The resync or verify running on the link host → peer, if any. */
export function syncOn(state: SimState, resource: string, host: string, peer: string): Resync | undefined {
  return state.resyncs[syncKey(resource, host, peer)] ?? state.resyncs[syncKey(resource, peer, host)];
}

/** drbd-utils' `sync_details` (rs_total != 0): while a resync or verify runs on this link. */
function syncDetails(state: SimState, resource: string, host: string, peer: string, ep: Endpoint) {
  const sync = syncOn(state, resource, host, peer);
  if (!sync || !established(ep)) return undefined;
  if (![...SYNC_STATES, ...VERIFY_STATES].includes(ep.repl)) return undefined;
  return sync;
}

/** Quorum (DRBD 9, drbd_state.c calc_quorum): this node plus the peers it is established with. */
export function hasQuorum(state: SimState, host: string, resource: string): boolean {
  const config = state.resources.find((r) => r.name === resource);
  if (!config || config.quorum === 'off' || state.dialect === '8.4') return true;
  const endpoints = state.endpoints[host]?.[resource] ?? {};
  const reachable = 1 + Object.values(endpoints).filter((ep) => established(ep)).length;
  return reachable * 2 > state.hosts.length;
}

/** `suspended:` value, in drbd-utils susp_str order (8.4 knows no quorum). */
export function suspendedOf(state: SimState, host: string, resource: string): string {
  const replica = state.replicas[host]?.[resource];
  if (!replica) return 'no';
  const config = state.resources.find((r) => r.name === resource);
  const fencing = Object.values(state.endpoints[host]?.[resource] ?? {}).some((ep) => ep.suspendedFencing);
  const quorum =
    state.dialect === '9' && config?.onNoQuorum === 'suspend-io' && !hasQuorum(state, host, resource);
  const parts: string[] = [];
  if (replica.suspendedUser) parts.push('user');
  if (replica.suspendedNoData) parts.push('no-data');
  if (fencing) parts.push('fencing');
  if (quorum) parts.push('quorum');
  return parts.length > 0 ? parts.join(',') : 'no';
}

/** `resync-suspended:` value (drbd-utils resync_susp_str order). */
function resyncSuspendedOf(ep: Endpoint, peerEp: Endpoint | undefined): string {
  const parts: string[] = [];
  if (ep.pausedUser) parts.push('user');
  // The peer's own pause reasons reach us as "peer" (receive_state: aftr_isp | user_isp).
  if (peerEp && established(ep) && (peerEp.pausedUser || peerEp.pausedDependency)) parts.push('peer');
  if (ep.pausedDependency) parts.push('dependency');
  return parts.length > 0 ? parts.join(',') : 'no';
}

/** Printed replication state: Off unless the connection is up and the handshake done. */
export function replicationOf(ep: Endpoint): ReplState {
  return ep.conn === 'Connected' ? ep.repl : 'Off';
}

/** Printed peer disk: known while established, else what fencing established, else DUnknown. */
export function peerDiskOf(ep: Endpoint, peerReplica: Replica | undefined): string {
  if (established(ep) && peerReplica) return peerReplica.disk;
  return ep.fencedPeerDisk ?? 'DUnknown';
}

/** Printed peer role: known once the peers exchanged their state. */
export function peerRoleOf(ep: Endpoint, peerReplica: Replica | undefined): string {
  return established(ep) && peerReplica ? peerReplica.role : 'Unknown';
}

function peerDeviceStats(
  state: SimState,
  resource: string,
  host: string,
  peer: string,
  ep: Endpoint,
): Fields {
  const sync = syncDetails(state, resource, host, peer, ep);
  const stats: Fields = {};
  if (sync) stats.done = (100 * (1 - sync.outOfSyncKiB / sync.totalKiB)).toFixed(2);
  stats.received = '0';
  stats.sent = '0';
  const resyncLeft = sync && sync.kind === 'resync' ? sync.outOfSyncKiB : 0;
  stats['out-of-sync'] = String(resyncLeft + ep.outOfSyncKiB + (sync?.kind === 'verify' ? found(sync) : 0));
  stats.pending = '0';
  stats.unacked = '0';
  if (sync) {
    const seconds = sync.durationMs / 1000;
    stats.dbdt1 = (sync.totalKiB / 1024 / seconds).toFixed(2);
    const remainingMs = Math.max(0, sync.startedAtMs + sync.pausedMs + sync.durationMs - sync.lastProgressMs);
    stats.eta = (remainingMs / 1000).toFixed(0);
  }
  return stats;
}

/** Verify: out-of-sync blocks found so far, in proportion to the verified part. */
function found(sync: Resync): number {
  const done = 1 - sync.outOfSyncKiB / sync.totalKiB;
  return Math.round(sync.foundKiB * done);
}

// drbd-utils compute_promotion_info (drbdsetup_events2.c): 10000 × all disks present + 100 ×
// UpToDate local devices + UpToDate replicas (local + peers); promotable only without any
// Primary, with quorum and with a stable UpToDate replica.
function promotion(device: Fields, connections: Fields[], peerDevices: Fields[], role: string) {
  if (device.quorum === 'no') return { may: false, score: 0 };
  const local = device.disk === 'UpToDate' ? 1 : 0;
  const replicas = local + peerDevices.filter((p) => p['peer-disk'] === 'UpToDate').length;
  if (replicas === 0) return { may: false, score: 0 };
  const hasDisk = ['UpToDate', 'Consistent', 'Inconsistent'].includes(device.disk ?? '') ? 1 : 0;
  const anyPrimary = role === 'Primary' || connections.some((c) => c.role === 'Primary');
  return { may: !anyPrimary, score: hasDisk * 10000 + local * 100 + Math.min(replicas, 99) };
}

/** Objects per resource: resource, device, then connection, peer-device and path per peer. */
export function buildView(state: SimState, host: string): HostView {
  const view: HostView = [];
  for (const res of state.resources) {
    const replica = state.replicas[host]?.[res.name];
    if (!replica) continue;
    if (state.dialect === '9') view.push(...objects9(state, host, res.name, res.minor, res.port, replica));
    else view.push(...objects84(state, host, res.name, res.minor, replica));
  }
  return view;
}

function objects9(
  state: SimState,
  host: string,
  resource: string,
  minor: number,
  port: number,
  replica: Replica,
): DrbdObject[] {
  const client = isClient(state, host);
  const device: DrbdObject = {
    kind: 'device',
    resource,
    keys: [
      ['name', resource],
      ['volume', '0'],
      ['minor', String(minor)],
    ],
    info: {
      backing_dev: replica.disk === 'Diskless' || client ? 'none' : `${BACKING_DEV_PREFIX}/${resource}`,
      disk: replica.disk,
      client: client ? 'yes' : 'no',
      open: replica.holders.length > 0 ? 'yes' : 'no',
      quorum: hasQuorum(state, host, resource) ? 'yes' : 'no',
    },
    stats: {
      size: String(state.deviceSizeKiB),
      read: '0',
      written: '0',
      'al-writes': '0',
      'bm-writes': '0',
      'upper-pending': '0',
      'lower-pending': '0',
      'al-suspended': 'no',
      blocked: 'no',
    },
  };
  const perPeer: DrbdObject[] = [];
  for (const peer of peersOf(state, host)) {
    const ep = state.endpoints[host]?.[resource]?.[peer];
    if (!ep) continue;
    const peerReplica = state.replicas[peer]?.[resource];
    const peerEp = state.endpoints[peer]?.[resource]?.[host];
    const connKeys: [string, string][] = [
      ['name', resource],
      ['peer-node-id', String(nodeId(state, peer))],
      ['conn-name', peer],
    ];
    perPeer.push(
      {
        kind: 'connection',
        resource,
        peer,
        keys: connKeys,
        info: { connection: ep.conn, role: peerRoleOf(ep, peerReplica) },
        stats: { congested: 'no', 'ap-in-flight': '0', 'rs-in-flight': '0' },
      },
      {
        kind: 'peer-device',
        resource,
        peer,
        keys: [...connKeys, ['volume', '0']],
        info: {
          replication: replicationOf(ep),
          'peer-disk': peerDiskOf(ep, peerReplica),
          // The peer's intentional diskless flag comes with its configuration, not its state.
          'peer-client': isClient(state, peer) ? 'yes' : 'no',
          'resync-suspended': resyncSuspendedOf(ep, peerEp),
        },
        stats: peerDeviceStats(state, resource, host, peer, ep),
      },
      {
        kind: 'path',
        resource,
        peer,
        keys: [
          ...connKeys,
          ['local', `ipv4:${state.addresses[host] ?? '0.0.0.0'}:${port}`],
          ['peer', `ipv4:${state.addresses[peer] ?? '0.0.0.0'}:${port}`],
        ],
        info: { established: ep.conn === 'Connected' ? 'yes' : 'no' },
        stats: {},
      },
    );
  }
  const promo = promotion(
    device.info,
    perPeer.filter((o) => o.kind === 'connection').map((o) => o.info),
    perPeer.filter((o) => o.kind === 'peer-device').map((o) => o.info),
    replica.role,
  );
  const resourceObject: DrbdObject = {
    kind: 'resource',
    resource,
    keys: [['name', resource]],
    info: {
      role: replica.role,
      suspended: suspendedOf(state, host, resource),
      'force-io-failures': 'no',
      may_promote: promo.may ? 'yes' : 'no',
      promotion_score: String(promo.score),
    },
    stats: { 'write-ordering': 'flush' },
  };
  return [resourceObject, device, ...perPeer];
}

// drbdsetup-84 prints WFConnection as Connecting; a StandAlone 8.4 resource without net config
// has no connection object at all, so none is listed.
function objects84(
  state: SimState,
  host: string,
  resource: string,
  minor: number,
  replica: Replica,
): DrbdObject[] {
  const objects: DrbdObject[] = [
    {
      kind: 'resource',
      resource,
      keys: [['name', resource]],
      info: { role: replica.role, suspended: suspendedOf(state, host, resource) },
      stats: { 'write-ordering': 'flush' },
    },
    {
      kind: 'device',
      resource,
      keys: [
        ['name', resource],
        ['volume', '0'],
        ['minor', String(minor)],
      ],
      info: { disk: replica.disk },
      stats: {
        size: String(state.deviceSizeKiB),
        read: '0',
        written: '0',
        'al-writes': '0',
        'bm-writes': '0',
        'upper-pending': '0',
        'lower-pending': '0',
        'al-suspended': 'no',
        blocked: 'no',
      },
    },
  ];
  for (const peer of peersOf(state, host)) {
    const ep = state.endpoints[host]?.[resource]?.[peer];
    if (!ep?.configured) continue;
    const peerReplica = state.replicas[peer]?.[resource];
    const peerEp = state.endpoints[peer]?.[resource]?.[host];
    const connKeys: [string, string][] = [
      ['name', resource],
      ['peer-node-id', '0'],
      ['conn-name', 'peer'],
    ];
    const sync = syncDetails(state, resource, host, peer, ep);
    const oos = (sync?.kind === 'resync' ? sync.outOfSyncKiB : 0) + ep.outOfSyncKiB;
    objects.push(
      {
        kind: 'connection',
        resource,
        peer,
        keys: connKeys,
        // connection->cstate never goes beyond WFReportParams ("Connected") on 8.4.
        info: { connection: ep.conn, role: peerRoleOf(ep, peerReplica) },
        stats: { congested: 'no' },
      },
      {
        kind: 'peer-device',
        resource,
        peer,
        keys: [...connKeys, ['volume', '0']],
        // peer_device_to_info clamps the device's conn to >= WFReportParams, printed as Off.
        info: {
          replication: replicationOf(ep),
          'peer-disk': peerDiskOf(ep, peerReplica),
          'resync-suspended': resyncSuspendedOf(ep, peerEp),
        },
        stats: { received: '0', sent: '0', 'out-of-sync': String(oos), pending: '0', unacked: '0' },
      },
    );
  }
  return objects;
}

function objectId(o: { kind: string; keys: [string, string][] }): string {
  return `${o.kind} ${o.keys.map(([k, v]) => `${k}:${v}`).join(' ')}`;
}

const KIND_RANK: Record<ObjectKind, number> = {
  resource: 0,
  connection: 1,
  device: 2,
  'peer-device': 3,
  path: 4,
};

function sameFields(a: Fields, b: Fields): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/**
 * Order in which drbdsetup prints the objects of one resource. DRBD 9 with drbd-utils 9.28+
 * (drbdsetup_events2.c print_changes): resource, connections, devices, then per connection its
 * peer-devices and paths. Older drbd-utils print in the kernel's order (drbd_nl.c
 * get_initial_state): resource, connections, paths, devices, peer-devices; so does drbdsetup-84.
 */
function printOrder(objects: DrbdObject[], state: SimState, dump: boolean): DrbdObject[] {
  const peerRank = (o: DrbdObject) => (o.peer === undefined ? -1 : nodeId(state, o.peer));
  const modern = state.dialect === '9' && !utilsBefore(state, '9.28');
  return [...objects].sort((a, b) => {
    if (modern) {
      const groupA = a.kind === 'peer-device' || a.kind === 'path' ? 3 : KIND_RANK[a.kind];
      const groupB = b.kind === 'peer-device' || b.kind === 'path' ? 3 : KIND_RANK[b.kind];
      if (groupA !== groupB) return groupA - groupB;
      if (groupA === 3 && peerRank(a) !== peerRank(b)) return peerRank(a) - peerRank(b);
      return KIND_RANK[a.kind] - KIND_RANK[b.kind];
    }
    // Path changes are notifications of their own (notify_path), so they come last in a step.
    const rank = (o: DrbdObject) => (o.kind === 'path' ? (dump ? 1.5 : 5) : KIND_RANK[o.kind]);
    if (rank(a) !== rank(b)) return rank(a) - rank(b);
    return peerRank(a) - peerRank(b);
  });
}

/** The events a host's DRBD emits when its state goes from `before` to `after`. */
export function diffViews(before: HostView, after: HostView, state: SimState): EventRecord[] {
  const dialect: Dialect = state.dialect;
  const beforeById = new Map(before.map((o) => [objectId(o), o]));
  const afterIds = new Set(after.map(objectId));
  const resources = [...new Set([...before, ...after].map((o) => o.resource))];
  const events: EventRecord[] = [];
  for (const resource of resources) {
    for (const obj of printOrder(
      after.filter((o) => o.resource === resource),
      state,
      false,
    )) {
      const old = beforeById.get(objectId(obj));
      if (!old) {
        events.push({ ...record(obj), verb: 'create', changed: Object.keys(obj.info), statsChanged: true });
        continue;
      }
      const changed = Object.keys(obj.info).filter((k) => obj.info[k] !== old.info[k]);
      const statsChanged = !sameFields(obj.stats, old.stats);
      // The 8.4 kernel only notifies on state changes, never for counters alone.
      if (changed.length === 0 && (!statsChanged || dialect === '8.4')) continue;
      events.push({ ...record(obj), verb: 'change', changed, statsChanged });
    }
    // print_changes: per connection its paths and peer-devices, then connections, devices, resource.
    const gone = before.filter((o) => o.resource === resource && !afterIds.has(objectId(o)));
    const destroyRank: Record<ObjectKind, number> = {
      path: 0,
      'peer-device': 1,
      connection: 2,
      device: 3,
      resource: 4,
    };
    gone.sort((a, b) => destroyRank[a.kind] - destroyRank[b.kind]);
    for (const obj of gone) {
      events.push({ ...record(obj), verb: 'destroy', info: {}, stats: {}, changed: [], statsChanged: false });
    }
  }
  return events;
}

function record(obj: DrbdObject): Omit<EventRecord, 'verb' | 'changed' | 'statsChanged'> {
  return { kind: obj.kind, resource: obj.resource, keys: obj.keys, info: obj.info, stats: obj.stats };
}

/** The initial dump of `events2` as records (without the closing `exists -`). */
export function dumpRecords(view: HostView, state: SimState, resource?: string): EventRecord[] {
  const names = [...new Set(view.map((o) => o.resource))].filter(
    (r) => resource === undefined || r === resource,
  );
  return names.flatMap((name) =>
    printOrder(
      view.filter((o) => o.resource === name),
      state,
      true,
    ).map((o) => ({
      ...record(o),
      verb: 'exists' as const,
      changed: Object.keys(o.info),
      statsChanged: true,
    })),
  );
}

/** Which object context a helper is called with (drbd_nl.c drbd_khelper's device/connection). */
export type HelperScope = 'device' | 'connection' | 'peer-device';

/**
 * A helper call or response. DRBD 9 passes the device and/or connection the helper is about
 * (nla_put_drbd_cfg_context); drbdsetup prints peer-node-id/conn-name only with a connection,
 * volume/minor only with a device. DRBD 8.4's drbd_khelper always passes the device's connection;
 * drbdsetup-84 prints a fake peer-node-id:0, and conn-name:peer only while it has a net config.
 */
export function helperRecord(
  state: SimState,
  host: string,
  resource: string,
  helper: string,
  opts: { scope: HelperScope; peer?: string | undefined; status?: number | undefined },
): EventRecord {
  const res = state.resources.find((r) => r.name === resource);
  const peer = opts.peer ?? peersOf(state, host)[0] ?? host;
  const keys: [string, string][] = [['name', resource]];
  const withDevice = opts.scope !== 'connection';
  if (state.dialect === '8.4') {
    keys.push(['peer-node-id', '0']);
    if (state.endpoints[host]?.[resource]?.[peer]?.configured !== false) keys.push(['conn-name', 'peer']);
  } else if (opts.scope !== 'device') {
    keys.push(['peer-node-id', String(nodeId(state, peer))], ['conn-name', peer]);
  }
  if (withDevice) keys.push(['volume', '0'], ['minor', String(res?.minor ?? 0)]);
  const info: Fields = { helper };
  if (opts.status !== undefined) info.status = String(opts.status);
  return {
    verb: opts.status !== undefined ? 'response' : 'call',
    kind: 'helper',
    resource,
    keys,
    info,
    stats: {},
    changed: Object.keys(info),
    statsChanged: false,
  };
}
