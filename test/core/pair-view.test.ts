import { describe, expect, it } from 'vitest';
import { notificationMessage } from '../../src/core/incidents.js';
import type { Notification } from '../../src/core/notification.js';
import {
  causedBy,
  EMPTY_PAIR_VIEW,
  type OperationWindow,
  observe,
  type PairView,
  pairMessage,
  roleTitle,
} from '../../src/core/pair-view.js';

const T0 = Date.parse('2026-12-01T03:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function n(
  host: string,
  kind: Notification['kind'],
  ms: number,
  details: Notification['details'] = {},
): Notification {
  return {
    kind,
    severity: kind === 'connection-lost' && host === 'alpha' ? 'critical' : 'info',
    host,
    resource: 'r0',
    text: `${host} ${kind}`,
    details,
    at: iso(ms),
  };
}

/** alpha hands r0 to beta: each host reports its own role and its peer's. */
const SWAP = [
  n('alpha', 'role-changed', 0, { field: 'role', old: 'Primary', new: 'Secondary' }),
  n('beta', 'role-changed', 20, { field: 'role', old: 'Primary', new: 'Secondary', peer: 'alpha' }),
  n('beta', 'role-changed', 4_000, { field: 'role', old: 'Secondary', new: 'Primary' }),
  n('alpha', 'role-changed', 4_030, { field: 'role', old: 'Secondary', new: 'Primary', peer: 'beta' }),
];

function run(ns: readonly Notification[]) {
  let view: PairView = EMPTY_PAIR_VIEW;
  const steps = ns.map((x, i) => {
    const o = observe(view, x, `k${i}`);
    view = o.view;
    return o;
  });
  return { view, steps };
}

describe('the pair view', () => {
  it('merges a role swap seen from both hosts into one change: "r0 moved to beta"', () => {
    const { steps } = run(SWAP);
    expect(steps.map((s) => s.amends)).toEqual([false, true, true, true]);
    const keys = new Set(steps.map((s) => s.change?.key));
    expect(keys.size).toBe(1);
    const change = steps.at(-1)?.change;
    if (change === undefined) throw new Error('no change');
    expect(roleTitle(change)).toBe('r0 moved to beta: beta Primary, alpha Secondary');
    const message = pairMessage(change, notificationMessage(SWAP[0] as Notification));
    expect(message.title).toBe('r0 moved to beta: beta Primary, alpha Secondary');
    expect(message.host).toBe('alpha, beta');
    expect(message.fields?.map((f) => f.label)).toEqual(['Seen from alpha', 'Seen from beta']);
  });

  it('says "no Primary" half-way through a swap', () => {
    const { steps } = run(SWAP.slice(0, 2));
    const change = steps.at(-1)?.change;
    expect(change === undefined ? '' : roleTitle(change)).toBe('r0: no Primary (alpha Secondary)');
  });

  it.each([
    [
      'a lost link seen from both ends',
      [n('alpha', 'connection-lost', 0), n('beta', 'connection-lost', 900)],
      [false, true],
    ],
    [
      'both ends, then a second flap from one of them',
      [n('alpha', 'connection-lost', 0), n('beta', 'connection-lost', 5), n('alpha', 'connection-lost', 40)],
      [false, true, false],
    ],
    [
      'the same host twice is two changes',
      [n('alpha', 'connection-restored', 0), n('alpha', 'connection-restored', 100)],
      [false, false],
    ],
    [
      'too far apart to be one change',
      [n('alpha', 'connection-lost', 0), n('beta', 'connection-lost', 60_000)],
      [false, false],
    ],
    [
      'different kinds are different changes',
      [n('alpha', 'connection-lost', 0), n('beta', 'connection-restored', 10)],
      [false, false],
    ],
    [
      'a disk as its host and as its peer sees it',
      [n('alpha', 'disk-degraded', 0), n('beta', 'peer-disk-degraded', 10, { peer: 'alpha' })],
      [false, true],
    ],
    [
      'helper failures are not merged',
      [n('alpha', 'helper-failed', 0), n('beta', 'helper-failed', 10)],
      [undefined, undefined],
    ],
  ] as const)('%s', (_what, ns, expected) => {
    const { steps } = run(ns);
    expect(steps.map((s) => (s.change === undefined ? undefined : s.amends))).toEqual(expected);
  });

  it('pairs each flap with its closest counterpart when one side arrives late, in a batch', () => {
    const alpha = [0, 100, 200].map((t) => n('alpha', 'connection-lost', t));
    const beta = [0, 100, 200].map((t) => n('beta', 'connection-lost', t + 2));
    const { steps } = run([...alpha, ...beta]);
    const keys = steps.map((s) => s.change?.key);
    expect(keys.slice(3)).toEqual(keys.slice(0, 3));
  });

  const failover: OperationWindow = {
    id: 'op1',
    command: 'failover',
    resource: 'r0',
    from: T0,
    to: T0 + 10_000,
    platform: 'slack',
    channel: 'C1',
  };
  it.each([
    ['a role change during a failover', n('alpha', 'role-changed', 2_000), 'op1'],
    ['its aftermath, shortly after', n('beta', 'role-changed', 25_000), 'op1'],
    ['long after', n('beta', 'role-changed', 60_000), undefined],
    ['before it started', n('beta', 'role-changed', -5_000), undefined],
    ['a kind the failover does not cause', n('alpha', 'disk-degraded', 2_000), undefined],
  ] as const)('causedBy: %s', (_what, x, expected) => {
    expect(causedBy(x, [failover])?.id).toBe(expected);
  });

  it('causedBy: a split-brain recovery causes the StandAlone and the resync, not an ip set', () => {
    const recovery = { ...failover, id: 'sb', command: 'splitbrain' };
    const ipSet = { ...failover, id: 'ip', command: 'ip-set' };
    expect(causedBy(n('beta', 'standalone', 1_000), [recovery, ipSet])?.id).toBe('sb');
    expect(causedBy(n('beta', 'standalone', 1_000), [ipSet])).toBeUndefined();
  });
});
