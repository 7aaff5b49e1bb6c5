import { describe, expect, it } from 'vitest';
import {
  chooseNext,
  isUrgent,
  type OutboxEntry,
  summarise,
  withoutAbsorbed,
} from '../../src/core/delivery.js';
import type { AlertKind, Severity } from '../../src/core/notification.js';

let seq = 0;
function entry(
  op: OutboxEntry['op'],
  severity: Severity,
  options: { incidentKey?: string; kind?: AlertKind; resource?: string | null; sending?: boolean } = {},
): OutboxEntry {
  seq += 1;
  const kind = options.kind ?? 'connection-lost';
  return {
    id: String(seq).padStart(12, '0'),
    key: `k${seq}`,
    platform: 'slack',
    channel: 'C1',
    op,
    ...(options.incidentKey === undefined ? {} : { incidentKey: options.incidentKey }),
    message: { title: `m${seq}`, tone: severity, body: `${kind} body` },
    resource: options.resource === undefined ? 'r0' : options.resource,
    severity,
    urgent: isUrgent(severity, op),
    kinds: op === 'update-parent' ? {} : { [kind]: 1 },
    changes: op === 'update-parent' ? 0 : 1,
    createdAt: 0,
    attempts: 0,
    ...(options.sending === undefined ? {} : { sending: options.sending }),
  };
}

const always = () => true;
const never = () => false;

describe('chooseNext', () => {
  it('is idle with nothing to send', () => {
    expect(chooseNext([], always)).toEqual({ type: 'idle' });
  });

  it('sends in write order', () => {
    const a = entry('post', 'info', { kind: 'role-changed' });
    const b = entry('post', 'warning', { resource: 'r1' });
    expect(chooseNext([a, b], always)).toEqual({ type: 'send', entry: a, drop: [] });
  });

  it('sends urgent entries before info traffic', () => {
    const info = entry('post', 'info', { kind: 'role-changed' });
    const critical = entry('open', 'critical', { incidentKey: 'r1/connection', resource: 'r1' });
    expect(chooseNext([info, critical], always)).toMatchObject({ type: 'send', entry: critical });
  });

  it('never sends a reply before its incident parent is posted', () => {
    const open = entry('open', 'warning', { incidentKey: 'r0/connection' });
    const reply = entry('reply', 'critical', { incidentKey: 'r0/connection' });
    const edit = entry('update-parent', 'critical', { incidentKey: 'r0/connection' });
    // The critical edit is urgent, but its parent is not posted yet: the parent goes first.
    expect(chooseNext([open, reply, edit], never)).toMatchObject({ type: 'send', entry: open });
  });

  it('treats a reply whose parent never reached this channel as an orphan', () => {
    const reply = entry('reply', 'info', { incidentKey: 'r0/disk' });
    expect(chooseNext([reply], never)).toEqual({ type: 'orphan', entry: reply });
  });

  it('keeps only the latest edit of a parent', () => {
    const e1 = entry('update-parent', 'warning', { incidentKey: 'r0/connection' });
    const e2 = entry('update-parent', 'warning', { incidentKey: 'r0/connection' });
    const e3 = entry('update-parent', 'warning', { incidentKey: 'r0/connection' });
    expect(chooseNext([e1, e2, e3], always)).toEqual({ type: 'send', entry: e3, drop: [e1, e2] });
  });

  it('folds waiting replies of one incident into a summary that counts every change', () => {
    const replies = [
      entry('reply', 'critical', { incidentKey: 'r0/connection', kind: 'connection-lost' }),
      entry('reply', 'info', { incidentKey: 'r0/connection', kind: 'connection-restored' }),
      entry('reply', 'critical', { incidentKey: 'r0/connection', kind: 'connection-lost' }),
    ];
    const other = entry('reply', 'info', {
      incidentKey: 'r1/resync',
      resource: 'r1',
      kind: 'resync-started',
    });
    const choice = chooseNext([...replies, other], always);
    expect(choice.type).toBe('fold');
    if (choice.type !== 'fold') return;
    expect(choice.merged).toEqual(replies);
    expect(choice.summary).toMatchObject({
      changes: 3,
      kinds: { 'connection-lost': 2, 'connection-restored': 1 },
      severity: 'critical',
      incidentKey: 'r0/connection',
      absorbed: [replies[1]?.id, replies[2]?.id],
    });
    expect(choice.summary.message.title).toBe('r0: 3 changes');
    expect(choice.summary.message.body).toContain('Counted: connection-lost ×2, connection-restored ×1');
  });

  it('never folds urgent entries or an entry whose send may have gone through', () => {
    const sending = entry('post', 'info', { kind: 'role-changed', sending: true });
    const next = entry('post', 'info', { kind: 'role-changed' });
    expect(chooseNext([sending, next], always)).toMatchObject({ type: 'send', entry: sending });
    const a = entry('post', 'critical', { kind: 'watcher-gap', resource: null });
    const b = entry('post', 'critical', { kind: 'watcher-gap', resource: null });
    expect(chooseNext([a, b], always)).toMatchObject({ type: 'send', entry: a });
  });
});

describe('summarise', () => {
  it('quotes the first messages and counts the rest', () => {
    const many = Array.from({ length: 20 }, () =>
      entry('reply', 'info', { incidentKey: 'r0/x', kind: 'role-changed' }),
    );
    const summary = summarise(many);
    expect(summary.changes).toBe(20);
    expect(summary.message.body).toContain('… and 12 more messages');
  });

  it('folds summaries again without losing counts', () => {
    const first = summarise([
      entry('reply', 'info', { incidentKey: 'r0/x' }),
      entry('reply', 'info', { incidentKey: 'r0/x' }),
    ]);
    const again = summarise([first, entry('reply', 'info', { incidentKey: 'r0/x' })]);
    expect(again.changes).toBe(3);
    expect(again.kinds).toEqual({ 'connection-lost': 3 });
  });
});

describe('withoutAbsorbed', () => {
  it('drops entries a summary absorbed before a crash could delete them', () => {
    const a = entry('reply', 'info', { incidentKey: 'r0/x' });
    const b = entry('reply', 'info', { incidentKey: 'r0/x' });
    const summary = { ...summarise([a, b]), id: a.id };
    expect(withoutAbsorbed([summary, b])).toEqual({ keep: [summary], stale: [b] });
  });
});
