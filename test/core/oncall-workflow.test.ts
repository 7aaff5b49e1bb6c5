// The on-call workflow's decisions with plain data and the time passed in: who a critical pages,
// when an unacknowledged page repeats and escalates (and when it stops), what acknowledging takes,
// what a silence or a maintenance window mutes, the summary when it ends, runbook links.
import { describe, expect, it } from 'vitest';
import { applyNotification, type Incident, type Incidents } from '../../src/core/incidents.js';
import type { Notification } from '../../src/core/notification.js';
import {
  acknowledge,
  afterStep,
  escalationLevels,
  formatSpan,
  loudest,
  type MaintenanceWindow,
  maintenanceSilence,
  mentionFor,
  type Page,
  type PagingSettings,
  pageMessage,
  pageStep,
  pagingFor,
  parseDuration,
  runbookLink,
  type Silence,
  silenceSummary,
  silenceTarget,
  silencing,
  startPage,
  tallyMuted,
  withPage,
} from '../../src/core/oncall-workflow.js';
import type { HandoverClock, Member, Roster } from '../../src/core/policy.js';

const T0 = Date.parse('2026-11-29T03:00:00Z');
const MIN = 60_000;
const TEAM: Member[] = [
  { name: 'alice', slack: 'UALICE', discord: '400000000000000001' },
  { name: 'bob', slack: 'UBOB' },
  { name: 'carol', discord: '400000000000000003' },
];
const [alice, bob, carol] = TEAM as [Member, Member, Member];

function n(
  kind: Notification['kind'],
  severity: Notification['severity'],
  at: number,
  resource: string | null = 'r0',
): Notification {
  return {
    kind,
    severity,
    host: 'alpha',
    resource,
    text: `${kind} on ${resource ?? 'alpha'}`,
    details: {},
    at: new Date(at).toISOString(),
  };
}

/** The incidents after these notifications, in order. */
function incidentsAfter(...ns: Notification[]): Incidents {
  return ns.reduce<Incidents>((incidents, x) => applyNotification(incidents, x).incidents, {});
}

const lost = incidentsAfter(n('connection-lost', 'critical', T0));
const link = lost['r0/connection'] as Incident;

describe('durations as typed', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 15 * MIN],
    ['2h', 120 * MIN],
    ['1d', 1_440 * MIN],
    ['1h30m', 90 * MIN],
    [' 2H ', 120 * MIN],
    ['30', undefined],
    ['30m2h', undefined],
    ['1h1h', undefined],
    ['0m', undefined],
    ['-5m', undefined],
    ['', undefined],
  ] as const)('%j → %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('formats the way it is typed, so an answer can be typed back', () => {
    expect([90_000, 15 * MIN, 90 * MIN, 1_440 * MIN + 5_000, 0].map(formatSpan)).toEqual([
      '1m30s',
      '15m',
      '1h30m',
      '1d5s',
      '0s',
    ]);
  });
});

describe('who a notification pages', () => {
  const resolved = incidentsAfter(
    n('connection-lost', 'critical', T0),
    n('connection-restored', 'info', T0 + MIN),
  );
  const reopened = incidentsAfter(
    n('connection-lost', 'critical', T0),
    n('connection-restored', 'info', T0 + MIN),
    n('connection-lost', 'critical', T0 + 2 * MIN),
  );
  const paging = { 'r0/connection': startPage(link, T0, [alice], []) };
  it.each([
    ['a warning pages nobody', n('disk-degraded', 'warning', T0), link, {}, false, 'none'],
    [
      'a critical its operation caused pages nobody',
      n('connection-lost', 'critical', T0),
      link,
      {},
      true,
      'none',
    ],
    [
      'a critical without an incident: the mention only',
      n('watcher-gap', 'critical', T0, null),
      undefined,
      {},
      false,
      'mention',
    ],
    [
      'a critical that opens an incident starts a page',
      n('connection-lost', 'critical', T0),
      link,
      {},
      false,
      'page',
    ],
    [
      'a flap of an incident that pages already: the repeats call',
      n('connection-lost', 'critical', T0),
      link,
      paging,
      false,
      'none',
    ],
    [
      'an incident that ended pages nobody',
      n('connection-lost', 'critical', T0),
      resolved['r0/connection'],
      {},
      false,
      'none',
    ],
    [
      'a reopened incident is a new page',
      n('connection-lost', 'critical', T0 + 2 * MIN),
      reopened['r0/connection'],
      paging,
      false,
      'page',
    ],
  ] as const)('%s', (_what, x, incident, pages, caused, expected) => {
    expect(pagingFor(x, incident as Incident | undefined, pages, caused)).toBe(expected);
  });

  it('mentions per route: the people on call, the channel, or nobody; the loudest route of a channel wins', () => {
    expect(mentionFor('oncall', [alice, alice, bob])).toEqual({
      people: [
        { name: 'alice', slack: 'UALICE', discord: '400000000000000001' },
        { name: 'bob', slack: 'UBOB' },
      ],
    });
    expect(mentionFor('oncall', [])).toBeUndefined();
    expect(mentionFor('here', [])).toEqual({ people: [], here: true });
    expect(mentionFor('none', [alice])).toBeUndefined();
    expect(loudest(['none', 'oncall'])).toBe('oncall');
    expect(loudest(['oncall', 'here', 'none'])).toBe('here');
    expect(loudest([])).toBeUndefined();
  });
});

describe('the escalation chain', () => {
  /** Hand-overs every day at 09:00 UTC. */
  const daily: HandoverClock = {
    count: (from, to) => {
      let count = 0;
      for (let t = Date.UTC(2026, 10, 1, 9); t <= to.getTime(); t += 86_400_000)
        if (t > from.getTime()) count++;
      return count;
    },
    next: () => null,
  };
  it.each([
    ['no roster: nobody', { team: TEAM, schedule: { kind: 'none' } }, [] as string[][]],
    [
      'static: the people on call, then the rest of the team',
      { team: TEAM, schedule: { kind: 'static', onCall: ['bob'] } },
      [['bob'], ['alice'], ['carol']],
    ],
    [
      'rotation: on call now, then the next in the order',
      {
        team: TEAM,
        schedule: {
          kind: 'rotation',
          order: ['alice', 'bob', 'carol'],
          handover: '0 9 * * *',
          since: '2026-11-01T08:00:00Z',
        },
      },
      // 28 hand-overs since 1 November: the second of three is on call.
      [['bob'], ['carol'], ['alice']],
    ],
    [
      'rotation not started yet: nobody on call, then the order',
      {
        team: TEAM,
        schedule: {
          kind: 'rotation',
          order: ['bob', 'alice'],
          handover: '0 9 * * *',
          since: '2027-01-01T00:00:00Z',
        },
      },
      [[], ['bob'], ['alice'], ['carol']],
    ],
  ] as const)('%s', (_what, roster, expected) => {
    const levels = escalationLevels(roster as Roster, new Date(T0), daily);
    expect(levels.map((l) => l.map((m) => m.name))).toEqual(expected);
  });
});

describe('an unacknowledged page repeats and escalates; acknowledged, muted or over it stops', () => {
  const settings: PagingSettings = { repeatIntervalMs: 30 * MIN, escalateAfterMs: 15 * MIN };
  const levels: Member[][] = [[alice], [bob], [carol]];
  const page = startPage(link, T0, [alice], [{ platform: 'slack', channel: 'C1', mode: 'oncall' }]);
  const names = (people: readonly Member[]) => people.map((m) => m.name);

  it.each([
    ['right after it started: nothing', page, 5 * MIN, settings, 'none', []],
    [
      '15 minutes unacknowledged: escalated to the next person',
      page,
      15 * MIN,
      settings,
      'escalate',
      ['alice', 'bob'],
    ],
    [
      'escalation off: repeated after the interval',
      page,
      30 * MIN,
      { ...settings, escalateAfterMs: null },
      'repeat',
      ['alice'],
    ],
    [
      'after the first escalation: the next one 15 minutes later',
      { ...page, level: 1, paged: ['alice', 'bob'], lastAt: T0 + 15 * MIN },
      30 * MIN,
      settings,
      'escalate',
      ['alice', 'bob', 'carol'],
    ],
    [
      'everyone called: repeated at the interval',
      { ...page, level: 2, paged: ['alice', 'bob', 'carol'], lastAt: T0 + 30 * MIN },
      60 * MIN,
      settings,
      'repeat',
      ['alice', 'bob', 'carol'],
    ],
    [
      'acknowledged: nothing more',
      { ...page, ack: { by: 'alice', account: 'slack:UALICE', at: T0 + MIN } },
      90 * MIN,
      settings,
      'none',
      [],
    ],
    ['over already: nothing', { ...page, endedAt: T0 + MIN }, 90 * MIN, settings, 'none', []],
  ] as const)('%s', (_what, p, after, s, type, people) => {
    const step = pageStep(p as Page, link, T0 + after, s, levels, false);
    expect(step.type).toBe(type);
    if (step.type === 'repeat' || step.type === 'escalate') expect(names(step.people)).toEqual(people);
  });

  it('a silence holds it; once the silence is over it is due again', () => {
    expect(pageStep(page, link, T0 + 40 * MIN, settings, levels, true).type).toBe('none');
    expect(pageStep(page, link, T0 + 40 * MIN, settings, levels, false).type).toBe('escalate');
  });

  it('ends when its incident ends or reopens as another page', () => {
    const resolved = { ...link, resolvedAt: T0 + 2 * MIN };
    expect(pageStep(page, resolved, T0 + 3 * MIN, settings, levels, false).type).toBe('end');
    expect(
      pageStep(page, { ...link, openedAt: T0 + 5 * MIN }, T0 + 6 * MIN, settings, levels, false).type,
    ).toBe('end');
    expect(pageStep(page, undefined, T0 + 6 * MIN, settings, levels, false).type).toBe('end');
  });

  it('skips a level that calls nobody new', () => {
    const step = pageStep(page, link, T0 + 15 * MIN, settings, [[alice], [alice], [bob]], false);
    expect(step).toMatchObject({ type: 'escalate', level: 2 });
  });

  it('walks through a night: start, escalate, repeat, acknowledged', () => {
    let p: Page = page;
    const steps: string[] = [];
    for (let t = T0; t <= T0 + 120 * MIN; t += MIN) {
      const step = pageStep(
        p,
        link,
        t,
        { repeatIntervalMs: 30 * MIN, escalateAfterMs: 15 * MIN },
        [[alice], [bob]],
        false,
      );
      if (step.type !== 'none') steps.push(`${(t - T0) / MIN}m ${step.type}`);
      p = afterStep(p, step, t);
      if (t === T0 + 70 * MIN) p = { ...p, ack: { by: 'bob', account: 'slack:UBOB', at: t } };
    }
    expect(steps).toEqual(['15m escalate', '45m repeat']);
    expect(p).toMatchObject({ level: 1, repeats: 1, paged: ['alice', 'bob'], ack: { by: 'bob' } });
  });

  it('a repeat says what is open, who was called and how to stop it, with the Acknowledge button', () => {
    const step = pageStep(page, link, T0 + 30 * MIN, { ...settings, escalateAfterMs: null }, levels, false);
    if (step.type !== 'repeat') throw new Error('expected a repeat');
    const message = pageMessage(page, link, step, T0 + 30 * MIN, settings);
    expect(message.title).toBe('Still not acknowledged: r0: Replication link — Connection lost');
    expect(message.tone).toBe('critical');
    expect(message.body).toContain('`ack r0/connection`');
    expect(message.actions).toEqual([
      { id: 'ack', label: "✋ Acknowledge (I'm on it)", command: 'ack r0/connection', style: 'primary' },
    ]);
  });
});

describe('acknowledge', () => {
  const two = incidentsAfter(n('connection-lost', 'critical', T0), n('quorum-lost', 'critical', T0, 'r1'));
  const pages = {
    'r0/connection': startPage(two['r0/connection'] as Incident, T0, [alice], []),
    'r1/quorum': startPage(two['r1/quorum'] as Incident, T0, [alice], []),
  };
  const by = { by: 'bob', account: 'slack:UBOB', at: T0 + 5 * MIN };

  it.each([
    ['the button: one incident', 'r0/connection', ['r0/connection']],
    ['a resource: its alerts', 'r1', ['r1/quorum']],
  ] as const)('%s', (_what, what, taken) => {
    const result = acknowledge(pages, two, what, by);
    if (!result.ok) throw new Error(result.reason);
    expect(result.acknowledged.map((p) => p.incidentKey)).toEqual(taken);
    for (const key of taken) expect(result.pages[key]?.ack).toEqual(by);
    // The others keep waiting.
    expect(Object.values(result.pages).filter((p) => p.ack === undefined)).toHaveLength(1);
  });

  it.each([
    [
      'nothing named while two wait: say which',
      pages,
      undefined,
      /2 alerts are waiting: r0 Replication link \(ack r0\/connection\), r1 Quorum \(ack r1\/quorum\)/,
    ],
    ['nothing waits', {}, undefined, /Nothing to acknowledge: no critical alert is waiting/],
    ['an unknown resource', pages, 'r9', /Nothing to acknowledge for r9: no open critical alert/],
    [
      'taken already: who has it',
      {
        ...pages,
        'r0/connection': {
          ...(pages['r0/connection'] as Page),
          ack: { by: 'alice', account: 'slack:UALICE', at: T0 + MIN },
        },
      },
      'r0',
      /Already acknowledged by alice at 03:01 UTC: r0 Replication link/,
    ],
  ] as const)('refused: %s', (_what, p, what, reason) => {
    const result = acknowledge(p, two, what, by);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('nothing named, one waiting: that one', () => {
    const one = { 'r0/connection': pages['r0/connection'] as Page };
    const result = acknowledge(one, two, undefined, by);
    expect(result.ok && result.acknowledged.map((p) => p.incidentKey)).toEqual(['r0/connection']);
  });

  it('the parent shows who is called and the button while it waits, who took it once taken', () => {
    const page = pages['r0/connection'] as Page;
    const parent = {
      title: 'r0: Replication link — Connection lost',
      tone: 'critical' as const,
      fields: [{ label: 'Status', value: 'open for 5m' }],
    };
    const waiting = withPage(parent, page, T0 + 5 * MIN);
    expect(waiting.fields?.at(-1)).toEqual({
      label: 'Paged',
      value: 'alice, not acknowledged yet',
      short: true,
    });
    expect(waiting.actions?.map((a) => a.command)).toEqual(['ack r0/connection']);
    const taken = withPage(waiting, { ...page, ack: by }, T0 + 6 * MIN);
    expect(taken.fields?.map((f) => [f.label, f.value])).toEqual([
      ['Status', 'open for 5m'],
      ['Acknowledged', 'by bob at 03:05 UTC'],
    ]);
    expect(taken.actions).toBeUndefined();
    expect(withPage({ ...parent, tone: 'resolved' }, page, T0).actions).toBeUndefined();
  });
});

describe('silences and maintenance windows', () => {
  const silence = (
    matches: string[],
    from: number,
    until: number,
    extra: Partial<Silence> = {},
  ): Silence => ({
    id: 'abcd0123',
    matches,
    from,
    until,
    reason: 'disk swap',
    by: 'alice',
    source: 'command',
    ...extra,
  });
  it.each([
    ['a resource', ['r0'], n('connection-lost', 'critical', T0), true],
    ['another resource', ['r1'], n('connection-lost', 'critical', T0), false],
    ['a kind', ['connection-lost'], n('connection-lost', 'critical', T0, 'r1'), true],
    ['a kind, another notification', ['split-brain'], n('connection-lost', 'critical', T0), false],
    ['all, even about the host', ['all'], n('watcher-gap', 'critical', T0, null), true],
    ['a resource, not the host', ['r0'], n('watcher-gap', 'critical', T0, null), false],
  ] as const)('%s', (_what, matches, x, muted) => {
    expect(silencing([silence([...matches], T0 - MIN, T0 + 60 * MIN)], x, T0) !== undefined).toBe(muted);
  });

  it('only while it lasts: not before, not after its expiry, not after it was ended early', () => {
    const x = n('connection-lost', 'critical', T0);
    const s = silence(['r0'], T0, T0 + 60 * MIN);
    expect(silencing([s], x, T0 - 1)).toBeUndefined();
    expect(silencing([s], x, T0)).toBe(s);
    expect(silencing([s], x, T0 + 60 * MIN)).toBeUndefined();
    expect(silencing([{ ...s, endedAt: T0 + 10 * MIN }], x, T0 + 11 * MIN)).toBeUndefined();
  });

  it.each([
    ['r0', ['r0', 'r1'], { ok: true, match: 'r0' }],
    ['split-brain', ['r0'], { ok: true, match: 'split-brain' }],
    ['all', [], { ok: true, match: 'all' }],
  ] as const)('target %s', (word, resources, expected) => {
    expect(silenceTarget(word, resources)).toMatchObject(expected);
  });

  it('refuses a target that is neither a resource nor a kind, naming both', () => {
    const result = silenceTarget('r9', ['r0', 'r1']);
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.reason).toMatch(/^r9 is neither a resource \(r0, r1\) nor an alert kind \(split-brain, /);
  });

  it('a maintenance window is a silence while it is on, once or recurring', () => {
    const once: MaintenanceWindow = {
      reason: 'kernel updates',
      matches: ['all'],
      start: '2026-11-29T02:00:00Z',
      end: '2026-11-29T04:00:00Z',
    };
    expect(maintenanceSilence(once, 0, T0, null)).toMatchObject({
      id: `maintenance-1-${Date.parse('2026-11-29T02:00:00Z')}`,
      until: Date.parse('2026-11-29T04:00:00Z'),
      source: 'maintenance',
      by: 'configuration',
    });
    expect(maintenanceSilence(once, 0, Date.parse('2026-11-29T04:00:00Z'), null)).toBeUndefined();
    const weekly: MaintenanceWindow = {
      reason: 'backup verify',
      matches: ['out-of-sync'],
      cron: '30 2 * * 0',
      durationMs: 60 * MIN,
    };
    const started = new Date('2026-11-29T02:30:00Z');
    expect(maintenanceSilence(weekly, 1, T0, started)?.id).toBe(`maintenance-2-${started.getTime()}`);
    expect(maintenanceSilence(weekly, 1, started.getTime() + 60 * MIN, started)).toBeUndefined();
    expect(maintenanceSilence(weekly, 1, T0, null)).toBeUndefined();
  });

  it('counts what it muted and sums it up at its end, with what is still open', () => {
    const s = silence(['r0'], T0, T0 + 60 * MIN);
    const muted = [
      n('connection-lost', 'critical', T0 + MIN),
      n('connection-restored', 'info', T0 + 2 * MIN),
      ...Array.from({ length: 6 }, (_, i) => n('connection-lost', 'critical', T0 + (3 + i) * MIN)),
    ];
    const tally = muted.reduce<ReturnType<typeof tallyMuted> | undefined>(
      (t, x) => tallyMuted(t, s, x, ['slack\u0000C1']),
      undefined,
    );
    if (tally === undefined) throw new Error('expected a tally');
    expect(tally).toMatchObject({
      count: 8,
      kinds: { 'connection-lost': 7, 'connection-restored': 1 },
      worst: 'critical',
    });
    expect(tally.first).toHaveLength(5);
    const open = incidentsAfter(...muted);
    const summary = silenceSummary(tally, open, {}, T0 + 60 * MIN);
    expect(summary.title).toBe('Silence of r0 ended: 8 notifications muted');
    expect(summary.tone).toBe('critical');
    expect(summary.body).toContain('… and 3 more');
    expect(summary.body).toContain('Counted: connection-lost ×7, connection-restored ×1');
    expect(summary.fields?.find((f) => f.label === 'Still open')?.value).toBe(
      'r0: Replication link — Connection lost (critical)',
    );
    const over = silenceSummary(
      { ...tally, silence: { ...s, endedAt: T0 + 10 * MIN, endedBy: 'bob' } },
      incidentsAfter(
        n('connection-lost', 'critical', T0 + MIN),
        n('connection-restored', 'info', T0 + 2 * MIN),
      ),
      {},
      T0 + 10 * MIN,
    );
    expect(over.title).toBe('Silence of r0 ended early by bob: 8 notifications muted');
    expect(over.tone).toBe('info');
  });
});

describe('runbooks', () => {
  const runbooks = {
    'split-brain': 'https://wiki.example/drbd/split-brain?resource={resource}&host={host}&k={kind}',
  };
  it('fills in the placeholders, URL-encoded', () => {
    expect(runbookLink(runbooks, 'split-brain', { resource: 'r0', host: 'alpha beta' })).toEqual({
      label: 'Runbook: Split-brain',
      url: 'https://wiki.example/drbd/split-brain?resource=r0&host=alpha%20beta&k=split-brain',
    });
  });
  it('a kind without a runbook has no link', () => {
    expect(runbookLink(runbooks, 'connection-lost', { resource: 'r0', host: 'alpha' })).toBeUndefined();
  });
});
