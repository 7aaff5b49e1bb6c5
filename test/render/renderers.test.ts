// Golden files: each sample message rendered for Slack (Block Kit), Discord (embed + components)
// and as text must match test/fixtures/golden/. After a deliberate change of the rendering, run
// `UPDATE_GOLDEN=1 npx vitest run test/render` and review the diff.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyNotification, incidentMessage } from '../../src/core/incidents.js';
import { type Message, TONE_COLOURS } from '../../src/core/message-tones.js';
import type { Notification } from '../../src/core/notification.js';
import { runbookLink, startPage, withLink, withPage } from '../../src/core/oncall-workflow.js';
import { renderDiscord } from '../../src/render/discord.js';
import { renderText } from '../../src/render/plain-text.js';
import { escapeMrkdwn, renderSlack } from '../../src/render/slack.js';
import { discordProblems, slackProblems } from './limits.js';

const GOLDEN = join(import.meta.dirname, '../fixtures/golden');
const AT = '2026-11-29T10:07:00.020Z';

const splitBrain: Notification = {
  kind: 'split-brain',
  severity: 'critical',
  host: 'alpha',
  resource: 'r0',
  text: 'Split-brain on r0 on alpha with beta: both sides changed data while disconnected; DRBD dropped the connection and will not resync by itself. Recovery: pick the victim whose changes since the split are thrown away; on it run `drbdadm disconnect r0; drbdadm secondary r0; drbdadm connect --discard-my-data r0`, then on the survivor `drbdadm connect r0`. The victim resyncs from the survivor.',
  details: { helper: 'split-brain', peer: 'beta' },
  at: AT,
};

const opened = applyNotification({}, splitBrain);
const incident = opened.incidents['r0/connection'];
if (incident === undefined) throw new Error('expected an incident');

// A paged critical: the on-call people are mentioned (alice has no Discord id, carol no Slack id),
// it carries the Acknowledge button and its kind's runbook; once taken, the parent says who took it.
const page = startPage(incident, Date.parse(AT), [], []);
const paged: Message = {
  ...withLink(
    withPage(
      incidentMessage(incident, Date.parse(AT) + 60_000),
      { ...page, paged: ['alice', 'carol'] },
      Date.parse(AT),
    ),
    runbookLink({ 'split-brain': 'https://wiki.example/drbd/split-brain?r={resource}' }, 'split-brain', {
      resource: 'r0',
      host: 'alpha',
    }),
  ),
  mention: {
    people: [
      { name: 'alice', slack: 'UALICE' },
      { name: 'carol', discord: '400000000000000003' },
    ],
  },
};
const { mention: _paging, ...pagedWithoutMention } = paged;

const SAMPLES: Record<string, Message> = {
  'critical-paged': paged,
  'acknowledged-incident': withPage(
    pagedWithoutMention,
    {
      ...page,
      paged: ['alice'],
      ack: { by: 'alice', account: 'slack:UALICE', at: Date.parse(AT) + 125_000 },
    },
    Date.parse(AT) + 130_000,
  ),
  'split-brain-incident': incidentMessage(incident, Date.parse(AT) + 60_000),
  'resolved-incident': incidentMessage(
    { ...incident, resolvedAt: Date.parse(AT) + 95_000 },
    Date.parse(AT) + 95_000,
  ),
  'failover-plan': {
    title: 'Failover r0 from alpha to beta',
    tone: 'warning',
    host: 'alpha',
    resource: 'r0',
    body: 'Plan: stop 3 containers, stop r0lxd, unmount /r0, demote on alpha; promote, mount, start on beta.',
    fields: [
      { label: 'Requested by', value: 'ana', short: true },
      { label: 'Needs', value: '1 approval by on-call', short: true },
    ],
    actions: [
      { id: 'confirm', label: 'Confirm', command: 'failover r0 confirm 7f3a', style: 'danger' },
      { id: 'cancel', label: 'Cancel', command: 'failover r0 cancel 7f3a' },
    ],
    at: AT,
  },
  // A CommandError's text as the command handler answers it: title, then the checklist.
  'blocked-failover': {
    title: [
      'Failover r0 blocked: split-brain not recovered',
      '❌ one Primary: alpha and beta are both Primary',
      '✅ target reachable: beta answers over the peer link and runs the bot',
      '❌ connected: alpha → beta: StandAlone, replication unknown (DRBD will not reconnect by itself)',
      '❌ no split-brain: alpha and beta are both Primary and not connected; recover first: `splitbrain r0 victim <host>`',
      '✅ fence lock: free',
    ].join('\n'),
    tone: 'warning',
  },
  'healthy-status': {
    title: 'DRBD status',
    tone: 'info',
    host: 'alpha',
    body: '✅ All resources healthy.',
    fields: [
      {
        label: 'r0 on alpha',
        value: 'Primary, disk UpToDate\nbeta: Connected, Secondary, peer disk UpToDate, Established',
      },
      { label: 'Fence r0', value: 'held by alpha until 10:08 UTC', short: true },
    ],
    at: AT,
  },
  'info-with-markup': {
    title: 'r1: Role changed <script> & more',
    tone: 'info',
    host: 'beta',
    resource: 'r1',
    body: 'r1 on beta is now Primary (was Secondary) <@U123>',
    at: AT,
  },
};

function golden(name: string, actual: unknown): void {
  const file = join(GOLDEN, name);
  const text = typeof actual === 'string' ? `${actual}\n` : `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
  if (!existsSync(file))
    throw new Error(`missing golden file ${name}: run with UPDATE_GOLDEN=1 and review it`);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

describe('renderers match their golden files', () => {
  for (const [name, message] of Object.entries(SAMPLES)) {
    it(name, () => {
      golden(`${name}.slack.json`, renderSlack(message));
      golden(`${name}.discord.json`, renderDiscord(message));
      golden(`${name}.txt`, renderText(message));
    });
  }
});

describe('renderer rules', () => {
  it('shows severity by colour and emoji on both platforms', () => {
    const message = SAMPLES['split-brain-incident'] as Message;
    const slack = renderSlack(message);
    expect(slack.attachments[0]?.color).toBe('#cf222e');
    expect(slack.text.startsWith('🚨 CRITICAL')).toBe(true);
    expect(renderDiscord(message).embeds[0]?.color).toBe(0xcf222e);
    expect(renderDiscord(SAMPLES['resolved-incident'] as Message).embeds[0]?.color).toBe(0x2da44e);
  });

  it('carries the observing host on every platform', () => {
    const message = SAMPLES['split-brain-incident'] as Message;
    expect(JSON.stringify(renderSlack(message))).toContain('host *alpha*');
    expect(renderDiscord(message).embeds[0]?.footer?.text).toBe('host alpha · r0 · 2026-11-29 10:07 UTC');
    expect(renderText(message)).toContain('on alpha');
  });

  it('turns actions into buttons that carry the serialised command', () => {
    const plan = SAMPLES['failover-plan'] as Message;
    const slackButtons = renderSlack(plan).attachments[0]?.blocks.find((b) => b.type === 'actions');
    expect(slackButtons).toMatchObject({
      elements: [
        { action_id: 'drbd:confirm', value: 'failover r0 confirm 7f3a', style: 'danger' },
        { value: 'failover r0 cancel 7f3a' },
      ],
    });
    expect(
      renderDiscord(plan).components[0]?.components.map((c) => [
        'custom_id' in c ? c.custom_id : c.url,
        c.style,
      ]),
    ).toEqual([
      ['cmd:failover r0 confirm 7f3a', 4],
      ['cmd:failover r0 cancel 7f3a', 2],
    ]);
  });

  it('escapes text so DRBD output cannot inject Slack mentions or links', () => {
    expect(escapeMrkdwn('<!channel> & <@U1>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt;');
    expect(JSON.stringify(renderSlack(SAMPLES['info-with-markup'] as Message))).not.toContain('<@U123>');
  });

  it('keeps within platform limits', () => {
    const long: Message = { title: 'x'.repeat(400), tone: 'info', body: 'y'.repeat(5_000) };
    expect(renderDiscord(long).embeds[0]?.title.length).toBeLessThanOrEqual(256);
    expect(renderDiscord(long).embeds[0]?.description?.length).toBeLessThanOrEqual(4_096);
    const section = renderSlack(long).attachments[0]?.blocks[1] as { text: { text: string } };
    expect(section.text.text.length).toBeLessThanOrEqual(3_000);
  });
});

describe('mentions and runbook links', () => {
  const message = SAMPLES['critical-paged'] as Message;

  it('Slack: the mention leads the top-level text (what rings the phone); a person without a Slack id is named', () => {
    const slack = renderSlack(message);
    expect(slack.text).toBe('<@UALICE> @carol 🚨 CRITICAL: r0: Replication link — Split-brain (r0 on alpha)');
    expect(slackProblems(slack)).toEqual([]);
    expect(
      renderSlack({ ...message, mention: { people: [], here: true } }).text.startsWith('<!here> 🚨'),
    ).toBe(true);
  });

  it('Discord: mentions in the content, and only the people named may be pinged', () => {
    const discord = renderDiscord(message);
    expect(discord.content).toBe('@alice <@400000000000000003>');
    expect(discord.allowed_mentions).toEqual({ parse: [], users: ['400000000000000003'] });
    expect(discordProblems(discord)).toEqual([]);
    const here = renderDiscord({ ...message, mention: { people: [], here: true } });
    expect([here.content, here.allowed_mentions]).toEqual(['@here', { parse: ['everyone'], users: [] }]);
    expect(renderDiscord(SAMPLES['split-brain-incident'] as Message).content).toBeUndefined();
  });

  it('the console and the web console name the people', () => {
    expect(renderText(message).split('\n')[0]).toBe(
      '@alice @carol [CRITICAL] r0: Replication link — Split-brain (r0 on alpha)',
    );
  });

  it('a name from the configuration cannot inject markup', () => {
    const odd: Message = {
      title: 't',
      tone: 'critical',
      mention: { people: [{ name: 'eve<!channel>', slack: 'not-an-id' }] },
    };
    expect(renderSlack(odd).text).toBe('@eve&lt;!channel&gt; 🚨 CRITICAL: t');
    expect(
      renderDiscord({ ...odd, mention: { people: [{ name: '<@1>@everyone', discord: '12' }] } }).content,
    ).toBe('@1everyone');
  });

  it('the runbook link is on every platform: a Slack link, a Discord link button, a text line', () => {
    const url = 'https://wiki.example/drbd/split-brain?r=r0';
    const context = renderSlack(message)
      .attachments[0]?.blocks.filter((b) => b.type === 'context')
      .at(-1);
    expect(JSON.stringify(context)).toContain(`<${url}|Runbook: Split-brain>`);
    const buttons = renderDiscord(message).components.flatMap((r) => r.components);
    expect(buttons).toContainEqual({ type: 2, style: 5, label: '📖 Runbook: Split-brain', url });
    expect(buttons).toContainEqual({
      type: 2,
      style: 1,
      label: "✋ Acknowledge (I'm on it)",
      custom_id: 'cmd:ack r0/connection',
    });
    expect(renderText(message)).toContain(`Runbook: Split-brain: ${url}`);
    // A URL Slack cannot show as a link is left out rather than broken.
    const broken = renderSlack({ ...message, links: [{ label: 'x', url: 'https://a|b' }] });
    expect(JSON.stringify(broken)).not.toContain('a|b');
  });
});

describe('titles, labels and times', () => {
  it('a title of several lines becomes a one-line title and a body, on every platform', () => {
    const message = SAMPLES['blocked-failover'] as Message;
    const slack = renderSlack(message);
    const [title, body] = (slack.attachments[0]?.blocks ?? []) as { text: { text: string } }[];
    expect(title?.text.text).toBe('⚠️ *WARNING* Failover r0 blocked: split-brain not recovered');
    expect(body?.text.text.split('\n')).toHaveLength(5);
    expect(slack.text).toBe('⚠️ WARNING: Failover r0 blocked: split-brain not recovered');
    const embed = renderDiscord(message).embeds[0];
    expect(embed?.title).toBe('⚠️ WARNING Failover r0 blocked: split-brain not recovered');
    expect(embed?.description?.split('\n')[0]).toBe('❌ one Primary: alpha and beta are both Primary');
    expect(renderText(message).split('\n')[0]).toBe(
      '[WARNING] Failover r0 blocked: split-brain not recovered',
    );
  });

  it('a change done is OK, not RESOLVED (green, nothing was broken)', () => {
    const message: Message = { title: 'failover r0 → beta: done in 14s', tone: 'ok', resource: 'r0' };
    expect(renderSlack(message).text).toBe('✅ OK: failover r0 → beta: done in 14s (r0)');
    expect(renderText(message)).toContain('[OK] failover r0 → beta: done in 14s');
    expect(renderDiscord(message).embeds[0]?.color).toBe(TONE_COLOURS.resolved);
  });

  it('a healthy status is INFO, not RESOLVED', () => {
    const message = SAMPLES['healthy-status'] as Message;
    expect(renderSlack(message).text).toBe('ℹ️ INFO: DRBD status (alpha)');
    expect(renderText(message)).not.toContain('RESOLVED');
  });

  it("shows the message's time in one zone, named, on Slack and Discord", () => {
    const message = SAMPLES['split-brain-incident'] as Message;
    const context = renderSlack(message).attachments[0]?.blocks.find((b) => b.type === 'context');
    expect(JSON.stringify(context)).toContain('2026-11-29 10:07 UTC');
    expect(JSON.stringify(context)).not.toContain('<!date');
    expect(renderDiscord(message, { zone: 'Europe/Berlin' }).embeds[0]?.footer?.text).toBe(
      'host alpha · r0 · 2026-11-29 11:07 CET',
    );
    expect(renderSlack(message, { zone: 'Europe/Berlin' }).attachments[0]?.blocks[1]).toMatchObject({
      elements: [{ text: 'host *alpha* · resource *r0* · 2026-11-29 11:07 CET' }],
    });
  });

  it('a body or field too long for Slack is shortened line by line, keeping the failed lines', () => {
    const lines = Array.from({ length: 80 }, (_, i) => `✅ check ${i}: ${'z'.repeat(50)} <fine> & well`);
    lines.splice(70, 0, '❌ beta: LXD daemon: no systemd unit r0lxd.service <&>');
    const message: Message = {
      title: 'Failover r0 blocked: beta LXD daemon',
      tone: 'warning',
      body: lines.join('\n'),
      fields: [{ label: 'Pre-flight', value: lines.join('\n') }],
    };
    const slack = renderSlack(message);
    expect(slackProblems(slack)).toEqual([]);
    const blocks = slack.attachments[0]?.blocks as { text?: { text: string }; fields?: { text: string }[] }[];
    const escaped = escapeMrkdwn('❌ beta: LXD daemon: no systemd unit r0lxd.service <&>');
    expect(blocks[1]?.text?.text).toContain(escaped);
    expect(blocks[2]?.fields?.[0]?.text).toContain(escaped);
    // No entity is cut in half by the shortening.
    expect(JSON.stringify(slack)).not.toMatch(/&(a|am|l|g)…/);
    const discord = renderDiscord(message);
    expect(discordProblems(discord)).toEqual([]);
    expect(discord.embeds[0]?.fields?.[0]?.value).toContain(
      '❌ beta: LXD daemon: no systemd unit r0lxd.service <&>',
    );
  });

  it('more fields than a platform takes: the rest is counted, not silently lost', () => {
    const message: Message = {
      title: 'Containers',
      tone: 'info',
      fields: Array.from({ length: 30 }, (_, i) => ({ label: `r${i} on alpha`, value: 'No containers.' })),
    };
    const discord = renderDiscord(message);
    expect(discordProblems(discord)).toEqual([]);
    expect(discord.embeds[0]?.fields?.at(-1)).toEqual({
      name: 'More',
      value: '6 more fields not shown',
      inline: false,
    });
    const blocks = renderSlack({
      ...message,
      fields: Array.from({ length: 600 }, () => ({ label: 'a', value: 'b' })),
    }).attachments[0]?.blocks;
    expect(blocks?.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(blocks?.at(-1))).toMatch(/more fields not shown/);
  });
});
