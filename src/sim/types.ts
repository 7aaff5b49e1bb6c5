// Shared vocabulary of the DRBD simulator: the persisted state of a two-host pair.

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

export interface ResourceConfig {
  name: string;
  minor: number;
  /** TCP port of the replication link; lets the 8.4 `disconnect A:P B:P` find its resource. */
  port: number;
}

/** One host's side of one resource. */
export interface Replica {
  role: Role;
  disk: DiskState;
  conn: ConnState;
  /** Connected at the transport level while the sync handshake is still running. */
  handshaking: boolean;
  /** Set by `connect --discard-my-data`; consumed by the next handshake. */
  discardMyData: boolean;
  /** This side was Primary while not connected: its data may differ from the peer's. */
  diverged: boolean;
  /** Processes holding the device open (e.g. multipathd); they block `secondary`. */
  holders: string[];
}

export interface Resync {
  source: string;
  target: string;
  startedAtMs: number;
  durationMs: number;
  totalKiB: number;
  outOfSyncKiB: number;
  lastProgressMs: number;
}

export interface SimState {
  version: 1;
  dialect: Dialect;
  /** DRBD 9 only: false models `usermode_helper=disabled` (no helper events at all). */
  usermodeHelper: boolean;
  hosts: [string, string];
  addresses: Record<string, string>;
  resources: ResourceConfig[];
  up: Record<string, boolean>;
  /** Replication link per resource; false = the network between the hosts is cut. */
  links: Record<string, boolean>;
  replicas: Record<string, Record<string, Replica>>;
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

export function peerOf(state: SimState, host: string): string {
  const [a, b] = state.hosts;
  if (host === a) return b;
  if (host === b) return a;
  throw new SimError(`unknown host '${host}' (hosts: ${state.hosts.join(', ')})`, 2);
}

export function resourceConfig(state: SimState, resource: string): ResourceConfig {
  const config = state.resources.find((r) => r.name === resource);
  if (!config) throw new SimError(`${resource}: No such resource`, 10);
  return config;
}

export function nodeId(state: SimState, host: string): number {
  return state.hosts.indexOf(host);
}
