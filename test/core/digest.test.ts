import { describe, expect, it } from 'vitest';
import { digestMessage } from '../../src/core/digest.js';
import type { Incident } from '../../src/core/incidents.js';
import { HostWatcher } from '../../src/core/watcher.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import { tempDir } from '../helpers/cleanup.js';

const NOW = Date.parse('2026-11-29T08:00:00Z');

function states(broken = false) {
  const pair = SimulatedPair.init(tempDir(), {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
  });
  if (broken) pair.linkDown('r0');
  return (['alpha', 'beta'] as const).map((host) => {
    const w = new HostWatcher(host);
    for (const line of pair.eventsNow(host)) w.feed(line, NOW);
    return w.watch.state;
  });
}

const incident = (overrides: Partial<Incident>): Incident =>
  ({
    key: 'r0:connection',
    resource: 'r0',
    family: 'connection',
    openedAt: NOW - 3 * 3_600_000,
    severity: 'critical',
    changes: 4,
    reopened: 0,
    hosts: ['alpha'],
    latest: {} as never,
    ...overrides,
  }) as Incident;

const base = {
  now: NOW,
  silent: [],
  incidents: {},
  operations: [],
  outbox: { depth: 0, deadLetters: 0 },
  leader: { host: 'alpha', token: 4 },
  lockStoreProblem: null,
  onCall: ['bob'],
};

describe('daily digest', () => {
  it('a healthy day is one green message with every resource on both hosts', () => {
    const m = digestMessage({ ...base, hosts: states() });
    expect(m.title).toBe('Daily digest: all healthy');
    expect(m.tone).toBe('ok');
    expect(m.fields?.slice(0, 2)).toEqual([
      { label: 'r0 on alpha', value: '✅ Primary, disk UpToDate, beta Connected/Established', short: true },
      { label: 'r0 on beta', value: '✅ Secondary, disk UpToDate, alpha Connected/Established', short: true },
    ]);
    expect(m.fields?.find((f) => f.label === 'The bot')?.value).toBe(
      'leader alpha (token 4) · lock store ok · outbox 0 waiting · 0 dead letters',
    );
  });

  it('counts what needs a look: unhealthy resources, open incidents, a silent peer, the lock store', () => {
    const m = digestMessage({
      ...base,
      hosts: states(true).slice(0, 1),
      silent: ['beta'],
      incidents: {
        a: incident({}),
        b: incident({
          key: 'r0:resync',
          family: 'resync',
          severity: 'info',
          resolvedAt: NOW - 3_600_000,
          openedAt: NOW - 2 * 3_600_000,
        }),
        old: incident({ key: 'r0:disk', family: 'disk', resolvedAt: NOW - 48 * 3_600_000 }),
      },
      lockStoreProblem: 'etcd unreachable',
    });
    expect(m.title).toBe('Daily digest: 4 things to look at');
    expect(m.tone).toBe('critical');
    expect(m.fields?.find((f) => f.label === 'Incidents, last 24 hours')?.value).toBe(
      '🔴 r0 Replication link: open for 3h 0m\nr0 Resync: 1h 0m, 4 changes',
    );
    expect(m.fields?.find((f) => f.label === 'beta')?.value).toMatch(/did not answer/);
  });
});
