import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALERT_KINDS, type Notification } from '../../src/core/notification.js';
import { formatDuration } from '../../src/core/rules.js';
import {
  feedLine,
  HostWatcher,
  initialWatch,
  streamRestarted,
  type WatchState,
} from '../../src/core/watcher.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/events2');
const T0 = Date.parse('2026-11-29T12:00:00Z');

/** Feed lines as the daemon would, one second apart when they carry no timestamp. */
function run(lines: readonly string[], watch: WatchState = initialWatch('alpha'), start = T0) {
  const notifications: Notification[] = [];
  let at = start;
  let resyncRequested = false;
  const errors: string[] = [];
  for (const line of lines) {
    const result = feedLine(watch, line, at);
    watch = result.watch;
    notifications.push(...result.notifications);
    if (result.resyncRequested === true) resyncRequested = true;
    if (result.error !== undefined) errors.push(result.error.reason);
    at += 1_000;
  }
  return { watch, notifications, kinds: notifications.map((n) => n.kind), resyncRequested, errors };
}

function fixture(name: string): string[] {
  return readFileSync(join(FIXTURES, name), 'utf8').split('\n');
}

const HEALTHY = [
  'exists resource name:r0 role:Primary suspended:no force-io-failures:no may_promote:no promotion_score:10102',
  'exists device name:r0 volume:0 minor:0 backing_dev:/dev/vg/r0 disk:UpToDate client:no open:yes quorum:yes',
  'exists connection name:r0 peer-node-id:1 conn-name:beta connection:Connected role:Secondary',
  'exists peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:Established peer-disk:UpToDate peer-client:no resync-suspended:no',
  'exists -',
];

const DISCONNECTED = HEALTHY.map((l) =>
  l.replace('connection:Connected role:Secondary', 'connection:Connecting role:Unknown'),
);

describe('watcher: DRBD 9 streams', () => {
  it('says nothing about a healthy pair at start-up', () => {
    expect(run(HEALTHY).notifications).toEqual([]);
  });

  it('reports a split-brain once, with the recovery steps, then the StandAlone it causes', () => {
    const { notifications, kinds } = run(fixture('drbd9-split-brain.events2'));
    expect(kinds).toEqual(['connection-lost', 'split-brain', 'standalone']);
    const [lost, splitBrain, standAlone] = notifications;
    expect(lost?.severity).toBe('critical');
    expect(lost?.text).toContain('while Primary');
    expect(lost?.at).toBe('2026-11-29T10:05:00.000Z');
    expect(splitBrain).toMatchObject({ severity: 'critical', host: 'alpha', resource: 'r0' });
    expect(splitBrain?.text).toContain('drbdadm connect --discard-my-data r0');
    expect(splitBrain?.text).toContain('drbdadm secondary r0');
    expect(standAlone?.details.afterSplitBrain).toBe(true);
  });

  it('points at a likely split-brain, with the recipe, when StandAlone follows a handshake without helper events', () => {
    // The fixture is beta's stream (its peer is alpha).
    const { notifications, kinds } = run(fixture('drbd9-standalone-no-helper.events2'), initialWatch('beta'));
    // At start-up beta was not connected: that is reported once, then the StandAlone.
    expect(kinds).toEqual(['connection-lost', 'standalone']);
    expect(notifications[0]?.details.atStartup).toBe(true);
    expect(notifications[1]?.severity).toBe('critical');
    expect(notifications[1]?.details.afterHandshake).toBe(true);
    expect(notifications[1]?.text).toMatch(
      /right after the handshake.*split-brain.*usermode_helper=disabled/,
    );
    expect(notifications[1]?.text).toContain('drbdadm connect --discard-my-data r1');
  });

  it('distinguishes losing the connection as Primary (critical) and as Secondary (warning)', () => {
    const lose = 'change connection name:r0 peer-node-id:1 conn-name:beta connection:Connecting role:Unknown';
    expect(run([...HEALTHY, lose]).notifications[0]).toMatchObject({
      kind: 'connection-lost',
      severity: 'critical',
    });
    const secondary = HEALTHY.map((l) => l.replace('role:Primary', 'role:Secondary'));
    expect(run([...secondary, lose]).notifications[0]).toMatchObject({
      kind: 'connection-lost',
      severity: 'warning',
    });
  });

  it('announces a flapping connection once and its restoration with the downtime', () => {
    const c = 'change connection name:r0 peer-node-id:1 conn-name:beta';
    const { notifications, kinds } = run([
      ...HEALTHY,
      `${c} connection:NetworkFailure role:Unknown`,
      `${c} connection:Unconnected`,
      `${c} connection:Connecting`,
      `${c} connection:Unconnected`,
      `${c} connection:Connecting`,
      `${c} connection:Connected role:Secondary`,
    ]);
    expect(kinds).toEqual(['connection-lost', 'connection-restored']);
    expect(notifications[1]?.details.downMs).toBe(5_000);
    expect(notifications[1]?.text).toContain('after 5s');
  });

  it('reports role changes of both sides and a dual-primary', () => {
    const { notifications, kinds } = run(fixture('drbd9-switchover.events2'));
    expect(kinds).toEqual(['role-changed', 'role-changed', 'role-changed', 'dual-primary']);
    expect(notifications[0]?.text).toBe('r0 on alpha is now Secondary (was Primary).');
    expect(notifications[1]?.text).toBe('r0: peer beta is now Primary (was Secondary).');
    expect(notifications[3]?.severity).toBe('critical');
  });

  it('reports disk failure, quorum and suspension with their restorations', () => {
    const { notifications, kinds } = run(fixture('drbd9-disk-failure.events2'));
    expect(kinds).toEqual([
      'disk-degraded',
      'peer-disk-degraded',
      'quorum-lost',
      'suspended',
      'resumed',
      'quorum-restored',
      'peer-disk-restored',
    ]);
    const [failed, outdated] = notifications;
    expect(failed).toMatchObject({ severity: 'critical', details: { new: 'Failed', volume: 1 } });
    // Two volumes: the volume is part of the name people read.
    expect(failed?.text).toMatch(/^r0\/1 on alpha: disk is Failed/);
    expect(outdated?.severity).toBe('warning');
  });

  it('grades local disk states: Failed/Diskless critical, Outdated/Inconsistent/Consistent warning', () => {
    const d = 'change device name:r0 volume:0 minor:0';
    for (const [disk, severity] of [
      ['Failed', 'critical'],
      ['Diskless', 'critical'],
      ['Outdated', 'warning'],
      ['Inconsistent', 'warning'],
      ['Consistent', 'warning'],
    ] as const) {
      // Disconnected, so that Inconsistent is not the start of a resync.
      const { notifications } = run([...DISCONNECTED, `${d} disk:${disk}`, `${d} disk:UpToDate`]);
      expect(notifications.filter((n) => n.kind.startsWith('disk')).map((n) => [n.kind, n.severity])).toEqual(
        [
          ['disk-degraded', severity],
          ['disk-restored', 'info'],
        ],
      );
    }
  });

  it('leaves an Inconsistent disk with a connected peer to the resync announcement', () => {
    const { kinds } = run([
      ...HEALTHY,
      'change device name:r0 volume:0 minor:0 disk:Inconsistent',
      'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:SyncTarget',
      'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0 replication:Established',
      'change device name:r0 volume:0 minor:0 disk:UpToDate',
    ]);
    expect(kinds).toEqual(['resync-started', 'resync-finished']);
  });

  it('counts a connection as restored only once data flows, not on a Connected that ends in split-brain', () => {
    const c = 'change connection name:r0 peer-node-id:1 conn-name:beta';
    const pd = 'change peer-device name:r0 peer-node-id:1 conn-name:beta volume:0';
    const h = 'name:r0 peer-node-id:1 conn-name:beta volume:0 minor:0';
    const { kinds, notifications } = run([
      ...HEALTHY,
      `${c} connection:NetworkFailure role:Unknown`,
      `${pd} replication:Off peer-disk:DUnknown`,
      `${c} connection:Connecting`,
      `${c} connection:Connected role:Primary`,
      `call helper ${h} helper:split-brain`,
      `${c} connection:Disconnecting`,
      `${c} connection:StandAlone`,
      `${c} connection:Connecting`,
      `${c} connection:Connected role:Secondary`,
      `${pd} replication:SyncSource peer-disk:Inconsistent`,
    ]);
    // The peer was Primary during the split (the flash shows it) and comes back as the demoted victim.
    expect(kinds).toEqual([
      'connection-lost',
      'split-brain',
      'standalone',
      'role-changed',
      'connection-restored',
      'resync-started',
    ]);
    expect(notifications[4]?.details.downMs).toBe(9_000);
  });

  it('ignores transient disk states and a device created Diskless by drbdadm up', () => {
    const { kinds } = run([
      'exists -',
      'create resource name:r2 role:Secondary suspended:no',
      'create device name:r2 volume:0 minor:2 disk:Diskless client:no open:no quorum:yes',
      'change device name:r2 volume:0 minor:2 disk:Attaching',
      'change device name:r2 volume:0 minor:2 disk:Negotiating',
      'change device name:r2 volume:0 minor:2 disk:UpToDate',
    ]);
    expect(kinds).toEqual(['resource-added']);
  });

  it('reports helper failures with the exit code taken from the wait status', () => {
    const { notifications } = run([
      ...HEALTHY,
      'call helper name:r0 peer-node-id:1 conn-name:beta volume:0 minor:0 helper:before-resync-target',
      'response helper name:r0 peer-node-id:1 conn-name:beta volume:0 minor:0 helper:before-resync-target status:768',
      'response helper name:r0 peer-node-id:1 conn-name:beta volume:0 minor:0 helper:after-resync-target status:0',
      // fence-peer must answer 3–7; 0 is what DRBD calls a broken handler (conn_try_outdate_peer()).
      'response helper name:r0 peer-node-id:1 conn-name:beta helper:fence-peer status:0',
    ]);
    expect(notifications).toHaveLength(2);
    expect(notifications[0]).toMatchObject({
      kind: 'helper-failed',
      severity: 'warning',
      details: { helper: 'before-resync-target', status: 768, exitCode: 3 },
    });
    expect(notifications[0]?.text).toContain('drops the connection');
    expect(notifications[1]).toMatchObject({
      kind: 'helper-failed',
      severity: 'warning',
      details: { helper: 'fence-peer', exitCode: 0, outcome: 'broken' },
    });
  });

  it('reports resources added and removed while running', () => {
    const { kinds } = run([
      ...HEALTHY,
      'create resource name:r5 role:Secondary suspended:no',
      'destroy resource name:r5',
    ]);
    expect(kinds).toEqual(['resource-added', 'resource-removed']);
  });

  it('replays the drbd-utils reference streams without errors', () => {
    const { errors, kinds } = run(fixture('drbd-utils/events2-all-create-change.full.events2'));
    expect(errors).toEqual([]);
    // Created StandAlone by drbdadm up, then connected: the creation is no alarm.
    expect(kinds).toEqual(['resource-added', 'role-changed']);
    const helper = run(fixture('drbd-utils/events2-all-create-helper.plain.events2'));
    expect(helper.kinds).toEqual(['resource-added', 'helper-failed']);
  });
});

describe('watcher: DRBD 8.4 streams', () => {
  it('treats destroy peer-device + destroy connection after Disconnecting as StandAlone', () => {
    const { notifications, kinds } = run(fixture('drbd84-standalone.events2'));
    expect(kinds).toEqual([
      'split-brain',
      'connection-lost',
      'standalone',
      'connection-restored',
      'resync-started',
      'resync-finished',
    ]);
    expect(notifications[3]?.details.downMs).toBe(600_940);
    expect(notifications[4]?.text).toBe(
      'r0: resync started, alpha → peer, 512.0 MiB out of sync. The peer disk is not usable until it finishes.',
    );
    expect(notifications[5]?.details.durationMs).toBe(30_000);
  });

  it('follows an 8.4 resync as target through PausedSyncT', () => {
    const { notifications, kinds } = run(fixture('drbd84-resync-target.events2'));
    expect(kinds).toEqual([
      'disk-degraded',
      'connection-lost',
      'connection-restored',
      'resync-started',
      'resync-paused',
      'resync-resumed',
      'resync-finished',
      'disk-restored',
    ]);
    expect(notifications[4]).toMatchObject({ severity: 'warning', details: { reasons: 'user' } });
    expect(notifications[4]?.text).toContain('drbdadm resume-sync r1');
    expect(notifications[5]?.details.pausedMs).toBe(10_000);
    expect(notifications[0]?.details.atStartup).toBe(true);
    expect(notifications[0]?.text).toBe(
      'r1 on alpha: disk is Outdated: the data is known to be older than the peer; it must not be promoted.',
    );
    expect(notifications[3]?.details).toMatchObject({ direction: 'target', from: 'peer', to: 'alpha' });
    expect(notifications[6]?.details.durationMs).toBe(70_000);
  });
});

describe('watcher: stream restarts and gaps', () => {
  it('reports what was missed while the stream was down, then the changes themselves', () => {
    const live = run(HEALTHY);
    const restarted = streamRestarted(live.watch, T0 + 60_000, 'drbdsetup exited with code 20');
    const fresh = HEALTHY.map((l) =>
      l.includes('exists connection')
        ? l.replace('connection:Connected role:Secondary', 'connection:Connecting role:Unknown')
        : l,
    );
    const { notifications, kinds } = run(fresh, restarted, T0 + 70_000);
    expect(kinds).toEqual(['watcher-gap', 'connection-lost']);
    expect(notifications[0]?.severity).toBe('warning');
    expect(notifications[0]?.resource).toBeNull();
    expect(notifications[0]?.text).toContain('drbdsetup exited with code 20');
    expect(notifications[0]?.text).toContain('r0 beta connection: Connected → Connecting');
    expect(notifications[0]?.details.blindMs).toBe(14_000);
  });

  it('says so when nothing changed during the gap', () => {
    const live = run(HEALTHY);
    const { notifications } = run(HEALTHY, streamRestarted(live.watch, T0, 'test'), T0 + 2_000);
    expect(notifications).toHaveLength(1);
    expect(notifications[0]?.text).toContain('Nothing changed meanwhile.');
  });

  it('turns "- skipped N" into a watcher-gap and asks for a fresh dump', () => {
    const { notifications, resyncRequested } = run([...HEALTHY, '- skipped 7']);
    expect(resyncRequested).toBe(true);
    expect(notifications[0]).toMatchObject({ kind: 'watcher-gap', details: { skipped: 7 } });
  });

  it('keeps going after garbage lines, changing nothing for them', () => {
    const { errors, kinds, watch } = run(fixture('garbage-color-crlf.events2'));
    expect(errors).toHaveLength(5);
    expect(kinds).toEqual(['resource-added', 'resource-removed']);
    expect(watch.state.resources.r0?.fields.role).toBe('Primary');
  });

  it('ends the dump at the first live event when a stream is joined mid-way', () => {
    const { kinds } = run([...HEALTHY.slice(0, 4), 'change resource name:r0 role:Secondary']);
    expect(kinds).toEqual(['role-changed']);
  });

  it('HostWatcher wraps the same steps', () => {
    const watcher = new HostWatcher('alpha');
    for (const line of HEALTHY) watcher.feed(line, T0);
    watcher.restarted(T0 + 1_000, 'test');
    expect(watcher.watch.phase).toBe('resync-dump');
    const results = HEALTHY.map((line) => watcher.feed(line, T0 + 2_000));
    expect(results.at(-1)?.notifications.map((n) => n.kind)).toEqual(['watcher-gap']);
    expect(watcher.watch.phase).toBe('live');
  });
});

describe('notification contract', () => {
  it('uses only public kinds, ISO times and the host that observed it', () => {
    const all = [
      ...run(fixture('drbd9-split-brain.events2')).notifications,
      ...run(fixture('drbd84-standalone.events2')).notifications,
      ...run(fixture('drbd9-disk-failure.events2')).notifications,
    ];
    for (const n of all) {
      expect(ALERT_KINDS).toContain(n.kind);
      expect(new Date(n.at).toISOString()).toBe(n.at);
      expect(n.host).toBe('alpha');
      expect(n.text.length).toBeGreaterThan(10);
    }
  });

  it('formats durations for people', () => {
    expect(formatDuration(4_400)).toBe('4s');
    expect(formatDuration(61_000)).toBe('1m 1s');
    expect(formatDuration(3_600_000 * 3 + 60_000)).toBe('3h 1m');
    expect(formatDuration(3_600_000 * 50)).toBe('2d 2h');
  });
});
