// Four eyes across platforms, through the real daemon: one team member with accounts on Slack and
// Discord is one person. A request made on Slack cannot be approved by the same member from
// Discord; two approvals need two different members, whichever platforms they click on.

import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../commands/index.js';
import { DiscordPlatform } from '../../src/adapters/discord/discord-platform.js';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import { WebConsolePlatform } from '../../src/adapters/web-console/web-console.js';
import type { ChatPlatform, PlatformName } from '../../src/ports/chat.js';
import { FakeDiscord, type FakeUser } from '../fakes/discord/index.js';
import { FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, slackConfig } from '../fakes/slack/index.js';
import { onCleanup } from '../helpers/cleanup.js';
import {
  auditRecords,
  daemonConfig,
  IP_SET,
  logger,
  NEW_ADDRESS,
  OLD_ADDRESS,
  PEOPLE,
  type Person,
  setupPair,
  simContainer,
  sleep,
  startDaemon,
  textOf,
  waitForFinished,
} from './approvals-harness.js';

const CHANNEL = 'C0OPS';
const { alice, bob, carol } = PEOPLE;

async function bothPlatforms(approvals: number) {
  const env = setupPair();
  const slack = new FakeSlack();
  await slack.start();
  onCleanup(() => slack.stop());
  const discord = new FakeDiscord();
  await discord.start();
  onCleanup(() => discord.stop());
  const config = daemonConfig(env, {
    team: [alice, bob, carol],
    policy: { approvals, approvers: ['team'] },
    slack: { apiUrl: slack.apiUrl },
    discord: { apiUrl: discord.apiUrl, applicationId: discord.applicationId, guildId: discord.guildId },
  });
  if (config.discord === undefined) throw new Error('no discord section');
  const discordPlatform = new DiscordPlatform({
    config: config.discord,
    logger,
    token: discord.token,
    commands: COMMANDS,
    requestTimeoutMs: 5_000,
  });
  await discordPlatform.registerCommands();
  const platforms = new Map<PlatformName, ChatPlatform>([
    [
      'slack',
      new SlackPlatform({
        config: slackConfig(slack),
        logger,
        secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
        requestTimeoutMs: 5_000,
      }),
    ],
    ['discord', discordPlatform],
  ]);
  await startDaemon(env, config, platforms);
  await slack.waitForConnection(1, 15_000);

  /** `/drbd <text>` on Slack as `who`: the bot's answer. */
  const onSlack = async (who: Person, text: string): Promise<string> => {
    const { responseUrl } = await slack.sendSlashCommand({
      text,
      channelId: CHANNEL,
      userId: who.slack,
      userName: who.name,
    });
    const [response] = await slack.waitForResponses(responseUrl, 1, 15_000);
    return textOf(response?.body);
  };
  /** `/drbd approve request:<id>` on Discord as `who`: the bot's answer. */
  const approveOnDiscord = async (who: Person, id: string): Promise<string> => {
    const user: FakeUser = { id: who.discord, username: who.name, global_name: null };
    const interaction = await discord.slashCommand({
      name: 'drbd',
      subcommand: 'approve',
      options: { request: id },
      user,
      roles: [],
    });
    const event = await discord.waitFor(
      () => interaction.events.find((e) => e.kind === 'followup' || e.kind === 'edit-original'),
      'the answer on Discord',
      15_000,
    );
    return textOf((event as { body: unknown }).body);
  };
  return { env, onSlack, approveOnDiscord };
}

describe('four eyes are two people, across Slack and Discord (the real daemon)', () => {
  it('a member who requested on Slack cannot approve from Discord; another member can', async () => {
    const { env, onSlack, approveOnDiscord } = await bothPlatforms(1);
    const planned = await onSlack(alice, IP_SET);
    const id = /Plan ([0-9a-f]{8}) posted/.exec(planned)?.[1];
    if (id === undefined) throw new Error(`no plan: ${planned}`);
    expect(await onSlack(alice, `confirm ${id}`)).toContain(`Request ${id} now needs one approval`);

    const self = await approveOnDiscord(alice, id);
    expect(self).toContain('alice: you asked for this ip-set (from another account: discord)');
    await sleep(300);
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [OLD_ADDRESS] });

    expect(await approveOnDiscord(bob, id)).toContain(`Approved by bob; running request ${id}`);
    const finished = await waitForFinished(env, id);
    expect(finished.outcome).toBe('succeeded');
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [NEW_ADDRESS] });
    // The audit log names the person and the account used for each decision.
    const decisions = auditRecords(env)
      .filter((r) => r.operation === id && ['requested', 'confirmed', 'approved'].includes(r.event))
      .map((r) => `${r.event} ${r.actor?.member} ${r.actor?.platform}:${r.actor?.userId}`);
    expect(decisions).toEqual([
      `requested alice slack:${alice.slack}`,
      `confirmed alice slack:${alice.slack}`,
      `approved bob discord:${bob.discord}`,
    ]);
  });

  it('a member who requested on Slack cannot approve from the web console; another member can', async () => {
    const env = setupPair();
    const slack = new FakeSlack();
    await slack.start();
    onCleanup(() => slack.stop());
    const parsed = daemonConfig(env, {
      team: [alice, bob, carol],
      policy: { approvals: 1, approvers: ['team'] },
      slack: { apiUrl: slack.apiUrl },
    });
    // Each member signs in to the web console under their name: web:alice is alice.
    const config = {
      ...parsed,
      oncall: { ...parsed.oncall, team: parsed.oncall.team.map((m) => ({ ...m, web: m.name })) },
    };
    const tokens = { alice: 'alice-token-0123456789abcdef', bob: 'bob-token-0123456789abcdef01' };
    const web = new WebConsolePlatform({
      port: 0,
      users: new Map([
        [tokens.alice, 'alice'],
        [tokens.bob, 'bob'],
      ]),
      logger,
    });
    await startDaemon(
      env,
      config,
      new Map<PlatformName, ChatPlatform>([
        [
          'slack',
          new SlackPlatform({
            config: slackConfig(slack),
            logger,
            secrets: { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
            requestTimeoutMs: 5_000,
          }),
        ],
        ['web', web],
      ]),
    );
    await slack.waitForConnection(1, 15_000);
    const base = web.url;
    if (base === undefined) throw new Error('the web console is not listening');
    const origin = base.replace(/\/$/, '');
    /** Sign in as the console's own page does, then type `text` there: the bot's answer. */
    const onWeb = async (token: string, text: string): Promise<string> => {
      const signIn = await fetch(`${base}login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-origin' },
        body: JSON.stringify({ token }),
      });
      expect(signIn.status).toBe(200);
      const cookie = (signIn.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';
      const res = await fetch(`${base}api/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-origin', cookie },
        body: JSON.stringify({ text, source: 'slash-command' }),
      });
      expect(res.status).toBe(200);
      return textOf(((await res.json()) as { message: unknown }).message);
    };
    const onSlack = async (who: Person, text: string): Promise<string> => {
      const { responseUrl } = await slack.sendSlashCommand({
        text,
        channelId: CHANNEL,
        userId: who.slack,
        userName: who.name,
      });
      const [response] = await slack.waitForResponses(responseUrl, 1, 15_000);
      return textOf(response?.body);
    };

    const planned = await onSlack(alice, IP_SET);
    const id = /Plan ([0-9a-f]{8}) posted/.exec(planned)?.[1] ?? '';
    expect(await onSlack(alice, `confirm ${id}`)).toContain(`Request ${id} now needs one approval`);
    expect(await onWeb(tokens.alice, `approve ${id}`)).toContain(
      'alice: you asked for this ip-set (from another account: web)',
    );
    await sleep(300);
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [OLD_ADDRESS] });
    expect(await onWeb(tokens.bob, `approve ${id}`)).toContain(`Approved by bob; running request ${id}`);
    expect((await waitForFinished(env, id)).outcome).toBe('succeeded');
    const approved = auditRecords(env).find((r) => r.operation === id && r.event === 'approved');
    expect(`${approved?.actor?.member} ${approved?.actor?.platform}:${approved?.actor?.userId}`).toBe(
      'bob web:bob',
    );
  });

  it('two approvals: the same member on Slack and then on Discord counts once', async () => {
    const { env, onSlack, approveOnDiscord } = await bothPlatforms(2);
    const planned = await onSlack(alice, IP_SET);
    const id = /Plan ([0-9a-f]{8}) posted/.exec(planned)?.[1] ?? '';
    await onSlack(alice, `confirm ${id}`);
    expect(await onSlack(bob, `approve ${id}`)).toContain(
      `Approved by bob; request ${id} needs one approval more`,
    );
    expect(await approveOnDiscord(bob, id)).toContain(
      'bob has already approved it; it needs another person.',
    );
    await sleep(300);
    expect(simContainer(env, 'web1')).toMatchObject({ status: 'Running', ipv4: [OLD_ADDRESS] });
    expect(await approveOnDiscord(carol, id)).toContain(`Approved by carol; running request ${id}`);
    expect((await waitForFinished(env, id)).outcome).toBe('succeeded');
  });
});
