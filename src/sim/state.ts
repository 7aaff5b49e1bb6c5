// Creating, loading and saving the pair's shared state (state.json in the state directory).

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Dialect, type Replica, type ResourceConfig, SimError, type SimState } from './types.js';

export interface InitOptions {
  hosts: [string, string] | string[];
  resources: { name: string; minor: number; port?: number }[];
  dialect?: Dialect;
  /** Resource → host that starts as Primary (default: the first host). */
  primary?: Record<string, string>;
  /** DRBD 9: false = helpers disabled, no helper events. */
  usermodeHelper?: boolean;
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

export function initialState(opts: InitOptions): SimState {
  const hosts = opts.hosts;
  if (hosts.length !== 2 || hosts[0] === hosts[1])
    throw new SimError('exactly two distinct hosts are needed', 2);
  const [a, b] = hosts as [string, string];
  for (const host of hosts) if (!NAME.test(host)) throw new SimError(`invalid host name '${host}'`, 2);
  if (opts.resources.length === 0) throw new SimError('at least one resource is needed', 2);
  const resources: ResourceConfig[] = opts.resources.map((r) => {
    if (!NAME.test(r.name)) throw new SimError(`invalid resource name '${r.name}'`, 2);
    if (!Number.isInteger(r.minor) || r.minor < 0) throw new SimError(`invalid minor for ${r.name}`, 2);
    return { name: r.name, minor: r.minor, port: r.port ?? 7789 + r.minor };
  });
  const names = new Set(resources.map((r) => r.name));
  const minors = new Set(resources.map((r) => r.minor));
  if (names.size !== resources.length || minors.size !== resources.length) {
    throw new SimError('resource names and minors must be unique', 2);
  }
  const dialect = opts.dialect ?? '9';
  if (dialect !== '9' && dialect !== '8.4') throw new SimError(`unknown dialect '${String(dialect)}'`, 2);
  const primary = opts.primary ?? {};
  for (const [res, host] of Object.entries(primary)) {
    if (!names.has(res)) throw new SimError(`${res}: No such resource`, 10);
    if (host !== a && host !== b) throw new SimError(`unknown host '${host}'`, 2);
  }
  const replicas: Record<string, Record<string, Replica>> = { [a]: {}, [b]: {} };
  for (const res of resources) {
    const primaryHost = primary[res.name] ?? a;
    for (const host of [a, b]) {
      const byHost = replicas[host];
      if (!byHost) continue;
      byHost[res.name] = {
        role: host === primaryHost ? 'Primary' : 'Secondary',
        disk: 'UpToDate',
        conn: 'Connected',
        handshaking: false,
        discardMyData: false,
        diverged: false,
        holders: [],
      };
    }
  }
  const resyncSeconds = opts.resyncSeconds ?? 2;
  if (!(resyncSeconds > 0)) throw new SimError('resync seconds must be positive', 2);
  return {
    version: 1,
    dialect,
    usermodeHelper: opts.usermodeHelper ?? true,
    hosts: [a, b],
    addresses: { [a]: opts.addresses?.[a] ?? '10.0.0.1', [b]: opts.addresses?.[b] ?? '10.0.0.2' },
    resources,
    up: { [a]: true, [b]: true },
    links: Object.fromEntries(resources.map((r) => [r.name, true])),
    replicas,
    resyncs: {},
    resyncSeconds,
    deviceSizeKiB: 1_048_576,
  };
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
  if (state.version !== 1) throw new SimError(`unsupported simulator state version in ${path}`, 20);
  return state;
}

export function saveState(dir: string, state: SimState): void {
  const tmp = `${statePath(dir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, statePath(dir));
}

export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}
