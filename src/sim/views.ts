// What one host's DRBD would report about itself: the objects of `drbdsetup events2`,
// computed from the shared state, and the difference between two such snapshots.

import { type Dialect, nodeId, peerOf, type Replica, type SimState } from './types.js';

export type ObjectKind = 'resource' | 'device' | 'connection' | 'peer-device' | 'path';

export type Fields = Record<string, string>;

export interface DrbdObject {
  kind: ObjectKind;
  resource: string;
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

/** Objects per resource in dump order: resource, device, connection, peer-device, path. */
export function buildView(state: SimState, host: string): HostView {
  const view: HostView = [];
  for (const res of state.resources) {
    const replica = state.replicas[host]?.[res.name];
    if (!replica) continue;
    const peer = peerOf(state, host);
    const peerReplica = state.replicas[peer]?.[res.name];
    if (!peerReplica) continue;
    const ctx: ObjectContext = { state, host, peer, resource: res.name, minor: res.minor, port: res.port };
    if (state.dialect === '9') view.push(...objects9(ctx, replica, peerReplica));
    else view.push(...objects84(ctx, replica, peerReplica));
  }
  return view;
}

interface ObjectContext {
  state: SimState;
  host: string;
  peer: string;
  resource: string;
  minor: number;
  port: number;
}

/** Replicating with the peer: the connection is up and the handshake is over. */
function replicating(replica: Replica): boolean {
  return replica.conn === 'Connected' && !replica.handshaking;
}

function syncRole(ctx: ObjectContext): 'SyncSource' | 'SyncTarget' | undefined {
  const resync = ctx.state.resyncs[ctx.resource];
  if (!resync) return undefined;
  return resync.source === ctx.host ? 'SyncSource' : 'SyncTarget';
}

function peerDeviceStats(ctx: ObjectContext, withDone: boolean): Fields {
  const resync = ctx.state.resyncs[ctx.resource];
  const stats: Fields = {};
  if (resync && withDone) {
    stats.done = (100 * (1 - resync.outOfSyncKiB / resync.totalKiB)).toFixed(2);
  }
  stats.received = '0';
  stats.sent = '0';
  stats['out-of-sync'] = String(resync ? resync.outOfSyncKiB : 0);
  stats.pending = '0';
  stats.unacked = '0';
  if (resync && withDone) {
    const seconds = resync.durationMs / 1000;
    stats.dbdt1 = (resync.totalKiB / 1024 / seconds).toFixed(2);
    const remainingMs = Math.max(0, resync.startedAtMs + resync.durationMs - resync.lastProgressMs);
    stats.eta = (remainingMs / 1000).toFixed(0);
  }
  return stats;
}

// Promotion info as drbdsetup derives it: 10000 × all disks present + 100 × UpToDate
// local devices + number of UpToDate replicas; promotable only without any Primary.
function promotion(replica: Replica, peerReplica: Replica): { may: boolean; score: number } {
  const connected = replicating(replica);
  const peerDisk = connected ? peerReplica.disk : 'DUnknown';
  const replicas = (replica.disk === 'UpToDate' ? 1 : 0) + (peerDisk === 'UpToDate' ? 1 : 0);
  if (replicas === 0) return { may: false, score: 0 };
  const hasDisk = ['UpToDate', 'Consistent', 'Inconsistent'].includes(replica.disk) ? 1 : 0;
  const localUpToDate = replica.disk === 'UpToDate' ? 1 : 0;
  const anyPrimary = replica.role === 'Primary' || (connected && peerReplica.role === 'Primary');
  const stable = replica.disk === 'UpToDate' || peerDisk === 'UpToDate';
  return { may: !anyPrimary && stable, score: hasDisk * 10000 + localUpToDate * 100 + replicas };
}

function objects9(ctx: ObjectContext, replica: Replica, peerReplica: Replica): DrbdObject[] {
  const { state, host, peer, resource } = ctx;
  const connected = replicating(replica);
  const promo = promotion(replica, peerReplica);
  const connKeys: [string, string][] = [
    ['name', resource],
    ['peer-node-id', String(nodeId(state, peer))],
    ['conn-name', peer],
  ];
  const sync = connected ? syncRole(ctx) : undefined;
  return [
    {
      kind: 'resource',
      resource,
      keys: [['name', resource]],
      info: {
        role: replica.role,
        suspended: 'no',
        'force-io-failures': 'no',
        may_promote: promo.may ? 'yes' : 'no',
        promotion_score: String(promo.score),
      },
      stats: { 'write-ordering': 'flush' },
    },
    {
      kind: 'device',
      resource,
      keys: [
        ['name', resource],
        ['volume', '0'],
        ['minor', String(ctx.minor)],
      ],
      info: {
        backing_dev: replica.disk === 'Diskless' ? 'none' : `${BACKING_DEV_PREFIX}/${resource}`,
        disk: replica.disk,
        client: 'no',
        open: replica.holders.length > 0 ? 'yes' : 'no',
        quorum: 'yes',
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
    },
    {
      kind: 'connection',
      resource,
      keys: connKeys,
      info: { connection: replica.conn, role: connected ? peerReplica.role : 'Unknown' },
      stats: { congested: 'no', 'ap-in-flight': '0', 'rs-in-flight': '0' },
    },
    {
      kind: 'peer-device',
      resource,
      keys: [...connKeys, ['volume', '0']],
      info: {
        replication: connected ? (sync ?? 'Established') : 'Off',
        'peer-disk': connected ? peerReplica.disk : 'DUnknown',
        'peer-client': 'no',
        'resync-suspended': 'no',
      },
      stats: peerDeviceStats(ctx, sync !== undefined),
    },
    {
      kind: 'path',
      resource,
      keys: [
        ...connKeys,
        ['local', `ipv4:${state.addresses[host] ?? '0.0.0.0'}:${ctx.port}`],
        ['peer', `ipv4:${state.addresses[peer] ?? '0.0.0.0'}:${ctx.port}`],
      ],
      info: { established: replica.conn === 'Connected' ? 'yes' : 'no' },
      stats: {},
    },
  ];
}

// drbdsetup-84 prints WFConnection as Connecting; a StandAlone 8.4 resource has no
// connection object at all (its net config is gone), so none is listed.
function objects84(ctx: ObjectContext, replica: Replica, peerReplica: Replica): DrbdObject[] {
  const { resource } = ctx;
  const connected = replicating(replica);
  const objects: DrbdObject[] = [
    {
      kind: 'resource',
      resource,
      keys: [['name', resource]],
      info: { role: replica.role, suspended: 'no' },
      stats: { 'write-ordering': 'flush' },
    },
    {
      kind: 'device',
      resource,
      keys: [
        ['name', resource],
        ['volume', '0'],
        ['minor', String(ctx.minor)],
      ],
      info: { disk: replica.disk },
      stats: { read: '0', written: '0' },
    },
  ];
  if (replica.conn === 'StandAlone') return objects;
  const connKeys: [string, string][] = [
    ['name', resource],
    ['peer-node-id', '0'],
    ['conn-name', 'peer'],
  ];
  const resync = connected ? ctx.state.resyncs[resource] : undefined;
  const stats: Fields = { received: '0', sent: '0' };
  if (resync && resync.outOfSyncKiB > 0) stats['out-of-sync'] = String(resync.outOfSyncKiB);
  objects.push(
    {
      kind: 'connection',
      resource,
      keys: connKeys,
      info: { connection: replica.conn, role: connected ? peerReplica.role : 'Unknown' },
      stats: { congested: 'no' },
    },
    {
      kind: 'peer-device',
      resource,
      keys: [...connKeys, ['volume', '0']],
      info: {
        replication: connected ? (syncRole(ctx) ?? 'Established') : 'Off',
        'peer-disk': connected ? peerReplica.disk : 'DUnknown',
        'resync-suspended': 'no',
      },
      stats,
    },
  );
  return objects;
}

function objectId(o: { kind: string; keys: [string, string][] }): string {
  return `${o.kind} ${o.keys.map(([k, v]) => `${k}:${v}`).join(' ')}`;
}

const CHANGE_ORDER: ObjectKind[] = ['resource', 'connection', 'device', 'peer-device', 'path'];
const DESTROY_ORDER: ObjectKind[] = ['path', 'peer-device', 'connection', 'device', 'resource'];

function sameFields(a: Fields, b: Fields): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The events a host's DRBD emits when its state goes from `before` to `after`. */
export function diffViews(before: HostView, after: HostView, dialect: Dialect): EventRecord[] {
  const beforeById = new Map(before.map((o) => [objectId(o), o]));
  const afterIds = new Set(after.map(objectId));
  const resources = [...new Set([...before, ...after].map((o) => o.resource))];
  const events: EventRecord[] = [];
  for (const resource of resources) {
    for (const kind of CHANGE_ORDER) {
      for (const obj of after) {
        if (obj.resource !== resource || obj.kind !== kind) continue;
        const old = beforeById.get(objectId(obj));
        if (!old) {
          events.push({ ...obj, verb: 'create', changed: Object.keys(obj.info), statsChanged: true });
          continue;
        }
        const changed = Object.keys(obj.info).filter((k) => obj.info[k] !== old.info[k]);
        const statsChanged = !sameFields(obj.stats, old.stats);
        // The 8.4 kernel only notifies on state changes, never for counters alone.
        if (changed.length === 0 && (!statsChanged || dialect === '8.4')) continue;
        events.push({ ...obj, verb: 'change', changed, statsChanged });
      }
    }
    for (const kind of DESTROY_ORDER) {
      for (const obj of before) {
        if (obj.resource !== resource || obj.kind !== kind || afterIds.has(objectId(obj))) continue;
        events.push({ ...obj, verb: 'destroy', info: {}, stats: {}, changed: [], statsChanged: false });
      }
    }
  }
  return events;
}

/** The initial dump of `events2` as records (without the closing `exists -`). */
export function dumpRecords(view: HostView, resource?: string): EventRecord[] {
  return view
    .filter((o) => resource === undefined || o.resource === resource)
    .map((o) => ({ ...o, verb: 'exists', changed: Object.keys(o.info), statsChanged: true }));
}

export function helperRecord(
  state: SimState,
  host: string,
  resource: string,
  helper: string,
  response: boolean,
  status = 0,
): EventRecord {
  const res = state.resources.find((r) => r.name === resource);
  const peer = peerOf(state, host);
  const is84 = state.dialect === '8.4';
  const info: Fields = { helper };
  if (response) info.status = String(status);
  return {
    verb: response ? 'response' : 'call',
    kind: 'helper',
    resource,
    keys: [
      ['name', resource],
      ['peer-node-id', is84 ? '0' : String(nodeId(state, peer))],
      ['conn-name', is84 ? 'peer' : peer],
      ['volume', '0'],
      ['minor', String(res?.minor ?? 0)],
    ],
    info,
    stats: {},
    changed: Object.keys(info),
    statsChanged: false,
  };
}
