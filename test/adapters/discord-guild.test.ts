// Where the Discord adapter takes commands: only in the configured guild (not other guilds the app
// is in, not DMs), and a command only in the channels discord.channels allows (a thread counts as
// its parent channel). The real discord.js against the fake Discord on loopback.

import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS as CHAT_COMMANDS } from '../../commands/index.js';
import { buildApplicationCommands, type CommandDefinition } from '../../src/adapters/discord/commands.js';
import { DiscordPlatform } from '../../src/adapters/discord/discord-platform.js';
import { createLogger } from '../../src/app/log.js';
import { commandNamer } from '../../src/app/platforms.js';

const commandNameOf = commandNamer(CHAT_COMMANDS);

import type { Message } from '../../src/core/message-tones.js';
import type { IncomingCommand } from '../../src/ports/chat.js';
import { FakeDiscord, type FakeInteraction } from '../fakes/discord/index.js';

const COMMANDS: CommandDefinition[] = [
  {
    name: 'status',
    description: 'Show the state of the pair',
    options: [{ name: 'resource', description: 'DRBD resource', type: 'string' }],
  },
  {
    name: 'failover',
    description: 'Move a resource to the other host',
    options: [{ name: 'resource', description: 'DRBD resource', type: 'string', required: true }],
  },
];

const ALERTS = '100000000000000201';
const OPS = '100000000000000202';
const OTHER_GUILD = '900000000000000001';
const EPHEMERAL = 1 << 6;

const ALERT: Message = {
  title: 'r0: alpha lost its connection to beta',
  tone: 'critical',
  resource: 'r0',
  actions: [{ id: 'failover', label: 'Fail over r0', command: 'failover r0', style: 'danger' }],
};

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

interface Harness {
  readonly fake: FakeDiscord;
  readonly platform: DiscordPlatform;
  readonly received: IncomingCommand[];
  readonly logs: () => Record<string, unknown>[];
}

async function startFake(): Promise<FakeDiscord> {
  const fake = new FakeDiscord({
    channels: [
      { id: ALERTS, name: 'alerts' },
      { id: OPS, name: 'ops' },
    ],
  });
  await fake.start();
  cleanup.push(() => fake.stop());
  return fake;
}

async function started(channels?: Record<string, string[]>, existing?: FakeDiscord): Promise<Harness> {
  const fake = existing ?? (await startFake());
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const platform = new DiscordPlatform({
    config: {
      apiUrl: fake.apiUrl,
      applicationId: fake.applicationId,
      guildId: fake.guildId,
      ...(channels === undefined ? {} : { channels }),
    },
    token: fake.token,
    logger: createLogger({ level: 'debug', format: 'json', destination: stream }),
    commands: COMMANDS,
    commandNameOf,
    requestTimeoutMs: 2_000,
  });
  cleanup.push(() => platform.stop());
  await platform.registerCommands();
  // The same /drbd registered globally too (say by an older version): usable in every guild the app
  // is in and in DMs with the bot, as on Discord.
  fake.setGlobalCommands(buildApplicationCommands('drbd', 'DRBD pair operations', COMMANDS));
  const received: IncomingCommand[] = [];
  await platform.start(async (command) => {
    received.push(command);
    return { message: { title: `done: ${command.text}`, tone: 'info' } };
  });
  const logs = (): Record<string, unknown>[] =>
    text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { fake, platform, received, logs };
}

/** The interaction was answered at once with an ephemeral message (no deferral): its text. */
async function refusal(h: Harness, interaction: FakeInteraction): Promise<string> {
  const callback = await h.fake.waitForInteractionEvent(interaction, 'callback');
  expect(callback.type).toBe(4);
  expect(Number((callback.data as { flags?: number }).flags) & EPHEMERAL).toBe(EPHEMERAL);
  return JSON.stringify(callback.data);
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 200));
}

function warnings(h: Harness, text: string): Record<string, unknown>[] {
  return h.logs().filter((l) => l.level === 40 && String(l.msg).includes(text));
}

describe('DiscordPlatform takes interactions only from the configured guild', () => {
  it('refuses a slash command from another guild with an ephemeral answer; nothing runs', async () => {
    const h = await started();
    const interaction = await h.fake.slashCommand({
      name: 'drbd',
      subcommand: 'status',
      options: { resource: 'r0' },
      guildId: OTHER_GUILD,
    });
    expect(await refusal(h, interaction)).toContain('only in the Discord server it was set up for');
    await settle();
    expect(h.received).toEqual([]);
    expect(warnings(h, 'outside the configured guild')).toEqual([
      expect.objectContaining({ guildId: OTHER_GUILD, interaction: 'drbd', userId: interaction.user.id }),
    ]);
  });

  it('refuses a slash command in a direct message with the bot', async () => {
    const h = await started();
    const interaction = await h.fake.slashCommand({
      name: 'drbd',
      subcommand: 'failover',
      options: { resource: 'r0' },
      dm: true,
    });
    expect(await refusal(h, interaction)).toContain('direct messages');
    await settle();
    expect(h.received).toEqual([]);
    expect(warnings(h, 'outside the configured guild')).toEqual([
      expect.objectContaining({ guildId: 'direct message' }),
    ]);
  });

  it('takes the same command in the configured guild', async () => {
    const h = await started();
    const interaction = await h.fake.slashCommand({ name: 'drbd', subcommand: 'status', channelId: ALERTS });
    const callback = await h.fake.waitForInteractionEvent(interaction, 'callback');
    expect(callback.type).toBe(5);
    await h.fake.waitForInteractionEvent(interaction, 'edit-original');
    expect(h.received.map((c) => [c.text, c.channelId])).toEqual([['status', ALERTS]]);
  });
});

describe('DiscordPlatform channel allow-lists (discord.channels)', () => {
  it('refuses a command outside its channels, naming them; allows it there and other commands anywhere', async () => {
    const h = await started({ failover: [OPS] });
    const outside = await h.fake.slashCommand({
      name: 'drbd',
      subcommand: 'failover',
      options: { resource: 'r0' },
      channelId: ALERTS,
    });
    expect(await refusal(h, outside)).toContain(`\`failover\` may be used only in <#${OPS}>`);
    await settle();
    expect(h.received).toEqual([]);
    expect(warnings(h, 'outside its allowed channels')).toHaveLength(1);

    const inside = await h.fake.slashCommand({
      name: 'drbd',
      subcommand: 'failover',
      options: { resource: 'r0' },
      channelId: OPS,
    });
    const status = await h.fake.slashCommand({ name: 'drbd', subcommand: 'status', channelId: ALERTS });
    await h.fake.waitForInteractionEvent(inside, 'edit-original');
    await h.fake.waitForInteractionEvent(status, 'edit-original');
    expect(h.received.map((c) => [c.text, c.channelId]).sort()).toEqual([
      ['failover r0', OPS],
      ['status', ALERTS],
    ]);
  });

  it('a button in a thread counts as its parent channel', async () => {
    const h = await started({ failover: [OPS] });
    const inOps = await h.platform.post(OPS, { ...ALERT, title: 'ops alert' }, { idempotencyKey: 'ops' });
    const opsReply = await h.platform.post(OPS, ALERT, {
      idempotencyKey: 'ops-reply',
      threadOf: inOps.messageId,
    });
    const inAlerts = await h.platform.post(
      ALERTS,
      { ...ALERT, title: 'alerts alert' },
      { idempotencyKey: 'al' },
    );
    const alertsReply = await h.platform.post(ALERTS, ALERT, {
      idempotencyKey: 'alerts-reply',
      threadOf: inAlerts.messageId,
    });
    expect(h.fake.threadsOf(OPS)).toHaveLength(1);

    const refused = await h.fake.clickButton({
      customId: 'cmd:failover r0',
      messageId: alertsReply.messageId,
    });
    expect(await refusal(h, refused)).toContain(`<#${OPS}>`);
    const allowed = await h.fake.clickButton({ customId: 'cmd:failover r0', messageId: opsReply.messageId });
    await h.fake.waitForInteractionEvent(allowed, 'edit-original');
    expect(h.received.map((c) => [c.text, c.channelId])).toEqual([['failover r0', inOps.messageId]]);
  });

  it('knows the parent of a thread it has not seen (archived before a restart) by asking Discord', async () => {
    const first = await started({ failover: [OPS] });
    const parent = await first.platform.post(OPS, { ...ALERT, title: 'ops alert' }, { idempotencyKey: 'p' });
    const reply = await first.platform.post(OPS, ALERT, { idempotencyKey: 'r', threadOf: parent.messageId });
    await first.platform.stop();
    const thread = first.fake.channels.get(parent.messageId);
    if (thread?.thread_metadata === undefined) throw new Error('no thread');
    thread.thread_metadata.archived = true;
    const h = await started({ failover: [OPS] }, first.fake);
    const click = await h.fake.clickButton({ customId: 'cmd:failover r0', messageId: reply.messageId });
    await h.fake.waitForInteractionEvent(click, 'edit-original');
    expect(h.received.map((c) => c.channelId)).toEqual([parent.messageId]);
    expect(h.fake.requestsTo(`GET /channels/${parent.messageId}`)).toHaveLength(1);
  });
});
