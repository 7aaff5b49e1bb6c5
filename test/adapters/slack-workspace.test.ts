import { COMMANDS } from '../../commands/index.js';
// Who may use the bot from Slack: only people of the bot's own workspace (auth.test, or
// slack.teamId / slack.enterpriseId), in both modes, and a command only in the channels
// slack.channels allows it in. Refusals are ephemeral answers plus a warning; nothing runs.

import { afterEach, describe, expect, it } from 'vitest';
import { SlackPlatform } from '../../src/adapters/slack/slack-platform.js';
import {
  actionOrigin,
  commandOrigin,
  isOwnWorkspace,
  type SlackWorkspace,
} from '../../src/adapters/slack/workspace.js';
import { parseConfig } from '../../src/app/config.js';
import { commandNamer, createPlatforms } from '../../src/app/platforms.js';

const commandNameOf = commandNamer(COMMANDS);

import type { Message } from '../../src/core/message-tones.js';
import type { IncomingCommand } from '../../src/ports/chat.js';
import {
  type CapturedLog,
  captureLog,
  encodeForm,
  FAKE_APP_TOKEN,
  FAKE_BOT_TOKEN,
  FAKE_TEAM_ID,
  FakeSlack,
  type FakeSlackOptions,
  postSignedForm,
  type ResponseUrlPost,
  slackConfig,
} from '../fakes/slack/index.js';
import { tempDir } from '../helpers/cleanup.js';

const SECRET = 'fake-signing-secret-0123456789abcdef';
const ALERTS = 'C0ALERTS';
const OPS = 'C0OPS';
const status: Message = { title: 'r0 is UpToDate on both hosts', tone: 'info', resource: 'r0' };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

interface Harness {
  readonly fake: FakeSlack;
  readonly platform: SlackPlatform;
  readonly handled: IncomingCommand[];
  readonly log: CapturedLog;
  /** HTTP mode: the request URL. */
  readonly url: string;
}

async function setup(
  options: { fake?: FakeSlackOptions; config?: Record<string, unknown>; mode?: 'socket' | 'http' } = {},
): Promise<Harness> {
  const fake = new FakeSlack(options.fake);
  await fake.start();
  cleanup.push(() => fake.stop());
  const log = captureLog();
  const handled: IncomingCommand[] = [];
  const http = options.mode === 'http';
  const platform = new SlackPlatform({
    config: slackConfig(fake, {
      ...(http ? { mode: 'http', listen: { host: '127.0.0.1', port: 0 } } : {}),
      ...options.config,
    }),
    logger: log.logger,
    secrets: http
      ? { botToken: FAKE_BOT_TOKEN, signingSecret: SECRET }
      : { botToken: FAKE_BOT_TOKEN, appToken: FAKE_APP_TOKEN },
    stateDir: tempDir(),
    commandName: commandNameOf,
  });
  cleanup.push(() => platform.stop());
  await platform.start(async (command) => {
    handled.push(command);
    return { message: status, private: true };
  });
  if (!http) await fake.waitForConnection(1);
  const port = platform.httpAddress?.port ?? 0;
  return { fake, platform, handled, log, url: `http://127.0.0.1:${port}/slack/events` };
}

/** The one ephemeral answer on a response_url, as text (title, body and fields). */
async function refusal(fake: FakeSlack, responseUrl: string): Promise<string> {
  const [response] = await fake.waitForResponses(responseUrl);
  expect(response?.body).toMatchObject({ response_type: 'ephemeral' });
  return JSON.stringify((response as ResponseUrlPost).body);
}

function warnings(log: CapturedLog, text: string): Record<string, unknown>[] {
  return log.lines().filter((l) => l.level === 40 && String(l.msg).includes(text));
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 200));
}

describe('which workspace a request comes from', () => {
  const own: SlackWorkspace = { teamId: 'T0OWN' };
  const grid: SlackWorkspace = { teamId: 'T0OWN', enterpriseId: 'E0ORG' };
  const orgWide: SlackWorkspace = { enterpriseId: 'E0ORG' };

  it.each([
    ['our workspace', { team_id: 'T0OWN' }, own, true],
    ['another workspace', { team_id: 'T0OTHER' }, own, false],
    ['no workspace at all', {}, own, false],
    ['an empty team id', { team_id: '' }, own, false],
    ['our workspace on Enterprise Grid', { team_id: 'T0OWN', enterprise_id: 'E0ORG' }, grid, true],
    ['our team id without our organization', { team_id: 'T0OWN' }, grid, false],
    ['our team id with another organization', { team_id: 'T0OWN', enterprise_id: 'E0X' }, grid, false],
    ['an organization where we have none', { team_id: 'T0OWN', enterprise_id: 'E0ORG' }, own, false],
    [
      'any workspace of our org, org-wide install',
      { team_id: 'T0SIB', enterprise_id: 'E0ORG' },
      orgWide,
      true,
    ],
    ['another organization, org-wide install', { team_id: 'T0SIB', enterprise_id: 'E0X' }, orgWide, false],
  ])('slash command from %s', (_what, body, workspace, expected) => {
    expect(isOwnWorkspace(commandOrigin(body), workspace)).toBe(expected);
  });

  it.each([
    ['a colleague', { team: { id: 'T0OWN' }, user: { team_id: 'T0OWN' }, enterprise: null }, own, true],
    [
      'an external person in a Slack Connect channel',
      { team: { id: 'T0OWN' }, user: { team_id: 'T0EXT' }, enterprise: null },
      own,
      false,
    ],
    [
      'a click routed to another installation',
      { team: { id: 'T0OTHER' }, user: { team_id: 'T0OWN' }, enterprise: null },
      own,
      false,
    ],
    [
      'an org-wide install (team null) in our organization',
      { team: null, user: { team_id: 'T0SIB' }, enterprise: { id: 'E0ORG' } },
      orgWide,
      true,
    ],
    ['nobody (no team at all)', { team: null, user: {}, enterprise: null }, own, false],
  ])('button click by %s', (_what, body, workspace, expected) => {
    expect(isOwnWorkspace(actionOrigin(body), workspace)).toBe(expected);
  });

  it('refuses everything when no workspace is known', () => {
    expect(isOwnWorkspace(commandOrigin({ team_id: 'T0OWN' }), {})).toBe(false);
  });
});

describe('SlackPlatform refuses requests from other workspaces', () => {
  it('Socket Mode: a slash command from another team gets an ephemeral refusal; no command runs', async () => {
    const h = await setup();
    const { envelope, responseUrl } = await h.fake.sendSlashCommand({
      text: 'status r0',
      channelId: ALERTS,
      teamId: 'T0OTHER',
    });
    await h.fake.waitForAck(envelope.envelopeId);
    expect(await refusal(h.fake, responseUrl)).toContain('T0OTHER');
    await settle();
    expect(h.handled).toEqual([]);
    const [warning] = warnings(h.log, 'another workspace');
    expect(warning).toMatchObject({ teams: ['T0OTHER'], channelId: ALERTS, command: 'status r0' });
    // The bot's own people are served as before.
    const own = await h.fake.sendSlashCommand({ text: 'status r0', channelId: ALERTS });
    await h.fake.waitForResponses(own.responseUrl);
    expect(h.handled.map((c) => c.text)).toEqual(['status r0']);
  });

  it('HTTP mode: a correctly signed slash command from another team is refused; no command runs', async () => {
    const h = await setup({ mode: 'http' });
    const payload = h.fake.slashCommandPayload({
      text: 'containers r0',
      channelId: ALERTS,
      teamId: 'T0OTHER',
    });
    const answer = await postSignedForm(h.url, encodeForm(payload), { signingSecret: SECRET });
    expect(answer.status).toBe(200);
    expect(await refusal(h.fake, payload.response_url as string)).toContain('T0OTHER');
    await settle();
    expect(h.handled).toEqual([]);
    expect(warnings(h.log, 'another workspace')).toHaveLength(1);
  });

  it('refuses a click on the bot’s button by a person from another organization (Slack Connect)', async () => {
    const h = await setup();
    const { messageId } = await h.platform.post(
      ALERTS,
      { ...status, actions: [{ id: 'approve', label: 'Approve', command: 'approve 7f3a' }] },
      { idempotencyKey: 'shared-channel' },
    );
    const external = await h.fake.clickButton({
      channelId: ALERTS,
      messageTs: messageId,
      actionId: 'drbd:approve',
      userId: 'U0MALLORY',
      userTeamId: 'T0EXTERNAL',
    });
    expect(await refusal(h.fake, external.responseUrl)).toContain('T0EXTERNAL');
    await settle();
    expect(h.handled).toEqual([]);
    const colleague = await h.fake.clickButton({
      channelId: ALERTS,
      messageTs: messageId,
      actionId: 'drbd:approve',
      userId: 'U0BOB',
    });
    await h.fake.waitForResponses(colleague.responseUrl);
    expect(h.handled.map((c) => [c.text, c.userId])).toEqual([['approve 7f3a', 'U0BOB']]);
  });

  it('on Enterprise Grid compares the organization from auth.test too', async () => {
    const h = await setup({ fake: { enterpriseId: 'E0FAKE' } });
    const foreign = await h.fake.sendSlashCommand({
      text: 'status',
      channelId: ALERTS,
      enterpriseId: 'E0OTHER',
    });
    expect(await refusal(h.fake, foreign.responseUrl)).toContain('E0OTHER');
    const own = await h.fake.sendSlashCommand({ text: 'status', channelId: ALERTS });
    await h.fake.waitForResponses(own.responseUrl);
    expect(h.handled).toHaveLength(1);
  });

  it('slack.teamId overrides the bot token’s workspace', async () => {
    const h = await setup({ config: { teamId: 'T0CONFIGURED' } });
    const tokenTeam = await h.fake.sendSlashCommand({ text: 'status', channelId: ALERTS });
    expect(await refusal(h.fake, tokenTeam.responseUrl)).toContain(FAKE_TEAM_ID);
    const configured = await h.fake.sendSlashCommand({
      text: 'status',
      channelId: ALERTS,
      teamId: 'T0CONFIGURED',
    });
    await h.fake.waitForResponses(configured.responseUrl);
    expect(h.handled.map((c) => c.text)).toEqual(['status']);
    expect(warnings(h.log, 'belongs to another workspace than slack.teamId')).toHaveLength(1);
  });
});

describe('SlackPlatform channel allow-lists (slack.channels)', () => {
  it('refuses a command outside its channels, naming where it is allowed; allows it there', async () => {
    const h = await setup({ config: { channels: { failover: [OPS, 'C0ONCALL'], 'ip-set': [OPS] } } });
    const outside = await h.fake.sendSlashCommand({ text: 'failover r0', channelId: ALERTS });
    const text = await refusal(h.fake, outside.responseUrl);
    expect(text).toContain('`failover` may be used only in `C0OPS`, `C0ONCALL`');
    // The registry's reading of a command line: "ip set" is ip-set, a quoted word is still the word.
    const ipSet = await h.fake.sendSlashCommand({ text: 'ip set web1 198.51.100.7', channelId: ALERTS });
    expect(await refusal(h.fake, ipSet.responseUrl)).toContain('`ip-set` may be used only in `C0OPS`');
    const quoted = await h.fake.sendSlashCommand({ text: '"failover" r0', channelId: ALERTS });
    expect(await refusal(h.fake, quoted.responseUrl)).toContain('C0OPS');
    await settle();
    expect(h.handled).toEqual([]);
    expect(warnings(h.log, 'outside its allowed channels')).toHaveLength(3);

    const inside = await h.fake.sendSlashCommand({ text: 'failover r0', channelId: OPS });
    const other = await h.fake.sendSlashCommand({ text: 'status r0', channelId: ALERTS });
    await h.fake.waitForResponses(inside.responseUrl);
    await h.fake.waitForResponses(other.responseUrl);
    expect(h.handled.map((c) => [c.text, c.channelId]).sort()).toEqual([
      ['failover r0', OPS],
      ['status r0', ALERTS],
    ]);
  });

  it('applies to button clicks, and `*` covers every command without its own entry', async () => {
    const h = await setup({ config: { channels: { '*': [OPS], help: [OPS, ALERTS] } } });
    const { messageId } = await h.platform.post(
      ALERTS,
      { ...status, actions: [{ id: 'failover', label: 'Fail over', command: 'failover r0' }] },
      { idempotencyKey: 'alert-with-button' },
    );
    const click = await h.fake.clickButton({
      channelId: ALERTS,
      messageTs: messageId,
      actionId: 'drbd:failover',
    });
    expect(await refusal(h.fake, click.responseUrl)).toContain('Commands may be used only in `C0OPS`');
    const unknown = await h.fake.sendSlashCommand({ text: 'bogus', channelId: ALERTS });
    expect(await refusal(h.fake, unknown.responseUrl)).toContain('C0OPS');
    await settle();
    expect(h.handled).toEqual([]);
    const help = await h.fake.sendSlashCommand({ text: 'help', channelId: ALERTS });
    await h.fake.waitForResponses(help.responseUrl);
    expect(h.handled.map((c) => c.text)).toEqual(['help']);
  });
});

describe('channel allow-list wiring (app/platforms)', () => {
  it('reads the command a line names as the command registry does', () => {
    expect(commandNameOf('failover r0 --force')).toBe('failover');
    expect(commandNameOf('  Failover r0')).toBe('failover');
    expect(commandNameOf('ip set web1 198.51.100.7')).toBe('ip-set');
    expect(commandNameOf('ip show')).toBe('ip-show');
    expect(commandNameOf('"failover" r0')).toBe('failover');
    expect(commandNameOf('bogus r0')).toBeUndefined();
    expect(commandNameOf('constructor')).toBeUndefined();
    expect(commandNameOf('"unterminated')).toBeUndefined();
    expect(commandNameOf('')).toBeUndefined();
  });

  it('refuses to start with an allow-list naming a command that does not exist', async () => {
    const logger = captureLog().logger;
    await expect(
      createPlatforms(parseConfig({ slack: { channels: { failvoer: ['C0123OPS'] } } }), logger, COMMANDS),
    ).rejects.toThrow(
      /slack\.channels\.failvoer: no such command \(commands: status, .*failover.*, or \* for all\)/,
    );
    await expect(
      createPlatforms(
        parseConfig({
          discord: {
            applicationId: '123456789012345678',
            guildId: '234567890123456789',
            channels: { 'ip-sett': ['345678901234567890'] },
          },
        }),
        logger,
        COMMANDS,
      ),
    ).rejects.toThrow(/discord\.channels\.ip-sett: no such command/);
    // Tokens are read at composition: name variables that hold them.
    process.env.DRBD_CHATOPS_TEST_BOT = FAKE_BOT_TOKEN;
    process.env.DRBD_CHATOPS_TEST_APP = FAKE_APP_TOKEN;
    try {
      const platforms = await createPlatforms(
        parseConfig({
          slack: {
            botTokenEnv: 'DRBD_CHATOPS_TEST_BOT',
            appTokenEnv: 'DRBD_CHATOPS_TEST_APP',
            channels: { failover: ['C0123OPS'], 'ip-set': ['C0123OPS'], '*': ['C0123OPS'] },
          },
        }),
        logger,
        COMMANDS,
      );
      expect([...platforms.keys()]).toEqual(['slack']);
    } finally {
      delete process.env.DRBD_CHATOPS_TEST_BOT;
      delete process.env.DRBD_CHATOPS_TEST_APP;
    }
  });
});
