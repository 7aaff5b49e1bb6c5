import { describe, expect, it } from 'vitest';
import { chooseNext, isUrgent, type OutboxEntry, summarise } from '../../src/core/delivery.js';
import { DeliveryLedger, type DeliveryRecord } from '../../src/core/delivery-record.js';
import type { Severity } from '../../src/core/notification.js';

let seq = 0;
function entry(op: OutboxEntry['op'], covers: string[], extra: Partial<OutboxEntry> = {}): OutboxEntry {
  seq += 1;
  const severity: Severity = extra.severity ?? 'warning';
  return {
    id: String(seq).padStart(12, '0'),
    key: `${covers[0] ?? `x${seq}`}:slack:C1`,
    platform: 'slack',
    channel: 'C1',
    op,
    message: { title: `m${seq}`, tone: severity, host: 'alpha' },
    resource: 'r0',
    severity,
    urgent: isUrgent(severity, op),
    kinds: op === 'update-parent' ? {} : { 'connection-lost': 1 },
    changes: op === 'update-parent' ? 0 : 1,
    createdAt: 0,
    attempts: 0,
    ...(covers.length === 0 ? {} : { covers }),
    ...extra,
  };
}

describe('the pair’s delivery record', () => {
  it('knows what a posted message covers, a folded summary included', () => {
    const ledger = new DeliveryLedger();
    const a = entry('reply', ['n1'], { incidentKey: 'r0/connection' });
    const b = entry('reply', ['n2'], { incidentKey: 'r0/connection' });
    const summary = { ...summarise([a, b]), id: a.id };
    ledger.apply([{ put: a }, { put: b }], 0);
    expect(ledger.isCovered('n2')).toBe(true); // queued counts as taken care of
    ledger.apply(
      [{ put: summary }, { del: b.id }, { posted: { id: a.id, messageId: '1.1' } }, { del: a.id }],
      1,
    );
    expect([...ledger.covered.keys()].sort()).toEqual(['n1', 'n2']);
    expect(ledger.entries.size).toBe(0);
    expect(ledger.knows({ key: 'n2:slack:C1', covers: ['n2'], op: 'reply' })).toBe(true);
    expect(ledger.knows({ key: 'n3:slack:C1', covers: ['n3'], op: 'reply' })).toBe(false);
  });

  it('hands a new leader what is still queued, in order, a started send marked to be checked', () => {
    const ledger = new DeliveryLedger();
    const posted = entry('open', ['n1'], { incidentKey: 'r0/connection' });
    const started = entry('reply', ['n2'], { incidentKey: 'r0/connection', sending: true });
    const queued = entry('reply', ['n3'], { incidentKey: 'r0/connection' });
    ledger.apply(
      [
        { reset: { origin: 'alpha' } },
        { put: posted },
        { put: started },
        { put: queued },
        { posted: { id: posted.id, messageId: '1.1' } },
        { parent: { key: 'slack:C1:r0/connection', messageId: '1.1' } },
        { del: posted.id },
      ],
      0,
    );
    const t = ledger.takeover(false);
    expect(t.entries.map((e) => e.covers)).toEqual([['n2'], ['n3']]);
    expect(t.entries.map((e) => e.sending === true)).toEqual([true, false]);
    expect(t.parents).toEqual({ 'slack:C1:r0/connection': '1.1' });
    // A record that may be behind: every queued post is checked with the platform.
    expect(ledger.takeover(true).entries.map((e) => e.sending === true)).toEqual([true, true]);
  });

  it('copies itself whole: a snapshot applied elsewhere gives the same record', () => {
    const ledger = new DeliveryLedger();
    const post = entry('post', ['n9']);
    const records: DeliveryRecord[] = [
      { reset: { origin: 'alpha' } },
      { put: post },
      { put: entry('open', ['n10'], { incidentKey: 'r0/disk' }) },
      { seen: ['n9', 'n10'] },
      { posted: { id: post.id, messageId: '2.2' } },
      { del: post.id },
    ];
    ledger.apply(records, 0);
    const copy = new DeliveryLedger();
    copy.apply(ledger.snapshot('alpha', 1), 10);
    expect(copy.origin).toBe('alpha');
    expect([...copy.entries.keys()]).toEqual([...ledger.entries.keys()]);
    expect([...copy.covered.keys()]).toEqual(['n9']);
    expect([...copy.seen]).toEqual(['n9', 'n10']);
  });

  it('carries the on-call state and the leader’s own stream: latest wins, copied whole, handed over', () => {
    const ledger = new DeliveryLedger();
    const acked = {
      pages: {},
      silences: [
        {
          id: 's1',
          matches: ['r0'],
          from: 0,
          until: 60_000,
          by: 'alice',
          reason: 'disk swap',
          source: 'command',
        },
      ],
      muted: {},
    } as unknown as import('../../src/core/oncall-workflow.js').OnCallState;
    const blind = {
      host: 'alpha',
      health: { up: false, since: 5, cause: 'drbdsetup exited with code 20' },
      primary: ['r0'],
    } as const;
    ledger.apply(
      [
        { oncall: { pages: {}, silences: [], muted: {} } },
        { oncall: acked },
        { stream: { host: 'alpha', health: { up: true, since: 1 }, primary: [] } },
        { stream: blind },
      ],
      0,
    );
    const copy = new DeliveryLedger();
    copy.apply(ledger.snapshot('alpha'), 1);
    expect(copy.takeover(false)).toMatchObject({ oncall: acked, stream: blind });
    // The new leader records its own stream from then on; what it was handed stays in the takeover.
    copy.rebase('beta', { entries: [], parents: {}, incidents: {}, pair: undefined });
    expect(copy.stream).toBeUndefined();
    expect(copy.oncall).toEqual(acked);
  });

  it('forgets covered notifications after the retention time', () => {
    const ledger = new DeliveryLedger();
    const e = entry('post', ['old']);
    ledger.apply([{ put: e }, { posted: { id: e.id, messageId: '1' } }, { del: e.id }], 0);
    ledger.prune(31 * 60_000);
    expect(ledger.covered.size).toBe(0);
  });
});

describe('chooseNext with the pair’s rules', () => {
  const always = () => true;

  it('sends a leadership announcement before anything, urgent ones included', () => {
    const critical = entry('open', ['c'], { severity: 'critical', incidentKey: 'r0/connection' });
    const announcement = entry('post', [], { first: true, severity: 'info' });
    expect(chooseNext([critical, announcement], always)).toMatchObject({ type: 'send', entry: announcement });
  });

  it('posts a waiting parent in its latest form, carrying what the edits report', () => {
    const open = entry('open', ['n1'], { incidentKey: 'r0/connection' });
    const edit = entry('update-parent', ['n2'], { incidentKey: 'r0/connection' });
    const choice = chooseNext([open, edit], () => false);
    expect(choice.type).toBe('fold');
    if (choice.type !== 'fold') return;
    expect(choice.summary.op).toBe('open');
    expect(choice.summary.message).toEqual(edit.message);
    expect(choice.summary.covers).toEqual(['n1', 'n2']);
  });

  it('sends an incident’s replies before its parent turns green', () => {
    const reply = entry('reply', ['n2'], { incidentKey: 'r0/connection', state: 'resolved' });
    const green = entry('update-parent', [], { incidentKey: 'r0/connection', severity: 'critical' });
    const choice = chooseNext([reply, green], always);
    expect(choice).toMatchObject({ type: 'send', entry: reply });
  });

  it('a summary shows the incident’s state when it is posted and names the hosts it counts', () => {
    const a = entry('reply', ['n1'], {
      incidentKey: 'r0/connection',
      severity: 'critical',
      state: 'critical',
    });
    const b = entry('reply', ['n2'], {
      incidentKey: 'r0/connection',
      state: 'resolved',
      message: { title: 'restored', tone: 'info', host: 'beta' },
    });
    const s = summarise([a, b]);
    expect(s.message.tone).toBe('resolved');
    expect(s.message.title).toBe('r0: 2 changes, now resolved');
    expect(s.message.host).toBe('alpha, beta');
    expect(s.message.body).toContain('Seen by: alpha 1, beta 1');
    expect(s.covers).toEqual(['n1', 'n2']);
  });

  it('an amendment edits a posted message, merges into a waiting one, or becomes a reply', () => {
    const amend = entry('amend', ['n2'], {
      ref: 'pair:r0/role#1',
      fallback: { op: 'reply', incidentKey: 'operation:op1', message: { title: 'single', tone: 'info' } },
    });
    expect(chooseNext([amend], always, () => 'posted')).toMatchObject({ type: 'send', entry: amend });
    const waiting = entry('reply', ['n1'], { ref: 'pair:r0/role#1', incidentKey: 'operation:op1' });
    const merged = chooseNext([waiting, amend], always);
    expect(merged.type).toBe('fold');
    if (merged.type === 'fold') expect(merged.summary.covers).toEqual(['n1', 'n2']);
    const folded = chooseNext([amend], always, () => 'posted-summary');
    expect(folded).toMatchObject({
      type: 'rewrite',
      entries: [{ op: 'reply', incidentKey: 'operation:op1' }],
    });
    // Two views of the same change waiting: one edit with the latest rendering, covering both.
    const again = entry('amend', ['n3'], { ref: 'pair:r0/role#1' });
    const both = chooseNext([amend, again], always, () => 'posted');
    expect(both.type).toBe('fold');
    if (both.type === 'fold') expect(both.summary).toMatchObject({ op: 'amend', covers: ['n3', 'n2'] });
    // In a burst (more waiting in the same thread) an amendment is folded, not an edit each.
    const other = entry('reply', ['n7'], { incidentKey: 'operation:op1' });
    expect(chooseNext([amend, other], always, () => 'posted')).toMatchObject({ type: 'rewrite' });
  });
});
