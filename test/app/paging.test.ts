// The on-call workflow wired to the real notifier, outbox (to a recording platform), audit log and
// on-call store, with the time passed in: routes decide who is mentioned (oncall, here, none), a
// consequence of an operation pages nobody, a maintenance window mutes and sums up, only the team
// acknowledges and silences, bad input changes nothing, and acknowledgements survive a restart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { AuditLog } from '../../src/adapters/audit-log.js';
import { OnCallStore } from '../../src/adapters/oncall-store.js';
import { Outbox } from '../../src/adapters/outbox.js';
import { CommandError, parseCommandText, validateArgs } from '../../src/app/command-registry.js';
import { parseConfig } from '../../src/app/config.js';
import { createLogger } from '../../src/app/log.js';
import { Notifier } from '../../src/app/notifier.js';
import { Paging, pagingConfigOf } from '../../src/app/paging.js';
import type { Message } from '../../src/core/message-tones.js';
import type { AlertKind, Notification, Severity } from '../../src/core/notification.js';
import { escalationLevels } from '../../src/core/oncall-workflow.js';
import type { IncomingCommand } from '../../src/ports/chat.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { RecordingPlatform } from '../helpers/recording-platform.js';
import { until } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent', format: 'json' });
const T0 = Date.parse('2026-11-29T03:00:00Z');
const MIN = 60_000;

function n(kind: AlertKind, severity: Severity, at: number, resource: string | null = 'r0'): Notification {
  return { kind, severity, host: 'alpha', resource, text: kind, details: {}, at: new Date(at).toISOString() };
}

function typed(user: string, text: string): IncomingCommand {
  return {
    platform: 'slack',
    text,
    userId: user,
    userName: user.toLowerCase(),
    roles: [],
    channelId: 'C1',
    source: 'slash-command',
  };
}

async function setup(extra: Record<string, unknown> = {}, dir = tempDir('drbd-chatops-paging-')) {
  const config = parseConfig({
    stateDir: dir,
    oncall: {
      team: [
        { name: 'alice', slack: 'UALICE' },
        { name: 'bob', slack: 'UBOB' },
      ],
      static: ['alice'],
      paging: { repeatInterval: '30m', escalateAfter: '15m' },
    },
    routes: [
      { platform: 'slack', channel: 'C1' },
      { platform: 'slack', channel: 'C2', mention: 'here' },
      { platform: 'slack', channel: 'C3', mention: 'none' },
    ],
    runbooks: { 'connection-lost': 'https://wiki.example/{kind}/{resource}' },
    ...extra,
  });
  const slack = new RecordingPlatform('slack');
  const outbox = new Outbox({
    dir: join(dir, 'outbox'),
    platforms: new Map([['slack', slack]]),
    logger,
    minIntervalMs: {},
  });
  await outbox.open();
  onCleanup(() => outbox.stop());
  const audit = new AuditLog(join(dir, 'audit.ndjson'));
  onCleanup(() => audit.close());
  const store = new OnCallStore(dir);
  onCleanup(() => store.close());
  const clock = { now: T0 };
  let operation:
    | {
        id: string;
        command: string;
        resource: string;
        from: number;
        to: undefined;
        platform: string;
        channel: string;
        messageId: string;
      }
    | undefined;
  const notifier: Notifier = new Notifier({
    stateDir: dir,
    routes: config.routes,
    outbox,
    operations: () => (operation === undefined ? [] : [operation]),
    review: (x, entries, context) => paging.review(x, entries, context),
  });
  const paging: Paging = new Paging({
    host: 'alpha',
    store,
    audit,
    outbox,
    incidents: () => notifier.incidents,
    config: () => pagingConfigOf(config),
    levels: (now) =>
      escalationLevels(
        { team: config.oncall.team, schedule: { kind: 'static', onCall: ['alice'] } },
        now,
        undefined,
      ),
    resources: async () => ['r0', 'r1'],
    logger,
    now: () => clock.now,
  });
  const run = async (user: string, text: string): Promise<Message> => {
    const { definition, args: raw } = parseCommandText(text, COMMANDS);
    if (definition.kind !== 'query') throw new Error('a query was expected');
    return definition.run(validateArgs(definition, raw), typed(user, text), {
      paging,
    } as unknown as Parameters<typeof definition.run>[2]);
  };
  const posted = (channel: string) => slack.posts.filter((p) => p.channel === channel).map((p) => p.message);
  const startOperation = () => {
    operation = {
      id: 'op1',
      command: 'failover',
      resource: 'r0',
      from: clock.now,
      to: undefined,
      platform: 'slack',
      channel: 'C1',
      messageId: 'plan',
    };
  };
  return { dir, slack, outbox, notifier, paging, clock, run, posted, startOperation };
}

describe('paging through the notifier', () => {
  it('mentions per route: the person on call, the channel, or nobody; with the button and the runbook', async () => {
    const { notifier, outbox, posted } = await setup();
    await notifier.notify([n('connection-lost', 'critical', T0)]);
    await until(() => outbox.depth === 0, 'the outbox to drain');
    const [c1, c2, c3] = ['C1', 'C2', 'C3'].map((c) => posted(c)[0]);
    expect(c1?.mention).toEqual({ people: [{ name: 'alice', slack: 'UALICE' }] });
    expect(c2?.mention).toEqual({ people: [{ name: 'alice', slack: 'UALICE' }], here: true });
    expect(c3?.mention).toBeUndefined();
    for (const m of [c1, c2, c3]) {
      expect(m?.actions?.map((a) => a.command)).toEqual(['ack r0/connection']);
      expect(m?.links).toEqual([
        { label: 'Runbook: Connection lost', url: 'https://wiki.example/connection-lost/r0' },
      ]);
    }
  });

  it('a warning mentions nobody; a consequence of a running operation pages nobody', async () => {
    const { notifier, outbox, slack, paging, startOperation } = await setup();
    await notifier.notify([n('disk-degraded', 'warning', T0)]);
    startOperation();
    await notifier.notify([n('connection-lost', 'critical', T0 + 1_000)]);
    await until(() => outbox.depth === 0, 'the outbox to drain');
    expect(slack.posts.length).toBeGreaterThan(0);
    expect(slack.posts.filter((p) => p.message.mention !== undefined)).toEqual([]);
    expect(paging.state.pages).toEqual({});
  });

  it('repeats and escalates with the time passed in; the reply calls the people, the parent says who', async () => {
    const { notifier, outbox, paging, clock, posted } = await setup();
    await notifier.notify([n('connection-lost', 'critical', T0)]);
    clock.now = T0 + 15 * MIN;
    await paging.tick(new Date(clock.now));
    await until(() => outbox.depth === 0, 'the outbox to drain');
    const escalation = posted('C1').find((m) => m.title.startsWith('Escalated to bob'));
    expect(escalation?.mention).toEqual({
      people: [
        { name: 'alice', slack: 'UALICE' },
        { name: 'bob', slack: 'UBOB' },
      ],
    });
    // The channel that pages nobody is not reminded either.
    expect(posted('C3').filter((m) => m.title.startsWith('Escalated'))).toEqual([]);
    expect(paging.page('r0/connection')).toMatchObject({ level: 1, paged: ['alice', 'bob'] });
  });

  it('only the team acknowledges and silences; bad input is refused and changes nothing', async () => {
    const { notifier, paging, run, dir } = await setup();
    await notifier.notify([n('connection-lost', 'critical', T0)]);
    await expect(run('UMALLORY', 'ack r0')).rejects.toThrow(/mallory is not in the on-call team/);
    await expect(run('UALICE', 'silence r9 2h swap')).rejects.toThrow(/r9 is neither a resource \(r0, r1\)/);
    await expect(run('UALICE', 'silence r0 3w swap')).rejects.toThrow(/a duration such as 30m/);
    await expect(run('UALICE', 'silence r0 30d swap')).rejects.toThrow(/from 1s to 14d/);
    await expect(run('UALICE', 'unsilence r0')).rejects.toThrow(/No silence of r0 is in force/);
    expect(paging.state.silences).toEqual([]);
    expect(paging.page('r0/connection')?.ack).toBeUndefined();
    expect(() => readFileSync(join(dir, 'audit.ndjson'), 'utf8')).toThrow();
  });

  it('a typed reason is the rest of the line, spaces and all, also when Discord quotes it', () => {
    for (const text of ['silence r0 2h swap the disk of r0', 'silence r0 2h "swap the disk of r0"']) {
      const { args } = parseCommandText(text, COMMANDS);
      expect(args).toEqual({ target: 'r0', duration: '2h', reason: 'swap the disk of r0' });
    }
    const short = parseCommandText('silence r0 2h x', COMMANDS);
    expect(() => validateArgs(short.definition, short.args)).toThrow(CommandError);
  });

  it('a silence mutes and counts; unsilence ends it and sums up what it muted; all audited', async () => {
    const { notifier, outbox, paging, clock, run, posted, dir } = await setup();
    const set = await run('UALICE', 'silence r0 2h swapping the disk');
    expect(set.title).toMatch(/^🔕 Silenced every notification about r0 for 2h, until 05:00 UTC$/);
    clock.now = T0 + MIN;
    await notifier.notify([
      n('connection-lost', 'critical', T0 + MIN),
      n('connection-lost', 'critical', T0 + MIN, 'r1'),
    ]);
    await until(() => outbox.depth === 0, 'the outbox to drain');
    // r1 is not silenced; r0 is muted, counted, and pages nobody.
    expect(posted('C1').map((m) => m.title)).toEqual(['r1: Replication link — Connection lost']);
    expect(paging.mutedCount(paging.silences()[0]?.id ?? '')).toBe(1);
    expect(paging.page('r0/connection')).toBeUndefined();
    clock.now = T0 + 10 * MIN;
    const ended = await run('UBOB', 'unsilence r0');
    expect(ended.title).toBe('🔔 bob ended the silence of r0');
    await until(() => outbox.depth === 0, 'the outbox to drain');
    const summary = posted('C1').find((m) => m.title.startsWith('Silence of r0 ended early by bob'));
    expect(summary?.title).toBe('Silence of r0 ended early by bob: 1 notification muted');
    expect(summary?.tone).toBe('critical');
    expect(summary?.mention).toEqual({ people: [{ name: 'alice', slack: 'UALICE' }] });
    const audit = readFileSync(join(dir, 'audit.ndjson'), 'utf8');
    expect(audit).toMatch(
      /"event":"silenced".*"command":"silence r0 2h swapping the disk".*"member":"alice"/,
    );
    expect(audit).toMatch(/"event":"unsilenced".*"member":"bob"/);
  });

  it('a maintenance window of the configuration mutes while it lasts and is summed up once it ended', async () => {
    const { notifier, outbox, paging, clock, posted } = await setup({
      maintenance: [
        {
          reason: 'kernel updates',
          match: ['connection-lost'],
          start: '2026-11-29T02:30:00Z',
          end: '2026-11-29T03:30:00Z',
        },
      ],
    });
    expect(paging.silences().map((s) => s.reason)).toEqual(['kernel updates']);
    await notifier.notify([n('connection-lost', 'critical', T0)]);
    await until(() => outbox.depth === 0, 'the outbox to drain');
    expect(posted('C1')).toEqual([]);
    clock.now = Date.parse('2026-11-29T03:30:00Z');
    await paging.tick(new Date(clock.now));
    await until(() => outbox.depth === 0, 'the outbox to drain');
    expect(posted('C1').map((m) => m.title)).toEqual([
      'Maintenance window (kernel updates) ended: 1 notification muted',
    ]);
    expect(paging.silences()).toEqual([]);
  });

  it('an acknowledgement survives a restart, and the parent keeps saying who took it', async () => {
    const first = await setup();
    await first.notifier.notify([n('connection-lost', 'critical', T0)]);
    first.clock.now = T0 + 2 * MIN;
    const taken = await first.run('UBOB', 'ack');
    expect(taken.title).toBe('✋ bob acknowledged r0: Replication link — Connection lost');
    await until(() => first.outbox.depth === 0, 'the outbox to drain');
    const edit = first.slack.updates.at(-1)?.message;
    expect(edit?.fields?.find((f) => f.label === 'Acknowledged')?.value).toBe('by bob at 03:02 UTC');
    expect(edit?.actions).toBeUndefined();
    await first.outbox.stop();

    const again = await setup({}, first.dir);
    expect(again.paging.page('r0/connection')?.ack?.by).toBe('bob');
    again.clock.now = T0 + 60 * MIN;
    await again.paging.tick(new Date(again.clock.now));
    expect(again.outbox.depth).toBe(0);
    // A new change in the incident keeps the parent saying who has it.
    await again.notifier.notify([n('connection-lost', 'critical', T0 + 61 * MIN)]);
    await until(() => again.outbox.depth === 0, 'the outbox to drain');
    expect(again.slack.updates.at(-1)?.message.fields?.find((f) => f.label === 'Acknowledged')?.value).toBe(
      'by bob at 03:02 UTC',
    );
  });
});
