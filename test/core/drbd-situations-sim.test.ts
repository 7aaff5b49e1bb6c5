// The DRBD situations of drbd-situations.ts played by the simulator: `bin/drbdsetup-sim sim …`
// drives the scenario, one real `drbdsetup-sim events2 --timestamps --statistics` process per host
// (what the daemon runs) prints what that host's kernel would, and each stream goes line by line
// through the real watcher. The operator must be told the same as from the hand-written streams.

import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertKind, Notification } from '../../src/core/notification.js';
import { HostWatcher } from '../../src/core/watcher.js';
import { SIM_BIN, tempDir } from '../sim/helpers.js';
import type { Expected } from './drbd-situations.js';

interface Scenario {
  readonly name: string;
  readonly dialect: '9' | '8.4';
  /** Options of `sim init` besides hosts, resources, dialect and the Primary. */
  readonly init?: readonly string[];
  readonly hosts?: readonly string[];
  readonly steps: readonly (readonly string[])[];
  /** Notifications that come later, from the stream's own clock (a resync that finishes). */
  readonly until?: Readonly<Record<string, readonly AlertKind[]>>;
  readonly expect: Readonly<Record<string, readonly Expected[]>>;
  /** How to mark the end of the scenario in each stream: a helper call, or (without helper
   * events, usermode_helper=disabled) a process opening the device. */
  readonly marker?: 'helper' | 'open';
}

const RECIPE = 'drbdadm connect --discard-my-data';

/** DRBD 8.4 (drbdsetup-84) calls every peer `peer`. */
function named(dialect: '9' | '8.4', host: string): string {
  return dialect === '8.4' ? 'peer' : host;
}

const SCENARIOS: readonly Scenario[] = [
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'fence-peer fenced the peer (4)',
      dialect,
      steps: [['fence-peer', 'r0', '--exit', '4']],
      expect: {
        alpha: [
          { kind: 'connection-lost', severity: 'critical', says: ['writes are not replicated'] },
          { kind: 'fencing', severity: 'info', details: { outcome: 'peer-outdated', exitCode: 4 } },
        ],
        beta: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'disk-degraded', severity: 'warning', says: ['disk is Outdated'] },
        ],
      },
    }),
  ),
  {
    name: 'fence-peer with resource-and-stonith: I/O frozen while it runs, the peer fenced (4)',
    dialect: '9',
    steps: [['fence-peer', 'r0', '--exit', '4', '--stonith']],
    expect: {
      alpha: [
        { kind: 'suspended', severity: 'warning', says: ['fence-peer handler is fencing the peer'] },
        { kind: 'connection-lost', severity: 'critical' },
        { kind: 'fencing', severity: 'info', details: { outcome: 'peer-outdated' } },
        { kind: 'resumed', severity: 'info' },
      ],
      beta: [
        { kind: 'connection-lost', severity: 'warning' },
        { kind: 'disk-degraded', severity: 'warning' },
      ],
    },
  },
  {
    name: 'fence-peer: the peer is Inconsistent (3)',
    dialect: '9',
    steps: [['fence-peer', 'r0', '--exit', '3']],
    expect: {
      alpha: [
        { kind: 'connection-lost', severity: 'critical' },
        { kind: 'fencing', severity: 'info', details: { outcome: 'peer-inconsistent' } },
      ],
    },
  },
  {
    name: 'fence-peer: the peer is unreachable (5)',
    dialect: '9',
    steps: [['fence-peer', 'r0', '--exit', '5']],
    expect: {
      alpha: [
        { kind: 'connection-lost', severity: 'critical' },
        { kind: 'fencing', severity: 'warning', details: { outcome: 'peer-unreachable' } },
      ],
    },
  },
  {
    name: 'fence-peer: the peer is Primary, this node outdated itself (6)',
    dialect: '9',
    steps: [['fence-peer', 'r0', '--exit', '6']],
    expect: {
      alpha: [
        { kind: 'connection-lost', severity: 'critical' },
        { kind: 'fencing', severity: 'warning', says: ['alpha outdated its own disk'] },
      ],
    },
  },
  {
    name: 'fence-peer: the peer was STONITHed (7)',
    dialect: '9',
    steps: [['fence-peer', 'r0', '--exit', '7', '--stonith']],
    expect: {
      alpha: [
        { kind: 'suspended', severity: 'warning' },
        { kind: 'connection-lost', severity: 'critical' },
        { kind: 'fencing', severity: 'warning', says: ['STONITH'] },
        { kind: 'resumed', severity: 'info' },
      ],
    },
  },
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'fence-peer handler broken: I/O stays frozen until resume-io',
      dialect,
      steps: [
        ['fence-peer', 'r0', '--exit', '1', '--stonith'],
        ['resume-io', 'alpha', 'r0'],
      ],
      expect: {
        alpha: [
          { kind: 'suspended', severity: 'warning' },
          { kind: 'connection-lost', severity: 'critical' },
          {
            kind: 'helper-failed',
            severity: 'critical',
            says: ['exited with code 1', 'stays frozen'],
            details: { outcome: 'broken' },
          },
          { kind: 'resumed', severity: 'info' },
        ],
        beta: [{ kind: 'connection-lost', severity: 'warning' }],
      },
    }),
  ),
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'split-brain resolved by the after-sb policy',
      dialect,
      steps: [
        [
          'split-brain',
          'r0',
          '--after-sb-0pri',
          'discard-zero-changes',
          '--primaries',
          'none',
          '--changes',
          'beta=0',
        ],
      ],
      until: { alpha: ['resync-finished'], beta: ['resync-finished'] },
      expect: {
        alpha: [
          { kind: 'connection-lost', severity: 'critical' },
          { kind: 'role-changed', severity: 'info' },
          { kind: 'connection-restored', severity: 'info' },
          {
            kind: 'split-brain-resolved',
            severity: 'critical',
            says: [`${named(dialect, 'beta')}'s changes since the split are discarded`],
            never: ['discard-my-data'],
          },
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-finished', severity: 'info' },
        ],
        beta: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'role-changed', severity: 'info' },
          { kind: 'role-changed', severity: 'info' },
          { kind: 'connection-restored', severity: 'info' },
          {
            kind: 'split-brain-resolved',
            severity: 'critical',
            details: { victim: 'beta' },
            never: ['discard-my-data'],
          },
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
    }),
  ),
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'split-brain DRBD did not resolve',
      dialect,
      steps: [['split-brain', 'r0']],
      expect: {
        alpha: [
          { kind: 'connection-lost', severity: 'critical' },
          { kind: 'split-brain', severity: 'critical', says: [RECIPE] },
          { kind: 'standalone', severity: 'critical', says: ['follows the split-brain'] },
        ],
        beta: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'role-changed', severity: 'info' },
          { kind: 'split-brain', severity: 'critical', says: [RECIPE] },
          { kind: 'standalone', severity: 'critical' },
        ],
      },
    }),
  ),
  {
    name: 'split-brain without helper events (usermode_helper=disabled)',
    dialect: '9',
    init: ['--no-usermode-helper'],
    marker: 'open',
    steps: [['split-brain', 'r0']],
    expect: {
      alpha: [
        { kind: 'connection-lost', severity: 'critical' },
        { kind: 'standalone', severity: 'critical', says: ['right after the handshake', RECIPE] },
      ],
    },
  },
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'pri-lost-after-sb names the victim',
      dialect,
      steps: [['pri-lost-after-sb', 'r0']],
      expect: {
        // The survivor only sees the handshake break off.
        alpha: [
          { kind: 'connection-lost', severity: 'critical' },
          {
            kind: 'split-brain',
            severity: 'critical',
            says: ['dropped before it was resolved'],
            never: [RECIPE],
          },
        ],
        beta: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'role-changed', severity: 'info', says: ['is now Primary'] },
          {
            kind: 'split-brain',
            severity: 'critical',
            says: ['chose beta as the victim', 'pri-lost-after-sb', RECIPE],
            details: { victim: 'beta' },
          },
          { kind: 'standalone', severity: 'critical', says: ['follows the split-brain'] },
        ],
      },
    }),
  ),
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'online verify found out-of-sync blocks',
      dialect,
      steps: [['verify', 'r0', '--seconds', '1', '--out-of-sync', '12']],
      until: { alpha: ['out-of-sync'], beta: ['out-of-sync'] },
      expect: {
        alpha: [
          { kind: 'out-of-sync', severity: 'warning', says: ['12 KiB out of sync', 'drbdadm disconnect r0'] },
        ],
        beta: [{ kind: 'out-of-sync', severity: 'warning', says: ['12 KiB out of sync'] }],
      },
    }),
  ),
  {
    name: 'a diskless tiebreaker is healthy; losing it costs a quorum vote only',
    dialect: '9',
    hosts: ['alpha', 'beta', 'gamma'],
    init: ['--clients', 'gamma'],
    steps: [['link-down', 'r0', '--between', 'alpha,gamma']],
    expect: {
      alpha: [{ kind: 'connection-lost', severity: 'warning', says: ['gamma is a diskless client'] }],
      beta: [],
      gamma: [
        {
          kind: 'connection-lost',
          severity: 'warning',
          says: ['redundancy reduced, beta still has a current copy'],
        },
      ],
    },
  },
  {
    name: 'three diskful nodes: redundancy reduced, then writes not replicated',
    dialect: '9',
    hosts: ['alpha', 'beta', 'gamma'],
    steps: [
      ['link-down', 'r0', '--between', 'alpha,beta'],
      ['link-down', 'r0', '--between', 'alpha,gamma'],
    ],
    expect: {
      alpha: [
        { kind: 'connection-lost', severity: 'warning', says: ['writes still replicate to gamma'] },
        { kind: 'connection-lost', severity: 'critical', says: ['writes are not replicated'] },
      ],
    },
  },
  {
    name: 'quorum lost on the Primary',
    dialect: '9',
    hosts: ['alpha', 'beta', 'gamma'],
    init: ['--clients', 'gamma'],
    steps: [['quorum-lost', 'alpha', 'r0']],
    expect: {
      alpha: [
        { kind: 'suspended', severity: 'critical', says: ['lost quorum'] },
        { kind: 'connection-lost', severity: 'critical', says: ['writes are not replicated'] },
        { kind: 'connection-lost', severity: 'warning', says: ['gamma is a diskless client'] },
        { kind: 'quorum-lost', severity: 'critical', says: ['while Primary'] },
      ],
    },
  },
  {
    name: 'quorum lost on a Secondary',
    dialect: '9',
    hosts: ['alpha', 'beta', 'gamma'],
    init: ['--clients', 'gamma'],
    steps: [['quorum-lost', 'beta', 'r0']],
    expect: {
      // DRBD marks I/O suspended (quorum) on a Secondary too; nothing writes there, so it is not news.
      beta: [
        { kind: 'connection-lost', severity: 'warning' },
        { kind: 'connection-lost', severity: 'warning', says: ['gamma is a diskless client'] },
        { kind: 'quorum-lost', severity: 'warning', says: ['nothing freezes on a Secondary'] },
      ],
    },
  },
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'a normal resync after a reconnect: no disk alert for the transient Outdated',
      dialect,
      steps: [
        ['link-down', 'r0'],
        ['link-up', 'r0'],
      ],
      until: { alpha: ['resync-finished'], beta: ['resync-finished'] },
      expect: {
        alpha: [
          { kind: 'connection-lost', severity: 'critical' },
          { kind: 'connection-restored', severity: 'info' },
          { kind: 'resync-started', severity: 'info', says: [`alpha → ${named(dialect, 'beta')}`] },
          { kind: 'resync-finished', severity: 'info' },
        ],
        beta: [
          { kind: 'connection-lost', severity: 'warning' },
          { kind: 'connection-restored', severity: 'info' },
          { kind: 'resync-started', severity: 'info', says: [`${named(dialect, 'alpha')} → beta`] },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
    }),
  ),
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'a new resource and its initial sync',
      dialect,
      steps: [['new-resource', 'r1:1', '--primary', 'alpha', '--seconds', '1']],
      until: { alpha: ['resync-finished'], beta: ['resync-finished'] },
      // Attaching → Inconsistent and both disks Inconsistent before the initial sync: no disk alert.
      expect: {
        alpha: [
          { kind: 'resource-added', severity: 'info' },
          { kind: 'role-changed', severity: 'info', says: ['r1 on alpha is now Primary'] },
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-finished', severity: 'info' },
        ],
        beta: [
          { kind: 'resource-added', severity: 'info' },
          { kind: 'role-changed', severity: 'info', says: ['is now Primary'] },
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
    }),
  ),
  {
    name: 'administrative detach: a warning, not a disk failure',
    dialect: '9',
    steps: [['detach', 'beta', 'r0']],
    expect: {
      alpha: [{ kind: 'peer-disk-degraded', severity: 'warning', details: { cause: 'detached' } }],
      beta: [
        {
          kind: 'disk-degraded',
          severity: 'warning',
          says: ['detached on purpose'],
          details: { cause: 'detached' },
        },
      ],
    },
  },
  {
    name: 'administrative detach, which DRBD 8.4 cannot tell from a failure',
    dialect: '8.4',
    steps: [['detach', 'beta', 'r0']],
    expect: {
      alpha: [{ kind: 'peer-disk-degraded', severity: 'critical' }],
      beta: [{ kind: 'disk-degraded', severity: 'critical', details: { cause: 'failed-or-detached' } }],
    },
  },
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'disk failure',
      dialect,
      steps: [['disk-fail', 'beta', 'r0', '--local-io-error']],
      expect: {
        alpha: [
          { kind: 'peer-disk-degraded', severity: 'critical', says: ['alpha holds the only current copy'] },
        ],
        beta: [{ kind: 'disk-degraded', severity: 'critical', says: ['the only copy left'] }],
      },
    }),
  ),
  {
    name: 'events skipped (drbdsetup-84)',
    dialect: '8.4',
    steps: [['skip', 'alpha', '-5']],
    expect: { alpha: [{ kind: 'watcher-gap', severity: 'warning', details: { skipped: -5 } }], beta: [] },
  },
  {
    name: 'events skipped (drbd-utils 9.11)',
    dialect: '9',
    init: ['--drbd-utils', '9.11.0'],
    steps: [['skip', 'alpha', '3']],
    expect: { alpha: [{ kind: 'watcher-gap', severity: 'warning', details: { skipped: 3 } }], beta: [] },
  },
  {
    name: 'I/O suspended by an administrator',
    dialect: '9',
    steps: [
      ['suspend-io', 'alpha', 'r0'],
      ['resume-io', 'alpha', 'r0'],
    ],
    expect: {
      alpha: [
        { kind: 'suspended', severity: 'warning', says: ['drbdadm suspend-io'] },
        { kind: 'resumed', severity: 'info' },
      ],
      beta: [],
    },
  },
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'no access to UpToDate data',
      dialect,
      steps: [['no-data', 'alpha', 'r0']],
      expect: {
        alpha: [
          { kind: 'connection-lost', severity: 'critical' },
          { kind: 'disk-degraded', severity: 'critical', says: ['no connected peer has UpToDate data'] },
          { kind: 'suspended', severity: 'critical', says: ['node with UpToDate data is reachable'] },
        ],
      },
    }),
  ),
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'congestion: Ahead / Behind',
      dialect,
      steps: [
        ['congestion', 'r0'],
        ['congestion-end', 'r0', '--seconds', '1'],
      ],
      until: { alpha: ['resync-finished'], beta: ['resync-finished'] },
      expect: {
        alpha: [
          {
            kind: 'ahead-behind',
            severity: 'warning',
            says: [`alpha is Ahead of ${named(dialect, 'beta')}`],
          },
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-finished', severity: 'info' },
        ],
        beta: [
          { kind: 'ahead-behind', severity: 'warning', says: [`beta is Behind ${named(dialect, 'alpha')}`] },
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-finished', severity: 'info' },
        ],
      },
    }),
  ),
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'a resync paused by an administrator',
      dialect,
      steps: [
        ['resync', 'r0', '--seconds', '30', '--source', 'alpha'],
        ['pause-sync', 'r0', '--host', 'beta'],
        ['resume-sync', 'r0', '--host', 'beta'],
      ],
      expect: {
        alpha: [
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-paused', severity: 'warning', says: [`paused on ${named(dialect, 'beta')}`] },
          { kind: 'resync-resumed', severity: 'info' },
        ],
        beta: [
          { kind: 'resync-started', severity: 'info' },
          {
            kind: 'resync-paused',
            severity: 'warning',
            says: ['drbdadm pause-sync', 'drbdadm resume-sync r0'],
          },
          { kind: 'resync-resumed', severity: 'info' },
        ],
      },
    }),
  ),
  ...(['9', '8.4'] as const).map(
    (dialect): Scenario => ({
      name: 'a resync waiting for the resource it depends on',
      dialect,
      steps: [
        ['resync', 'r0', '--seconds', '30', '--source', 'alpha'],
        ['pause-sync', 'r0', '--reason', 'dependency'],
      ],
      expect: {
        alpha: [
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-paused', severity: 'info', says: ['resync-after'] },
        ],
        beta: [
          { kind: 'resync-started', severity: 'info' },
          { kind: 'resync-paused', severity: 'info', says: ['resync-after'] },
        ],
      },
    }),
  ),
];

function spawnEvents(dir: string, host: string) {
  // What the daemon runs (config `events2Args`).
  return execa(SIM_BIN, ['events2', '--timestamps', '--statistics'], {
    env: { DRBD_SIM_DIR: dir, DRBD_SIM_HOST: host, TZ: 'UTC' },
    timeout: 60_000,
    reject: false,
  });
}

/** One host's `events2 --timestamps --statistics` process and the watcher reading it. */
class Watched {
  readonly watcher: HostWatcher;
  readonly lines: string[] = [];
  readonly notifications: Notification[] = [];
  readonly errors: string[] = [];
  readonly child: ReturnType<typeof spawnEvents>;

  constructor(
    readonly host: string,
    dir: string,
  ) {
    this.watcher = new HostWatcher(host);
    this.child = spawnEvents(dir, host);
    if (this.child.stdout === null) throw new Error('events2 without stdout');
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      const result = this.watcher.feed(line, Date.now());
      if (result.error !== undefined) this.errors.push(`${result.error.reason}: ${line}`);
      this.notifications.push(...result.notifications);
    });
  }

  /** Waits until `done` holds, checking as lines arrive; fails with what was seen. */
  async until(what: string, done: () => boolean): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!done()) {
      if (Date.now() > deadline) {
        throw new Error(`${this.host}: no ${what} after 20 s; the stream was:\n${this.lines.join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  stop(): void {
    this.child.kill('SIGTERM');
  }
}

const running: Watched[] = [];
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const w of running.splice(0)) {
    w.stop();
    await w.child;
  }
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function play(scenario: Scenario): Promise<Record<string, Watched>> {
  const { dir, cleanup } = tempDir('drbd-chatops-situations-');
  cleanups.push(cleanup);
  const hosts = scenario.hosts ?? ['alpha', 'beta'];
  const sim = async (args: readonly string[]) => {
    const result = await execa(SIM_BIN, ['sim', ...args], {
      env: { DRBD_SIM_DIR: dir, DRBD_SIM_HOST: hosts[0] ?? 'alpha' },
      timeout: 20_000,
      reject: false,
    });
    expect(result.exitCode, `sim ${args.join(' ')}: ${result.stderr}`).toBe(0);
  };
  await sim([
    'init',
    '--hosts',
    hosts.join(','),
    '--resources',
    'r0:0',
    '--dialect',
    scenario.dialect,
    '--primary',
    'r0=alpha',
    '--resync-seconds',
    '1',
    ...(scenario.init ?? []),
  ]);
  const watched = Object.fromEntries(hosts.map((h) => [h, new Watched(h, dir)]));
  running.push(...Object.values(watched));
  for (const w of Object.values(watched))
    await w.until('end of the dump', () => w.watcher.watch.phase === 'live');
  for (const step of scenario.steps) await sim(step);
  for (const [host, kinds] of Object.entries(scenario.until ?? {})) {
    const w = watched[host];
    if (w === undefined) throw new Error(`no host ${host}`);
    await w.until(kinds.join(', '), () => kinds.every((k) => w.notifications.some((n) => n.kind === k)));
  }
  // A helper call nobody acts on marks the end: once a stream printed it, it printed all before it.
  for (const w of Object.values(watched)) {
    if (w.child.exitCode !== undefined && w.child.exitCode !== null) continue;
    if (scenario.marker === 'open') {
      await sim(['open', w.host, 'r0', 'zz-end-of-scenario']);
      await w.until('end marker', () => w.lines.some((l) => / device name:r0 .*open:yes/.test(l)));
    } else {
      await sim(['helper', w.host, 'r0', 'zz-end-of-scenario']);
      await w.until('end marker', () => w.lines.some((l) => l.includes('helper:zz-end-of-scenario status:')));
    }
  }
  return watched;
}

describe('DRBD situations played by the simulator, through the watcher', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name} (DRBD ${scenario.dialect})`, async () => {
      const watched = await play(scenario);
      const hosts = Object.keys(scenario.expect);
      const said = (host: string) => watched[host]?.notifications ?? [];
      for (const host of hosts) expect(watched[host]?.errors, host).toEqual([]);
      // All hosts at once, so a difference shows everything each host said.
      expect(
        Object.fromEntries(hosts.map((h) => [h, said(h).map((n) => `${n.kind} ${n.severity}: ${n.text}`)])),
      ).toEqual(
        Object.fromEntries(
          hosts.map((h) => [
            h,
            (scenario.expect[h] ?? []).map((e) =>
              expect.stringMatching(new RegExp(`^${e.kind} ${e.severity}: `)),
            ),
          ]),
        ),
      );
      for (const host of hosts) {
        const expected = scenario.expect[host] ?? [];
        const notifications = said(host);
        expected.forEach((e, i) => {
          for (const fragment of e.says ?? []) expect(notifications[i]?.text, host).toContain(fragment);
          for (const fragment of e.never ?? []) expect(notifications[i]?.text, host).not.toContain(fragment);
          if (e.details !== undefined) expect(notifications[i]?.details, host).toMatchObject(e.details);
        });
      }
    }, 60_000);
  }
});
