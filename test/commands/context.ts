// A command context for the commands' own tests: containers from a fixed view, no chat.
import { COMMANDS } from '../../commands/index.js';
import type { CommandContext, ContainersView } from '../../src/app/command-registry.js';
import type { Member } from '../../src/core/policy.js';
import type { ContainerInfo } from '../../src/ports/container-runtime.js';

export const NOW = Date.parse('2026-11-29T03:00:00Z');

export function container(overrides: Partial<ContainerInfo> & { name: string }): ContainerInfo {
  const running = (overrides.status ?? 'Running') === 'Running';
  const ipv4 = overrides.nic?.ipv4 ?? [];
  return {
    resource: 'r0',
    host: 'alpha',
    status: 'Running',
    addresses: running ? { ipv4: [...ipv4], ipv6: [] } : { ipv4: [], ipv6: [] },
    nic: { device: 'eth0', parent: 'veth-r0', ipv4: [], ipv6: [] },
    startedAt: running ? new Date(NOW - 3_600_000).toISOString() : null,
    ...overrides,
  };
}

export const VIEW: ContainersView = {
  resources: [
    { name: 'r0', primaryOn: 'alpha' },
    { name: 'r1', primaryOn: 'beta' },
  ],
  containers: [
    container({
      name: 'web1',
      nic: { device: 'eth0', parent: 'veth-r0', ipv4: ['198.51.100.10'], ipv6: [] },
    }),
    container({
      name: 'cron1',
      status: 'Stopped',
      nic: { device: 'eth0', parent: 'veth-r0', ipv4: ['198.51.100.11'], ipv6: [] },
    }),
    container({ name: 'legacy', nic: null, addresses: { ipv4: ['10.0.3.7'], ipv6: [] } }),
    container({
      name: 'db1',
      resource: 'r1',
      host: 'beta',
      nic: { device: 'eth0', parent: 'veth-r1', ipv4: ['203.0.113.5'], ipv6: ['2001:db8:1::5'] },
      addresses: { ipv4: ['203.0.113.5'], ipv6: ['2001:db8:1::5'] },
    }),
  ],
};

export const TEAM: Member[] = [
  { name: 'alice', slack: 'UALICE', console: 'alice' },
  { name: 'bob', slack: 'UBOB' },
];

export function commandContext(
  view: ContainersView = VIEW,
  overrides: Partial<CommandContext> = {},
): CommandContext {
  return {
    host: 'alpha',
    hosts: async () => [
      { host: 'alpha', resources: {} },
      { host: 'beta', resources: {} },
    ],
    incidents: () => ({}),
    commands: COMMANDS,
    now: () => NOW,
    resources: {
      r0: {
        lxdDir: '/r0/lxd',
        subnets: ['198.51.100.0/24'],
        mountPoint: '/r0',
        device: '/dev/drbd0',
        lxdUnit: 'r0lxd',
      },
      r1: {
        lxdDir: '/r1/lxd',
        subnets: ['203.0.113.0/24', '2001:db8:1::/64'],
        mountPoint: '/r1',
        device: '/dev/drbd1',
        lxdUnit: 'r1lxd',
      },
    },
    containers: async () => view,
    team: TEAM,
    onCall: () => ({
      now: [TEAM[0] as Member],
      next: [TEAM[1] as Member],
      handoverAt: new Date(NOW + 86_400_000),
    }),
    lxd: { stopTimeoutS: 30, verifyTimeoutMs: 20_000 },
    ...overrides,
  };
}
