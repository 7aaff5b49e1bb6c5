// One host's view of its DRBD resources, rebuilt from events2 lines, and the changes each line
// makes. Pure: a function of the previous state, the event and the time it happened. States are
// never mutated; an update copies the objects on the path to the change (cheap at this size).

import { decodeHelperStatus, type Events2Event, type HelperOutcome } from '../drbd/events2.js';
import { isResyncing, isResyncSource, replicates } from '../drbd/states.js';

export type Fields = Readonly<Record<string, string>>;

export interface DeviceState {
  readonly volume: number;
  readonly minor?: number;
  readonly fields: Fields;
  /**
   * The disk state the device left for Detaching, until it attaches again: Detaching follows an
   * administrative detach (`drbd_nl.c` adm_detach()) but also an attach whose negotiation failed
   * (sanitize_state(): Negotiating → Detaching), and the two mean different things.
   */
  readonly detachingFrom?: string;
}

/** A resync in progress, as far as the statistics tell (`--statistics`). */
export interface ResyncProgress {
  readonly startedAt: number;
  /** True when this host sends the data (SyncSource), false when it receives it. */
  readonly source: boolean;
  /** KiB out of sync when the resync started, if statistics were on. */
  readonly initialOutOfSyncKiB?: number;
  readonly donePercent?: number;
  readonly outOfSyncKiB?: number;
  readonly etaSeconds?: number;
}

export interface PeerDeviceState {
  readonly volume: number;
  readonly fields: Fields;
  readonly resync?: ResyncProgress;
}

/**
 * A split-brain DRBD detected at a handshake of this connection, from its helper calls
 * (`drbd_receiver.c`: `initial-split-brain` for every detected split-brain, before the after-sb
 * policies run; `pri-lost-after-sb` when the policy chose this Primary as the victim and it could not
 * demote; `split-brain` only when the policies did not resolve it).
 */
export interface SplitBrainMark {
  readonly detectedAt: number;
  /** The `split-brain` helper was called: DRBD gave up and drops the connection. */
  readonly unresolved: boolean;
  /** `pri-lost-after-sb` was called here: this node is the policy's victim. */
  readonly localVictim: boolean;
}

/** The last answer of the fence-peer handler for a connection. */
export interface FenceAnswer extends HelperOutcome {
  readonly at: number;
}

export interface ConnectionState {
  /** The peer's name as DRBD calls it (`conn-name`; `peer` on 8.4). */
  readonly peer: string;
  readonly peerNodeId?: string;
  readonly fields: Fields;
  readonly peerDevices: Readonly<Record<number, PeerDeviceState>>;
  readonly paths: Readonly<Record<string, Fields>>;
  /** When the connection left Connected, while it is not Connected. */
  readonly lostAt?: number;
  /**
   * A split-brain seen at the current handshake; cleared when a peer device is Established again or
   * a new connection attempt begins (Unconnected, Connecting …).
   */
  readonly splitBrain?: SplitBrainMark;
  /**
   * When the current handshake began (Connected, or a path established while connecting) while no
   * peer device replicated yet. Kept through Disconnecting → StandAlone, so a StandAlone right after
   * a handshake (a split-brain without helper events) can be told from a deliberate disconnect.
   */
  readonly handshakeAt?: number;
  /** The fence-peer handler's last answer while disconnected; cleared once Connected again. */
  readonly fence?: FenceAnswer;
}

export interface ResourceState {
  readonly name: string;
  readonly fields: Fields;
  readonly devices: Readonly<Record<number, DeviceState>>;
  readonly connections: Readonly<Record<string, ConnectionState>>;
}

export interface HostState {
  readonly host: string;
  readonly resources: Readonly<Record<string, ResourceState>>;
}

export type StateObject = 'resource' | 'device' | 'connection' | 'peer-device';

/** Where a change happened: the resource, and for lower objects the peer and/or volume. */
export interface Location {
  readonly host: string;
  readonly resource: string;
  readonly peer?: string;
  readonly volume?: number;
}

export type Change =
  | (Location & {
      readonly type: 'field';
      readonly object: StateObject;
      readonly field: string;
      readonly old: string | undefined;
      readonly new: string | undefined;
      readonly at: number;
    })
  | (Location & { readonly type: 'created' | 'destroyed'; readonly object: StateObject; readonly at: number })
  | (Location & {
      readonly type: 'helper';
      readonly phase: 'call' | 'response';
      readonly helper: string;
      /** The raw wait status of a response (exit code × 256), as the kernel reports it. */
      readonly status?: number;
      readonly at: number;
    })
  | (Location & { readonly type: 'renamed'; readonly newName: string; readonly at: number });

/**
 * The fields whose changes matter to people. Statistics (read, written, out-of-sync, done …) are
 * kept in the state but never produce a change, so a resync does not produce a message per percent.
 */
export const WATCHED_FIELDS = {
  resource: ['role', 'suspended', 'may_promote'],
  device: ['disk', 'quorum', 'client', 'open'],
  connection: ['connection', 'role'],
  'peer-device': ['replication', 'peer-disk', 'peer-client', 'resync-suspended'],
} as const satisfies Record<StateObject, readonly string[]>;

export function emptyHostState(host: string): HostState {
  return { host, resources: {} };
}

export interface Applied {
  readonly state: HostState;
  readonly changes: readonly Change[];
}

function num(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function fieldChanges(
  object: StateObject,
  loc: Location,
  before: Fields | undefined,
  after: Fields,
  at: number,
): Change[] {
  const changes: Change[] = [];
  for (const field of WATCHED_FIELDS[object]) {
    const old = before?.[field];
    const now = after[field];
    if (old !== now && now !== undefined) {
      changes.push({ ...loc, type: 'field', object, field, old, new: now, at });
    }
  }
  return changes;
}

function merge(before: Fields | undefined, update: Fields): Fields {
  return before === undefined ? { ...update } : { ...before, ...update };
}

function without<T>(record: Readonly<Record<string | number, T>>, key: string | number): Record<string, T> {
  const copy: Record<string, T> = { ...record };
  delete copy[key];
  return copy;
}

function emptyResource(name: string): ResourceState {
  return { name, fields: {}, devices: {}, connections: {} };
}

function emptyConnection(peer: string, peerNodeId: string | undefined): ConnectionState {
  return {
    peer,
    ...(peerNodeId === undefined ? {} : { peerNodeId }),
    fields: {},
    peerDevices: {},
    paths: {},
  };
}

function withResource(state: HostState, resource: ResourceState): HostState {
  return { ...state, resources: { ...state.resources, [resource.name]: resource } };
}

function withConnection(resource: ResourceState, connection: ConnectionState): ResourceState {
  return { ...resource, connections: { ...resource.connections, [connection.peer]: connection } };
}

/** Follow the resync bookkeeping of a peer device from its old to its new fields. */
function trackResync(
  before: PeerDeviceState | undefined,
  fields: Fields,
  at: number,
): ResyncProgress | undefined {
  const replication = fields.replication;
  if (!isResyncing(replication)) return undefined;
  const stats = {
    ...optional('donePercent', num(fields.done)),
    ...optional('outOfSyncKiB', num(fields['out-of-sync'])),
    ...optional('etaSeconds', num(fields.eta)),
  };
  const running = before?.resync;
  if (running !== undefined) return { ...running, source: isResyncSource(replication), ...stats };
  return {
    startedAt: at,
    source: isResyncSource(replication),
    ...optional('initialOutOfSyncKiB', num(fields['out-of-sync'])),
    ...stats,
  };
}

/**
 * drbd-utils prints `done` only while a resync runs, and without --verbose leaves out `out-of-sync`
 * when it is 0 (`user/v9/drbdsetup.c` print_peer_device_statistics(); `events2 --statistics` implies
 * --verbose, other tools' output may not). A line that carries statistics but not these keys says
 * they are 0 / gone; keeping the old values would report blocks long since resynced.
 */
function withStatisticsDefaults(fields: Fields, update: Fields): Fields {
  if (update.received === undefined && update.sent === undefined) return fields;
  const next: Record<string, string> = { ...fields };
  if (update['out-of-sync'] === undefined) next['out-of-sync'] = '0';
  if (update.done === undefined) delete next.done;
  return next;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * Apply one events2 event to a host's state. `at` is when it happened: the line's timestamp when
 * the stream has them, otherwise when it was read.
 */
export function applyEvent(state: HostState, event: Events2Event, at: number): Applied {
  const name = event.id.name ?? '';
  const host = state.host;
  const resource = state.resources[name];

  switch (event.object) {
    case 'resource':
      return applyResource(state, event, resource, at);
    case 'helper':
      return applyHelper(state, event, resource, at);
  }

  // Lower objects: a line for a resource we have not seen creates it silently; the resource line
  // usually precedes it, but a stream joined mid-way must not lose the object.
  const base = resource ?? emptyResource(name);
  const volume = num(event.id.volume);

  if (event.object === 'device') {
    if (volume === undefined) return { state, changes: [] };
    const loc: Location = { host, resource: name, volume };
    const before = base.devices[volume];
    if (event.verb === 'destroy') {
      if (before === undefined) return { state, changes: [] };
      const next = { ...base, devices: without(base.devices, volume) };
      return {
        state: withResource(state, next),
        changes: [{ ...loc, type: 'destroyed', object: 'device', at }],
      };
    }
    const minor = num(event.id.minor) ?? before?.minor;
    const fields = merge(before?.fields, event.fields);
    const detachingFrom =
      fields.disk === 'Detaching' && before?.fields.disk !== 'Detaching'
        ? before?.fields.disk
        : fields.disk === 'Detaching' || fields.disk === 'Diskless'
          ? before?.detachingFrom
          : undefined;
    const device: DeviceState = {
      volume,
      ...(minor === undefined ? {} : { minor }),
      fields,
      ...(detachingFrom === undefined ? {} : { detachingFrom }),
    };
    const changes: Change[] = [];
    if (before === undefined && event.verb === 'create')
      changes.push({ ...loc, type: 'created', object: 'device', at });
    changes.push(...fieldChanges('device', loc, before?.fields, device.fields, at));
    const next = { ...base, devices: { ...base.devices, [volume]: device } };
    return { state: withResource(state, next), changes };
  }

  const peer = event.id['conn-name'] ?? event.id['peer-node-id'] ?? '';
  const connection = base.connections[peer] ?? emptyConnection(peer, event.id['peer-node-id']);
  const known = base.connections[peer] !== undefined;

  if (event.object === 'connection') {
    const loc: Location = { host, resource: name, peer };
    if (event.verb === 'destroy') {
      if (!known) return { state, changes: [] };
      return destroyConnection(state, base, connection, loc, at);
    }
    const fields = merge(known ? connection.fields : undefined, event.fields);
    const wasConnected = connection.fields.connection === 'Connected';
    const isConnected = fields.connection === 'Connected';
    let next: ConnectionState = { ...connection, fields };
    if (isConnected) {
      const { lostAt: _lost, fence: _fence, ...rest } = next;
      next = rest;
      const replicating = Object.values(next.peerDevices).some((pd) => replicates(pd.fields.replication));
      if (!wasConnected && !replicating && next.handshakeAt === undefined)
        next = { ...next, handshakeAt: at };
    } else {
      if (wasConnected && next.lostAt === undefined) next = { ...next, lostAt: at };
      if (isNewAttempt(fields.connection)) {
        const { splitBrain: _sb, handshakeAt: _hs, ...rest } = next;
        next = rest;
      }
    }
    const changes: Change[] = [];
    if (!known && event.verb === 'create')
      changes.push({ ...loc, type: 'created', object: 'connection', at });
    changes.push(...fieldChanges('connection', loc, known ? connection.fields : undefined, fields, at));
    return { state: withResource(state, withConnection(base, next)), changes };
  }

  if (event.object === 'path') {
    const key = `${event.id.local ?? ''} ${event.id.peer ?? ''}`;
    const paths =
      event.verb === 'destroy'
        ? without(connection.paths, key)
        : { ...connection.paths, [key]: merge(connection.paths[key], event.fields) };
    let next: ConnectionState = { ...connection, paths };
    // DRBD 9 establishes a path before the handshake; a connection that then goes StandAlone
    // without ever replicating failed its handshake.
    if (
      event.fields.established === 'yes' &&
      connection.fields.connection !== 'Connected' &&
      next.handshakeAt === undefined
    ) {
      next = { ...next, handshakeAt: at };
    }
    return { state: withResource(state, withConnection(base, next)), changes: [] };
  }

  // peer-device
  if (volume === undefined) return { state, changes: [] };
  const loc: Location = { host, resource: name, peer, volume };
  const before = connection.peerDevices[volume];
  if (event.verb === 'destroy') {
    if (before === undefined) return { state, changes: [] };
    const next = { ...connection, peerDevices: without(connection.peerDevices, volume) };
    return {
      state: withResource(state, withConnection(base, next)),
      changes: [{ ...loc, type: 'destroyed', object: 'peer-device', at }],
    };
  }
  const fields = withStatisticsDefaults(merge(before?.fields, event.fields), event.fields);
  const resync = trackResync(before, fields, at);
  const peerDevice: PeerDeviceState = { volume, fields, ...(resync === undefined ? {} : { resync }) };
  const changes: Change[] = [];
  if (before === undefined && event.verb === 'create')
    changes.push({ ...loc, type: 'created', object: 'peer-device', at });
  changes.push(...fieldChanges('peer-device', loc, before?.fields, fields, at));
  let next: ConnectionState = {
    ...connection,
    peerDevices: { ...connection.peerDevices, [volume]: peerDevice },
  };
  // The handshake is over once data flows; a split-brain it found is over once a peer device is
  // back to normal replication (after the resync that resolved it).
  if (replicates(fields.replication)) {
    const { handshakeAt: _hs, ...rest } = next;
    next = rest;
  }
  if (fields.replication === 'Established') {
    const { splitBrain: _sb, ...rest } = next;
    next = rest;
  }
  return { state: withResource(state, withConnection(base, next)), changes };
}

function applyResource(
  state: HostState,
  event: Events2Event,
  resource: ResourceState | undefined,
  at: number,
): Applied {
  const name = event.id.name ?? '';
  const loc: Location = { host: state.host, resource: name };
  if (event.verb === 'destroy') {
    if (resource === undefined) return { state, changes: [] };
    const next = { ...state, resources: without(state.resources, name) };
    return { state: next, changes: [{ ...loc, type: 'destroyed', object: 'resource', at }] };
  }
  if (event.verb === 'rename') {
    const newName = event.fields.new_name;
    if (resource === undefined || newName === undefined) return { state, changes: [] };
    const resources = { ...without(state.resources, name), [newName]: { ...resource, name: newName } };
    return { state: { ...state, resources }, changes: [{ ...loc, type: 'renamed', newName, at }] };
  }
  const base = resource ?? emptyResource(name);
  const next: ResourceState = { ...base, fields: merge(resource?.fields, event.fields) };
  const changes: Change[] = [];
  if (resource === undefined && event.verb === 'create') {
    changes.push({ ...loc, type: 'created', object: 'resource', at });
  }
  changes.push(...fieldChanges('resource', loc, resource?.fields, next.fields, at));
  return { state: withResource(state, next), changes };
}

/** Connection states that start a new attempt: what the previous handshake found is over. */
function isNewAttempt(connection: string | undefined): boolean {
  return (
    connection !== undefined &&
    connection !== 'Connected' &&
    connection !== 'Disconnecting' &&
    connection !== 'StandAlone'
  );
}

function applyHelper(
  state: HostState,
  event: Events2Event,
  resource: ResourceState | undefined,
  at: number,
): Applied {
  if (event.verb !== 'call' && event.verb !== 'response') return { state, changes: [] };
  const name = event.id.name ?? '';
  const helper = event.id.helper ?? '';
  const peer = event.id['conn-name'];
  const volume = num(event.id.volume);
  const status = num(event.fields.status);
  const change: Change = {
    host: state.host,
    resource: name,
    ...(peer === undefined ? {} : { peer }),
    ...(volume === undefined ? {} : { volume }),
    type: 'helper',
    phase: event.verb,
    helper,
    ...(status === undefined ? {} : { status }),
    at,
  };
  // Remember what the handshake found and what fencing answered, so later state changes (a resync,
  // a StandAlone, an Outdated disk) can say why they happen.
  const owner = peer ?? soleConnection(resource);
  const connection = owner === undefined ? undefined : resource?.connections[owner];
  if (resource === undefined || connection === undefined) return { state, changes: [change] };
  let next: ConnectionState = connection;
  if (event.verb === 'call' && isSplitBrainHelper(helper)) {
    const mark: SplitBrainMark = connection.splitBrain ?? {
      detectedAt: at,
      unresolved: false,
      localVictim: false,
    };
    next = {
      ...connection,
      splitBrain: {
        ...mark,
        unresolved: mark.unresolved || helper !== 'initial-split-brain',
        localVictim: mark.localVictim || helper === 'pri-lost-after-sb',
      },
    };
  } else if (event.verb === 'response' && helper === 'fence-peer' && status !== undefined) {
    next = { ...connection, fence: { ...decodeHelperStatus(status), at } };
  }
  if (next === connection) return { state, changes: [change] };
  return { state: withResource(state, withConnection(resource, next)), changes: [change] };
}

/** A helper line without conn-name belongs to the resource's only connection, if it has one. */
function soleConnection(resource: ResourceState | undefined): string | undefined {
  const peers = resource === undefined ? [] : Object.keys(resource.connections);
  return peers.length === 1 ? peers[0] : undefined;
}

/** The helpers DRBD calls while it handles a split-brain at the handshake. */
export function isSplitBrainHelper(helper: string): boolean {
  return helper === 'split-brain' || helper === 'initial-split-brain' || helper === 'pri-lost-after-sb';
}

/**
 * DRBD 9 reports a connection that stopped as StandAlone and destroys it only on `down`. DRBD 8.4
 * has no StandAlone connection object: after Disconnecting it destroys the peer device and the
 * connection. We keep such a connection as StandAlone, so both dialects look the same to the rules.
 */
function destroyConnection(
  state: HostState,
  resource: ResourceState,
  connection: ConnectionState,
  loc: Location,
  at: number,
): Applied {
  const last = connection.fields.connection;
  if (last === 'StandAlone' || last === undefined) {
    const next = { ...resource, connections: without(resource.connections, connection.peer) };
    return {
      state: withResource(state, next),
      changes: [{ ...loc, type: 'destroyed', object: 'connection', at }],
    };
  }
  const standAlone: ConnectionState = {
    ...connection,
    fields: { ...connection.fields, connection: 'StandAlone', role: 'Unknown' },
    lostAt: connection.lostAt ?? at,
    peerDevices: {},
  };
  const changes = fieldChanges('connection', loc, connection.fields, standAlone.fields, at);
  return { state: withResource(state, withConnection(resource, standAlone)), changes };
}

/**
 * A fresh dump after a stream restart does not show 8.4 connections that went StandAlone while we
 * were not looking (8.4 has no StandAlone connection object). Carry them over as StandAlone, the
 * same way `destroyConnection` does for a live stream.
 */
export function carryOverVanishedConnections(before: HostState, after: HostState): HostState {
  let state = after;
  for (const [name, res] of Object.entries(after.resources)) {
    const old = before.resources[name];
    if (old === undefined) continue;
    let next = res;
    for (const conn of Object.values(old.connections)) {
      if (next.connections[conn.peer] !== undefined || conn.fields.connection === 'StandAlone') continue;
      next = withConnection(next, {
        ...conn,
        fields: { ...conn.fields, connection: 'StandAlone', role: 'Unknown' },
        peerDevices: {},
      });
    }
    if (next !== res) state = withResource(state, next);
  }
  return state;
}

/** Every change that turns `before` into `after`: used after a stream restart to find what was missed. */
export function diffHostStates(before: HostState, after: HostState, at: number): Change[] {
  const host = after.host;
  const changes: Change[] = [];
  for (const name of Object.keys(before.resources)) {
    if (after.resources[name] === undefined) {
      changes.push({ host, resource: name, type: 'destroyed', object: 'resource', at });
    }
  }
  for (const [name, res] of Object.entries(after.resources)) {
    const old = before.resources[name];
    const loc: Location = { host, resource: name };
    if (old === undefined) {
      changes.push({ ...loc, type: 'created', object: 'resource', at });
      continue;
    }
    changes.push(...fieldChanges('resource', loc, old.fields, res.fields, at));
    for (const dev of Object.values(res.devices)) {
      const oldDev = old.devices[dev.volume];
      changes.push(...fieldChanges('device', { ...loc, volume: dev.volume }, oldDev?.fields, dev.fields, at));
    }
    for (const conn of Object.values(res.connections)) {
      const oldConn = old.connections[conn.peer];
      const connLoc = { ...loc, peer: conn.peer };
      changes.push(...fieldChanges('connection', connLoc, oldConn?.fields, conn.fields, at));
      for (const pd of Object.values(conn.peerDevices)) {
        const oldPd = oldConn?.peerDevices[pd.volume];
        changes.push(
          ...fieldChanges('peer-device', { ...connLoc, volume: pd.volume }, oldPd?.fields, pd.fields, at),
        );
      }
    }
  }
  return changes;
}
