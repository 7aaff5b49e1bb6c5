// Shared wiring of the approval-flow end-to-end tests (approvals-slack, approvals-discord): a DRBD
// pair in the simulator with r0 Primary on alpha, simulated LXD containers on r0, a configuration
// with an on-call team and policies, the real Daemon with the containers injected, and readers of
// what the daemon leaves behind (audit log, the simulated LXD's state file).

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { COMMANDS } from '../../commands/index.js';
import { type AuditRecord, readAudit } from '../../src/adapters/audit-log.js';
import { type Config, type PolicyConfig, parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import type { ChatPlatform, PlatformName } from '../../src/ports/chat.js';
import type { LockStore } from '../../src/ports/leases.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { type SimContainer, SimulatedContainers } from '../../src/sim/simulated-containers.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { until } from '../helpers/wait.js';

export const SIM_BIN = resolve(import.meta.dirname, '../../bin/drbdsetup-sim');
export const SUBNET = '198.51.100.0/24';
export const NEW_ADDRESS = '198.51.100.20';
export const OLD_ADDRESS = '198.51.100.10';
export const IP_SET = `ip set web1 ${NEW_ADDRESS}`;
export const logger = createLogger({ level: 'silent', format: 'json' });

/** A person with an id on each platform. */
export interface Person {
  readonly name: string;
  readonly slack: string;
  readonly discord: string;
}

export const PEOPLE = {
  alice: { name: 'alice', slack: 'U0ALICE', discord: '300000000000000011' },
  bob: { name: 'bob', slack: 'U0BOB', discord: '300000000000000012' },
  carol: { name: 'carol', slack: 'U0CAROL', discord: '300000000000000013' },
  dave: { name: 'dave', slack: 'U0DAVE', discord: '300000000000000014' },
  /** Not in the team. */
  mallory: { name: 'mallory', slack: 'U0MALLORY', discord: '300000000000000019' },
} as const satisfies Record<string, Person>;

export interface PairEnv {
  readonly dir: string;
  /** The DRBD simulator's directory. */
  readonly simDir: string;
  /** The daemon's stateDir (operations.ndjson, audit.ndjson). */
  readonly stateDir: string;
  readonly pair: SimulatedPair;
  readonly containers: SimulatedContainers;
}

/** r0 Primary on alpha; web1 and web2 Running on r0 with routed addresses in SUBNET. */
export function setupPair(): PairEnv {
  const dir = tempDir('drbd-chatops-approvals-');
  const simDir = join(dir, 'sim');
  const pair = SimulatedPair.init(simDir, {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  const lxdDir = join(dir, 'lxd');
  SimulatedContainers.init(lxdDir, [
    {
      name: 'web1',
      resource: 'r0',
      status: 'Running',
      device: 'eth0',
      parent: 'enp5s0',
      ipv4: [OLD_ADDRESS],
      ipv6: [],
    },
    {
      name: 'web2',
      resource: 'r0',
      status: 'Running',
      device: 'eth0',
      parent: 'enp5s0',
      ipv4: ['198.51.100.11'],
      ipv6: [],
    },
  ]);
  return {
    dir,
    simDir,
    stateDir: join(dir, 'state'),
    pair,
    containers: new SimulatedContainers(lxdDir, 'alpha'),
  };
}

export interface ConfigOptions {
  readonly team: readonly Person[];
  /** Names always on call. */
  readonly onCall?: readonly string[];
  readonly policy?: PolicyConfig;
  readonly slack?: Record<string, unknown>;
  readonly discord?: Record<string, unknown>;
  readonly leader?: Record<string, unknown>;
}

export function daemonConfig(env: PairEnv, options: ConfigOptions): Config {
  return parseConfig({
    host: 'alpha',
    stateDir: env.stateDir,
    log: { level: 'silent', format: 'json' },
    drbd: { drbdsetup: SIM_BIN, env: { DRBD_SIM_DIR: env.simDir, DRBD_SIM_HOST: 'alpha' } },
    ...(options.slack === undefined ? {} : { slack: options.slack }),
    ...(options.discord === undefined ? {} : { discord: options.discord }),
    ...(options.leader === undefined ? {} : { leader: options.leader }),
    resources: { r0: { subnets: [SUBNET] } },
    lxd: { stopTimeoutS: 5, verifyTimeoutMs: 2_000 },
    oncall: {
      team: options.team.map((p) => ({ name: p.name, slack: p.slack, discord: p.discord })),
      ...(options.onCall === undefined ? {} : { static: options.onCall }),
      announce: false,
    },
    ...(options.policy === undefined ? {} : { policies: { 'ip-set': options.policy } }),
  });
}

/** The real daemon with the simulated containers; resolves once its DRBD view shows r0 Primary. */
export async function startDaemon(
  env: PairEnv,
  config: Config,
  platforms: ReadonlyMap<PlatformName, ChatPlatform>,
  lockStore?: LockStore,
): Promise<Daemon> {
  const daemon = new Daemon({
    commands: COMMANDS,
    config,
    configPath: undefined,
    logger,
    platforms,
    containers: env.containers,
    ...(lockStore === undefined ? {} : { lockStore }),
  });
  await daemon.start();
  onCleanup(() => daemon.stop());
  await until(
    () =>
      daemon.watch?.isLive() === true &&
      daemon.watch.watcher.watch.state.resources.r0?.fields.role === 'Primary',
    'the daemon to see r0 Primary on alpha',
  );
  return daemon;
}

export function auditRecords(env: PairEnv): AuditRecord[] {
  return readAudit(join(env.stateDir, 'audit.ndjson')).records;
}

/**
 * Wait for the operation's `finished` record: the plan message shows the outcome a moment before
 * the audit log says it (the final edit comes first).
 */
export async function waitForFinished(env: PairEnv, id: string): Promise<AuditRecord> {
  let found: AuditRecord | undefined;
  await until(() => {
    found = auditRecords(env).find((r) => r.operation === id && r.event === 'finished');
    return found !== undefined;
  }, `the audit record of ${id} finishing`);
  return found as AuditRecord;
}

/** How many times `lxc <verb>` ran, over every step and rollback step in the audit log. */
export function lxcRuns(records: readonly AuditRecord[], verb: string): number {
  return records
    .flatMap((r) => r.step?.runs ?? [])
    .filter((run) => 'argv' in run && run.argv[0] === 'lxc' && run.argv[1] === verb).length;
}

/** The simulated LXD's state file, as it is on disk. */
export function lxdFile(env: PairEnv): string {
  return readFileSync(env.containers.path, 'utf8');
}

export function simContainer(env: PairEnv, name: string): SimContainer {
  const file = JSON.parse(lxdFile(env)) as { containers: SimContainer[] };
  const found = file.containers.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no simulated container ${name}`);
  return found;
}

/** Every string under a `text`, `title`, `name`, `value` or `description` key, in document order. */
export function textOf(value: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown, key: string | undefined): void => {
    if (typeof v === 'string') {
      if (key !== undefined && ['text', 'title', 'name', 'value', 'description'].includes(key)) parts.push(v);
      return;
    }
    if (Array.isArray(v)) {
      for (const item of v) walk(item, key);
      return;
    }
    if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) walk(child, k);
    }
  };
  walk(value, undefined);
  return parts.join('\n');
}

/** The index of the first version that matches, or -1. */
export function firstVersion(versions: readonly string[], ...needles: string[]): number {
  return versions.findIndex((v) => needles.every((n) => v.includes(n)));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
