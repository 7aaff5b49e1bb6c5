// Shared vocabulary of the DRBD simulator: the persisted state of two (DRBD 8.4 or 9) or three
// (DRBD 9) hosts replicating the same resources.

export type Dialect = '9' | '8.4';

export type Role = 'Primary' | 'Secondary';

export type DiskState =
  | 'Diskless'
  | 'Attaching'
  | 'Detaching'
  | 'Failed'
  | 'Negotiating'
  | 'Inconsistent'
  | 'Outdated'
  | 'DUnknown'
  | 'Consistent'
  | 'UpToDate';

/** DRBD 9 connection states (the 8.4 dialect maps them when printing). */
export type ConnState =
  | 'StandAlone'
  | 'Disconnecting'
  | 'Unconnected'
  | 'Timeout'
  | 'BrokenPipe'
  | 'NetworkFailure'
  | 'ProtocolError'
  | 'TearDown'
  | 'Connecting'
  | 'Connected';

/** How a connection that nobody asked to close breaks (drbd_receiver.c: the receiver's error). */
export type ConnectionCause = 'NetworkFailure' | 'BrokenPipe' | 'Timeout' | 'ProtocolError';
export const CONNECTION_CAUSES: readonly ConnectionCause[] = [
  'NetworkFailure',
  'BrokenPipe',
  'Timeout',
  'ProtocolError',
];

/** DRBD 9 replication states (`enum drbd_repl_state`; the 8.4 names are the same). */
export type ReplState =
  | 'Off'
  | 'Established'
  | 'StartingSyncS'
  | 'StartingSyncT'
  | 'WFBitMapS'
  | 'WFBitMapT'
  | 'WFSyncUUID'
  | 'SyncSource'
  | 'SyncTarget'
  | 'VerifyS'
  | 'VerifyT'
  | 'PausedSyncS'
  | 'PausedSyncT'
  | 'Ahead'
  | 'Behind';

/** drbd.conf `fencing`. */
export type Fencing = 'dont-care' | 'resource-only' | 'resource-and-stonith';
export const FENCING_POLICIES: readonly Fencing[] = ['dont-care', 'resource-only', 'resource-and-stonith'];

/** drbd.conf `after-sb-0pri` (discard-node-NAME names the victim). */
export const AFTER_SB_0PRI = [
  'disconnect',
  'discard-younger-primary',
  'discard-older-primary',
  'discard-zero-changes',
  'discard-least-changes',
] as const;
/** drbd.conf `after-sb-1pri`. */
export const AFTER_SB_1PRI = [
  'disconnect',
  'consensus',
  'violently-as0p',
  'discard-secondary',
  'call-pri-lost-after-sb',
] as const;
/** drbd.conf `after-sb-2pri`. */
export const AFTER_SB_2PRI = ['disconnect', 'violently-as0p', 'call-pri-lost-after-sb'] as const;

export type OnNoQuorum = 'suspend-io' | 'io-error';
export type OnIoError = 'detach' | 'call-local-io-error';
export type OnNoDataAccessible = 'io-error' | 'suspend-io';

export interface ResourceConfig {
  name: string;
  minor: number;
  /** TCP port of the replication link; lets the 8.4 `disconnect A:P B:P` find its resource. */
  port: number;
  fencing: Fencing;
  /** Exit code the configured fence-peer handler answers with (3–7 are outcomes, others "broken"). */
  fenceExit: number;
  afterSb0pri: string;
  afterSb1pri: string;
  afterSb2pri: string;
  /** DRBD 9 `quorum` option: off, or majority of all nodes (each node counts itself). */
  quorum: 'off' | 'majority';
  onNoQuorum: OnNoQuorum;
  onIoError: OnIoError;
  onNoDataAccessible: OnNoDataAccessible;
}

/** One host's side of one resource: what its device and resource objects report. */
export interface Replica {
  role: Role;
  disk: DiskState;
  /** Processes holding the device open (e.g. multipathd); they block `secondary`. */
  holders: string[];
  /** I/O suspended by `suspend-io` (suspended:user). */
  suspendedUser: boolean;
  /** I/O suspended because no UpToDate data is reachable (on-no-data-accessible suspend-io). */
  suspendedNoData: boolean;
  /** When this host last became Primary (µs), to tell the younger Primary of a split-brain. */
  primarySince: number;
}

/** One host's view of its connection to one peer for one resource (connection + peer-device). */
export interface Endpoint {
  conn: ConnState;
  /** Replication state while connected; Off during the handshake and when not connected. */
  repl: ReplState;
  /** DRBD 8.4 only: the connection has a net config (8.4 lists no connection object without one). */
  configured: boolean;
  /** Set by `connect --discard-my-data`; consumed by the next handshake. */
  discardMyData: boolean;
  /** This host wrote (as Primary) while not replicating to this peer: its bitmap has bits set. */
  wrote: boolean;
  /** KiB written while not replicating to this peer (after-sb "changes"). */
  changesKiB: number;
  /** This host was Primary when the link to this peer broke (the "older" Primary of a split). */
  primaryAtSplit: boolean;
  /** Blocks known out of sync with this peer outside a resync (verify found them, Ahead mode). */
  outOfSyncKiB: number;
  /** What fence-peer established about the peer's disk while disconnected (Outdated/Inconsistent). */
  fencedPeerDisk: DiskState | null;
  /** I/O frozen while fencing this peer (fencing resource-and-stonith): suspended:fencing. */
  suspendedFencing: boolean;
  /** This host fenced the peer: unfence-peer is called once they are in sync again. */
  fenced: boolean;
  /** `pause-sync` here: resync-suspended:user here, resync-suspended:peer on the peer. */
  pausedUser: boolean;
  /** `resync-after` holds this resync back: resync-suspended:dependency. */
  pausedDependency: boolean;
}

export interface Resync {
  resource: string;
  source: string;
  target: string;
  /** A resync, or an online verify (VerifyS on `source`, VerifyT on `target`). */
  kind: 'resync' | 'verify';
  startedAtMs: number;
  durationMs: number;
  totalKiB: number;
  /** Still to go (resync: out of sync; verify: left to verify). */
  outOfSyncKiB: number;
  lastProgressMs: number;
  /** Time spent paused so far, and since when it is paused (null while running). */
  pausedMs: number;
  pausedAtMs: number | null;
  /** Verify only: KiB found out of sync when it completes. */
  foundKiB: number;
}

export interface SimState {
  version: 2;
  dialect: Dialect;
  /** DRBD 9 only: false models `usermode_helper=disabled` (no helper events at all). */
  usermodeHelper: boolean;
  /** drbd-utils version printing the streams; before 9.28 DRBD 9 printed `- skipped N` lines. */
  utilsVersion: string;
  /** Two hosts, or three on DRBD 9 (e.g. a diskless quorum tiebreaker). */
  hosts: string[];
  /** Intentionally diskless hosts (`client:yes`; `peer-client:yes` on their peers). */
  clients: string[];
  addresses: Record<string, string>;
  resources: ResourceConfig[];
  up: Record<string, boolean>;
  /** Network between two hosts for a resource (key from linkKey); false = cut. */
  links: Record<string, boolean>;
  replicas: Record<string, Record<string, Replica>>;
  /** endpoints[host][resource][peer]. */
  endpoints: Record<string, Record<string, Record<string, Endpoint>>>;
  /** Running resyncs and verifies, keyed by syncKey(resource, source, target). */
  resyncs: Record<string, Resync>;
  resyncSeconds: number;
  deviceSizeKiB: number;
}

/** What a drbdsetup verb prints and returns. */
export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A usage or setup error of the simulator itself (not a DRBD refusal). */
export class SimError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'SimError';
  }
}

export function replicaOf(state: SimState, host: string, resource: string): Replica {
  const replica = state.replicas[host]?.[resource];
  if (!replica) throw new SimError(`${resource}: No such resource`, 10);
  return replica;
}

/** The hosts `host` has connections to, in node-id order. */
export function peersOf(state: SimState, host: string): string[] {
  if (!state.hosts.includes(host))
    throw new SimError(`unknown host '${host}' (hosts: ${state.hosts.join(', ')})`, 2);
  return state.hosts.filter((h) => h !== host);
}

/** The other host of a two-host pair (on three hosts: the first other one). */
export function peerOf(state: SimState, host: string): string {
  const [peer] = peersOf(state, host);
  if (peer === undefined) throw new SimError(`host '${host}' has no peer`, 2);
  return peer;
}

export function endpointOf(state: SimState, host: string, resource: string, peer: string): Endpoint {
  const endpoint = state.endpoints[host]?.[resource]?.[peer];
  if (!endpoint) throw new SimError(`${resource}: no connection from ${host} to ${peer}`, 10);
  return endpoint;
}

export function resourceConfig(state: SimState, resource: string): ResourceConfig {
  const config = state.resources.find((r) => r.name === resource);
  if (!config) throw new SimError(`${resource}: No such resource`, 10);
  return config;
}

export function nodeId(state: SimState, host: string): number {
  return state.hosts.indexOf(host);
}

export function isClient(state: SimState, host: string): boolean {
  return state.clients.includes(host);
}

/** Key of the network link between two hosts for one resource (order-independent). */
export function linkKey(state: SimState, resource: string, a: string, b: string): string {
  const [x, y] = nodeId(state, a) < nodeId(state, b) ? [a, b] : [b, a];
  return `${resource}|${x}|${y}`;
}

export function syncKey(resource: string, source: string, target: string): string {
  return `${resource}|${source}|${target}`;
}

/** The handshake is over and the peers exchange data (Established or any sync state). */
export function established(endpoint: Endpoint): boolean {
  return endpoint.conn === 'Connected' && endpoint.repl !== 'Off';
}

/** Established and not being resynced or held back: new writes reach the peer. */
export function replicating(endpoint: Endpoint): boolean {
  return established(endpoint) && endpoint.repl !== 'Ahead' && endpoint.repl !== 'Behind';
}

/** drbd-utils before 9.28 printed `- skipped N`; compares dotted versions numerically. */
export function utilsBefore(state: SimState, version: string): boolean {
  const a = state.utilsVersion.split('.').map(Number);
  const b = version.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}
