// Creating, loading and saving the simulated hosts' shared state (state.json in the state directory).

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  AFTER_SB_0PRI,
  AFTER_SB_1PRI,
  AFTER_SB_2PRI,
  type Dialect,
  type Endpoint,
  FENCING_POLICIES,
  type Fencing,
  linkKey,
  type OnIoError,
  type OnNoDataAccessible,
  type OnNoQuorum,
  type Replica,
  type ResourceConfig,
  SimError,
  type SimState,
} from './types.js';

/** Per-resource DRBD configuration the simulator honours (drbd.conf names in comments). */
export interface ResourceOptions {
  /** `fencing` (default dont-care: no fence-peer helper). */
  fencing?: Fencing;
  /** Exit code of the fence-peer handler (default 4: peer was fenced). */
  fenceExit?: number;
  /** `after-sb-0pri` / `after-sb-1pri` / `after-sb-2pri` (default disconnect). */
  afterSb0pri?: string;
  afterSb1pri?: string;
  afterSb2pri?: string;
  /** DRBD 9 `quorum` (default off) and `on-no-quorum` (default suspend-io). */
  quorum?: 'off' | 'majority';
  onNoQuorum?: OnNoQuorum;
  /** `on-io-error` (default detach: no local-io-error helper). */
  onIoError?: OnIoError;
  /** `on-no-data-accessible` (default io-error). */
  onNoDataAccessible?: OnNoDataAccessible;
}

export interface InitOptions extends ResourceOptions {
  /** Two hosts; on DRBD 9 also three (e.g. a diskless quorum tiebreaker). */
  hosts: string[];
  resources: { name: string; minor: number; port?: number }[];
  dialect?: Dialect;
  /** Resource → host that starts as Primary (default: the first host). */
  primary?: Record<string, string>;
  /** DRBD 9: intentionally diskless hosts (`client:yes`), e.g. the tiebreaker. */
  clients?: string[];
  /** DRBD 9: false = helpers disabled, no helper events. */
  usermodeHelper?: boolean;
  /** drbd-utils version (default 9.28.0 for DRBD 9, 9.11.0 for 8.4 as on Ubuntu 20.04). */
  utilsVersion?: string;
  /** Host → IPv4 address used in path lines and the 8.4 connect/disconnect arguments. */
  addresses?: Record<string, string>;
  /** Duration of resyncs started by handshakes (default 2 s). */
  resyncSeconds?: number;
}

export interface Clock {
  nowMs(): number;
  nowMicros(): number;
}

let lastMicros = 0;

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  nowMicros: () => {
    // Strictly increasing so events keep their order even within one microsecond.
    const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    lastMicros = micros > lastMicros ? micros : lastMicros + 1;
    return lastMicros;
  },
};

const NAME = /^[A-Za-z0-9_.-]+$/;

function checkPolicy(value: string, allowed: readonly string[], option: string, hosts: string[]): void {
  if (allowed.includes(value)) return;
  if (option === 'after-sb-0pri' && value.startsWith('discard-node-')) {
    const node = value.slice('discard-node-'.length);
    if (hosts.includes(node)) return;
  }
  throw new SimError(`invalid ${option} policy '${value}' (one of: ${allowed.join(', ')})`, 2);
}

/** Validates per-resource options; `dialect` limits what DRBD 8.4 has. */
export function resourceSettings(
  opts: ResourceOptions,
  dialect: Dialect,
  hosts: string[],
  base?: ResourceConfig,
): Omit<ResourceConfig, 'name' | 'minor' | 'port'> {
  const fencing = opts.fencing ?? base?.fencing ?? 'dont-care';
  if (!FENCING_POLICIES.includes(fencing)) throw new SimError(`invalid fencing policy '${fencing}'`, 2);
  const fenceExit = opts.fenceExit ?? base?.fenceExit ?? 4;
  if (!Number.isInteger(fenceExit) || fenceExit < 0 || fenceExit > 255)
    throw new SimError('fence-peer exit code must be 0..255', 2);
  const afterSb0pri = opts.afterSb0pri ?? base?.afterSb0pri ?? 'disconnect';
  const afterSb1pri = opts.afterSb1pri ?? base?.afterSb1pri ?? 'disconnect';
  const afterSb2pri = opts.afterSb2pri ?? base?.afterSb2pri ?? 'disconnect';
  checkPolicy(afterSb0pri, AFTER_SB_0PRI, 'after-sb-0pri', hosts);
  checkPolicy(afterSb1pri, AFTER_SB_1PRI, 'after-sb-1pri', hosts);
  checkPolicy(afterSb2pri, AFTER_SB_2PRI, 'after-sb-2pri', hosts);
  const quorum = opts.quorum ?? base?.quorum ?? 'off';
  if (quorum !== 'off' && quorum !== 'majority') throw new SimError(`invalid quorum '${quorum}'`, 2);
  if (quorum !== 'off' && dialect === '8.4') throw new SimError('DRBD 8.4 has no quorum', 2);
  const onNoQuorum = opts.onNoQuorum ?? base?.onNoQuorum ?? 'suspend-io';
  if (onNoQuorum !== 'suspend-io' && onNoQuorum !== 'io-error')
    throw new SimError(`invalid on-no-quorum '${onNoQuorum}'`, 2);
  const onIoError = opts.onIoError ?? base?.onIoError ?? 'detach';
  if (onIoError !== 'detach' && onIoError !== 'call-local-io-error')
    throw new SimError(`invalid on-io-error '${onIoError}'`, 2);
  const onNoDataAccessible = opts.onNoDataAccessible ?? base?.onNoDataAccessible ?? 'io-error';
  if (onNoDataAccessible !== 'io-error' && onNoDataAccessible !== 'suspend-io')
    throw new SimError(`invalid on-no-data-accessible '${onNoDataAccessible}'`, 2);
  return {
    fencing,
    fenceExit,
    afterSb0pri,
    afterSb1pri,
    afterSb2pri,
    quorum,
    onNoQuorum,
    onIoError,
    onNoDataAccessible,
  };
}

export function newReplica(role: Replica['role'], disk: Replica['disk']): Replica {
  return { role, disk, holders: [], suspendedUser: false, suspendedNoData: false, primarySince: 0 };
}

export function newEndpoint(conn: Endpoint['conn'], repl: Endpoint['repl']): Endpoint {
  return {
    conn,
    repl,
    configured: conn !== 'StandAlone',
    discardMyData: false,
    wrote: false,
    changesKiB: 0,
    primaryAtSplit: false,
    outOfSyncKiB: 0,
    fencedPeerDisk: null,
    suspendedFencing: false,
    fenced: false,
    pausedUser: false,
    pausedDependency: false,
  };
}

export function initialState(opts: InitOptions): SimState {
  const hosts = opts.hosts;
  const dialect = opts.dialect ?? '9';
  if (dialect !== '9' && dialect !== '8.4') throw new SimError(`unknown dialect '${String(dialect)}'`, 2);
  if (hosts.length < 2 || hosts.length > 3 || new Set(hosts).size !== hosts.length)
    throw new SimError('two or three distinct hosts are needed', 2);
  if (hosts.length === 3 && dialect === '8.4')
    throw new SimError('DRBD 8.4 connects exactly two hosts; a third node needs --dialect 9', 2);
  for (const host of hosts) if (!NAME.test(host)) throw new SimError(`invalid host name '${host}'`, 2);
  const clients = opts.clients ?? [];
  for (const client of clients)
    if (!hosts.includes(client)) throw new SimError(`client '${client}' is not one of the hosts`, 2);
  if (clients.length > 0 && dialect === '8.4')
    throw new SimError('DRBD 8.4 has no intentionally diskless clients (client:yes)', 2);
  if (hosts.length - clients.length < 1) throw new SimError('at least one host needs a disk', 2);
  if (opts.resources.length === 0) throw new SimError('at least one resource is needed', 2);
  const settings = resourceSettings(opts, dialect, hosts);
  const resources: ResourceConfig[] = opts.resources.map((r) => {
    if (!NAME.test(r.name)) throw new SimError(`invalid resource name '${r.name}'`, 2);
    if (!Number.isInteger(r.minor) || r.minor < 0) throw new SimError(`invalid minor for ${r.name}`, 2);
    return { name: r.name, minor: r.minor, port: r.port ?? 7789 + r.minor, ...settings };
  });
  const names = new Set(resources.map((r) => r.name));
  const minors = new Set(resources.map((r) => r.minor));
  if (names.size !== resources.length || minors.size !== resources.length) {
    throw new SimError('resource names and minors must be unique', 2);
  }
  const diskful = hosts.filter((h) => !clients.includes(h));
  const primary = opts.primary ?? {};
  for (const [res, host] of Object.entries(primary)) {
    if (!names.has(res)) throw new SimError(`${res}: No such resource`, 10);
    if (!hosts.includes(host)) throw new SimError(`unknown host '${host}'`, 2);
  }
  const utilsVersion = opts.utilsVersion ?? (dialect === '8.4' ? '9.11.0' : '9.28.0');
  if (!/^\d+(\.\d+){0,2}$/.test(utilsVersion))
    throw new SimError(`invalid drbd-utils version '${utilsVersion}'`, 2);
  const state: SimState = {
    version: 2,
    dialect,
    usermodeHelper: opts.usermodeHelper ?? true,
    utilsVersion,
    hosts: [...hosts],
    clients: [...clients],
    addresses: Object.fromEntries(
      hosts.map((h, i) => [h, opts.addresses?.[h] ?? `10.0.0.${i + 1}`] as const),
    ),
    resources,
    up: Object.fromEntries(hosts.map((h) => [h, true] as const)),
    links: {},
    replicas: {},
    endpoints: {},
    resyncs: {},
    resyncSeconds: opts.resyncSeconds ?? 2,
    deviceSizeKiB: 1_048_576,
  };
  if (!(state.resyncSeconds > 0)) throw new SimError('resync seconds must be positive', 2);
  for (const res of resources) addResource(state, res, primary[res.name] ?? diskful[0] ?? '', 'UpToDate');
  return state;
}

/** Adds a resource's replicas, endpoints and links; everything Connected and Established. */
export function addResource(
  state: SimState,
  res: ResourceConfig,
  primaryHost: string,
  disk: 'UpToDate',
): void {
  for (const host of state.hosts) {
    const client = state.clients.includes(host);
    const replica = newReplica(host === primaryHost ? 'Primary' : 'Secondary', client ? 'Diskless' : disk);
    const replicas = state.replicas[host] ?? {};
    replicas[res.name] = replica;
    state.replicas[host] = replicas;
    const byPeer: Record<string, Endpoint> = {};
    for (const peer of state.hosts) if (peer !== host) byPeer[peer] = newEndpoint('Connected', 'Established');
    const endpoints = state.endpoints[host] ?? {};
    endpoints[res.name] = byPeer;
    state.endpoints[host] = endpoints;
  }
  for (const a of state.hosts)
    for (const b of state.hosts) if (a !== b) state.links[linkKey(state, res.name, a, b)] = true;
}

export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

export function loadState(dir: string): SimState {
  const path = statePath(dir);
  if (!existsSync(path)) {
    throw new SimError(
      `${dir} is not an initialised DRBD simulator directory (run: drbdsetup-sim sim init)`,
      20,
    );
  }
  const state = JSON.parse(readFileSync(path, 'utf8')) as SimState;
  if (state.version !== 2)
    throw new SimError(`unsupported simulator state version in ${path} (run sim init again)`, 20);
  return state;
}

export function saveState(dir: string, state: SimState): void {
  writeFileAtomically(statePath(dir), `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Replace a file in one step (temp file, rename), so that a reader in another process never sees
 * half of it. The simulator needs no fsync: it stands in for the kernel, not for a disk.
 */
export function writeFileAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}
