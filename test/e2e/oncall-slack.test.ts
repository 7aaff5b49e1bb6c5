// The on-call workflow through the real daemon, the real Slack client and the fake Slack, with the
// DRBD simulator and intervals of seconds: a critical mentions whoever is on call and links its
// runbook; Acknowledge (the button) records who took it, shows it on the incident and stops the
// repeats; an alert nobody takes is repeated and escalated to the next person of the rotation until
// it is over; a silence mutes what it matches, is shown by status, and sums up what it muted when it
// expires.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import { parseConfig } from '../../src/app/config.js';
import { Daemon } from '../../src/app/daemon.js';
import { createLogger } from '../../src/app/log.js';
import { SimulatedPair } from '../../src/sim/pair.js';
import {
  FAKE_APP_TOKEN,
  FAKE_BOT_TOKEN,
  FakeSlack,
  type StoredMessage,
  slackConfig,
} from '../fakes/slack/index.js';
import { onCleanup, tempDir } from '../helpers/cleanup.js';
import { until } from '../helpers/wait.js';

const SIM_BIN = resolve(import.meta.dirname, '../../bin/drbdsetup-sim');
const CHANNEL = 'C0OPS';
const logger = createLogger({ level: 'silent', format: 'json' });
const RUNBOOK = 'https://wiki.example/drbd/{kind}?resource={resource}';

async function setup(paging: { repeatInterval: string; escalateAfter: string | null }) {
  const dir = tempDir('drbd-chatops-oncall-');
  const fake = new FakeSlack();
  await fake.start();
  onCleanup(() => fake.stop());
  const simDir = join(dir, 'sim');
  const pair = SimulatedPair.init(simDir, {
    hosts: ['alpha', 'beta'],
    resources: [{ name: 'r0', minor: 0 }],
    primary: { r0: 'alpha' },
    resyncSeconds: 0.2,
  });
  const stateDir = join(dir, 'state');
  const config = parseConfig({
    host: 'alpha',
    stateDir,
    drbd: { drbdsetup: SIM_BIN, env: { DRBD_SIM_DIR: simDir, DRBD_SIM_HOST: 'alpha' } },
    delivery: { slackIntervalMs: 0, retry: { initialMs: 100, maxMs: 500 } },
    slack: { apiUrl: fake.apiUrl },
    oncall: {
      team: [
        { name: 'alice', slack: 'UALICE' },
        { name: 'bob', slack: 'UBOB' },
      ],
      // alice is on call (no hand-over until next New Year), bob is next in the rotation.
      rotation: {
        order: ['alice', 'bob'],
        handover: '0 0 1 1 *',
        since: new Date(Date.now() - 60_000).toISOString(),
      },
      announce: false,
      paging,
    },
    runbooks: { 'connection-lost': RUNBOOK },
    schedules: { reconcile: null, digest: null },
    status: { enabled: false },
    routes: [{ platform: 'slack', channel: CHANNEL }],
  });
  const slack = new SlackPlatform({
    config: slackConfig(fake),
    logger,
    secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
    requestTimeoutMs: 2_000,
  });
  const daemon = new Daemon({
    commands: COMMANDS,
    config,
    configPath: undefined,
    logger,
    platforms: new Map([['slack', slack]]),
  });
  await daemon.start();
  onCleanup(() => daemon.stop());
  await until(() => daemon.watch?.isLive() === true, 'the event stream');
  await fake.waitForConnection(1, 20_000);
  return { fake, pair, daemon, stateDir };
}

/** Top-level messages and thread replies as Slack shows them now. */
const everything = (m: StoredMessage) => JSON.stringify([m.text, m.attachments]);
const parentOf = (fake: FakeSlack) =>
  fake
    .messages(CHANNEL)
    .find((m) => m.thread_ts === undefined && m.text.includes('Replication link — Connection lost'));
const repliesTo = (fake: FakeSlack, ts: string, text: string) =>
  fake.messages(CHANNEL).filter((m) => m.thread_ts === ts && m.text.includes(text));

describe('on call, through Slack', () => {
  it('a critical mentions the person on call and links its runbook; Acknowledge stops the repeats and is audited', async () => {
    const { fake, pair, daemon, stateDir } = await setup({ repeatInterval: '1s', escalateAfter: null });
    pair.linkDown('r0');
    await fake.waitFor(() => parentOf(fake) !== undefined, 'the incident parent', 20_000);
    const parent = parentOf(fake) as StoredMessage;
    // The mention leads the text Slack notifies with.
    expect(parent.text).toBe('<@UALICE> 🚨 CRITICAL: r0: Replication link — Connection lost (r0 on alpha)');
    expect(everything(parent)).toContain(
      '<https://wiki.example/drbd/connection-lost?resource=r0|Runbook: Connection lost>',
    );
    expect(everything(parent)).toContain(
      '"action_id":"drbd:ack","text":{"type":"plain_text","text":"✋ Acknowledge (I\'m on it)"}',
    );

    // Nobody answers: it is repeated in the incident's thread, calling alice again.
    await fake.waitFor(
      () => repliesTo(fake, parent.ts, 'Still not acknowledged').length >= 2,
      'two repeats',
      20_000,
    );
    expect(repliesTo(fake, parent.ts, 'Still not acknowledged')[0]?.text).toMatch(
      /^<@UALICE> 🚨 CRITICAL: Still not acknowledged: r0: Replication link — Connection lost/,
    );

    // bob takes it from the button.
    const { envelope } = await fake.clickButton({
      channelId: CHANNEL,
      messageTs: parent.ts,
      actionId: 'drbd:ack',
      userId: 'UBOB',
      userName: 'bob',
    });
    await fake.waitForAck(envelope.envelopeId);
    await fake.waitFor(
      () => everything(fake.message(CHANNEL, parent.ts) as StoredMessage).includes('Acknowledged'),
      'the parent showing who took it',
      20_000,
    );
    const taken = fake.message(CHANNEL, parent.ts) as StoredMessage;
    expect(everything(taken)).toMatch(/\*Acknowledged\*\\nby bob at \d\d:\d\d UTC/);
    expect(everything(taken)).not.toContain('drbd:ack');
    await fake.waitFor(
      () => repliesTo(fake, parent.ts, 'bob acknowledged').length === 1,
      'the answer in the thread',
    );
    const audit = readFileSync(join(stateDir, 'audit.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; command: string; actor?: { member?: string } });
    expect(audit).toContainEqual(
      expect.objectContaining({
        event: 'acknowledged',
        command: 'ack r0/connection',
        actor: expect.objectContaining({ member: 'bob' }),
      }),
    );
    expect(daemon.paging.page('r0/connection')?.ack?.by).toBe('bob');

    // No more repeats: three intervals pass without one.
    const repeats = repliesTo(fake, parent.ts, 'Still not acknowledged').length;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(repliesTo(fake, parent.ts, 'Still not acknowledged')).toHaveLength(repeats);
  });

  it('an unacknowledged critical escalates to the next person of the rotation, repeats, and stops when it is over', async () => {
    const { fake, pair } = await setup({ repeatInterval: '2s', escalateAfter: '1s' });
    pair.linkDown('r0');
    await fake.waitFor(() => parentOf(fake) !== undefined, 'the incident parent', 20_000);
    const parent = parentOf(fake) as StoredMessage;
    await fake.waitFor(
      () => repliesTo(fake, parent.ts, 'Escalated to bob').length === 1,
      'the escalation',
      20_000,
    );
    expect(repliesTo(fake, parent.ts, 'Escalated to bob')[0]?.text).toMatch(
      /^<@UALICE> <@UBOB> 🚨 CRITICAL: Escalated to bob: r0: Replication link — Connection lost/,
    );
    await fake.waitFor(
      () => repliesTo(fake, parent.ts, 'Still not acknowledged').length >= 1,
      'a repeat',
      20_000,
    );
    expect(repliesTo(fake, parent.ts, 'Still not acknowledged')[0]?.text).toMatch(/^<@UALICE> <@UBOB> /);

    // Over: the link is back, the parent turns green and nothing more is said.
    pair.linkUp('r0');
    await fake.waitFor(
      () => (fake.message(CHANNEL, parent.ts)?.text ?? '').includes('RESOLVED'),
      'the parent resolved',
      20_000,
    );
    const said = repliesTo(fake, parent.ts, 'Still not acknowledged').length;
    await new Promise((r) => setTimeout(r, 4_500));
    expect(repliesTo(fake, parent.ts, 'Still not acknowledged')).toHaveLength(said);
    expect(everything(fake.message(CHANNEL, parent.ts) as StoredMessage)).not.toContain('drbd:ack');
  });

  it('a silence mutes what it matches, is shown by status and audited, and sums up what it muted when it expires', async () => {
    const { fake, pair, stateDir } = await setup({ repeatInterval: '1s', escalateAfter: null });
    const set = await fake.sendSlashCommand({
      text: 'silence r0 4s replacing the disk of r0',
      channelId: CHANNEL,
      userId: 'UALICE',
      userName: 'alice',
    });
    await fake.waitForAck(set.envelope.envelopeId);
    await fake.waitFor(
      () =>
        fake.messages(CHANNEL).some((m) => m.text.includes('Silenced every notification about r0 for 4s')),
      'the answer',
    );

    const status = await fake.sendSlashCommand({ text: 'status r0', channelId: CHANNEL, userId: 'UALICE' });
    await fake.waitForAck(status.envelope.envelopeId);
    await fake.waitFor(
      () => fake.messages(CHANNEL).some((m) => m.text.includes('DRBD status of r0')),
      'the status',
    );
    const shown = everything(
      fake.messages(CHANNEL).find((m) => m.text.includes('DRBD status of r0')) as StoredMessage,
    );
    expect(shown).toMatch(
      /1 silence in force\*\\nr0 until \d\d:\d\d UTC \(\ds left\), by alice: replacing the disk of r0/,
    );

    pair.linkDown('r0');
    await new Promise((r) => setTimeout(r, 1_500));
    // Muted: nothing about the link in the channel, nobody paged.
    expect(fake.messages(CHANNEL).filter((m) => m.text.includes('Connection lost'))).toEqual([]);

    // Expired: the summary, calling alice because the critical is still open.
    await fake.waitFor(
      () => fake.messages(CHANNEL).some((m) => m.text.includes('Silence of r0 ended')),
      'the summary',
      20_000,
    );
    const summary = fake
      .messages(CHANNEL)
      .find((m) => m.text.includes('Silence of r0 ended')) as StoredMessage;
    expect(summary.text).toMatch(/^<@UALICE> 🚨 CRITICAL: Silence of r0 ended: \d+ notifications? muted/);
    expect(everything(summary)).toContain('Connection lost');
    const muted = readFileSync(join(stateDir, 'muted.ndjson'), 'utf8').trim().split('\n');
    expect(
      muted.map((l) => (JSON.parse(l) as { notification: { kind: string } }).notification.kind),
    ).toContain('connection-lost');
    const audit = readFileSync(join(stateDir, 'audit.ndjson'), 'utf8');
    expect(audit).toContain('"event":"silenced"');
    expect(audit).toContain('"command":"silence r0 4s replacing the disk of r0"');

    const again = await fake.sendSlashCommand({ text: 'status r0', channelId: CHANNEL, userId: 'UALICE' });
    await fake.waitForAck(again.envelope.envelopeId);
    await fake.waitFor(
      () => fake.messages(CHANNEL).filter((m) => m.text.includes('DRBD status of r0')).length === 2,
      'the second status',
    );
    const after = fake
      .messages(CHANNEL)
      .filter((m) => m.text.includes('DRBD status of r0'))[1] as StoredMessage;
    expect(everything(after)).not.toContain('silence in force');
  });
});
