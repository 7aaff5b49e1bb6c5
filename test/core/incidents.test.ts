import { describe, expect, it } from 'vitest';
import {
  applyNotification,
  type Incidents,
  pruneIncidents,
  REOPEN_WINDOW_MS,
} from '../../src/core/incidents.js';
import type { AlertKind, Notification, Severity } from '../../src/core/notification.js';

const T0 = Date.parse('2026-11-29T10:00:00Z');

function n(
  kind: AlertKind,
  severity: Severity,
  atMs: number,
  resource: string | null = 'r0',
  host = 'alpha',
): Notification {
  return {
    kind,
    severity,
    host,
    resource,
    text: `${kind} text`,
    details: {},
    at: new Date(atMs).toISOString(),
  };
}

function run(list: Notification[], incidents: Incidents = {}) {
  const ops: string[] = [];
  const messages = [];
  for (const item of list) {
    const step = applyNotification(incidents, item);
    incidents = step.incidents;
    for (const d of step.deliveries) {
      ops.push(d.op);
      messages.push(d.message);
    }
  }
  return { incidents, ops, messages };
}

describe('incidents', () => {
  it('opens one incident per resource and problem, posted at once', () => {
    const { ops, messages, incidents } = run([n('connection-lost', 'critical', T0)]);
    expect(ops).toEqual(['open']);
    expect(messages[0]).toMatchObject({
      tone: 'critical',
      resource: 'r0',
      host: 'alpha',
      incidentKey: 'r0/connection',
    });
    expect(messages[0]?.title).toBe('r0: Replication link — Connection lost');
    expect(incidents['r0/connection']?.changes).toBe(1);
  });

  it('threads follow-ups and edits the parent with the current, worst state', () => {
    const { ops, messages, incidents } = run([
      n('connection-lost', 'warning', T0),
      n('split-brain', 'critical', T0 + 1_000),
      n('standalone', 'critical', T0 + 2_000, 'r0', 'beta'),
    ]);
    expect(ops).toEqual(['open', 'reply', 'update-parent', 'reply', 'update-parent']);
    expect(messages[2]?.tone).toBe('critical');
    expect(messages[1]?.title).toBe('r0: Split-brain');
    const parent = messages[4];
    expect(parent?.fields).toContainEqual({ label: 'Changes', value: '3', short: true });
    expect(parent?.fields).toContainEqual({ label: 'Reported by', value: 'alpha, beta', short: true });
    expect(incidents['r0/connection']?.severity).toBe('critical');
  });

  it('resolves the incident in green with its duration', () => {
    const { ops, messages, incidents } = run([
      n('connection-lost', 'critical', T0),
      n('connection-restored', 'info', T0 + 95_000),
    ]);
    expect(ops).toEqual(['open', 'reply', 'update-parent']);
    expect(messages[2]).toMatchObject({ tone: 'resolved' });
    expect(messages[2]?.fields).toContainEqual({
      label: 'Status',
      value: 'resolved after 1m 35s',
      short: true,
    });
    expect(incidents['r0/connection']?.resolvedAt).toBe(T0 + 95_000);
  });

  it('reopens the same incident when the problem returns soon, counting every flap', () => {
    const flaps: Notification[] = [];
    for (let i = 0; i < 50; i++) {
      flaps.push(
        n('connection-lost', 'critical', T0 + i * 200),
        n('connection-restored', 'info', T0 + i * 200 + 100),
      );
    }
    const { ops, incidents } = run(flaps);
    expect(ops.filter((o) => o === 'open')).toHaveLength(1);
    expect(incidents['r0/connection']).toMatchObject({ changes: 100, reopened: 49 });
  });

  it('opens a new incident once the reopen window has passed', () => {
    const { ops } = run([
      n('connection-lost', 'critical', T0),
      n('connection-restored', 'info', T0 + 1_000),
      n('connection-lost', 'critical', T0 + 1_000 + REOPEN_WINDOW_MS + 1),
    ]);
    expect(ops).toEqual(['open', 'reply', 'update-parent', 'open']);
  });

  it('keeps separate problems and resources apart', () => {
    const { ops, incidents } = run([
      n('connection-lost', 'critical', T0),
      n('disk-degraded', 'critical', T0 + 1),
      n('connection-lost', 'warning', T0 + 2, 'r1'),
      n('resync-started', 'info', T0 + 3),
    ]);
    expect(ops).toEqual(['open', 'open', 'open', 'open']);
    expect(Object.keys(incidents).sort()).toEqual(['r0/connection', 'r0/disk', 'r0/resync', 'r1/connection']);
  });

  it('posts a lone restoration and notifications outside any incident as messages of their own', () => {
    const { ops, messages } = run([
      n('connection-restored', 'info', T0),
      n('watcher-gap', 'warning', T0 + 1, null),
      n('role-changed', 'info', T0 + 2),
    ]);
    expect(ops).toEqual(['post', 'post', 'post']);
    expect(messages[1]?.title).toBe('Event stream gap');
  });

  it('threads a role change into the resource open incident', () => {
    const { ops } = run([n('connection-lost', 'critical', T0), n('role-changed', 'info', T0 + 1)]);
    expect(ops).toEqual(['open', 'reply']);
  });

  it('forgets resolved incidents after the reopen window', () => {
    const { incidents } = run([
      n('connection-lost', 'critical', T0),
      n('connection-restored', 'info', T0 + 1),
    ]);
    expect(Object.keys(pruneIncidents(incidents, T0 + 2))).toEqual(['r0/connection']);
    expect(Object.keys(pruneIncidents(incidents, T0 + 2 + REOPEN_WINDOW_MS))).toEqual([]);
  });
});

describe('split-brain headline', () => {
  it('keeps saying split-brain in the parent title while StandAlone and other follow-ups arrive', async () => {
    const { applyNotification } = await import('../../src/core/incidents.js');
    const at = (s: number) => new Date(Date.parse('2026-11-29T03:00:00Z') + s * 1_000).toISOString();
    const n = (kind: 'split-brain' | 'standalone' | 'connection-restored', s: number) =>
      ({
        kind,
        severity: kind === 'connection-restored' ? 'info' : 'critical',
        host: 'alpha',
        resource: 'r0',
        text: kind,
        details: {},
        at: at(s),
      }) as const;
    let step = applyNotification({}, n('split-brain', 0));
    expect(step.deliveries[0]?.message.title).toBe('r0: Replication link — Split-brain');
    // The parent is what people read: it carries the recovery, the bot's own command first.
    expect(step.deliveries[0]?.message.body).toContain('`splitbrain r0 victim <host>`');
    step = applyNotification(step.incidents, n('standalone', 1));
    const parent = step.deliveries.find((d) => d.op === 'update-parent')?.message;
    expect(parent?.title).toBe('r0: Replication link — Split-brain (now Connection StandAlone)');
    expect(parent?.body).toContain('Split-brain: both sides changed data while disconnected.');
    expect(parent?.body).toContain('`containers r0` shows what runs on each side');
    expect(parent?.body).toContain('`splitbrain r0 victim <host>` plans the recovery');
    expect(parent?.body).toContain('drbdadm connect --discard-my-data r0');
    step = applyNotification(step.incidents, n('connection-restored', 60));
    expect(step.deliveries.find((d) => d.op === 'update-parent')?.message.title).toBe(
      'r0: Replication link — resolved',
    );
  });

  it("keeps a host's blindness in one incident of that host: warning, escalation, resolution", () => {
    const gap = (stream: string, severity: Severity, atMs: number, host = 'alpha'): Notification => ({
      ...n('watcher-gap', severity, atMs, null, host),
      details: { stream },
    });
    const { ops, messages, incidents } = run([
      gap('down', 'warning', T0),
      // A resource named like the host must not pick up the host's thread, nor the host its.
      n('role-changed', 'info', T0 + 1_000, 'alpha'),
      gap('still-down', 'critical', T0 + 120_000),
      gap('back', 'info', T0 + 130_000),
    ]);
    expect(ops).toEqual(['open', 'post', 'reply', 'update-parent', 'reply', 'update-parent']);
    expect(messages[0]).toMatchObject({ tone: 'warning', incidentKey: 'host:alpha/stream' });
    expect(messages[0]).not.toHaveProperty('resource');
    expect(messages[0]?.title).toBe('alpha: DRBD event stream — not seen');
    expect(messages[3]).toMatchObject({ tone: 'critical', title: 'alpha: DRBD event stream — not seen' });
    expect(messages[5]).toMatchObject({ tone: 'resolved', title: 'alpha: DRBD event stream — resolved' });
    expect(incidents['host:alpha/stream']).toMatchObject({
      scope: 'host',
      changes: 3,
      resolvedAt: T0 + 130_000,
    });
  });

  it("leaves the watcher's own gap reports (a restart that missed changes) on their own", () => {
    const { ops, incidents } = run([
      { ...n('watcher-gap', 'warning', T0, null), details: { blindMs: 4_000 } },
      { ...n('watcher-gap', 'info', T0 + 1_000, null), details: { stream: 'back' } },
    ]);
    // A resolution nobody was told the problem of is said on its own, as for resources.
    expect(ops).toEqual(['post', 'post']);
    expect(incidents).toEqual({});
  });
});
